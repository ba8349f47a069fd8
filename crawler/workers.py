"""Crawl worker processes, kept warm and reused batch after batch, and retired before they age.

A worker (`python -m crawler.child`) pays its start-up (Scrapy's imports, the location tables:
about a second of CPU) once; then a batch costs only its crawling. That second matters to a
daemon that crawls a host every few seconds, and to an unchanged re-crawl that is otherwise a
few hundred 304s. What a long-lived crawler accumulates (leaked objects, resolved addresses,
fragmented memory) is bounded by retiring a worker after `max_batches` batches, `max_age`, or
once its peak RSS passes `max_rss`; a worker that crashed, overran or was killed is never reused.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO

from crawler.child import CRAWLING, WARM, BatchDone, CrawlJob
from rolewatch.config import format_duration
from rolewatch.domain import CrawlResult

logger = logging.getLogger(__name__)

#: How long a worker may take to start (imports, warm-up) before its crawl's own clock starts.
STARTUP_LIMIT_S = 60.0
#: How long a worker told to stop may take to exit before it is killed.
EXIT_WAIT_S = 10.0
_STDERR_TAIL = 20
_EOF = object()


@dataclass(frozen=True)
class Retirement:
    """When a worker is replaced rather than reused."""

    max_batches: int = 200
    max_age_s: float = 3600.0
    max_rss: int = 400 * 1024 * 1024
    max_idle: int = 2


class CrawlWorker:
    """One worker process and the threads that read its results and its log."""

    def __init__(self, *, warm: bool = False) -> None:
        self.started = time.monotonic()
        self.batches = 0
        self.peak_rss = 0
        self._tail: deque[str] = deque(maxlen=_STDERR_TAIL)
        self._arrivals: queue.Queue[object] = queue.Queue()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "crawler.child", *([WARM] if warm else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_child_environment(),
        )
        assert self._process.stdin and self._process.stdout and self._process.stderr
        self._threads = [
            threading.Thread(target=_read_results, args=(self._process.stdout, self._arrivals), daemon=True),
            threading.Thread(target=_relay_log, args=(self._process.stderr, self._tail), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    def alive(self) -> bool:
        return self._process.poll() is None

    def run(self, job: CrawlJob, limit_s: float, accept: Callable[[CrawlResult], None]) -> str | None:
        """Crawl `job`, handing each result to `accept` as it arrives.

        Returns None once every source has been answered for; else why some were not (the
        worker died, or overran its time limit and was killed), and the worker is then dead.
        """
        self.batches += 1
        if not self._send(job):
            return self._why_results_are_missing()
        deadline = time.monotonic() + STARTUP_LIMIT_S
        overrun = f"the crawl process did not start within {STARTUP_LIMIT_S:g}s and was killed"
        while True:
            try:
                item = self._arrivals.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                return overrun
            if item is _EOF:
                return self._why_results_are_missing()
            if isinstance(item, BatchDone):
                self.peak_rss = item.peak_rss
                return None
            if item == CRAWLING:  # the crawl's own limit starts now, not while a cold worker starts
                deadline = time.monotonic() + limit_s
                limit = format_duration(timedelta(seconds=round(limit_s)))
                overrun = f"the crawl process overran its {limit} time limit and was killed"
            elif isinstance(item, CrawlResult):
                accept(item)

    def _send(self, job: CrawlJob) -> bool:
        assert self._process.stdin
        try:
            pickle.dump(job, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            return False  # the worker died; its exit status tells why
        return True

    def close(self) -> None:
        """Ask the worker to exit (EOF on its stdin); kill it if it does not in time."""
        assert self._process.stdin and self._process.stdout and self._process.stderr
        with contextlib.suppress(OSError):
            self._process.stdin.close()
        try:
            self._process.wait(timeout=EXIT_WAIT_S)
        except subprocess.TimeoutExpired:
            logger.warning("the crawl process did not exit when asked; killing it")
        self.kill()
        for thread in self._threads:
            thread.join(timeout=5)
        self._process.stdout.close()
        self._process.stderr.close()

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()

    def _why_results_are_missing(self) -> str:
        """The worker's end explains missing results: wait for it, then read its exit status."""
        try:
            returncode = self._process.wait(timeout=EXIT_WAIT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            returncode = self._process.returncode
        for thread in self._threads:
            thread.join(timeout=1)
        if returncode < 0:
            name = _signal_name(-returncode)
            hint = " (out of memory?)" if -returncode == signal.SIGKILL else ""
            return f"the crawl process was killed by {name}{hint} before this source finished"
        if returncode:
            last = f": {self._tail[-1]}" if self._tail else ""
            return f"the crawl process exited with status {returncode} before this source finished{last}"
        return "the crawl process ended without a result for this source"


class CrawlWorkers:
    """A pool of warm workers for one parent; thread-safe, since batches run in worker threads."""

    def __init__(self, retirement: Retirement = Retirement()) -> None:
        self.retirement = retirement
        self._idle: list[CrawlWorker] = []
        self._lock = threading.Lock()
        self._closed = False
        #: Workers started, and the highest peak RSS (bytes) any of them reported: for benchmarks.
        self.started = 0
        self.peak_rss = 0

    def prestart(self, count: int = 1) -> None:
        """Start `count` workers now, so the first batches find them warm."""
        for _ in range(count):
            self.release(self._spawn(warm=True))

    def acquire(self) -> CrawlWorker:
        """An idle live worker, else a new one."""
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.close()
        return self._spawn(warm=False)

    def release(self, worker: CrawlWorker) -> None:
        """Keep `worker` for the next batch, unless it is dead, due to retire, or surplus."""
        with self._lock:
            self.peak_rss = max(self.peak_rss, worker.peak_rss)
            keep = (
                not self._closed
                and len(self._idle) < self.retirement.max_idle
                and worker.alive()
                and not self._due_to_retire(worker)
            )
            if keep:
                self._idle.append(worker)
                return
        worker.close()

    def close(self) -> None:
        """Stop every idle worker; a worker still crawling stops when it is released."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()

    def _due_to_retire(self, worker: CrawlWorker) -> bool:
        rules = self.retirement
        return (
            worker.batches >= rules.max_batches
            or time.monotonic() - worker.started >= rules.max_age_s
            or worker.peak_rss >= rules.max_rss
        )

    def _spawn(self, *, warm: bool) -> CrawlWorker:
        worker = CrawlWorker(warm=warm)
        with self._lock:
            self.started += 1
        return worker


def _child_environment() -> dict[str, str]:
    """The child imports this very code, installed or not: put our root first on its path.

    A worker lives for many batches, so it gets the daemon's cap on malloc arenas too
    (see `scheduler.memory`); glibc reads it at start-up.
    """
    root = str(Path(__file__).resolve().parent.parent)
    environment = dict(os.environ)
    environment.setdefault("MALLOC_ARENA_MAX", "2")
    existing = environment.get("PYTHONPATH")
    environment["PYTHONPATH"] = root + (os.pathsep + existing if existing else "")
    return environment


def _read_results(stream: IO[bytes], arrivals: queue.Queue[object]) -> None:
    try:
        while True:
            arrivals.put(pickle.load(stream))
    except Exception:  # EOF, or a result cut short by the child's death: either way, the end
        pass
    finally:
        arrivals.put(_EOF)


def _relay_log(stream: IO[bytes], tail: deque[str]) -> None:
    """Pass the child's log on to ours at DEBUG, keeping the last lines to explain a crash.

    Every problem that matters to a user is already an error in its source's result; the
    child's own log (Scrapy's tracebacks for a failed robots.txt fetch, say) is detail for `-v`.
    """
    for raw in stream:
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            tail.append(line)
            logger.debug("crawl: %s", line)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
