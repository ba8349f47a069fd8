"""Warm crawl workers: reused batch after batch, never reused once dead, retired when due."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import psutil  # type: ignore[import-untyped]
import pytest

from crawler.child import WARM
from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers, Retirement
from rolewatch.config import ResolvedSource
from rolewatch.domain import CrawlResult, CrawlVerdict
from tests.boardserver import BoardServer
from tests.fixtures.boards import greenhouse_board, greenhouse_job
from tests.integration.crawling import resolved, with_limits

#: Fresh worker processes are the point: started, killed, frozen and retired here.
pytestmark = pytest.mark.slow


@pytest.fixture
def workers() -> Iterator[CrawlWorkers]:
    pool = CrawlWorkers()
    yield pool
    pool.close()


def _board(server: BoardServer, name: str, titles: list[str]) -> ResolvedSource:
    jobs = [greenhouse_job(n + 1, title) for n, title in enumerate(titles)]
    server.set_json(f"/v1/boards/{name}/jobs", greenhouse_board(jobs))
    (source,) = resolved([{"name": name, "type": "greenhouse", "board": name, "base_url": server.url}])
    return source


def test_one_warm_worker_serves_batch_after_batch(
    board_server: BoardServer, workers: CrawlWorkers, worker_pids: Callable[[], set[int]]
) -> None:
    source = _board(board_server, "koala", ["Data Analyst", "Research Intern"])
    workers.prestart()
    (pid,) = worker_pids()

    (first,) = crawl_sources([source], workers=workers)
    _board(board_server, "koala", ["Data Analyst", "Research Intern", "Quant Intern"])
    (second,) = crawl_sources([source], validators={"koala": first.validators}, workers=workers)

    assert first.verdict is CrawlVerdict.COMPLETE and len(first.postings) == 2
    assert second.verdict is CrawlVerdict.COMPLETE and len(second.postings) == 3
    assert workers.started == 1 and worker_pids() == {pid}, "the second batch reused the warm worker"


def test_a_daemon_pool_warms_its_workers_ahead_and_a_command_starts_its_own_cold(
    workers: CrawlWorkers, worker_pids: Callable[[], set[int]]
) -> None:
    """A daemon's worker loads the location tables while it waits for its first batch; a
    command's batch follows within a second, and a worker caught loading them would keep a batch
    of 304s waiting for tables it never uses (`run_batch` loads them when a batch parses)."""
    from rolewatch.cli.common import started_worker

    workers.prestart()
    (daemons,) = worker_pids()
    assert WARM in psutil.Process(daemons).cmdline()
    with started_worker():
        (commands,) = worker_pids() - {daemons}
        assert WARM not in psutil.Process(commands).cmdline()


def test_a_worker_killed_mid_batch_fails_that_batch_only(
    board_server: BoardServer, workers: CrawlWorkers, worker_pids: Callable[[], set[int]]
) -> None:
    slow = _board(board_server, "slow", [])
    board_server.hang("/v1/boards/slow/jobs", 60)
    slow = with_limits(slow, timeout_s=60)
    results: list[CrawlResult] = []
    crawl = threading.Thread(target=lambda: results.extend(crawl_sources([slow], workers=workers)))
    crawl.start()
    _wait_for(lambda: bool(board_server.requests_to("/v1/boards/slow/jobs")))
    (killed,) = worker_pids()
    psutil.Process(killed).kill()
    crawl.join(timeout=15)

    assert not crawl.is_alive()
    (failed,) = results
    assert failed.verdict is CrawlVerdict.FAILED
    assert (
        failed.reason
        == "the crawl process was killed by SIGKILL (out of memory?) before this source finished"
    )
    fine = _board(board_server, "fine", ["Graduate Engineer"])
    (after,) = crawl_sources([fine], workers=workers)
    assert after.verdict is CrawlVerdict.COMPLETE and after.postings[0].title == "Graduate Engineer"
    assert workers.started == 2 and killed not in worker_pids(), "a dead worker is never reused"


def test_a_worker_that_overruns_is_killed_and_replaced(
    board_server: BoardServer, workers: CrawlWorkers, worker_pids: Callable[[], set[int]]
) -> None:
    frozen = _board(board_server, "frozen", [])
    board_server.hang("/v1/boards/frozen/jobs", 60)
    frozen = with_limits(frozen, timeout_s=1, request_timeout=timedelta(seconds=1))
    results: list[CrawlResult] = []
    crawl = threading.Thread(
        target=lambda: results.extend(crawl_sources([frozen], workers=workers, grace=timedelta(seconds=1)))
    )
    crawl.start()
    _wait_for(lambda: bool(board_server.requests_to("/v1/boards/frozen/jobs")))
    (stopped,) = worker_pids()
    psutil.Process(stopped).suspend()
    crawl.join(timeout=20)

    (result,) = results
    assert result.reason == "the crawl process overran its 3s time limit and was killed"
    assert stopped not in worker_pids()
    (after,) = crawl_sources([_board(board_server, "next", ["Analyst"])], workers=workers)
    assert after.verdict is CrawlVerdict.COMPLETE and workers.started == 2


@pytest.mark.parametrize(
    "retirement",
    [Retirement(max_batches=2), Retirement(max_rss=1), Retirement(max_age_s=0)],
    ids=["batches", "memory", "age"],
)
def test_workers_retire_when_due(
    board_server: BoardServer, retirement: Retirement, worker_pids: Callable[[], set[int]]
) -> None:
    pool = CrawlWorkers(retirement)
    source = _board(board_server, "koala", ["Data Analyst"])
    try:
        for _ in range(3):
            (result,) = crawl_sources([source], workers=pool)
            assert result.verdict is CrawlVerdict.COMPLETE
        expected = 2 if retirement.max_batches == 2 else 3
        assert pool.started == expected
    finally:
        pool.close()
    _wait_for(lambda: not worker_pids())


def test_a_worker_is_reused_however_large_its_parent(
    board_server: BoardServer, worker_pids: Callable[[], set[int]]
) -> None:
    """Linux carries a process's peak RSS across exec: read that way, every worker of a parent
    larger than `max_rss` (a daemon holding its caches) looked too large from birth and was
    retired after each batch, so no batch ever found a warm worker."""
    limit = 250 * 2**20
    ballast = b"x" * (limit + 50 * 2**20)  # every page written, so all of it is resident
    assert psutil.Process().memory_info().rss > limit
    pool = CrawlWorkers(Retirement(max_rss=limit))
    source = _board(board_server, "koala", ["Data Analyst"])
    try:
        for _ in range(2):
            (result,) = crawl_sources([source], workers=pool)
            assert result.verdict is CrawlVerdict.COMPLETE
        assert 0 < pool.peak_rss < limit
        assert pool.started == 1, "the second batch reused the warm worker"
    finally:
        pool.close()
        del ballast
    _wait_for(lambda: not worker_pids())


def test_closing_the_pool_ends_its_idle_workers(worker_pids: Callable[[], set[int]]) -> None:
    pool = CrawlWorkers()
    pool.prestart(2)
    assert len(worker_pids()) == 2
    pool.close()
    _wait_for(lambda: not worker_pids())
    (source,) = resolved(
        [{"name": "late", "type": "greenhouse", "board": "late", "base_url": "http://127.0.0.1:9"}]
    )
    (result,) = crawl_sources([source], workers=pool)
    assert result.verdict is CrawlVerdict.FAILED, "a closed pool still crawls, in a worker it then ends"
    _wait_for(lambda: not worker_pids())


def _wait_for(condition: Callable[[], bool], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")
