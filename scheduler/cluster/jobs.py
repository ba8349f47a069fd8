"""A crawl job's work in a worker, off the event loop: wait for the host's turn, crawl the source in a
warm crawl worker, and record it with `record_crawl` (the same verdicts, diffs and outbox as the local
engine), adding the job's row to the ledger in the same transaction.

A job runs again after its worker died or its run raised. What it already recorded it never records
again: the ledger, keyed by the job's id, says so before a retry crawls, and a twin run (a worker
thought stalled that was only slow) fails its whole recording on the ledger's key. A run that raises
on the job's last attempt records the crawl as failed, with the reason, like the local engine.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from crawler.run import crawl_sources
from crawler.verdict import failed_result
from crawler.workers import CrawlWorkers
from notifier.alerts import Outbox
from rolewatch.config import Config, ResolvedSource
from rolewatch.domain import CrawlResult
from scheduler.cluster.app import host_lanes
from scheduler.lanes import host_key
from storage.cluster import crawl_of_job, host_free_at, note_job_crawl, release_host
from storage.recording import CrawlRecord, record_crawl
from storage.state import load_known_digests, load_validators

logger = logging.getLogger("rolewatch.worker")

#: The longest a job waits for its host's politeness delay (a clock far off cannot hold it for ever).
MAX_TURN_WAIT_S = 300.0


class UnknownSource(LookupError):
    """The job names a source this worker's configuration does not have, even after a reload."""


class CrawlJobs:
    """Runs crawl jobs for one worker process; thread-safe, one job per thread."""

    def __init__(
        self,
        engine: Engine,
        config: Config,
        workers: CrawlWorkers,
        *,
        reload_config: Callable[[], Config] | None = None,
    ) -> None:
        self._engine = engine
        self._config = config
        self._outbox = Outbox(config)
        self._workers = workers
        self._reload_config = reload_config
        self._lock = threading.Lock()

    def apply(self, config: Config) -> None:
        """A reloaded configuration: jobs that start from now on read their source and alerts from it."""
        with self._lock:
            self._config = config
            self._outbox = Outbox(config)

    def run(self, name: str, job_id: int, final: bool) -> CrawlRecord | None:
        """Crawl and record source `name` for job `job_id`; None when the job had recorded it already.

        Raises what went wrong unless `final`: the job is then retried. On its final run a failure
        is recorded as a failed crawl instead.
        """
        source, outbox = self._source(name)
        if crawl_of_job(self._engine, job_id) is not None:
            logger.info("%s: job %d recorded its crawl before; nothing to do", name, job_id)
            return None
        host = host_key(source)
        self._wait_for_turn(host)
        started = datetime.now(UTC)
        try:
            return self._crawl(source, outbox, job_id)
        except Exception as error:
            if crawl_of_job(self._engine, job_id) is not None:  # a twin run recorded it meanwhile
                logger.warning("%s: job %d was recorded by another run; this one is dropped", name, job_id)
                return None
            if not final:
                raise
            logger.exception("%s: the crawl failed on its last attempt; recording it as failed", name)
            reason = f"the crawl failed: {type(error).__name__}: {error}"
            return self._record(source, outbox, job_id, failed_result(name, reason, started))
        finally:
            self._release(host, source)

    def _release(self, host: str, source: ResolvedSource) -> None:
        try:
            release_host(self._engine, host, _now() + source.politeness.delay)
        except Exception:  # the next crawl of the host then starts without the pause; it still runs alone
            logger.warning("%s: could not note the host's politeness pause", host, exc_info=True)

    def _source(self, name: str) -> tuple[ResolvedSource, Outbox]:
        """The source as this worker's configuration has it; a source added since start reloads it."""
        with self._lock:
            try:
                return self._config.source(name), self._outbox
            except KeyError:
                if self._reload_config is None:
                    raise UnknownSource(name) from None
            self._config = self._reload_config()
            self._outbox = Outbox(self._config)
            try:
                return self._config.source(name), self._outbox
            except KeyError:
                raise UnknownSource(f"{name} is not in this worker's configuration") from None

    def _wait_for_turn(self, host: str) -> None:
        """This job holds its host's lock; the last crawl of the host may still want its delay kept."""
        free_at = host_free_at(self._engine, host)
        if free_at is not None:
            time.sleep(min(MAX_TURN_WAIT_S, max(0.0, (free_at - _now()).total_seconds())))

    def _crawl(self, source: ResolvedSource, outbox: Outbox, job_id: int) -> CrawlRecord | None:
        if host_lanes(source) > 1:  # other lanes crawl the host meanwhile: one request in flight each
            politeness = source.politeness.model_copy(update={"concurrency_per_host": 1})
            source = dataclasses.replace(source, politeness=politeness)
        names = [source.name]
        conditional = names if source.politeness.conditional_requests else []
        validators = load_validators(self._engine, conditional)
        known = load_known_digests(self._engine, names)
        records: list[CrawlRecord] = []

        def on_result(result: CrawlResult) -> None:
            records.append(self._record(source, outbox, job_id, result))

        crawl_sources(
            [source], validators=validators, on_result=on_result, known=known, workers=self._workers
        )
        return records[0] if records else None

    def _record(
        self, source: ResolvedSource, outbox: Outbox, job_id: int, result: CrawlResult
    ) -> CrawlRecord:
        def then(connection: Connection, record: CrawlRecord) -> None:
            outbox.after_record(connection, record)
            note_job_crawl(connection, job_id, record.crawl_id, record.source, record.at or _now())

        try:
            return record_crawl(self._engine, source, result, then=then)
        except IntegrityError as error:
            raise TwinRun(f"job {job_id} has recorded a crawl already") from error


class TwinRun(RuntimeError):
    """Another run of the same job recorded its crawl first; this run's recording was rolled back."""


def _now() -> datetime:
    return datetime.now(UTC)
