"""Crawl sources in a child process, any number of times from one parent, streaming results as they come."""

from __future__ import annotations

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from crawler.child import CRAWLING, CrawlJob
from crawler.verdict import failed_result
from rolewatch.config import ResolvedSource, format_duration
from rolewatch.domain import CrawlResult

logger = logging.getLogger(__name__)

#: Time allowed beyond the slowest source's own limit (and its last request's time-out) for the
#: child to start, close its crawlers and exit, before it is killed.
GRACE = timedelta(seconds=30)
#: How long the child may take to start (imports, warm-up) before its crawl's own clock starts.
STARTUP_LIMIT_S = 60.0
#: How long a child that has sent every result may take to exit before it is killed.
EXIT_WAIT_S = 10.0
_STDERR_TAIL = 20
_EOF = object()

Validators = Mapping[str, Mapping[str, Mapping[str, str]]]


def crawl_sources(
    sources: Sequence[ResolvedSource],
    validators: Validators | None = None,
    on_result: Callable[[CrawlResult], None] | None = None,
    *,
    known: Mapping[str, Mapping[str, str]] | None = None,
    grace: timedelta = GRACE,
) -> list[CrawlResult]:
    """Crawl `sources` in one child process; one result per source, in the order of `sources`.

    `validators` maps a source name to its listing URLs' `{"etag", "last_modified"}` from the
    last crawl that parsed. `known` maps a source name to the raw-record digests of its open
    postings; a record whose digest matches is reported as a sighting, not normalised again.
    `on_result` is called in this thread as each source finishes; the
    results returned then carry no postings, since the callback has had them and a batch of
    tens of thousands of postings must not be held twice. A
    child that crashes, is killed, takes over STARTUP_LIMIT_S to start, or then overruns
    `max(timeout + request timeout) + grace` leaves every source without a result `failed`,
    with the reason: this never raises for that.
    """
    chosen = list(sources)
    if not chosen:
        return []
    names = [source.name for source in chosen]
    if len(set(names)) != len(names):
        raise ValueError(f"source names must be unique in one crawl: {names}")
    started = datetime.now(UTC)
    results: dict[str, CrawlResult] = {}

    def accept(result: CrawlResult) -> None:
        if result.source in results or result.source not in names:
            return
        if on_result is None:
            results[result.source] = result
            return
        on_result(result)
        results[result.source] = replace(result, postings=())

    wanted = validators or {}
    digests = known or {}
    job = CrawlJob(
        tuple(chosen),
        {name: _plain(wanted[name]) for name in names if name in wanted},
        {name: dict(digests[name]) for name in names if name in digests},
    )
    outcome = _run_child(job, _time_limit(chosen, grace), accept)
    for source in chosen:
        accept(failed_result(source.name, outcome, started))
    return [results[name] for name in names]


def _time_limit(sources: Sequence[ResolvedSource], grace: timedelta) -> float:
    slowest = max(source.timeout + source.politeness.request_timeout for source in sources)
    return (slowest + grace).total_seconds()


def _plain(validators: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    return {url: dict(values) for url, values in validators.items()}


def _run_child(job: CrawlJob, limit_s: float, accept: Callable[[CrawlResult], None]) -> str:
    """Run the batch; hand over results as they arrive; say why any source may lack a result."""
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "crawler.child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_child_environment(),
        )
    except OSError as error:
        return f"could not start the crawl process: {error}"
    assert process.stdin and process.stdout and process.stderr
    tail: deque[str] = deque(maxlen=_STDERR_TAIL)
    arrivals: queue.Queue[object] = queue.Queue()
    threads = [
        threading.Thread(target=_read_results, args=(process.stdout, arrivals), daemon=True),
        threading.Thread(target=_relay_log, args=(process.stderr, tail), daemon=True),
    ]
    for thread in threads:
        thread.start()
    overran: str | None = None
    try:
        _send_job(process.stdin, job)
        overran = _collect(arrivals, limit_s, accept)
        if overran is None:
            _wait_for_exit(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for thread in threads:
            thread.join(timeout=5)
        process.stdout.close()
        process.stderr.close()
    return overran or _why_results_are_missing(process.returncode, tail)


def _child_environment() -> dict[str, str]:
    """The child imports this very code, installed or not: put our root first on its path."""
    root = str(Path(__file__).resolve().parent.parent)
    environment = dict(os.environ)
    existing = environment.get("PYTHONPATH")
    environment["PYTHONPATH"] = root + (os.pathsep + existing if existing else "")
    return environment


def _send_job(stream: IO[bytes], job: CrawlJob) -> None:
    try:
        pickle.dump(job, stream, protocol=pickle.HIGHEST_PROTOCOL)
        stream.close()
    except (BrokenPipeError, OSError):
        pass  # the child died before reading its job; its exit status tells why


def _collect(
    arrivals: queue.Queue[object], limit_s: float, accept: Callable[[CrawlResult], None]
) -> str | None:
    """Hand results over until the child closes its end; else say which time limit it overran.

    The crawl's own limit starts when the child says it is crawling, so a slow start (a busy
    machine importing Scrapy) never eats into the time the sources were given.
    """
    deadline = time.monotonic() + STARTUP_LIMIT_S
    overrun = f"the crawl process did not start within {STARTUP_LIMIT_S:g}s and was killed"
    while True:
        try:
            item = arrivals.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return overrun
        if item is _EOF:
            return None
        if item == CRAWLING:
            deadline = time.monotonic() + limit_s
            limit = format_duration(timedelta(seconds=round(limit_s)))
            overrun = f"the crawl process overran its {limit} time limit and was killed"
        elif isinstance(item, CrawlResult):
            accept(item)


def _wait_for_exit(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(timeout=EXIT_WAIT_S)
    except subprocess.TimeoutExpired:
        logger.warning("the crawl process sent its results but did not exit; killing it")
        process.kill()


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


def _why_results_are_missing(returncode: int | None, tail: deque[str]) -> str:
    if returncode is not None and returncode < 0:
        name = _signal_name(-returncode)
        hint = " (out of memory?)" if -returncode == signal.SIGKILL else ""
        return f"the crawl process was killed by {name}{hint} before this source finished"
    if returncode:
        last = f": {tail[-1]}" if tail else ""
        return f"the crawl process exited with status {returncode} before this source finished{last}"
    return "the crawl process ended without a result for this source"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
