"""A reloaded configuration (SIGHUP) on both roles of `engine: procrastinate`, in process on PostgreSQL: a
worker crawls a source as the new configuration has it and keeps the old one when the new one is
invalid; the scheduler queues a source added by the reload."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from crawler.workers import CrawlWorkers
from rolewatch.config import Config, ConfigError
from scheduler.daemon import Daemon
from tests.boardserver import BoardServer
from tests.fixtures.boards import greenhouse_board, greenhouse_job
from tests.integration.cluster_support import (
    cluster_config,
    crawls,
    defer_crawls,
    eventually,
    greenhouse,
    jobs,
    workers,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def second_host() -> Iterator[BoardServer]:
    with BoardServer("127.0.0.2") as server:
        yield server


def serve_koala(server: BoardServer) -> None:
    body = json.dumps(greenhouse_board([greenhouse_job(1, "Analyst")])).encode()
    server.set_raw("/v1/boards/koala/jobs", body, headers={"Content-Type": "application/json"})


def test_a_reloaded_worker_crawls_a_source_as_the_new_configuration_has_it(
    cluster_db: tuple[str, Engine],
    board_server: BoardServer,
    second_host: BoardServer,
    crawl_workers: CrawlWorkers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """koala moves to another host: without the reload the worker, which knows koala, would keep
    crawling the old one."""
    url, engine = cluster_db
    for server in (board_server, second_host):
        serve_koala(server)
    current = [cluster_config(url, [greenhouse("koala", board_server.url)])]
    with workers(current[0], engine, pool=crawl_workers, reload_config=lambda: current[0]) as [worker]:
        defer_crawls(current[0], ["koala"], engine)
        eventually(lambda: len(crawls(engine)) == 1, 60, "the first crawl")
        current[0] = cluster_config(url, [greenhouse("koala", second_host.url)])
        with caplog.at_level(logging.INFO, logger="rolewatch.worker"):
            worker.reload()
            eventually(lambda: worker.role.config is current[0], 30, "the reload")
        defer_crawls(current[0], ["koala"], engine)
        eventually(lambda: len(crawls(engine)) == 2, 60, "the crawl after the reload")
    assert len(board_server.requests) == 1 and len(second_host.requests) == 1
    assert "configuration reloaded: 1 sources" in caplog.text


def test_a_worker_keeps_its_configuration_when_the_new_one_is_invalid(
    cluster_db: tuple[str, Engine], board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    url, engine = cluster_db
    serve_koala(board_server)
    config = cluster_config(url, [greenhouse("koala", board_server.url)])
    asked: list[bool] = []

    def broken() -> Config:
        asked.append(True)
        raise ConfigError(["sources[0].type: unknown type 'nosuchtype'"])

    with workers(config, engine, pool=crawl_workers, reload_config=broken) as [worker]:
        worker.reload()
        eventually(lambda: asked, 30, "the reload to be tried")
        defer_crawls(config, ["koala"], engine)
        eventually(lambda: crawls(engine), 60, "a crawl after the refused reload")
        assert worker.role.config is config
    assert crawls(engine) == [("koala", "complete", "")]


def test_a_reloaded_scheduler_queues_the_crawls_of_a_source_the_reload_added(
    cluster_db: tuple[str, Engine], board_server: BoardServer
) -> None:
    url, engine = cluster_db
    sources = [greenhouse("koala", board_server.url)]
    current = [cluster_config(url, sources, interval="1s")]
    daemon = Daemon(current[0], engine, reload_config=lambda: current[0])

    def queued() -> set[str | None]:
        return {lock for task, lock, _ in jobs(engine) if task == "rolewatch.crawl"}

    async def scenario() -> None:
        running = asyncio.create_task(daemon.run())
        try:
            await asyncio.to_thread(eventually, lambda: queued() == {"crawl:koala"}, 60, "koala's job")
            sources.append(greenhouse("wombat", board_server.url))
            current[0] = cluster_config(url, sources, interval="1s")
            daemon.request_reload()
            await asyncio.to_thread(
                eventually, lambda: queued() == {"crawl:koala", "crawl:wombat"}, 60, "wombat's job"
            )
        finally:
            daemon.request_stop("test over")
            await running

    asyncio.run(scenario())
    assert daemon.config is current[0]
