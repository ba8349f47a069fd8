"""Crawl sources in a crawl worker process, any number of times from one parent, streaming results."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from crawler.child import CrawlJob
from crawler.verdict import failed_result
from crawler.workers import CrawlWorker, CrawlWorkers
from rolewatch.config import ResolvedSource
from rolewatch.domain import CrawlResult, KnownDigests

logger = logging.getLogger(__name__)

#: Time allowed beyond the slowest source's own limit (and its last request's time-out) for the
#: worker to close its crawlers, before it is killed.
GRACE = timedelta(seconds=30)

NO_RESULT = "the crawl ended without a result for this source"

Validators = Mapping[str, Mapping[str, Mapping[str, str]]]


def crawl_sources(
    sources: Sequence[ResolvedSource],
    validators: Validators | None = None,
    on_result: Callable[[CrawlResult], None] | None = None,
    *,
    known: Mapping[str, Mapping[str, str]] | None = None,
    grace: timedelta = GRACE,
    workers: CrawlWorkers | None = None,
    on_idle: Callable[[], float | None] | None = None,
) -> list[CrawlResult]:
    """Crawl `sources` in one worker process; one result per source, in the order of `sources`.

    `validators` maps a source name to its listing URLs' `{"etag", "last_modified"}` from the
    last crawl that parsed. `known` maps a source name to the raw-record digests of its open
    postings; a record whose digest matches is reported as a sighting, not normalised again.
    `on_result` is called in this thread as each source finishes; the results returned then
    carry no postings, since the callback has had them and a batch of tens of thousands of
    postings must not be held twice. `on_idle` is called in this thread whenever no result is
    waiting, and returns when to be called again (`CrawlWorker.run`): a caller that gathers
    results to store them together stores them within a time it chooses. The batch runs in a
    warm worker from `workers` when given, else in a worker started for it alone. A worker that
    crashes, is killed, takes over STARTUP_LIMIT_S to start, or then overruns
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
        {name: _plain_digests(digests[name]) for name in names if name in digests},
    )
    outcome = _run_job(job, _time_limit(chosen, grace), accept, workers, on_idle) or NO_RESULT
    for source in chosen:
        accept(failed_result(source.name, outcome, started))
    return [results[name] for name in names]


def _run_job(
    job: CrawlJob,
    limit_s: float,
    accept: Callable[[CrawlResult], None],
    workers: CrawlWorkers | None,
    idle: Callable[[], float | None] | None,
) -> str | None:
    """Run the batch in a worker; say why any source may lack a result."""
    try:
        worker = workers.acquire() if workers is not None else CrawlWorker()
    except OSError as error:
        return f"could not start the crawl process: {error}"
    try:
        return worker.run(job, limit_s, accept, idle)
    finally:
        if workers is not None:
            workers.release(worker)
        else:
            worker.close()


def _time_limit(sources: Sequence[ResolvedSource], grace: timedelta) -> float:
    slowest = max(source.timeout + source.politeness.request_timeout for source in sources)
    return (slowest + grace).total_seconds()


def _plain(validators: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    return {url: dict(values) for url, values in validators.items()}


def _plain_digests(digests: Mapping[str, str]) -> Mapping[str, str]:
    """`digests` as something to pickle cheaply: a dict or `KnownDigests` as they are (hundreds of
    thousands of pairs at scale; the latter pickles as two strings), any other mapping as a dict."""
    return digests if isinstance(digests, dict | KnownDigests) else dict(digests)
