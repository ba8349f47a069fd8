"""The procrastinate engine in process on a real PostgreSQL: workers (in threads, each with its warm crawl
processes) take crawl jobs from the queue, record them exactly as the local engine does, hold each host's
politeness across the cluster, never record a job twice, and survive the loss of the database."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

import crawler.run
import scheduler.cluster.app
import scheduler.cluster.jobs
from crawler.workers import CrawlWorkers
from notifier.sync import sync_config
from rolewatch.config import ResolvedSource
from scheduler.cluster.jobs import CrawlJobs
from tests.boardserver import BoardServer
from tests.fixtures.boards import greenhouse_board, greenhouse_job
from tests.integration.cluster_support import (
    cluster_config,
    crawls,
    defer_crawls,
    events,
    eventually,
    greenhouse,
    jobs,
    overlap,
    workers,
)

pytestmark = pytest.mark.postgres


def board(server: BoardServer, name: str, *titles: str) -> None:
    jobs_ = [greenhouse_job(index + 1, title) for index, title in enumerate(titles)]
    server.set_json(f"/v1/boards/{name}/jobs", greenhouse_board(jobs_))


def slow_board(server: BoardServer, name: str, delay_s: float) -> None:
    body = json.dumps(greenhouse_board([greenhouse_job(1, "Analyst")])).encode()
    server.set_raw(
        f"/v1/boards/{name}/jobs", body, headers={"Content-Type": "application/json"}, delay_s=delay_s
    )


def test_migration_puts_procrastinate_in_a_schema_of_its_own(cluster_db: tuple[str, Engine]) -> None:
    _, engine = cluster_db
    with engine.connect() as connection:
        tables = set(
            connection.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'procrastinate'")
            ).scalars()
        )
        public = set(
            connection.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
            ).scalars()
        )
    assert {"procrastinate_jobs", "procrastinate_workers", "crawl_jobs", "host_turns"} <= tables
    assert not any(name.startswith("procrastinate") for name in public)


def test_a_worker_crawls_a_deferred_source_and_records_its_events(
    cluster_db: tuple[str, Engine], board_server: BoardServer
) -> None:
    url, engine = cluster_db
    board(board_server, "koala", "Data Scientist", "Analyst")
    config = cluster_config(url, [greenhouse("koala", board_server.url)])
    with workers(config, engine):
        defer_crawls(config, ["koala"], engine)
        eventually(lambda: crawls(engine), 60, "the crawl to be recorded")
    assert crawls(engine) == [("koala", "complete", "")]
    assert [(kind, external_id) for _, kind, external_id, _ in events(engine)] == [("new", "1"), ("new", "2")]
    assert [job for job in jobs(engine) if job[0] == "rolewatch.crawl"] == []  # succeeded: deleted


@pytest.fixture
def second_host() -> Iterator[BoardServer]:
    """Another host: Linux routes all of 127/8 to the loopback, so 127.0.0.2 is a host of its own."""
    with BoardServer("127.0.0.2") as server:
        yield server


def test_one_crawl_per_host_runs_across_all_workers_and_the_delay_holds_between_them(
    cluster_db: tuple[str, Engine],
    board_server: BoardServer,
    second_host: BoardServer,
    crawl_workers: CrawlWorkers,
) -> None:
    url, engine = cluster_db
    names = {
        server.url: [f"{tag}{index}" for index in range(4)]
        for server, tag in ((board_server, "a"), (second_host, "b"))
    }
    for server in (board_server, second_host):
        for name in names[server.url]:
            slow_board(server, name, 0.4)
    sources = [greenhouse(name, host) for host, group in names.items() for name in group]
    config = cluster_config(url, sources, delay="0.3s", concurrency_per_host=2)
    with workers(config, engine, count=2, concurrency=4, pool=crawl_workers):
        defer_crawls(config, [name for group in names.values() for name in group], engine)
        eventually(lambda: len(crawls(engine)) == 8, 120, "eight crawls to be recorded")
    assert {verdict for _, verdict, _ in crawls(engine)} == {"complete"}
    for server in (board_server, second_host):
        seen = sorted((r.received_at, r.answered_at or time.monotonic()) for r in server.requests)
        assert len(seen) == 4
        assert overlap(seen) == 1, "two crawls of one host ran at once"
        gaps = [later[0] - earlier[1] for earlier, later in itertools.pairwise(seen)]
        assert min(gaps) >= 0.28, f"the host's 0.3s delay was not kept between crawls: {gaps}"


def test_without_a_delay_a_host_has_concurrency_per_host_crawls_in_flight_across_the_cluster(
    cluster_db: tuple[str, Engine], board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    """Three workers could run six crawls at once; the host's `concurrency_per_host: 2` lets two run,
    and never a third, counted as requests in flight on the host."""
    url, engine = cluster_db
    names = [f"kangaroo{index}" for index in range(6)]
    for name in names:  # slow enough that the lanes overlap even when one waits seconds for a crawl process
        slow_board(board_server, name, 2.0)
    config = cluster_config(
        url, [greenhouse(name, board_server.url) for name in names], concurrency_per_host=2
    )
    crawl_workers.prestart(2)  # two crawls at once each find a warm crawl process
    with workers(config, engine, count=3, concurrency=2, pool=crawl_workers):
        defer_crawls(config, names, engine)
        eventually(lambda: len(crawls(engine)) == 6, 120, "six crawls to be recorded")
    assert {verdict for _, verdict, _ in crawls(engine)} == {"complete"}
    seen = [(r.received_at, r.answered_at or time.monotonic()) for r in board_server.requests]
    assert len(seen) == 6
    assert overlap(seen) == 2, (
        f"expected two requests in flight on the host at most and at some point: {seen}"
    )


def test_a_job_that_recorded_its_crawl_never_records_it_again(
    cluster_db: tuple[str, Engine], board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    url, engine = cluster_db
    board(board_server, "koala", "Data Scientist")
    config = cluster_config(url, [greenhouse("koala", board_server.url)])
    runner = CrawlJobs(engine, config, crawl_workers)
    first = runner.run("koala", job_id=4242, final=False)
    assert first is not None and len(first.events) == 1
    board(board_server, "koala", "Data Scientist", "Analyst")
    assert runner.run("koala", job_id=4242, final=False) is None  # a retry after the worker died
    assert crawls(engine) == [("koala", "complete", "")]
    assert len(events(engine)) == 1


def test_a_twin_run_of_a_job_is_rolled_back_whole(
    cluster_db: tuple[str, Engine],
    board_server: BoardServer,
    crawl_workers: CrawlWorkers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker thought stalled may still finish while its job is retried elsewhere: one of them records."""
    url, engine = cluster_db
    board(board_server, "koala", "Data Scientist")
    alerts = "subscriptions:\n  - {name: everything, notify: ['json://127.0.0.1:9/hook']}\n"
    config = cluster_config(url, [greenhouse("koala", board_server.url)], extra=alerts)
    sync_config(engine, config)
    runner = CrawlJobs(engine, config, crawl_workers)
    assert runner.run("koala", job_id=7, final=False) is not None
    board(board_server, "koala", "Data Scientist", "Analyst")
    looks = iter([None])  # the twin looks before the first run has recorded, then finds its record
    real = scheduler.cluster.jobs.crawl_of_job
    monkeypatch.setattr(scheduler.cluster.jobs, "crawl_of_job", lambda e, j: next(looks, None) or real(e, j))
    assert runner.run("koala", job_id=7, final=False) is None
    assert len(crawls(engine)) == 1 and len(events(engine)) == 1
    assert _count(engine, "outbox") == 1  # the first run's alert; none of the twin's


