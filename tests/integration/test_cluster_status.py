"""`rolewatch status` with `engine: procrastinate` (PostgreSQL): after the sources, the queue by queue and
status and each registered worker with its heartbeat and the crawls it is running, run in process."""

from __future__ import annotations

import gc
import json
import re
import warnings
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from crawler.workers import CrawlWorkers
from rolewatch.resolve import parse_config
from tests.acceptance.command_line import Finished, rolewatch
from tests.boardserver import BoardServer
from tests.fixtures.boards import greenhouse_board, greenhouse_job
from tests.integration.cluster_support import (
    defer_crawls,
    eventually,
    greenhouse,
    jobs,
    workers,
)

pytestmark = pytest.mark.postgres


def status(where: Path) -> Finished:
    """`rolewatch status` in process."""
    with warnings.catch_warnings():
        # The CLI leaves its engine to the garbage collector (a process exits after one command);
        # collected here, its pooled PostgreSQL connections must not warn in some later test.
        warnings.simplefilter("ignore", ResourceWarning)
        finished = rolewatch(where, "status")
        gc.collect()
    return finished


def write(tmp_path: Path, url: str, server: BoardServer) -> Path:
    """koala and wombat on one host with a delay: one lane, so one crawls while the other waits."""
    sources = [greenhouse(name, server.url) for name in ("koala", "wombat")]
    text = (
        f"database: {url}\nengine: procrastinate\n"
        "defaults: {interval: 1h, jitter: 0%, obey_robots: false, politeness: {delay: 0.5s, retries: 0}}\n"
        "sources:\n" + "".join(f"  - {source}\n" for source in sources)
    )
    (tmp_path / "rolewatch.yaml").write_text(text, encoding="utf-8")
    return tmp_path / "rolewatch.yaml"


def test_status_shows_the_queue_and_each_worker_with_the_crawl_it_runs(
    tmp_path: Path,
    cluster_db: tuple[str, Engine],
    board_server: BoardServer,
    crawl_workers: CrawlWorkers,
) -> None:
    url, engine = cluster_db
    body = json.dumps(greenhouse_board([greenhouse_job(1, "Analyst")])).encode()
    json_type = {"Content-Type": "application/json"}
    board_server.set_raw("/v1/boards/koala/jobs", body, headers=json_type, delay_s=6.0)
    board_server.set_raw("/v1/boards/wombat/jobs", body, headers=json_type)
    config = parse_config(write(tmp_path, url, board_server).read_text(encoding="utf-8"))

    idle = status(tmp_path)
    assert idle.returncode == 0, idle.stderr
    assert "Queue: empty." in idle.stdout
    assert "Workers: none (start them with `rolewatch worker`)." in idle.stdout

    defer_crawls(config, ["koala", "wombat"], engine)
    queued = status(tmp_path)
    assert "Queue: crawl todo: 2." in queued.stdout, queued.stdout

    with workers(config, engine, count=1, concurrency=2, pool=crawl_workers):
        eventually(
            lambda: ("rolewatch.crawl", "crawl:koala", "doing") in jobs(engine), 60, "koala's crawl to start"
        )
        busy = status(tmp_path)
    assert busy.returncode == 0, busy.stderr
    assert "Queue: crawl doing: 1, crawl todo: 1." in busy.stdout, busy.stdout
    [row] = [line for line in busy.stdout.splitlines() if re.search(r"\d+s ago", line)]
    worker_id, heartbeat, running = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert worker_id.isdigit() and running == "koala", row
    assert int(heartbeat.removesuffix("s ago")) < 30, row
