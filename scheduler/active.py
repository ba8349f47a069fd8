"""What the one active scheduler does: a crawl job per source, outbox delivery, and daily maintenance."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_SUBMITTED

from crawler.verdict import failed_result
from crawler.workers import CrawlWorkers
from notifier.sync import sync_config
from rolewatch.config import format_duration
from scheduler.lanes import MAX_BATCHES, CrawlLanes, host_key, kill_crawl_processes
from scheduler.pipeline import crawl_and_record, record_failure
from scheduler.source_jobs import (
    MAINTENANCE_MISFIRE,
    SourceJobs,
    maintenance_trigger,
    new_apscheduler,
    prepare_database,
    source_job_id,
    source_of_job,
    sources_by_name,
)
from scheduler.source_jobs import in_thread as in_thread  # the daemon and the cluster worker use it from here
from scheduler.state import DaemonState, SourceSchedule

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from notifier.outbox import DeliveryReport
    from rolewatch.config import Config, ResolvedSource
    from scheduler.metrics import CrawlObserver
    from storage.recording import CrawlRecord

logger = logging.getLogger("rolewatch.scheduler")

MAINTENANCE_JOB = "maintenance"
#: After the grace period the crawl processes are killed; their batches then need a moment to record.
AFTER_KILL_WAIT_S = 10.0
#: A source due within this share of its interval joins a batch starting now on its host.
PULL_AHEAD = 0.25


@dataclass(frozen=True)
class RunTrace:
    """One scheduled crawl of one source, timed from its due time to its record (for benchmarks)."""

    source: str
    due_at: datetime | None
    queued_at: datetime
    batch_started_at: datetime | None
    recorded_at: datetime | None
    crawl_id: int | None
    verdict: str | None
    events: int


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def log_delivery_round(log: logging.Logger, report: DeliveryReport) -> None:
    """Said only for a round that sent, retried or gave up on something (the daemon's or a worker's)."""
    if report.sent or report.failed or report.dead:
        log.info(
            "delivered %d, %d to retry, %d given up; %d waiting",
            report.sent,
            report.failed,
            report.dead,
            report.remaining,
        )


class ActiveScheduler:
    """Schedules every enabled source, drains the outbox and runs the daily maintenance.

    Built when this instance takes the scheduler lock, stopped when it stops or loses the lock.
    Crawls run through per-host lanes (see `scheduler.lanes`) in worker threads, each batch in
    a warm crawl worker process (see `crawler.workers`), so the event loop only ever waits.
    """

    def __init__(
        self,
        engine: Engine,
        config: Config,
        state: DaemonState,
        executor: Executor,
        *,
        max_batches: int = MAX_BATCHES,
        metrics: CrawlObserver | None = None,
        on_run: Callable[[RunTrace], None] | None = None,
    ) -> None:
        self._engine = engine
        self._config = config
        self._sources = sources_by_name(config)
        self._state = state
        self._executor = executor
        self._metrics = metrics
        self._on_run = on_run
        self._lanes = CrawlLanes(self._crawl_batch, executor, max_batches=max_batches)
        self._workers = CrawlWorkers()
        self._scheduler: Any = None
        self._source_jobs: SourceJobs | None = None
        self._due: dict[str, datetime] = {}
        self._overrun: set[str] = set()
        self._jobs: set[asyncio.Task[Any]] = set()
        self._wake_delivery = asyncio.Event()
        self._delivery: asyncio.Task[None] | None = None
        self._stopping = False
        self._worker = worker_name()

    # --- starting ------------------------------------------------------------------------------

    async def start(self) -> None:
        await in_thread(self._executor, prepare_database, self._engine, self._config)
        self._workers.prestart()
        daemon = self._config.daemon
        self._scheduler = new_apscheduler(self._config)
        self._source_jobs = SourceJobs(
            self._scheduler, self._crawl_source, self._engine, self._state, self._executor
        )
        self._scheduler.add_listener(self._note_due, EVENT_JOB_SUBMITTED)
        self._scheduler.add_listener(self._note_overrun, EVENT_JOB_MAX_INSTANCES)
        logging.getLogger("apscheduler.scheduler").addFilter(_quiet_overruns)
        await self._source_jobs.schedule(list(self._sources.values()))
        self._scheduler.add_job(
            self._maintain,
            trigger=maintenance_trigger(self._config),
            id=MAINTENANCE_JOB,
            name="daily maintenance",
            misfire_grace_time=int(MAINTENANCE_MISFIRE.total_seconds()),
        )
        self._scheduler.start()
        self._delivery = asyncio.create_task(self._deliver_continuously(), name="delivery")
        logger.info(
            "scheduling %d sources; delivering every %s; maintenance daily at %s UTC",
            len(self._sources),
            format_duration(daemon.deliver_every),
            daemon.maintenance_at,
        )

    def _note_due(self, event: Any) -> None:
        if event.scheduled_run_times:
            self._due[event.job_id] = max(event.scheduled_run_times)

    def _note_overrun(self, event: Any) -> None:
        """A run came due while the last one still ran (or waited for its host): said once per crawl."""
        name = source_of_job(event.job_id)
        if name not in self._overrun:
            self._overrun.add(name)
            logger.info("%s: still crawling when its next run came due; that run is skipped", name)

    # --- a source's crawl ----------------------------------------------------------------------

    def _pull_forward(self, source: ResolvedSource) -> None:
        """Bring forward the sources on `source`'s host that are due soon, to crawl in the same batch.

        One crawl process per host and round instead of one per source: its start-up costs a few
        CPU seconds, and Scrapy's per-host limits hold across the sources of one batch. A source
        joins when its next run is within `PULL_AHEAD` of its interval; its next run then counts
        from now. Cron sources keep their exact times.
        """
        host = host_key(source)
        now = datetime.now(UTC)
        for other in self._sources.values():
            every = other.interval.every
            if other.name == source.name or every is None or other.interval.cron or host_key(other) != host:
                continue
            schedule = self._state.sources.get(other.name)
            job = self._scheduler.get_job(source_job_id(other.name))
            if (schedule is not None and schedule.running) or job is None or job.next_run_time is None:
                continue
            if job.next_run_time - now > every * PULL_AHEAD:
                continue
            self._scheduler.modify_job(job.id, next_run_time=job.trigger.get_next_fire_time(now, now))
            pulled = asyncio.create_task(self._crawl_source(other.name), name=f"pulled {other.name}")
            self._jobs.add(pulled)
            pulled.add_done_callback(self._jobs.discard)

    async def _crawl_source(self, name: str) -> None:
        """The job of one source: wait for its turn on its host's lane, then note how it went.

        It never raises: APScheduler would only log it, and a crawl that fails is already
        recorded as failed by the time this returns.
        """
        task = asyncio.current_task()
        if task is not None:
            self._jobs.add(task)
        try:
            await self._crawl_and_note(name)
        except Exception:
            logger.exception("%s: the scheduled crawl failed", name)
        finally:
            if task is not None:
                self._jobs.discard(task)

    async def _crawl_and_note(self, name: str) -> None:
        source = self._sources.get(name)
        if source is None or self._stopping:
            return
        due_at = self._due.pop(source_job_id(name), None)
        schedule = self._state.sources.setdefault(name, SourceSchedule(name))
        if schedule.running:  # pulled into a batch that is still crawling
            return
        schedule.running, schedule.last_started_at = True, datetime.now(UTC)
        self._pull_forward(source)
        try:
            crawled = await self._lanes.crawl(source)
        finally:
            schedule.running, schedule.last_finished_at = False, datetime.now(UTC)
            self._overrun.discard(name)
        record = crawled.record
        if record is None:
            if not self._stopping:
                schedule.last_verdict = "failed"
                logger.error("%s: the crawl could not be recorded (see the errors above)", name)
            return
        schedule.last_verdict = record.verdict.value
        logger.info("%s", _summary(record))
        if self._metrics is not None:
            self._metrics.observe_crawl(name, record.verdict.value, record.stats.duration_s)
        if record.events:
            self._wake_delivery.set()
        await self._remember_next_run(name)
        if self._on_run is not None:
            self._on_run(
                RunTrace(
                    name,
                    due_at,
                    crawled.queued_at,
                    crawled.batch_started_at,
                    crawled.recorded_at,
                    record.crawl_id,
                    record.verdict.value,
                    len(record.events),
                )
            )

    async def _remember_next_run(self, name: str) -> None:
        """Written after the crawl is recorded, never before: a crawl killed with the daemon then
        leaves its own due time behind, and the next start runs it again at once."""
        if self._source_jobs is not None:
            await self._source_jobs.remember_next_run(name, self._source_jobs.job(name))

    def _crawl_batch(
        self, sources: Sequence[ResolvedSource], on_record: Callable[[CrawlRecord], None]
    ) -> None:
        """In a worker thread: crawl one host's batch in a crawl worker and record every result.

        `crawl_and_record` turns a crashed or hung child into failed results itself; should it
        raise anyway (the database, say), each source it did not record is recorded as failed.
        """
        config = self._config
        started = datetime.now(UTC)
        recorded: set[str] = set()

        def note(record: CrawlRecord) -> None:
            recorded.add(record.source)
            on_record(record)

        try:
            # `note` sees each record whole; the list returned is not used, so it keeps no events.
            crawl_and_record(
                self._engine, config, sources, on_record=note, workers=self._workers, keep_events=False
            )
        except Exception as error:
            names = ", ".join(source.name for source in sources)
            logger.exception("the crawl of %s failed", names)
            reason = f"the crawl failed: {type(error).__name__}: {error}"
            for source in sources:
                if source.name not in recorded:
                    self._record_failure(source, reason, started, note)

    def _record_failure(
        self, source: ResolvedSource, reason: str, started: datetime, note: Callable[[CrawlRecord], None]
    ) -> None:
        try:
            failed = failed_result(source.name, reason, started)
            note(record_failure(self._engine, self._config, source, failed))
        except Exception:
            logger.exception("%s: could not record the failed crawl", source.name)

    # --- delivery and maintenance --------------------------------------------------------------

    async def _deliver_continuously(self) -> None:
        """One delivery round at a time: every `deliver_every`, and at once after a crawl with events."""
        while not self._stopping:
            every = self._config.daemon.deliver_every.total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_delivery.wait(), timeout=every)
            self._wake_delivery.clear()
            if self._stopping:
                return
            await self._deliver_round()

    async def _deliver_round(self) -> None:
        from notifier.outbox import deliver_due

        try:
            report = await in_thread(
                self._executor, deliver_due, self._engine, self._config, worker=self._worker
            )
        except Exception:
            logger.exception("the delivery round failed; the outbox keeps every message for the next one")
            return
        log_delivery_round(logger, report)

    async def _maintain(self) -> None:
        from storage.maintenance import run_maintenance

        task = asyncio.current_task()
        if task is not None:
            self._jobs.add(task)
        retention = self._config.daemon.crawl_log_retention
        try:
            report = await in_thread(
                self._executor, run_maintenance, self._engine, retention, datetime.now(UTC)
            )
            logger.info(
                "maintenance: deleted %d crawl-log rows older than %s%s in %.1fs",
                report.crawls_deleted,
                format_duration(retention),
                ", vacuumed and analyzed" if report.vacuumed else ", analyzed",
                report.duration_s,
            )
        except Exception:
            logger.exception("maintenance failed; it runs again tomorrow")
        finally:
            if task is not None:
                self._jobs.discard(task)

    # --- while running -------------------------------------------------------------------------

    def beat(self) -> None:
        """Bring each source's next run time in the shared state up to date."""
        if self._source_jobs is not None:
            self._source_jobs.beat()

    async def apply(self, config: Config) -> None:
        """A reloaded configuration: sources added, removed or rescheduled; the rest picks it up per run.

        A crawl reads its source's options and the subscriptions when it starts, so only schedule
        changes need the jobs touched; a removed source's running crawl finishes and is recorded.
        """
        old_config, old = self._config, self._sources
        self._config = config
        self._sources = sources_by_name(config)
        await in_thread(self._executor, sync_config, self._engine, config)
        if self._source_jobs is None:
            return
        rescheduled = await self._source_jobs.apply(old, self._sources)
        self._apply_daemon_settings(self._source_jobs, old_config, config)
        added = len(self._sources.keys() - old.keys())
        logger.info(
            "configuration applied: %d sources (%d added, %d removed, %d rescheduled), %d subscriptions",
            len(self._sources),
            added,
            len(old.keys() - self._sources.keys()),
            len(rescheduled) - added,
            len(config.subscriptions),
        )

    def _apply_daemon_settings(self, source_jobs: SourceJobs, old: Config, new: Config) -> None:
        if old.daemon.misfire_grace != new.daemon.misfire_grace:
            source_jobs.set_misfire_grace(new.daemon.misfire_grace)
        if old.daemon.maintenance_at != new.daemon.maintenance_at:
            self._scheduler.reschedule_job(MAINTENANCE_JOB, trigger=maintenance_trigger(new))

    # --- stopping ------------------------------------------------------------------------------

    async def stop(self, grace: float) -> None:
        """Schedule nothing more; give running crawls, a delivery round and maintenance `grace` seconds.

        Crawls still running then are killed (and recorded as failed by their batches); anything
        still stuck in a thread after that is abandoned, and the caller exits regardless.
        """
        self._stopping = True
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.pause()
        self._lanes.close()
        self._wake_delivery.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        if not await self._lanes.wait(grace):
            killed = kill_crawl_processes()
            logger.warning(
                "crawls still running after the %gs grace period were stopped (%d crawl processes killed)",
                grace,
                len(killed),
            )
            await self._lanes.wait(AFTER_KILL_WAIT_S)
        await in_thread(self._executor, self._workers.close)
        others = [task for task in (self._delivery, *self._jobs) if task is not None and not task.done()]
        if others:
            _, late = await asyncio.wait(others, timeout=max(0.5, deadline - loop.time()))
            if late:
                logger.warning("abandoning %d tasks still running after the grace period", len(late))
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)


def _quiet_overruns(record: logging.LogRecord) -> bool:
    """APScheduler warns at every skipped run of a long crawl; the scheduler says it once, at INFO."""
    return "maximum number of running instances reached" not in record.getMessage()


def _summary(record: CrawlRecord) -> str:
    counts = ", ".join(f"{n} {kind}" for kind, n in record.counts.items() if n)
    note = f" — {record.note}" if record.note else ""
    return f"{record.source}: {record.verdict.value}{', ' + counts if counts else ''}{note}"
