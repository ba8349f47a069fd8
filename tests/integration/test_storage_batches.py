"""Several crawls recorded in one transaction: the same rows as one by one, one commit, and a
failure that costs only the crawl that failed and those after it, never those before."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Connection, Engine

from storage.models import CrawlRow, EventRow, PostingRow, SourceRow
from storage.recording import CrawlRecord, record_crawl, record_crawls
from tests.integration.storage_factory import Board, posting

NAMES = ("koala", "wombat", "quokka")


@contextmanager
def commits(engine: Engine) -> Iterator[list[int]]:
    """Counts the commits made on `engine` while the block runs."""
    counted: list[int] = []

    def count(connection: Connection) -> None:
        counted.append(1)

    event.listen(engine, "commit", count)
    try:
        yield counted
    finally:
        event.remove(engine, "commit", count)


def stored(engine: Engine) -> list[tuple[Any, ...]]:
    """What recording wrote, without ids or wall-clock times: postings and events by source."""
    postings = select(SourceRow.name, PostingRow.external_id, PostingRow.status, PostingRow.fingerprint).join(
        SourceRow
    )
    events = select(SourceRow.name, EventRow.type, EventRow.title, EventRow.changes).join(
        SourceRow, EventRow.source_id == SourceRow.id
    )
    crawls = select(SourceRow.name, CrawlRow.verdict, CrawlRow.new_events, CrawlRow.changed_events).join(
        SourceRow
    )
    with engine.connect() as connection:
        return sorted(
            tuple(map(str, row)) for query in (postings, events, crawls) for row in connection.execute(query)
        )


def first_and_second(board: Board, offset: int) -> tuple[list[Any], list[Any]]:
    """A board's two listings: the second edits one posting, drops one and adds one."""
    first = [posting(offset + n, source=board.source.name) for n in range(4)]
    second = [
        posting(offset, source=board.source.name, title="Quant Intern"),
        *first[1:3],
        posting(offset + 9, source=board.source.name),
    ]
    return first, second


def test_crawls_recorded_together_store_what_one_by_one_stores_in_one_commit(engine: Engine) -> None:
    boards = [Board(engine, name) for name in NAMES]
    listings = [first_and_second(board, 100 * n) for n, board in enumerate(boards)]
    firsts = [board.result(first) for board, (first, _) in zip(boards, listings, strict=True)]
    seconds = [board.result(second) for board, (_, second) in zip(boards, listings, strict=True)]
    for board, result in zip(boards, firsts, strict=True):
        record_crawl(engine, board.source, result)

    with commits(engine) as counted:
        together = list(record_crawls(engine, [(b.source, r) for b, r in zip(boards, seconds, strict=True)]))
    assert len(counted) == 1
    assert [record.source for record in together] == list(NAMES)
    assert [record.counts["changed"] for record in together] == [1, 1, 1]
    assert [record.counts["new"] for record in together] == [1, 1, 1]
    assert all(event.id is not None for record in together for event in record.events)
    batched = stored(engine)

    for table in ("events", "posting_versions", "crawls", "postings", "sources"):
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DELETE FROM {table}")
    for board, result in [*zip(boards, firsts, strict=True), *zip(boards, seconds, strict=True)]:
        record_crawl(engine, board.source, result)
    assert stored(engine) == batched


def test_a_crawl_failing_among_others_keeps_those_before_it_and_raises(engine: Engine) -> None:
    seen: list[str] = []

    def fail_on_wombat(connection: Connection, record: CrawlRecord) -> None:
        if record.source == "wombat":
            raise RuntimeError("the outbox could not be written")
        seen.append(record.source)

    boards = [Board(engine, name) for name in NAMES]
    results = [board.result([posting(n, source=board.source.name)]) for n, board in enumerate(boards)]
    yielded: list[str] = []
    with pytest.raises(RuntimeError, match="outbox"):
        for record in record_crawls(
            engine, [(b.source, r) for b, r in zip(boards, results, strict=True)], then=fail_on_wombat
        ):
            yielded.append(record.source)

    assert yielded == ["koala"]
    with engine.connect() as connection:
        names = set(connection.scalars(select(SourceRow.name).join(CrawlRow)))
        posted = set(connection.scalars(select(PostingRow.external_id)))
    assert names == {"koala"}, "the crawl before the failure is kept, the failing one and the next are not"
    assert posted == {"0"}
    assert seen == ["koala", "koala"], "tried together first, then one at a time until the failure"


def test_a_crawl_of_another_source_is_refused_before_anything_is_written(engine: Engine) -> None:
    koala, wombat = Board(engine, "koala"), Board(engine, "wombat")
    result = wombat.result([posting(1, source="wombat")])
    with pytest.raises(ValueError, match="cannot be recorded as source 'koala'"):
        list(record_crawls(engine, [(wombat.source, result), (koala.source, result)]))
    with engine.connect() as connection:
        assert connection.scalars(select(CrawlRow.id)).all() == []
