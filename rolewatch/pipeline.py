"""One crawl pass through the stages: crawl the sources, record each result, hand back the records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from crawler.run import crawl_sources
from storage.history import CrawlRecord, load_known_digests, load_validators, record_crawl, sync_sources

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from rolewatch.config import Config, ResolvedSource
    from rolewatch.domain import CrawlResult


def crawl_and_record(
    engine: Engine,
    config: Config,
    sources: Sequence[ResolvedSource],
    on_record: Callable[[CrawlRecord], None] | None = None,
) -> list[CrawlRecord]:
    """Crawl `sources` and record each result as it arrives, so storage overlaps the crawling."""
    sync_sources(engine, config.sources)
    by_name = {source.name: source for source in sources}
    conditional = [s.name for s in sources if s.politeness.conditional_requests]
    validators = load_validators(engine, conditional)
    records: list[CrawlRecord] = []

    def on_result(result: CrawlResult) -> None:
        crawl_record = record_crawl(engine, by_name[result.source], result)
        records.append(crawl_record)
        if on_record is not None:
            on_record(crawl_record)

    known = load_known_digests(engine, list(by_name))
    crawl_sources(sources, validators=validators, on_result=on_result, known=known)
    order = {name: index for index, name in enumerate(by_name)}
    return sorted(records, key=lambda r: order[r.source])
