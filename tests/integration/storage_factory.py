"""Small factories for storage tests: postings, sources and a board driven crawl after crawl."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from rolewatch.config import Politeness, ResolvedSource, Schedule, SourceOptions
from rolewatch.domain import CrawlResult, CrawlStats, CrawlVerdict, Location, Posting, Salary
from storage.models import Base
from storage.recording import AfterRecord, CrawlRecord, record_crawl

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SYDNEY = Location("Sydney", city="Sydney", region="NSW", country="AU")


def posting(
    n: int | str,
    *,
    source: str = "acme",
    title: str | None = None,
    company: str = "Acme",
    salary: float | None = None,
    closed: bool = False,
    locations: tuple[Location, ...] = (SYDNEY,),
    description: str | None = None,
    posted_at: datetime | None = None,
) -> Posting:
    return Posting(
        source=source,
        external_id=str(n),
        title=title or f"Data Scientist Intern {n}",
        company=company,
        url=f"https://{source}.example/jobs/{n}",
        locations=locations,
        employment_type="intern",
        salary=Salary(salary, salary, "AUD", "year") if salary else None,
        posted_at=posted_at,
        description_text=description if description is not None else f"Role number {n}.",
        description_html=f"<p>{description if description is not None else f'Role number {n}.'}</p>",
        extra={"team": "data"},
        closed=closed,
    )


def resolved_source(
    name: str = "acme",
    *,
    close_after_misses: int = 2,
    max_drop: float = 0.5,
    interval: Schedule | None = None,
) -> ResolvedSource:
    return ResolvedSource(
        name=name,
        type="greenhouse",
        options=SourceOptions(),
        interval=interval or Schedule(every=timedelta(minutes=30)),
        jitter=0.1,
        close_after_misses=close_after_misses,
        max_drop=max_drop,
        timeout=timedelta(minutes=5),
        user_agent="rolewatch-tests",
        obey_robots=True,
        politeness=Politeness(),
    )


class Board:
    """One source crawled again and again, each crawl half an hour after the last."""

    def __init__(
        self,
        engine: Engine,
        name: str = "acme",
        *,
        close_after_misses: int = 2,
        start: datetime = T0,
        then: AfterRecord | None = None,
    ):
        self.engine = engine
        self.source = resolved_source(name, close_after_misses=close_after_misses)
        self.clock = start
        self.then = then

    def result(
        self,
        postings: Sequence[Posting],
        verdict: CrawlVerdict = CrawlVerdict.COMPLETE,
        *,
        unchanged: bool = False,
        validators: Mapping[str, Mapping[str, str]] | None = None,
        reason: str = "",
    ) -> CrawlResult:
        self.clock += timedelta(minutes=30)
        return CrawlResult(
            source=self.source.name,
            verdict=verdict,
            started_at=self.clock,
            finished_at=self.clock + timedelta(seconds=5),
            postings=tuple(postings),
            stats=CrawlStats(
                requests=2, responses=2, bytes=1234, pages=1, items=len(postings), duration_s=5.0
            ),
            reason=reason,
            unchanged=unchanged,
            validators=validators or {},
        )

    def crawl(
        self,
        postings: Sequence[Posting],
        verdict: CrawlVerdict = CrawlVerdict.COMPLETE,
        *,
        unchanged: bool = False,
        validators: Mapping[str, Mapping[str, str]] | None = None,
        reason: str = "",
    ) -> CrawlRecord:
        result = self.result(postings, verdict, unchanged=unchanged, validators=validators, reason=reason)
        return record_crawl(self.engine, self.source, result, then=self.then)


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        }


def kinds(record: CrawlRecord) -> list[tuple[str, str]]:
    return sorted((event.type.value, event.external_id) for event in record.events)
