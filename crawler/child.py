"""The crawl worker process: `python -m crawler.child` crawls batch after batch, read on stdin.

A Twisted reactor cannot be restarted, so the parent (`crawler.run`) never imports it: every
crawl runs here, apart from the scheduler, where a crash, a hang or a runaway allocation costs a
process, not the daemon. Starting one costs a second of CPU (Scrapy's imports, the location
tables), which a daemon crawling a host every few seconds cannot pay per batch; so a worker
stays up and serves batches until its parent closes stdin. The parent retires it after a number
of batches, an age or a memory size, which bounds what a long-lived crawler accumulates (leaked
objects, resolved addresses).

Protocol: stdin carries pickled `CrawlJob`s, one after the other. For each, stdout carries a
pickled `Crawling` once the crawl is about to start (so start-up time is not counted against the
crawl's time limit), one `SourceDone` per source as each finishes, then a `BatchDone`. Every
message names the batch (`CrawlJob.batch`) it belongs to, so the parent can never take a message
left over from an earlier batch for one of the current batch. EOF on stdin ends the process.
Anything else that writes to stdout is sent to stderr.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import resource
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from rolewatch.config import ResolvedSource
    from rolewatch.domain import CrawlResult

logger = logging.getLogger(__name__)

Emit = Callable[["CrawlResult"], None]

#: The command-line flag that loads the location tables before the first job is read.
WARM = "--warm"


def new_batch_id() -> str:
    """A batch id unique across workers and parents: a message can only match its own batch."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class CrawlJob:
    """One crawl batch: the sources, per source the validators of each listing URL, the
    raw-record digests of its open postings (external id -> digest), and the batch's id, which
    every message the worker sends about this batch carries."""

    sources: tuple[ResolvedSource, ...]
    validators: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    known: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    batch: str = field(default_factory=new_batch_id)


@dataclass(frozen=True)
class Crawling:
    """Sent once imports and warm-up are done and the crawl of batch `batch` itself begins."""

    batch: str


@dataclass(frozen=True)
class SourceDone:
    """One source's result in batch `batch`."""

    batch: str
    result: CrawlResult


@dataclass(frozen=True)
class BatchDone:
    """Ends batch `batch`'s results: every source has been answered for. `peak_rss` (bytes) lets
    the parent retire a worker that has grown."""

    batch: str
    peak_rss: int


#: Everything a worker writes to its stdout.
Message = Crawling | SourceDone | BatchDone


