"""Daily maintenance forgets old crawl-log rows that nothing refers to and keeps all that is history."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from rolewatch.domain import CrawlVerdict
from storage.maintenance import run_maintenance
from storage.models import CrawlRow, EventRow, PostingVersionRow, SourceRow
from tests.integration.storage_factory import T0, Board, posting, row_counts

RETENTION = timedelta(days=90)
NOW = T0 + timedelta(days=120)


def crawl_ids(engine: Engine, source: str) -> list[int]:
    query = (
        select(CrawlRow.id)
        .join(SourceRow, SourceRow.id == CrawlRow.source_id)
        .where(SourceRow.name == source)
        .order_by(CrawlRow.id)
    )
    with engine.connect() as connection:
        return list(connection.scalars(query))


def test_old_crawls_that_nothing_refers_to_are_deleted(engine: Engine) -> None:
    acme = Board(engine, "acme")
    first = acme.crawl([posting(1), posting(2)])  # new postings: events and versions point here
    unchanged = acme.crawl([posting(1), posting(2)])
    failed = acme.crawl([], CrawlVerdict.FAILED, reason="HTTP 500")
    latest = acme.crawl([posting(1), posting(2)])

    report = run_maintenance(engine, RETENTION, NOW)

    assert report.crawls_deleted == 2
    assert crawl_ids(engine, "acme") == [first.crawl_id, latest.crawl_id]
    assert {unchanged.crawl_id, failed.crawl_id}.isdisjoint(crawl_ids(engine, "acme"))


def test_history_recent_crawls_and_each_sources_latest_crawl_stay(engine: Engine) -> None:
    old = Board(engine, "old")
    old.crawl([posting(1, source="old")])
    changed = old.crawl([posting(1, source="old", title="Data Scientist Intern (Sydney)")])
    old_last = old.crawl([], CrawlVerdict.FAILED, reason="timed out")  # latest: says how the source is now
    recent = Board(engine, "recent", start=NOW - timedelta(days=2))
    recent_ids = [recent.crawl([posting(7, source="recent")]).crawl_id for _ in range(3)]
    before = row_counts(engine)

    report = run_maintenance(engine, RETENTION, NOW)

    assert report.crawls_deleted == 0
    assert changed.crawl_id in crawl_ids(engine, "old") and old_last.crawl_id in crawl_ids(engine, "old")
    assert crawl_ids(engine, "recent") == recent_ids
    assert row_counts(engine) == before


def test_nothing_that_points_at_a_crawl_is_left_dangling(engine: Engine) -> None:
    board = Board(engine, "acme")
    board.crawl([posting(n) for n in range(5)])
    for n in range(20):
        board.crawl([posting(m) for m in range(5)] + ([posting(99)] if n % 5 == 0 else []))
    events, versions = row_counts(engine)["events"], row_counts(engine)["posting_versions"]

    report = run_maintenance(engine, RETENTION, NOW)

    assert report.crawls_deleted > 0
    counts = row_counts(engine)
    assert (counts["events"], counts["posting_versions"]) == (events, versions)
    with engine.connect() as connection:
        crawls = select(CrawlRow.id)
        assert not connection.scalar(select(func.count()).where(EventRow.crawl_id.not_in(crawls)))
        assert not connection.scalar(select(func.count()).where(PostingVersionRow.crawl_id.not_in(crawls)))


def test_sqlite_is_vacuumed_and_both_backends_analyzed(engine: Engine) -> None:
    Board(engine, "acme").crawl([posting(1)])
    report = run_maintenance(engine, RETENTION, NOW)
    assert report.analyzed
    assert report.vacuumed == (engine.dialect.name == "sqlite")
    assert report.duration_s >= 0
