"""The read side returns what the write side recorded, as plain data the CLI can print."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from rolewatch.config import Schedule
from rolewatch.domain import CrawlVerdict, EventType, Location, PostingStatus
from scheduler.schedule import next_cron_fire
from storage.queries import crawl_log, list_events, list_postings, posting_history, source_status
from tests.integration.storage_factory import Board, posting, resolved_source

REMOTE_US = Location("Remote (US)", country="US", remote=True)
SAN_JOSE = Location("San Jose, CA", city="San Jose", region="CA", country="US")


def test_source_status_shows_the_last_crawl_counts_failures_and_next_run(engine: Engine) -> None:
    board = Board(engine)
    board.crawl([posting(1), posting(2), posting(3, closed=True)])
    board.crawl([], CrawlVerdict.FAILED, reason="HTTP 500")
    board.crawl([], CrawlVerdict.FAILED, reason="HTTP 502")
    cron = resolved_source("nightly", interval=Schedule(cron="0 3 * * *"))
    before = datetime.now(UTC)

    acme, never, nightly = source_status(
        engine, [board.source, resolved_source("never"), cron], next_cron_fire
    )

    assert (acme.name, acme.type, acme.verdict, acme.note) == (
        "acme",
        "greenhouse",
        CrawlVerdict.FAILED,
        "HTTP 502",
    )
    assert (acme.open_postings, acme.total_postings, acme.consecutive_failures) == (2, 3, 2)
    assert acme.last_crawl_at == board.clock
    assert acme.next_run_at == board.clock + timedelta(minutes=30)
    assert never.last_crawl_at is None and never.verdict is None and never.open_postings == 0
    assert before <= never.next_run_at <= datetime.now(UTC)
    assert nightly.next_run_at > before and nightly.next_run_at - before <= timedelta(days=1)
    assert nightly.next_run_at.tzinfo is not None


def test_a_good_crawl_ends_the_failure_streak(engine: Engine) -> None:
    board = Board(engine)
    board.crawl([], CrawlVerdict.FAILED)
    board.crawl([posting(1)])
    (status,) = source_status(engine, [board.source], next_cron_fire)
    assert status.consecutive_failures == 0 and status.verdict is CrawlVerdict.COMPLETE


def test_list_postings_filters_by_status_source_and_text(engine: Engine) -> None:
    acme = Board(engine, "acme")
    acme.crawl(
        [posting(1, title="ML Intern", locations=(SAN_JOSE,)), posting(2, company="Globex"), posting(3)]
    )
    acme.crawl(
        [posting(1, title="ML Intern", locations=(SAN_JOSE,)), posting(2, company="Globex", closed=True)]
    )
    Board(engine, "other").crawl([posting(7, source="other", title="Remote Analyst", locations=(REMOTE_US,))])

    assert [p.external_id for p in list_postings(engine)] == ["1", "2", "3", "7"]
    assert [p.external_id for p in list_postings(engine, open_only=True)] == ["1", "3", "7"]
    assert [p.external_id for p in list_postings(engine, source="other")] == ["7"]
    assert [p.external_id for p in list_postings(engine, text="ml intern")] == ["1"]
    assert [p.external_id for p in list_postings(engine, text="GLOBEX")] == ["2"]
    assert [p.external_id for p in list_postings(engine, text="san jose")] == ["1"]
    assert [p.external_id for p in list_postings(engine, text="remote")] == ["7"]
    assert [p.external_id for p in list_postings(engine, text="100%_")] == []
    assert [p.external_id for p in list_postings(engine, limit=2)] == ["1", "2"]
    first = list_postings(engine, text="intern", limit=1)[0]
    assert (first.locations, first.status, first.source) == ("San Jose, US", PostingStatus.OPEN, "acme")


def test_posting_history_by_id_and_by_source_and_external_id(engine: Engine) -> None:
    board = Board(engine)
    url_id = "https://acme.example/jobs/42?x=1"
    board.crawl([posting(url_id, salary=78000)])
    board.crawl([posting(url_id, salary=85000)])
    board.crawl([posting(url_id, salary=85000)])

    by_ref = posting_history(engine, f"acme/{url_id}")
    assert by_ref is not None
    by_id = posting_history(engine, str(by_ref.posting.id))
    assert by_id == by_ref
    current = by_ref.posting
    assert (current.external_id, current.status, current.salary and current.salary.max) == (
        url_id,
        "open",
        85000,
    )
    assert current.locations == (Location("Sydney", city="Sydney", region="NSW", country="AU"),)
    assert current.extra == {"team": "data"} and current.description_html.startswith("<p>")
    assert [v.changes for v in by_ref.versions] == [{}, {"salary": ("AUD 78,000/yr", "AUD 85,000/yr")}]
    assert [e.type for e in by_ref.events] == [EventType.NEW, EventType.CHANGED]
    assert posting_history(engine, "acme/nope") is None and posting_history(engine, "999999") is None


def test_list_events_filters_and_keeps_changes_as_pairs(engine: Engine) -> None:
    acme, other = Board(engine, "acme"), Board(engine, "other")
    acme.crawl([posting(1, salary=78000), posting(2)])
    other.crawl([posting(5, source="other")])
    acme.crawl([posting(1, salary=85000), posting(2)])

    events = list_events(engine)
    assert [(e.type.value, e.source, e.external_id) for e in events] == [
        ("new", "acme", "1"),
        ("new", "acme", "2"),
        ("new", "other", "5"),
        ("changed", "acme", "1"),
    ]
    assert [e.id for e in events] == sorted(e.id for e in events if e.id is not None)
    assert list_events(engine, type="changed")[0].changes == {"salary": ("AUD 78,000/yr", "AUD 85,000/yr")}
    assert [e.external_id for e in list_events(engine, source="other")] == ["5"]
    assert [e.type.value for e in list_events(engine, since=acme.clock)] == ["changed"]
    assert [e.external_id for e in list_events(engine, limit=2)] == ["5", "1"]
    assert events[0].title == "Data Scientist Intern 1" and events[0].url == "https://acme.example/jobs/1"


@pytest.mark.parametrize("limit", [1, 20])
def test_crawl_log_lists_the_newest_crawls_first(engine: Engine, limit: int) -> None:
    acme, other = Board(engine, "acme"), Board(engine, "other")
    acme.crawl([posting(1), posting(2)])
    other.crawl([], CrawlVerdict.FAILED, reason="DNS lookup failed")
    acme.crawl([posting(1)], CrawlVerdict.PARTIAL, reason="page cap")

    log = crawl_log(engine, limit=limit)
    assert [(c.source, c.verdict) for c in log] == [
        ("acme", CrawlVerdict.PARTIAL),
        ("other", CrawlVerdict.FAILED),
        ("acme", CrawlVerdict.COMPLETE),
    ][:limit]
    first_acme = crawl_log(engine, source="acme")[-1]
    assert first_acme.counts == {"new": 2, "changed": 0, "closed": 0, "reopened": 0}
    assert first_acme.stats.items == 2 and first_acme.stats.bytes == 1234
    assert first_acme.started_at.tzinfo is not None
