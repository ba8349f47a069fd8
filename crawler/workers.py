"""Crawl worker processes, kept warm and reused batch after batch, and retired before they age.

A worker (`python -m crawler.child`) pays its start-up (Scrapy's imports, the location tables:
about a second of CPU) once; then a batch costs only its crawling. That second matters to a
daemon that crawls a host every few seconds, and to an unchanged re-crawl that is otherwise a
few hundred 304s. What a long-lived crawler accumulates (leaked objects, resolved addresses,
fragmented memory) is bounded by retiring a worker after `max_batches` batches, `max_age`, or
once its peak RSS passes `max_rss`.

A worker is reused only after a batch that finished cleanly: its `BatchDone` read, nothing of
that batch left in the pipe. Any other end (the worker crashed, overran or sent something
outside the protocol; the consumer of its results raised, say because the database was locked)
leaves it mid-batch with messages still coming, so it is killed at once and the next batch gets
a fresh one. Every message also carries its batch's id, so a message of another batch can never
be taken for one of the current batch's.
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
from typing import IO, TYPE_CHECKING

from crawler.child import WARM, BatchDone, Crawling, CrawlJob, Message, SourceDone

if TYPE_CHECKING:
    from rolewatch.domain import CrawlResult

logger = logging.getLogger(__name__)

#: How long a worker may take to start (imports, warm-up) before its crawl's own clock starts.
STARTUP_LIMIT_S = 60.0
#: Postings read ahead of their consumer, at most (each message counts one more). A first crawl's
#: result carries a board's whole postings (a megabyte or more each); when recording is slower
#: than crawling, an unbounded read-ahead held the whole batch in memory. Past this the reader
#: waits, the pipe fills, and the worker waits to write its next result: crawling slows to the
#: pace of recording. Counted in postings, not messages: a re-crawl's results are a few postings
#: each, and a bound of a few messages stalled the worker (its whole reactor, downloads
#: included, waits on a full pipe) whenever the parent took a moment to record.
READ_AHEAD = 5_000
#: How long a worker told to stop may take to exit before it is killed.
EXIT_WAIT_S = 10.0
_STDERR_TAIL = 20
_EOF = object()


class WorkerNotReady(RuntimeError):
    """A batch was handed to a worker whose last batch did not finish cleanly (a bug in the caller)."""


class ProtocolError(Exception):
    """The worker wrote something that is not a message of the protocol."""


def message_of_batch(item: object, batch: str) -> Message | None:
    """`item` if it is a message about `batch`; None if it is about another batch (stale).

    Raises ProtocolError for anything that is not a message at all.
    """
    if not isinstance(item, Crawling | SourceDone | BatchDone):
        raise ProtocolError(f"the crawl process sent a {type(item).__name__}, not a protocol message")
    return item if item.batch == batch else None


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
        #: Between batches with nothing left unread: the only state in which it may get a batch.
        self._ready = True
        #: Messages of other batches discarded: a worker out of step with us is not reused.
        self.stale = 0
        self._tail: deque[str] = deque(maxlen=_STDERR_TAIL)
        self._arrivals: queue.Queue[object] = _ReadAhead(READ_AHEAD)
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

    def reusable(self) -> bool:
        """Alive, and its last batch finished cleanly and in step: it may be given another."""
        return self._ready and not self.stale and self.alive()

    def run(
        self,
        job: CrawlJob,
        limit_s: float,
        accept: Callable[[CrawlResult], None],
        idle: Callable[[], float | None] | None = None,
    ) -> str | None:
        """Crawl `job`, handing each result to `accept` as it arrives, and calling `idle` (if given)
        whenever no message is waiting, before waiting for the next. `idle` returns the seconds
        after which it wants to be called again if nothing has come by then, or None: a consumer
        that gathers results to store them together stores them within a time it chooses.

        Returns None once every source has been answered for; else why some were not (the
        worker died, overran its time limit or broke the protocol), and the worker is then dead.
        Whatever `accept` raises propagates, after the worker, still mid-batch, is killed.
        """
        if not self._ready:
            raise WorkerNotReady(f"crawl process {self.pid} did not finish its last batch cleanly")
        self._ready = False
        self.batches += 1
        try:
            return self._serve(job, limit_s, accept, idle)
        finally:
            if not self._ready:  # its batch's messages may still be coming: never hand it another
                self.kill()

    def _serve(
        self,
        job: CrawlJob,
        limit_s: float,
        accept: Callable[[CrawlResult], None],
        idle: Callable[[], float | None] | None,
    ) -> str | None:
        if not self._send(job):
            return self._why_results_are_missing()
        deadline = time.monotonic() + STARTUP_LIMIT_S
        overrun = f"the crawl process did not start within {STARTUP_LIMIT_S:g}s and was killed"
        while True:
            wake = idle() if idle is not None and self._arrivals.empty() else None
            remaining = max(0.0, deadline - time.monotonic())
            try:
                item = self._arrivals.get(timeout=remaining if wake is None else min(wake, remaining))
            except queue.Empty:
                if wake is not None and time.monotonic() < deadline:
                    continue  # `idle` asked to be called again by now
                self.kill()
                return overrun
            if item is _EOF:
                return self._why_results_are_missing()
            try:
                message = message_of_batch(item, job.batch)
            except ProtocolError as error:
                logger.error("crawl process %d: %s; killing it", self.pid, error)
                self.kill()
                return f"{error}, and was killed"
            if message is None:
                self._discard(item)
            elif isinstance(message, BatchDone):
                self.peak_rss = message.peak_rss
                self._ready = True
                return None
            elif isinstance(message, Crawling):  # the crawl's own limit starts now, not at start-up
                from rolewatch.config import format_duration

                deadline = time.monotonic() + limit_s
                limit = format_duration(timedelta(seconds=round(limit_s)))
                overrun = f"the crawl process overran its {limit} time limit and was killed"
            else:
                accept(message.result)

    def _discard(self, item: object) -> None:
        """A message of another batch: never the current batch's, so dropped; and the worker, out
        of step with us, is retired once the current batch (whose own messages follow, since a
        worker crawls one batch at a time) is done."""
        self.stale += 1
        logger.warning(
            "crawl process %d: discarded a %s of another batch; the process is retired after this batch",
            self.pid,
            type(item).__name__,
        )

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
        self._drain()

    def _drain(self) -> None:
        """Drop what was read ahead, so a reader waiting for room sees the end of the pipe and stops."""
        reader = self._threads[0]
        while True:
            with contextlib.suppress(queue.Empty):
                while True:
                    self._arrivals.get_nowait()
            if not reader.is_alive():
                return
            reader.join(timeout=0.05)

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

    def prestart(self, count: int = 1, *, warm: bool = True) -> None:
        """Start `count` workers now, so the first batches find them started.

        `warm` workers also load the location tables while no batch waits for them (a daemon's
        pool, started well before its first batch). A command whose batch follows within a
        second passes False: a worker that had just begun loading them when the batch came would
        make the batch wait out the load (~0.1 s), which a batch of 304s does not need at all;
        a batch that parses loads them first anyway (`crawler.child.run_batch`).
        """
        for _ in range(count):
            self.release(self._spawn(warm=warm))

    def acquire(self) -> CrawlWorker:
        """An idle live worker, else a new one."""
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.reusable():
                    return worker
                worker.close()
        return self._spawn(warm=False)

    def release(self, worker: CrawlWorker) -> None:
        """Keep `worker` for the next batch, unless its last batch did not finish cleanly (it is
        then dead already), it is due to retire, or surplus."""
        with self._lock:
            self.peak_rss = max(self.peak_rss, worker.peak_rss)
            keep = (
                not self._closed
                and len(self._idle) < self.retirement.max_idle
                and worker.reusable()
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
            if not worker.batches:  # started ahead and never used: its start-up need not be waited out
                worker.kill()
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
    (see `scheduler.memory`); glibc reads it at start-up. Its string and bytes hashes are always
    keyed at random, whatever this process was given: the worker remembers board records by
    `hash()` (`crawler.digests.StrippedDigests`), which a board must not be able to compute.
    """
    root = str(Path(__file__).resolve().parent.parent)
    environment = dict(os.environ)
    environment.setdefault("MALLOC_ARENA_MAX", "2")
    environment["PYTHONHASHSEED"] = "random"
    existing = environment.get("PYTHONPATH")
    environment["PYTHONPATH"] = root + (os.pathsep + existing if existing else "")
    return environment


class _ReadAhead(queue.Queue[object]):
    """A queue bounded by the postings its messages carry, each message counting one more: a
    message is taken in while they add up to less than the bound (`READ_AHEAD`), however many
    it carries itself."""

    def _init(self, maxsize: int) -> None:
        super()._init(maxsize)
        self._held = 0

    def _qsize(self) -> int:
        return self._held

    def _put(self, item: object) -> None:
        super()._put(item)
        self._held += _weight(item)

    def _get(self) -> object:
        item = super()._get()
        self._held -= _weight(item)
        return item


def _weight(item: object) -> int:
    return 1 + len(item.result.postings) if isinstance(item, SourceDone) else 1


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
