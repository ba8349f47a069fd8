"""A warm crawl worker whose batch did not finish cleanly is never handed the next batch.

The attack: recording a crawl result raises (a locked SQLite database, a full disk) while the
worker is still crawling. Before the fix the worker went back to the pool with its leftover
messages queued, so its stale `BatchDone` ended the next batch at once ("the crawl ended without
a result") and every later batch recorded the previous one's results. Each test runs a real
board server on 127.0.0.1 and real worker processes, and checks what the next batch returns or
records: its own postings, and nothing that "ended without a result".
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.engine import Engine

import storage.database
from crawler.child import BatchDone, SourceDone
from crawler.run import NO_RESULT, crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.config import Config
from rolewatch.domain import CrawlResult, CrawlVerdict
from rolewatch.resolve import parse_config
from scheduler.daemon import Daemon
from storage.database import make_engine, upgrade
from storage.models import CrawlRow, PostingRow, SourceRow
from tests.boardserver import BoardRequest, BoardServer, Reply, json_reply
from tests.fixtures.boards import greenhouse_board, greenhouse_job
from tests.integration.crawling import by_name, resolved

#: Fresh worker processes are the point: each test watches its own workers end or be retired.
pytestmark = pytest.mark.slow

OLD = {"alpha": ["Old Alpha Analyst"], "beta": ["Old Beta Analyst"]}
NEW = {"alpha": ["New Alpha Analyst", "New Alpha Intern"], "beta": ["New Beta Engineer"]}


class StorageDown(Exception):
    """What a consumer raises when it cannot record a result (disk full, say)."""


class Boards:
    """Two Greenhouse boards on the board server that serve OLD until `switch()`, then NEW."""

    def __init__(self, server: BoardServer) -> None:
        self.server = server
        self.on_request: Callable[[str], None] = lambda name: None
        self._titles = OLD
        for name in OLD:
            server.route(f"/v1/boards/{name}/jobs", self._handler(name))

    def switch(self) -> None:
        self._titles = NEW

    def _handler(self, name: str) -> Callable[[BoardRequest], Reply]:
        def handler(request: BoardRequest) -> Reply:
            self.on_request(name)
            jobs = [greenhouse_job(n + 1, title) for n, title in enumerate(self._titles[name])]
            return json_reply(greenhouse_board(jobs))

        return handler


class WriteLock:
    """A write transaction held open on a SQLite database from another connection, as another
    process writing (or a stuck one) holds it."""

    def __init__(self, path: Path) -> None:
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._mutex = threading.Lock()
        self.held = False

    def hold(self) -> None:
        with self._mutex:
            if not self.held:
                self._connection.execute("BEGIN IMMEDIATE")
                self.held = True

    def release(self) -> None:
        with self._mutex:
            if self.held:
                self._connection.execute("ROLLBACK")
                self.held = False

    def close(self) -> None:
        self.release()
        self._connection.close()


@pytest.fixture
def workers() -> Iterator[CrawlWorkers]:
    pool = CrawlWorkers()
    yield pool
    pool.close()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Engine]]:
    """A migrated SQLite database whose connections give up on a lock after 0.2s, not 10s."""
    monkeypatch.setattr(storage.database, "SQLITE_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "rolewatch.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    yield path, engine
    engine.dispose()


def configuration(server: BoardServer, path: Path, interval: str = "1h") -> Config:
    document = {
        "database": f"sqlite:///{path}",
        "defaults": {
            "interval": interval,
            "jitter": 0,
            "timeout": "20s",
            "politeness": {"delay": "0s", "autothrottle": False, "retries": 1, "request_timeout": "5s"},
        },
        "daemon": {"grace": "5s"},
        "sources": [
            {"name": name, "type": "greenhouse", "board": name, "base_url": server.url} for name in OLD
        ],
    }
    return parse_config(yaml.safe_dump(document))


def titles(result: CrawlResult) -> list[str]:
    return sorted(posting.title for posting in result.postings)


def open_titles(engine: Engine) -> dict[str, list[str]]:
    query = (
        select(SourceRow.name, PostingRow.title)
        .join(PostingRow, PostingRow.source_id == SourceRow.id)
        .where(PostingRow.status == "open")
    )
    found: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for name, title in connection.execute(query):
            found.setdefault(name, []).append(title)
    return {name: sorted(values) for name, values in found.items()}


def crawls(engine: Engine) -> list[tuple[str, str, str]]:
    """Every recorded crawl in order: (source, verdict, reason)."""
    query = select(SourceRow.name, CrawlRow.verdict, CrawlRow.reason).join(
        SourceRow, SourceRow.id == CrawlRow.source_id
    )
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(CrawlRow.id))
        return [(source, verdict, reason) for source, verdict, reason in rows]


def test_a_consumer_that_raises_mid_batch_retires_the_worker_and_the_next_batch_gets_its_own_results(
    board_server: BoardServer, workers: CrawlWorkers, worker_pids: Callable[[], set[int]]
) -> None:
    boards = Boards(board_server)
    sources = resolved(
        [{"name": name, "type": "greenhouse", "board": name, "base_url": board_server.url} for name in OLD]
    )
    workers.prestart()
    (first_pid,) = worker_pids()

    def refuse(result: CrawlResult) -> None:
        raise StorageDown("no space left on device")

    with pytest.raises(StorageDown):
        crawl_sources(sources, on_result=refuse, workers=workers)
    boards.switch()
    results = by_name(crawl_sources(sources, workers=workers))

    assert {name: result.verdict for name, result in results.items()} == {
        "alpha": CrawlVerdict.COMPLETE,
        "beta": CrawlVerdict.COMPLETE,
    }, [result.reason for result in results.values()]
    assert {name: titles(result) for name, result in results.items()} == {
        name: sorted(values) for name, values in NEW.items()
    }
    assert first_pid not in worker_pids(), "the worker of the unfinished batch was killed"
    assert workers.started == 2, "a fresh worker served the next batch"


def test_messages_of_another_batch_queued_ahead_of_a_batch_are_discarded_and_the_worker_retired(
    board_server: BoardServer,
    workers: CrawlWorkers,
    caplog: pytest.LogCaptureFixture,
    worker_pids: Callable[[], set[int]],
) -> None:
    """A correct worker never sends them now; if one ever did (a result and a `BatchDone` of an
    earlier batch, here put straight into its queue), the batch still gets its own results."""
    boards = Boards(board_server)
    boards.switch()
    sources = resolved(
        [{"name": name, "type": "greenhouse", "board": name, "base_url": board_server.url} for name in OLD]
    )
    workers.prestart()
    worker = workers.acquire()
    now = datetime.now(UTC)
    stale = CrawlResult("alpha", CrawlVerdict.COMPLETE, now, now)  # an empty board, long gone
    worker._arrivals.put(SourceDone("an earlier batch", stale))
    worker._arrivals.put(BatchDone("an earlier batch", 0))
    workers.release(worker)

    results = by_name(crawl_sources(sources, workers=workers))

    assert {name: titles(result) for name, result in results.items()} == {
        name: sorted(values) for name, values in NEW.items()
    }, [result.reason for result in results.values()]
    assert workers.started == 1, "the batch ran in the worker the stale messages were queued in"
    assert "discarded a SourceDone of another batch" in caplog.text
    assert "discarded a BatchDone of another batch" in caplog.text
    assert not worker.reusable(), "a worker out of step is retired"
    deadline = time.monotonic() + 15
    while worker.pid in worker_pids():
        assert time.monotonic() < deadline, "the out-of-step worker did not exit"
        time.sleep(0.05)


def test_the_daemon_records_the_right_crawl_after_one_it_could_not_record(
    board_server: BoardServer, database: tuple[Path, Engine]
) -> None:
    """In process, with real crawls every second: the first crawl meets a locked database and
    cannot be recorded; once the daemon has said so, the boards change and the lock goes, and the
    next crawl of each source must record the new boards."""
    path, engine = database
    config = configuration(board_server, path, interval="1s")
    boards = Boards(board_server)
    lock = WriteLock(path)
    armed = [True]

    def lock_once(name: str) -> None:
        if armed[0]:
            armed[0] = False
            lock.hold()

    boards.on_request = lock_once
    daemon = Daemon(config, engine, reload_config=lambda: config)

    async def until(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 30
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {crawls(engine)}"
            await asyncio.sleep(0.05)

    def verdict(name: str) -> str | None:
        schedule = daemon.state.sources.get(name)
        return None if schedule is None else schedule.last_verdict

    async def scenario() -> None:
        running = asyncio.create_task(daemon.run())
        try:
            await until(lambda: all(verdict(name) == "failed" for name in OLD), "the unrecorded crawls")
            boards.switch()
            lock.release()
            await until(lambda: {source for source, _, _ in crawls(engine)} == set(OLD), "a recorded crawl")
        finally:
            daemon.request_stop("test over")
            await asyncio.wait_for(running, 30)

    try:
        asyncio.run(scenario())
    finally:
        lock.close()

    recorded = crawls(engine)
    first = {source: (verdict, reason) for source, verdict, reason in reversed(recorded)}
    assert first == {"alpha": ("complete", ""), "beta": ("complete", "")}, recorded
    assert all(reason != NO_RESULT for _, _, reason in recorded)
    assert open_titles(engine) == {name: sorted(values) for name, values in NEW.items()}
