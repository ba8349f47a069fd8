"""Per-host crawl lanes: sources due on one host are crawled together, one batch per host at a time.

Scrapy's politeness (concurrency per host, delay, AutoThrottle) holds within one crawler, and
the crawl child runs one crawler per source type over every source of its batch. So sources that
share a host share its limits only when they are crawled in the same batch. A lane per host
gives exactly that: what comes due while the host's batch runs waits and goes into the next
batch together, never into a second child hammering the same host at the same time. A global
limit on batches keeps a burst of due hosts from starting more crawl processes than the machine
can hold.

The host of a source is the one named in its options (`base_url`, `url`, the first of
`start_urls`), else its type's own API host: every source of a type without such an option
goes to that type's lane.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from rolewatch.config import ResolvedSource
    from storage.recording import CrawlRecord

logger = logging.getLogger(__name__)

#: Batches running at once across all hosts, each in its own crawl worker (about 130 MB warm).
MAX_BATCHES = max(4, os.cpu_count() or 1)
#: Sources per batch: every source's time-out clock starts with its batch, so a host's whole
#: batch must fit through its politeness limits (one request a second by default) in time.
MAX_BATCH_SIZE = 25

#: Runs in a worker thread: crawl these sources and call back with each record as it is written.
BatchRunner = Callable[[Sequence["ResolvedSource"], Callable[["CrawlRecord"], None]], None]


def host_key(source: ResolvedSource) -> str:
    """The host whose politeness a source shares: its configured URL's `host[:port]`, else its type."""
    options = source.options
    candidates = [getattr(options, "base_url", None), getattr(options, "url", None)]
    start_urls = getattr(options, "start_urls", None)
    if isinstance(start_urls, list | tuple) and start_urls:
        candidates.append(start_urls[0])
    for candidate in candidates:
        if isinstance(candidate, str) and candidate:
            parts = urlsplit(candidate)
            if parts.hostname:
                return parts.hostname + (f":{parts.port}" if parts.port else "")
    return f"type:{source.type}"


@dataclass(frozen=True)
class Crawled:
    """How one source's turn in a lane went: its record (None if it was never crawled) and when."""

    record: CrawlRecord | None
    queued_at: datetime
    batch_started_at: datetime | None = None
    recorded_at: datetime | None = None


@dataclass
class _Waiting:
    source: ResolvedSource
    queued_at: datetime
    future: asyncio.Future[Crawled]


@dataclass
class _Lane:
    waiting: dict[str, _Waiting] = field(default_factory=dict)
    crawling: dict[str, _Waiting] = field(default_factory=dict)
    worker: asyncio.Task[None] | None = None


class CrawlLanes:
    """Queues each due source on its host's lane and runs the lanes' batches in worker threads."""

    def __init__(
        self,
        run_batch: BatchRunner,
        executor: Executor,
        *,
        max_batches: int = MAX_BATCHES,
        max_batch_size: int = MAX_BATCH_SIZE,
    ) -> None:
        self._run_batch = run_batch
        self._executor = executor
        self._slots = asyncio.Semaphore(max_batches)
        self._max_batch_size = max_batch_size
        self._lanes: dict[str, _Lane] = {}
        self._closed = False
        self.running: set[asyncio.Future[None]] = set()

    async def crawl(self, source: ResolvedSource) -> Crawled:
        """Crawl `source` with whatever else is due on its host; return once its result is recorded."""
        queued_at = datetime.now(UTC)
        if self._closed:
            return Crawled(None, queued_at)
        key = host_key(source)
        lane = self._lanes.setdefault(key, _Lane())
        waiting = lane.waiting.get(source.name) or lane.crawling.get(source.name)
        if waiting is None:
            future: asyncio.Future[Crawled] = asyncio.get_running_loop().create_future()
            waiting = lane.waiting[source.name] = _Waiting(source, queued_at, future)
        if lane.worker is None:
            lane.worker = asyncio.create_task(self._drain(key, lane), name=f"lane {key}")
        return await asyncio.shield(waiting.future)

    def close(self) -> None:
        """Start no more batches; sources still waiting for one are answered as never crawled."""
        self._closed = True
        for lane in self._lanes.values():
            for waiting in lane.waiting.values():
                if not waiting.future.done():
                    waiting.future.set_result(Crawled(None, waiting.queued_at))
            lane.waiting.clear()

    async def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the batches now running; True if they all finished."""
        if not self.running:
            return True
        _, pending = await asyncio.wait(set(self.running), timeout=timeout)
        return not pending

    async def _drain(self, key: str, lane: _Lane) -> None:
        try:
            while lane.waiting and not self._closed:
                async with self._slots:
                    await asyncio.sleep(0)  # let sources queued in this same turn of the loop join the batch
                    if self._closed:
                        return
                    batch = self._take(lane)
                    lane.crawling = {waiting.source.name: waiting for waiting in batch}
                    try:
                        await self._crawl_batch(key, batch)
                    finally:
                        lane.crawling = {}
        finally:
            lane.worker = None
            if not lane.waiting and self._lanes.get(key) is lane:
                del self._lanes[key]

    def _take(self, lane: _Lane) -> list[_Waiting]:
        names = list(lane.waiting)[: self._max_batch_size]
        return [lane.waiting.pop(name) for name in names]

    async def _crawl_batch(self, key: str, batch: list[_Waiting]) -> None:
        loop = asyncio.get_running_loop()
        started_at = datetime.now(UTC)
        by_name = {waiting.source.name: waiting for waiting in batch}

        def settle(name: str, crawled: Crawled) -> None:
            waiting = by_name.get(name)
            if waiting is not None and not waiting.future.done():
                waiting.future.set_result(crawled)

        def on_record(record: CrawlRecord) -> None:  # in the worker thread
            waiting = by_name.get(record.source)
            if waiting is not None:
                crawled = Crawled(record, waiting.queued_at, started_at, datetime.now(UTC))
                loop.call_soon_threadsafe(settle, record.source, crawled)

        sources = [waiting.source for waiting in batch]
        logger.debug("%s: crawling %s", key, ", ".join(by_name))
        running = loop.run_in_executor(self._executor, self._run_batch, sources, on_record)
        self.running.add(running)
        try:
            await running
        except Exception:
            logger.exception("%s: the crawl batch of %s failed", key, ", ".join(by_name))
        finally:
            self.running.discard(running)
            for waiting in batch:  # after every callback queued by the batch: those run first
                settle(waiting.source.name, Crawled(None, waiting.queued_at, started_at))


def crawl_processes() -> list[int]:
    """The crawl child processes (`python -m crawler.child`) of this process, read from /proc.

    The crawl runner keeps its child to itself; the daemon needs them only to end crawls that
    outlive the shutdown grace period. Without /proc (not Linux) there is nothing to find.
    """
    me = os.getpid()
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
            if parent != me:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if b"crawler.child" in cmdline.read().split(b"\0"):
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def kill_crawl_processes() -> list[int]:
    """Kill every crawl child; each batch then records its unfinished sources as failed."""
    killed = []
    for pid in crawl_processes():
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            continue
    return killed