class ResultChannel:
    """Writes each source's result once per batch, flushed at once so the parent can show progress."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._batch = ""
        self.sent: set[str] = set()

    def begin(self, batch: str) -> None:
        """Tag every message from now on with `batch`."""
        self._batch = batch
        self.sent.clear()

    def send(self, result: CrawlResult) -> None:
        if result.source in self.sent:
            return
        self.sent.add(result.source)
        self._write(SourceDone(self._batch, result))

    def crawling(self) -> None:
        self._write(Crawling(self._batch))

    def done(self) -> None:
        self.sent.clear()
        self._write(BatchDone(self._batch, peak_rss()))

    def _write(self, message: object) -> None:
        pickle.dump(message, self._stream, protocol=pickle.HIGHEST_PROTOCOL)
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


def peak_rss() -> int:
    """This process's own peak resident set size in bytes: on Linux the high-water mark of the
    memory map exec gave it (`VmHWM`), elsewhere `ru_maxrss`.

    Not `ru_maxrss` on Linux, which carries it across exec: a worker started by a parent of
    600 MB reported 600 MB before it had crawled anything, and a pool retired it after every
    batch (`max_rss`), as if no worker were ever warm.
    """
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmHWM:"):
                return int(line.split()[1]) * 1024  # "VmHWM:   123456 kB"
    maximum = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maximum if sys.platform == "darwin" else maximum * 1024  # bytes on macOS, KiB elsewhere


async def run_batch(job: CrawlJob, emit: Emit, crawling: Callable[[], None] = lambda: None) -> None:
    """One crawler per source type, each crawling all its sources, on the running reactor."""
    import asyncio

    from scrapy.crawler import AsyncCrawlerRunner

    from crawler.registry import source_types
    from crawler.settings import scrapy_settings, shared_politeness
    from crawler.verdict import failed_result

    first = job.sources[0]
    politeness = shared_politeness(source.politeness for source in job.sources)
    runner = AsyncCrawlerRunner(scrapy_settings(politeness, first.user_agent, first.obey_robots))
    known = source_types()
    started = datetime.now(UTC)
    crawls: list[tuple[list[ResolvedSource], Any]] = []
    for type_name, group in _by_type(job.sources).items():
        kind = known.get(type_name)
        if kind is None:
            for source in group:
                emit(failed_result(source.name, f"unknown source type {type_name!r}", started))
            continue
        task = runner.crawl(kind.spider, sources=group, validators=job.validators, known=job.known, emit=emit)
        crawls.append((group, task))
    if not crawls:
        return
    if any(source.name not in job.validators for source in job.sources):
        warm_up()
    crawling()
    outcomes = await asyncio.gather(*(task for _, task in crawls), return_exceptions=True)
    for (group, _), outcome in zip(crawls, outcomes, strict=True):
        if isinstance(outcome, BaseException):  # a crawler that would not even start still answers
            reason = f"the crawl crashed: {type(outcome).__name__}: {outcome}"
            for source in group:
                emit(failed_result(source.name, reason, started))


def warm_up() -> None:
    """Load the location tables (about a tenth of a second) before any source's clock starts.

    They load lazily on first use, which would otherwise block the reactor in the middle of the
    first crawl and eat into short request time-outs. A batch where every source sends
    validators expects 304s and no parsing, so a one-off worker skips them (`run_batch`), and so
    does a warm one that finds its first batch already sent once its imports are done
    (`_warm_ahead`); after the first call this costs nothing.
    """
    from crawler.normalize.locations import parse_locations

    parse_locations("Sydney, NSW")


def _warm_ahead(arguments: list[str], jobs: BinaryIO) -> bool:
    """Whether to load the location tables now, before the first batch is read: for a worker
    started ahead (`--warm`) while its parent has sent nothing yet, so that they load in time
    the worker would spend waiting. A batch already waiting is read at once instead, and
    `run_batch` loads the tables first only if some source of it may need parsing: a cold
    `rolewatch crawl` of boards that answer 304 then starts its crawl a tenth of a second sooner.
    """
    return WARM in arguments and not _readable(jobs)


def _readable(stream: BinaryIO) -> bool:
    """Whether reading `stream` would not block (data or end of file waits); False if unknown."""
    import select

    try:
        ready, _, _ = select.select([stream], [], [], 0)
    except (OSError, ValueError, TypeError):
        return False
    return bool(ready)


@contextlib.contextmanager
def _stack_without_source() -> Iterator[None]:
    """Within this block `inspect.stack()` reads no source: its frames carry no code context.

    Scrapy names the module of each deprecated class it defines with `inspect.stack()[1]`, three
    times as its TLS modules load, and that call reads the source of every frame on the stack
    (each file through `linecache`, each frame's module looked up among all loaded): ~25 ms of a
    worker's ~0.4 s start-up, which a cold `rolewatch crawl` waits for. The frames, file names, line
    numbers and function names are the same; only the lines of source are left out, as
    `inspect.stack(context=0)` leaves them out.
    """
    import inspect

    def stack(context: int = 1) -> list[inspect.FrameInfo]:
        frames = []
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            code = frame.f_code
            info = inspect.FrameInfo(frame, code.co_filename, frame.f_lineno, code.co_name, None, None)
            frames.append(info)
            frame = frame.f_back
        return frames

    full = inspect.stack
    inspect.stack = stack
    try:
        yield
    finally:
        inspect.stack = full


def _load_http_handler() -> None:
    """Import Scrapy's HTTP download handler while the process starts, not at its first request.

    Scrapy loads it lazily, and its import (TLS context factories, ~0.4 s) would otherwise run in the
    reactor in the middle of the first crawl, on that source's clock; while the process starts it
    overlaps the parent's own start-up (`rolewatch crawl` reads its configuration meanwhile).
    """
    import scrapy.core.downloader.handlers.http11  # noqa: F401


#: The most bytes a connection reads from its socket at once (Twisted's own is 64 KiB).
READ_CHUNK = 2**20


def _read_in_large_chunks() -> None:
    """Let each connection read up to READ_CHUNK of what has arrived at once, not 64 KiB.

    Every chunk read travels the whole of Twisted's and Scrapy's stack (the HTTP parser, the body
    decoder, Scrapy's size checks and its `bytes_received` signal) before it is appended to the
    body: a 300 KB listing came in about seven, and a full-body re-crawl of 200 such boards spent
    ~8% of the worker's CPU on those passes (0.39-0.44 → 0.36-0.40 s, alternating). Only what has
    arrived is read, so a slow board still comes in small chunks; Scrapy's response size limit is
    still checked after each chunk, so a body without a Content-Length may pass it by at most one
    chunk before it is dropped. `bufferSize` is Twisted's documented attribute for this.
    """
    from twisted.internet import tcp

    tcp.Connection.bufferSize = READ_CHUNK


#: Scrapy's settings naming a class every crawler loads as it starts.
_CRAWLER_CLASSES = (
    "TWISTED_DNS_RESOLVER",
    "DOWNLOADER",
    "DUPEFILTER_CLASS",
    "ITEM_PROCESSOR",
    "LOG_FORMATTER",
    "REFERRER_POLICY",
    "REQUEST_FINGERPRINTER_CLASS",
    "ROBOTSTXT_PARSER",
    "SCHEDULER",
    "SCHEDULER_MEMORY_QUEUE",
    "SCHEDULER_PRIORITY_QUEUE",
    "SCHEDULER_START_MEMORY_QUEUE",
    "SPIDER_LOADER_CLASS",
    "STATS_CLASS",
)
#: Scrapy's settings listing the components every crawler loads as it starts.
_CRAWLER_COMPONENTS = ("DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "EXTENSIONS", "ITEM_PIPELINES")


def _load_crawl_machinery() -> None:
    """Import what the first batch's crawlers load as they start, while the process starts.

    A crawler imports its spider, the spiders' base and the normalisers every spider uses, our
    settings and middlewares, and every class Scrapy's settings name: its engine parts, and every
    extension and middleware those settings list (Scrapy imports a component before asking it
    whether it is enabled; `crawler.settings` leaves out of the lists those we never use, which
    brought aiohttp and tldextract). About 0.2 s, which a fresh worker would otherwise pay on
    the first batch's clock, after its parent has sent the job; while the process starts it
    overlaps the parent's own start-up instead. Loading is best effort: a component that will
    not import fails the crawl that needs it, with its own error.
    """
    from importlib import import_module
    from pkgutil import iter_modules

    from scrapy.crawler import AsyncCrawlerRunner  # noqa: F401
    from scrapy.settings import Settings
    from scrapy.utils.conf import build_component_list
    from scrapy.utils.misc import load_object

    import crawler.normalize
    import crawler.spider
    from crawler.settings import scrapy_settings
    from rolewatch.config import Politeness

    for module in iter_modules(crawler.normalize.__path__):
        import_module(f"crawler.normalize.{module.name}")
    settings = Settings(scrapy_settings(Politeness(), "rolewatch", obey_robots=True))
    paths = [str(settings[name]) for name in _CRAWLER_CLASSES if settings.get(name)]
    for name in _CRAWLER_COMPONENTS:
        paths.extend(build_component_list(settings.getwithbase(name)))
        # Scrapy imports each component our settings name to normalise its key, those switched
        # off (None) too: without this they would still load, in the first batch, after
        # `_tune_garbage_collector` froze the start-up's objects, so every full collection
        # would walk their ~17,000 objects.
        with contextlib.suppress(Exception):
            settings.get_component_priority_dict_with_base(name)
    for path in paths:
        with contextlib.suppress(Exception):
            load_object(path)


def _by_type(sources: tuple[ResolvedSource, ...]) -> dict[str, list[ResolvedSource]]:
    groups: dict[str, list[ResolvedSource]] = {}
    for source in sources:
        groups.setdefault(source.type, []).append(source)
    return groups


async def serve(jobs: BinaryIO, channel: ResultChannel) -> None:
    """Crawl each job read from `jobs` until EOF; every source of a job is answered for."""
    import asyncio

    from crawler.verdict import failed_result

    while (job := await asyncio.to_thread(_next_job, jobs)) is not None:
        channel.begin(job.batch)
        started = datetime.now(UTC)
        reason = "the crawl ended without a result for this source"
        try:
            await run_batch(job, channel.send, channel.crawling)
        except Exception as error:  # the parent must hear about every source, whatever happened
            logger.exception("the crawl batch failed")
            reason = f"the crawl failed: {type(error).__name__}: {error}"
        for source in job.sources:
            channel.send(failed_result(source.name, reason, started))
        channel.done()


def _next_job(jobs: BinaryIO) -> CrawlJob | None:
    try:
        job = pickle.load(jobs)
    except EOFError:
        return None
    if not isinstance(job, CrawlJob):
        raise TypeError(f"expected a CrawlJob on stdin, got {type(job).__name__}")
    return job


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


def _tune_garbage_collector() -> None:
    """Collect less often, and never re-scan what start-up built.

    Normalising a posting allocates many short-lived objects, so the default thresholds run a
    collection every few postings, each walking the location tables and Scrapy's modules (about
    5% of a first crawl's CPU). Those live as long as the worker: `freeze` moves them out of the
    collector's sight. Cycles are still collected, only in larger batches. No collection first:
    start-up leaves no cycles behind (one found none among its ~73,000 objects), and walking them
    cost 20 ms on the way to a cold `rolewatch crawl`'s first request. The collector is switched
    back on here, after `start_up` switched it off.
    """
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    gc.enable()


def start_up(arguments: list[str], jobs: BinaryIO) -> None:
    """Everything a worker does before its reactor runs, with the garbage collector off.

    Start-up leaves no cycles behind (see `_tune_garbage_collector`), yet its ~700 modules'
    objects set off ~140 young collections, ~13 middle ones and a full one: ~30 ms of collecting
    nothing, on a cold `rolewatch crawl`'s way to its first request.
    """
    gc.disable()
    try:
        with _stack_without_source():
            _load_http_handler()
            _load_crawl_machinery()
        _read_in_large_chunks()
        if _warm_ahead(arguments, jobs):
            warm_up()
    finally:
        _tune_garbage_collector()


def _run_reactor(main: Callable[[], Any]) -> None:
    """Install Scrapy's asyncio reactor, run the coroutine `main()` on it, and stop."""
    from scrapy.utils.defer import deferred_from_coro
    from scrapy.utils.log import configure_logging
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    configure_logging({"LOG_LEVEL": "WARNING"})
    # Scrapy sets its own loggers to DEBUG, so a record was made for every response ("Crawled
    # (200) …") only for the handler to drop it: below WARNING nothing of Scrapy's is shown.
    logging.getLogger("scrapy").setLevel(logging.WARNING)
    from twisted.internet import reactor as installed

    reactor: Any = installed  # twisted's stubs type the module, not the installed reactor
    failure: list[BaseException] = []

    def started() -> None:
        done = deferred_from_coro(main())
        done.addErrback(lambda f: failure.append(f.value))
        done.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(started)
    reactor.run(installSignalHandlers=False)
    if failure:
        raise failure[0]


def main(argv: list[str] | None = None) -> int:
    _die_with_parent()
    arguments = sys.argv[1:] if argv is None else argv
    channel = ResultChannel(_claim_stdout())
    start_up(arguments, sys.stdin.buffer)
    try:
        _run_reactor(lambda: serve(sys.stdin.buffer, channel))
    except BaseException:
        logger.exception("the crawl worker failed")
        return 1
    finally:
        channel.close()
    return 0


if __name__ == "__main__":
    # Run the module's own copy, not `__main__`'s: what is pickled must name `crawler.child`.
    from crawler.child import main as worker_main

    sys.exit(worker_main())
