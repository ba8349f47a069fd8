"""Helpers for the procrastinate engine's tests: a migrated PostgreSQL database of its own, the
configuration, in-process workers in threads, deferring jobs, and reading what was recorded."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import URL, Engine

from crawler.workers import CrawlWorkers
from rolewatch.config import Config
from rolewatch.resolve import parse_config
from scheduler.cluster.app import cluster_app, crawl_deferrer, crawl_lock
from scheduler.cluster.worker import WorkerRole
from storage.database import make_engine, upgrade
from storage.models import CrawlRow, EventRow, PostingRow, SourceRow
from tests.conftest import PostgresServer


@contextmanager
def cluster_database(postgres_server: PostgresServer) -> Iterator[tuple[str, Engine]]:
    """A database of its own, migrated (procrastinate's schema included): its URL and an engine."""
    url: URL = postgres_server.create_database()
    engine = make_engine(url)
    upgrade(engine)
    try:
        yield url.render_as_string(hide_password=False), engine
    finally:
        engine.dispose()
        postgres_server.drop_database(url)


def cluster_config(
    url: str,
    sources: list[str],
    *,
    delay: str = "0s",
    concurrency_per_host: int = 2,
    interval: str = "1h",
    extra: str = "",
) -> Config:
    return parse_config(
        f"database: {url}\n"
        "engine: procrastinate\n"
        "defaults:\n"
        f"  interval: {interval}\n"
        "  jitter: 0%\n"
        "  timeout: 20s\n"
        "  obey_robots: false\n"
        f"  politeness: {{delay: {delay}, concurrency_per_host: {concurrency_per_host}, autothrottle: false, "
        "retries: 0, request_timeout: 10s}\n"
        "daemon: {grace: 5s, deliver_every: 1s}\n"
        "sources:\n" + "".join(f"  - {source}\n" for source in sources) + extra
    )


def greenhouse(name: str, url: str, board: str | None = None) -> str:
    return f'{{name: {name}, type: greenhouse, board: {board or name}, base_url: "{url}"}}'


class WorkerThread:
    """A `WorkerRole` running in a thread with its own event loop, as `rolewatch worker` runs it."""

    def __init__(
        self,
        config: Config,
        engine: Engine,
        concurrency: int = 2,
        pool: CrawlWorkers | None = None,
        reload_config: Callable[[], Config] | None = None,
    ) -> None:
        self.role = WorkerRole(
            config, engine, concurrency=concurrency, crawl_workers=pool, reload_config=reload_config
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._looping = threading.Event()
        self._thread = threading.Thread(target=self._main, name="test-cluster-worker", daemon=True)
        self.error: BaseException | None = None

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._looping.set()
        try:
            loop.run_until_complete(self.role.run())
        except BaseException as error:  # the test reads it
            self.error = error
        finally:
            loop.close()

    def start(self) -> WorkerThread:
        self._thread.start()
        self._looping.wait(10)
        return self

    def reload(self) -> None:
        """As SIGHUP does."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self.role.request_reload)

    def stop(self, timeout: float = 60.0) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.role.request_stop, "test over")
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the worker did not stop"


@contextmanager
def workers(
    config: Config,
    engine: Engine,
    count: int = 1,
    concurrency: int = 2,
    pool: CrawlWorkers | None = None,
    reload_config: Callable[[], Config] | None = None,
) -> Iterator[list[WorkerThread]]:
    """`count` workers; with `pool`, they share its warm crawl processes (as workers on one machine never
    do, but it spares a test each worker's start-up)."""
    started = [WorkerThread(config, engine, concurrency, pool, reload_config).start() for _ in range(count)]
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()
        for worker in started:
            assert worker.error is None, worker.error


def defer_crawls(config: Config, names: list[str], engine: Engine) -> list[int]:
    """Queue one crawl job per source, each on its host's least busy lane, as the scheduler does."""

    async def defer() -> list[int]:
        app = cluster_app(config.database)
        async with app.open_async():
            ids = []
            for name in names:
                lock = await asyncio.to_thread(crawl_lock, engine, config.source(name))
                ids.append(await crawl_deferrer(app, name, lock).defer_async(source=name, due_at=None))
            return ids

    return asyncio.run(defer())


def eventually(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def crawls(engine: Engine, source: str | None = None) -> list[tuple[str, str, str]]:
    """(source, verdict, reason) of every recorded crawl, oldest first."""
    query = select(SourceRow.name, CrawlRow.verdict, CrawlRow.reason).join(SourceRow).order_by(CrawlRow.id)
    if source is not None:
        query = query.where(SourceRow.name == source)
    with engine.connect() as connection:
        return [(row[0], row[1], row[2]) for row in connection.execute(query)]


def events(engine: Engine) -> list[tuple[str, str, str, str]]:
    """(source, type, external id, changes) of every event, in a stable order."""
    query = (
        select(SourceRow.name, EventRow.type, PostingRow.external_id, EventRow.changes)
        .join(SourceRow, EventRow.source_id == SourceRow.id)
        .join(PostingRow, EventRow.posting_id == PostingRow.id)
    )
    with engine.connect() as connection:
        rows = [(row[0], row[1], row[2], repr(row[3])) for row in connection.execute(query)]
    return sorted(rows)


def jobs(engine: Engine) -> list[tuple[str, str | None, str]]:
    """(task, queueing lock, status) of every job still in the queue."""
    query = text(
        "SELECT task_name, queueing_lock, status::text FROM procrastinate.procrastinate_jobs ORDER BY id"
    )
    with engine.connect() as connection:
        return [(row[0], row[1], row[2]) for row in connection.execute(query)]


def overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment: requests in flight at once."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most
