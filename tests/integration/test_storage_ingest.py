"""How fast a large first crawl is recorded; prints a figure (speed targets live in benchmarks/)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.engine import Engine

from storage.recording import record_crawl
from tests.integration.storage_factory import Board, posting, row_counts

SIZE = 10_000
DESCRIPTION = ("We are looking for a curious data scientist intern to join the team. " * 15)[:1000]


def test_ingest_ten_thousand_new_postings(engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    board = Board(engine)
    postings = [posting(n, description=f"{n} {DESCRIPTION}") for n in range(SIZE)]
    first = board.result(postings)
    started = time.perf_counter()
    record = record_crawl(engine, board.source, first)
    new_seconds = time.perf_counter() - started
    again = board.result(postings)
    started = time.perf_counter()
    record_crawl(engine, board.source, again)
    seen_seconds = time.perf_counter() - started

    assert record.counts["new"] == SIZE and row_counts(engine)["posting_versions"] == SIZE
    with capsys.disabled():
        print(
            f"\n[{engine.dialect.name}] {SIZE:,} new postings in {new_seconds:.2f}s "
            f"= {SIZE / new_seconds:,.0f}/s; re-crawl unchanged in {seen_seconds:.2f}s "
            f"= {SIZE / seen_seconds:,.0f}/s"
        )
