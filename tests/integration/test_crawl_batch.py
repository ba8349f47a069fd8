"""`crawl_sources` as a whole: shared per-host politeness, streamed results, and children that die or hang."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import psutil  # type: ignore[import-untyped]
import pytest

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlResult, CrawlVerdict
from tests.boardserver import BoardServer
from tests.fixtures.boards import greenhouse_board, greenhouse_job
from tests.integration.crawling import resolved, with_limits


def test_sources_on_one_host_share_one_download_slot(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    """One spider per type crawls all its sources, so one host sees one request at a time, spaced."""
    names = ["alpha", "beta", "gamma"]
    for name in names:
        board_server.set_json(
            f"/v1/boards/{name}/jobs", greenhouse_board([greenhouse_job(1, f"{name} analyst")])
        )
        board_server.hang(f"/v1/boards/{name}/jobs", 0.05)
    entries = [{"name": n, "type": "greenhouse", "board": n, "base_url": board_server.url} for n in names]
    sources = resolved(entries, concurrency_per_host=1, delay="0.6s")
    streamed: list[str] = []

    results = crawl_sources(
        sources, on_result=lambda result: streamed.append(result.source), workers=crawl_workers
    )

    assert [r.source for r in results] == names, "results come back in the order of the sources"
    assert sorted(streamed) == sorted(names), "each result is streamed once, as it finishes"
    assert all(r.verdict is CrawlVerdict.COMPLETE for r in results)
    listings = sorted(
        (r for r in board_server.requests if r.path != "/robots.txt"), key=lambda r: r.received_at
    )
    assert len(listings) == 3
    for before, after in itertools.pairwise(listings):
        assert before.answered_at is not None
        assert after.received_at >= before.answered_at, "two requests in flight at once on one host"
        # DOWNLOAD_DELAY is randomised between 0.5x and 1.5x and counts from the previous request's start
        assert after.received_at - before.received_at >= 0.6 * 0.5


@pytest.mark.slow  # a fresh crawl child of its own, killed or frozen
def test_a_killed_child_leaves_failed_results_and_no_hang(
    board_server: BoardServer, worker_pids: Callable[[], set[int]]
) -> None:
    board_server.set_json("/v1/boards/slow/jobs", greenhouse_board([]))
    board_server.hang("/v1/boards/slow/jobs", 60)
    sources = resolved(
        [
            {"name": "slow", "type": "greenhouse", "board": "slow", "base_url": board_server.url},
            {"name": "slower", "type": "greenhouse", "board": "slow", "base_url": board_server.url},
        ],
        timeout="60s",
    )
    streamed: list[CrawlResult] = []
    results: list[CrawlResult] = []
    crawl = threading.Thread(target=lambda: results.extend(crawl_sources(sources, on_result=streamed.append)))

    crawl.start()
    child = _wait_for_crawl_child(board_server, "/v1/boards/slow/jobs", worker_pids)
    child.send_signal(signal.SIGKILL)
    crawl.join(timeout=15)

    assert not crawl.is_alive(), "crawl_sources hung after its child was killed"
    assert [r.source for r in results] == ["slow", "slower"] and len(streamed) == 2
    for result in results:
        assert result.verdict is CrawlVerdict.FAILED
        assert (
            result.reason
            == "the crawl process was killed by SIGKILL (out of memory?) before this source finished"
        )
        assert result.stats.errors == (result.reason,)


@pytest.mark.slow  # a fresh crawl child of its own, killed or frozen
def test_a_child_that_overruns_is_killed(
    board_server: BoardServer, worker_pids: Callable[[], set[int]]
) -> None:
    """A frozen child (SIGSTOP) is killed at max(timeout + request time-out) + grace; nothing hangs."""
    board_server.set_json("/v1/boards/frozen/jobs", greenhouse_board([]))
    board_server.hang("/v1/boards/frozen/jobs", 60)
    (source,) = resolved(
        [{"name": "frozen", "type": "greenhouse", "board": "frozen", "base_url": board_server.url}]
    )
    source = with_limits(source, timeout_s=1, request_timeout=timedelta(seconds=1))
    results: list[CrawlResult] = []
    crawl = threading.Thread(
        target=lambda: results.extend(crawl_sources([source], grace=timedelta(seconds=1)))
    )

    began = time.monotonic()
    crawl.start()
    child = _wait_for_crawl_child(board_server, "/v1/boards/frozen/jobs", worker_pids)
    child.send_signal(signal.SIGSTOP)
    crawl.join(timeout=20)

    assert not crawl.is_alive()
    assert time.monotonic() - began < 10
    (result,) = results
    assert result.verdict is CrawlVerdict.FAILED
    assert result.reason == "the crawl process overran its 3s time limit and was killed"
    assert not psutil.pid_exists(child.pid) or child.status() == psutil.STATUS_ZOMBIE


def test_unknown_types_and_empty_batches_never_start_a_crawl(crawl_workers: CrawlWorkers) -> None:
    assert crawl_sources([], workers=crawl_workers) == []
    (source,) = resolved(
        [{"name": "acme", "type": "greenhouse", "board": "acme", "base_url": "http://127.0.0.1:9"}]
    )
    import dataclasses

    (result,) = crawl_sources([dataclasses.replace(source, type="no-such-board")], workers=crawl_workers)
    assert result.verdict is CrawlVerdict.FAILED and result.reason == "unknown source type 'no-such-board'"
    with pytest.raises(ValueError, match="unique"):
        crawl_sources([source, source], workers=crawl_workers)


def _wait_for_crawl_child(
    server: BoardServer, path: str, worker_pids: Callable[[], set[int]], timeout_s: float = 60
) -> psutil.Process:
    """The crawl child once it is mid-crawl (its request reached the server); a loaded machine may take
    tens of seconds to start one (`crawler.workers.STARTUP_LIMIT_S`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        children = sorted(worker_pids())
        if children and server.requests_to(path):
            return psutil.Process(children[0])
        time.sleep(0.05)
    raise AssertionError("the crawl child never reached the board server")


@pytest.mark.slow  # a fresh crawl child of its own, killed or frozen
def test_a_crawl_child_dies_with_its_parent(board_server: BoardServer) -> None:
    """A daemon killed with -9 must not leave its crawl running on: the kernel ends the child too."""
    import subprocess
    import sys

    board_server.set_json("/v1/boards/orphan/jobs", greenhouse_board([greenhouse_job(1, "Analyst")]))
    board_server.hang("/v1/boards/orphan/jobs", 60)
    script = (
        "from tests.integration.crawling import resolved\n"
        "from crawler.run import crawl_sources\n"
        f"crawl_sources(resolved([{{'name': 'orphan', 'type': 'greenhouse', 'board': 'orphan',"
        f" 'base_url': '{board_server.url}'}}], timeout='120s'))\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while not board_server.requests_to("/v1/boards/orphan/jobs") and time.monotonic() < deadline:
            time.sleep(0.05)
        (child,) = [
            c for c in psutil.Process(parent.pid).children() if "crawler.child" in " ".join(c.cmdline())
        ]
        parent.kill()
        parent.wait(10)
        gone, alive = psutil.wait_procs([child], timeout=10)
        assert gone and not alive, "the crawl child outlived its parent"
    finally:
        parent.kill()