def test_a_job_that_keeps_failing_is_recorded_once_as_a_failed_crawl(
    cluster_db: tuple[str, Engine],
    board_server: BoardServer,
    crawl_workers: CrawlWorkers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, engine = cluster_db
    board(board_server, "koala", "Data Scientist")
    config = cluster_config(url, [greenhouse("koala", board_server.url)])
    runs: list[datetime] = []

    def broken(self: CrawlJobs, *args: object) -> None:
        runs.append(datetime.now(UTC))
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(CrawlJobs, "_crawl", broken)
    monkeypatch.setattr(scheduler.cluster.app, "RETRY_WAIT_S", 0)
    with workers(config, engine, pool=crawl_workers):
        defer_crawls(config, ["koala"], engine)
        eventually(lambda: crawls(engine), 60, "the failed crawl to be recorded")
        time.sleep(1.0)
    assert len(runs) == 1 + scheduler.cluster.app.CRAWL_RETRIES
    [(source, verdict, reason)] = crawls(engine)
    assert (source, verdict) == ("koala", "failed")
    assert "RuntimeError: the disk is full" in reason
    assert [job for job in jobs(engine) if job[0] == "rolewatch.crawl"] == []  # it recorded the failure


def test_a_worker_that_loses_the_database_reconnects(
    cluster_db: tuple[str, Engine], board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    url, engine = cluster_db
    board(board_server, "koala", "Data Scientist")
    config = cluster_config(url, [greenhouse("koala", board_server.url)])
    with workers(config, engine, pool=crawl_workers):
        eventually(
            lambda: _count(engine, "procrastinate.procrastinate_workers"), 30, "the worker to register"
        )
        with engine.connect() as connection:
            killed = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        assert killed >= 1
        time.sleep(1.0)
        defer_crawls(config, ["koala"], engine)
        eventually(lambda: crawls(engine), 90, "a crawl after the reconnection")
    assert crawls(engine) == [("koala", "complete", "")]


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_the_scheduler_queues_one_job_per_source_and_never_a_second_while_one_waits_or_runs(
    cluster_db: tuple[str, Engine], board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    from scheduler.daemon import Daemon

    url, engine = cluster_db
    for name in ("koala", "wombat"):
        slow_board(board_server, name, 1.5)
    config = cluster_config(
        url, [greenhouse(n, board_server.url) for n in ("koala", "wombat")], interval="1s"
    )
    daemon = Daemon(config, engine, reload_config=lambda: config)
    samples: list[list[tuple[str, str | None, str]]] = []

    def each_crawled_twice() -> bool:
        return all(len(crawls(engine, name)) >= 2 for name in ("koala", "wombat"))

    async def scenario() -> None:
        running = asyncio.create_task(daemon.run())
        await asyncio.sleep(4)  # no worker yet: each source has one job waiting, however often it came due
        waiting = await asyncio.to_thread(jobs, engine)
        assert sorted(lock for task, lock, status in waiting if task == "rolewatch.crawl") == [
            "crawl:koala",
            "crawl:wombat",
        ]
        with workers(config, engine, pool=crawl_workers):
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and not await asyncio.to_thread(each_crawled_twice):
                samples.append(await asyncio.to_thread(jobs, engine))
                await asyncio.sleep(0.2)
            daemon.request_stop("test over")
            await running

    asyncio.run(scenario())
    assert len(crawls(engine, "koala")) >= 2 and len(crawls(engine, "wombat")) >= 2
    for sample in samples:
        locks = [
            lock for task, lock, status in sample if task == "rolewatch.crawl" and status in ("todo", "doing")
        ]
        assert len(locks) == len(set(locks)), f"two jobs of one source at once: {sample}"


@pytest.mark.parametrize(("delay", "lanes", "in_flight"), [("0s", 3, 1), ("0.5s", 1, 3)])
def test_a_crawl_on_a_host_with_lanes_has_one_request_in_flight(
    cluster_db: tuple[str, Engine],
    board_server: BoardServer,
    crawl_workers: CrawlWorkers,
    monkeypatch: pytest.MonkeyPatch,
    delay: str,
    lanes: int,
    in_flight: int,
) -> None:
    """Lanes multiply a host's crawls, so each lane's crawl gets one request in flight (a paginated
    board would otherwise have `concurrency_per_host` per lane); with a delay, one lane keeps them all."""
    url, engine = cluster_db
    board(board_server, "koala", "Analyst")
    config = cluster_config(url, [greenhouse("koala", board_server.url)], delay=delay, concurrency_per_host=3)
    source = config.source("koala")
    assert scheduler.cluster.app.host_lanes(source) == lanes
    locks = {scheduler.cluster.app.crawl_lock(engine, source) for _ in range(2)}
    assert locks <= {f"host:{board_server.url.split('//')[1]}#{lane}" for lane in range(lanes)}
    given: list[int] = []
    real = crawler.run.crawl_sources

    def crawl(sources: list[ResolvedSource], **kwargs: Any) -> None:
        given.extend(source.politeness.concurrency_per_host for source in sources)
        real(sources, **kwargs)

    monkeypatch.setattr(scheduler.cluster.jobs, "crawl_sources", crawl)
    assert CrawlJobs(engine, config, crawl_workers).run("koala", job_id=1, final=True) is not None
    assert given == [in_flight]
