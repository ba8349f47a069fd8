"""The crawl child process: `python -m crawler.child` reads a batch on stdin and streams results on stdout.

A Twisted reactor cannot be restarted, and a long-lived process that crawls keeps leaked objects,
a DNS cache without TTL and a peak-RSS memory check; so every batch runs here, in a fresh
interpreter, and exits. The parent (`crawler.run`) never imports Scrapy's reactor.

Protocol: stdin holds one pickled `CrawlJob`; stdout carries the pickled string `CRAWLING` once
the crawl is about to start (so start-up time is not counted against the crawl's time limit),
one pickled `CrawlResult` per source as each finishes, then EOF. Anything else that writes to
stdout is sent to stderr.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from crawler.verdict import failed_result
from rolewatch.config import ResolvedSource
from rolewatch.domain import CrawlResult

logger = logging.getLogger(__name__)

Emit = Callable[[CrawlResult], None]

#: Sent once imports and warm-up are done and the crawl itself begins.
CRAWLING = "crawling"


@dataclass(frozen=True)
class CrawlJob:
    """One crawl batch: the sources, per source the validators of each listing URL, and the
    raw-record digests of its open postings (external id -> digest)."""

    sources: tuple[ResolvedSource, ...]
    validators: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    known: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


class ResultChannel:
    """Writes each source's result once, flushed at once so the parent can show progress."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.sent: set[str] = set()

    def send(self, result: CrawlResult) -> None:
        if result.source in self.sent:
            return
        self.sent.add(result.source)
        self._write(result)

    def crawling(self) -> None:
        self._write(CRAWLING)

    def _write(self, message: object) -> None:
        pickle.dump(message, self._stream, protocol=pickle.HIGHEST_PROTOCOL)
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


def run_batch(job: CrawlJob, emit: Emit, crawling: Callable[[], None] = lambda: None) -> None:
    """One `AsyncCrawlerProcess`, one crawler per source type, each crawling all its sources."""
    from scrapy.crawler import AsyncCrawlerProcess

    from crawler.registry import source_types
    from crawler.settings import scrapy_settings, shared_politeness

    first = job.sources[0]
    politeness = shared_politeness(source.politeness for source in job.sources)
    process = AsyncCrawlerProcess(scrapy_settings(politeness, first.user_agent, first.obey_robots))
    known = source_types()
    started = datetime.now(UTC)
    started_any = False
    for type_name, group in _by_type(job.sources).items():
        kind = known.get(type_name)
        if kind is None:
            for source in group:
                emit(failed_result(source.name, f"unknown source type {type_name!r}", started))
            continue
        task = process.crawl(
            kind.spider, sources=group, validators=job.validators, known=job.known, emit=emit
        )
        task.add_done_callback(_report_crash(group, emit, started))
        started_any = True
    if started_any:
        if any(source.name not in job.validators for source in job.sources):
            _warm_up()
        crawling()
        process.start()


def _warm_up() -> None:
    """Load the location tables (about a second) before any source's clock starts.

    They load lazily on first use, which would otherwise block the reactor in the middle of the
    first crawl and eat into short request time-outs. A batch where every source sends
    validators expects 304s and no parsing, so it skips the second of start-up.
    """
    from crawler.normalize.locations import parse_locations

    parse_locations("Sydney, NSW")


def _by_type(sources: tuple[ResolvedSource, ...]) -> dict[str, list[ResolvedSource]]:
    groups: dict[str, list[ResolvedSource]] = {}
    for source in sources:
        groups.setdefault(source.type, []).append(source)
    return groups


def _report_crash(group: list[ResolvedSource], emit: Emit, started: datetime) -> Callable[[Any], None]:
    """A crawler that dies (its spider would not even start, say) still answers for its sources."""

    def done(task: Any) -> None:
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        for source in group:
            emit(failed_result(source.name, f"the crawl crashed: {type(error).__name__}: {error}", started))

    return done


def _claim_stdout() -> BinaryIO:
    """Keep fd 1 for results only: whatever else prints to stdout lands on stderr."""
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    return channel


def _die_with_parent() -> None:
    """On Linux, ask the kernel to end this process when its parent dies (a daemon killed with -9):
    an orphaned crawl would otherwise go on hitting boards until its own time limit."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def main() -> int:
    _die_with_parent()
    channel = ResultChannel(_claim_stdout())
    job: CrawlJob = pickle.load(sys.stdin.buffer)
    started = datetime.now(UTC)
    status, reason = 0, "the crawl ended without a result for this source"
    try:
        run_batch(job, channel.send, channel.crawling)
    except BaseException as error:  # the parent must hear about every source, whatever happened
        logger.exception("the crawl batch failed")
        status, reason = 1, f"the crawl failed: {type(error).__name__}: {error}"
    for source in job.sources:
        channel.send(failed_result(source.name, reason, started))
    channel.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
