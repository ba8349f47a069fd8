"""What the active `rolewatch run` does with `engine: procrastinate`: defer each source's crawl job when it
is due, and keep the queue healthy; the workers crawl and deliver.

The schedule is the local engine's (`scheduler.schedule`: interval or cron, jitter, coalesced
misfires, first runs rebuilt from the database at start); only what happens when a source comes due
differs: a job is deferred, with the source's queueing lock, unless one for that source is already
waiting or running. The source's next run is stored at once, since the job itself now keeps the
due run. Besides, the scheduler retries the jobs of workers that stopped beating (a worker killed
mid-crawl), asks for a delivery round every `daemon.deliver_every`, and runs the daily maintenance,
which also forgets old finished jobs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from procrastinate import App
from procrastinate.exceptions import AlreadyEnqueued

from notifier.sync import sync_config
from rolewatch.config import format_duration
from scheduler.active import in_thread
from scheduler.cluster.app import (
    SOURCE_LOCK,
    cluster_app,
    crawl_deferrer,
    deliver_deferrer,
    due_text,
)
from scheduler.cluster.metrics import ClusterObserver
from scheduler.cluster.worker import STALLED_AFTER_S
from scheduler.lanes import host_key
from scheduler.schedule import first_runs, planned_run, trigger_for
from scheduler.state import DaemonState, SourceSchedule
from storage.cluster import busy_queueing_locks, forget_jobs_before, queue_figures
from storage.schedule import SourceTimes, load_source_times, save_next_due

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from rolewatch.config import Config, ResolvedSource
    from scheduler.metrics import CrawlObserver

logger = logging.getLogger("rolewatch.scheduler")

_SOURCE_JOB = "source:"
MAINTENANCE_JOB = "maintenance"
#: How often jobs of workers that stopped beating are looked for, and the queue figures refreshed.
HOUSEKEEPING_S = 5.0
#: Finished jobs (failed ones; succeeded ones are deleted at once) are kept this long for `status`.
JOB_RETENTION = timedelta(days=7)


class ClusterScheduler:
    """Defers crawl jobs when sources come due; built when this instance takes the scheduler lock."""

    def __init__(
        self,
        engine: Engine,
        config: Config,
        state: DaemonState,
        executor: Executor,
        *,
        metrics: CrawlObserver | None = None,
    ) -> None:
        self._engine = engine
        self._config = config
        self._sources = {source.name: source for source in config.resolved_sources()}
        self._state = state
        self._executor = executor
        self._metrics = metrics
        self._app: App | None = None
        self._scheduler: Any = None
        self._busy_said: set[str] = set()

    async def start(self) -> None:
        await in_thread(self._executor, self._prepare_database, self._config)
        self._app = cluster_app(self._config.database, application_name="rolewatch scheduler")
        await self._app.open_async()
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": int(self._config.daemon.misfire_grace.total_seconds()),
            },
        )
        await self._schedule(list(self._sources.values()))
        daemon = self._config.daemon
        self._scheduler.add_job(
            self._ask_for_delivery,
            IntervalTrigger(seconds=daemon.deliver_every.total_seconds()),
            id="deliver",
        )
        self._scheduler.add_job(
            self._housekeeping, IntervalTrigger(seconds=HOUSEKEEPING_S), id="housekeeping"
        )
        hour, minute = daemon.maintenance_at.split(":")
        self._scheduler.add_job(
            self._maintain,
            CronTrigger(hour=int(hour), minute=int(minute), timezone=UTC),
            id=MAINTENANCE_JOB,
            misfire_grace_time=6 * 3600,
        )
        self._scheduler.start()
        logger.info(
            "scheduling %d sources on the procrastinate engine: workers crawl and deliver (every %s)",
            len(self._sources),
            format_duration(daemon.deliver_every),
        )

    def _prepare_database(self, config: Config) -> None:
        from storage.database import upgrade

        upgrade(self._engine)
        sync_config(self._engine, config)

    async def _schedule(self, sources: Sequence[ResolvedSource]) -> None:
        """(Re)build the jobs of `sources` from what the database remembers of them."""
        if not sources:
            return
        names = [source.name for source in sources]
        times = await in_thread(self._executor, load_source_times, self._engine, names)
        now = datetime.now(UTC)
        planned = {s.name: _planned(s, times.get(s.name, SourceTimes()), now) for s in sources}
        first = first_runs(planned, now)
        for source in sources:
            job_id = _SOURCE_JOB + source.name
            trigger = trigger_for(source.interval, source.jitter)
            if self._scheduler.get_job(job_id) is not None:
                self._scheduler.modify_job(job_id, trigger=trigger, next_run_time=first[source.name])
            else:
                self._scheduler.add_job(
                    self._defer_crawl,
                    trigger,
                    args=[source.name],
                    id=job_id,
                    name=source.name,
                    next_run_time=first[source.name],
                )
            schedule = self._state.sources.setdefault(source.name, SourceSchedule(source.name))
            schedule.next_run_at = first[source.name]
        await in_thread(self._executor, save_next_due, self._engine, first)

    async def _defer_crawl(self, name: str) -> None:
        """The source is due: queue its crawl, unless a job for it is still waiting or running."""
        source = self._sources.get(name)
        if source is None or self._app is None:
            return
        job = self._scheduler.get_job(_SOURCE_JOB + name)
        due_at = datetime.now(UTC)
        try:
            busy = await in_thread(self._executor, busy_queueing_locks, self._engine, SOURCE_LOCK + name)
            if SOURCE_LOCK + name in busy:
                self._say_busy(name)
                return
            deferrer = crawl_deferrer(self._app, name, host_key(source))
            await deferrer.defer_async(source=name, due_at=due_text(due_at))
        except AlreadyEnqueued:
            self._say_busy(name)
            return
        except Exception:
            logger.exception("%s: could not queue its crawl; it is tried again at its next run", name)
            return
        self._busy_said.discard(name)
        schedule = self._state.sources.setdefault(name, SourceSchedule(name))
        schedule.last_started_at = due_at
        if job is not None and job.next_run_time is not None:
            schedule.next_run_at = job.next_run_time
            try:
                await in_thread(self._executor, save_next_due, self._engine, {name: job.next_run_time})
            except Exception:
                logger.exception("%s: could not store the next run time", name)

    def _say_busy(self, name: str) -> None:
        if name not in self._busy_said:
            self._busy_said.add(name)
            logger.info("%s: its last crawl job is still queued or running; this run is skipped", name)

    async def _ask_for_delivery(self) -> None:
        if self._app is None:
            return
        try:
            await deliver_deferrer(self._app).defer_async()
        except AlreadyEnqueued:
            pass
        except Exception:
            logger.exception("could not queue a delivery round")

    async def _housekeeping(self) -> None:
        """Retry the jobs of workers that stopped beating (killed, or cut off), and read the queue."""
        if self._app is None:
            return
        manager = self._app.job_manager
        try:
            stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_S)
            for job in stalled:
                logger.warning(
                    "job %s (%s) was running on a worker that stopped beating; retrying it",
                    job.id,
                    job.task_kwargs.get("source", job.task_name),
                )
                await manager.retry_job(job)
            await manager.prune_stalled_workers(STALLED_AFTER_S)
        except Exception:
            logger.exception("could not check for stalled jobs")
        if isinstance(self._metrics, ClusterObserver):
            try:
                self._metrics.queue = await in_thread(self._executor, queue_figures, self._engine)
            except Exception:
                self._metrics.queue = None

    async def _maintain(self) -> None:
        from storage.maintenance import run_maintenance

        retention = self._config.daemon.crawl_log_retention
        now = datetime.now(UTC)
        try:
            report = await in_thread(self._executor, run_maintenance, self._engine, retention, now)
            forgotten = await in_thread(self._executor, forget_jobs_before, self._engine, now - retention)
            if self._app is not None:
                await self._app.job_manager.delete_old_jobs(
                    nb_hours=int(JOB_RETENTION.total_seconds() // 3600), include_failed=True
                )
            logger.info(
                "maintenance: deleted %d crawl-log rows and %d job ledger rows older than %s in %.1fs",
                report.crawls_deleted,
                forgotten,
                format_duration(retention),
                report.duration_s,
            )
        except Exception:
            logger.exception("maintenance failed; it runs again tomorrow")

    # --- while running -------------------------------------------------------------------------

    def beat(self) -> None:
        if self._scheduler is None:
            return
        for job in self._scheduler.get_jobs():
            if job.id.startswith(_SOURCE_JOB):
                schedule = self._state.sources.setdefault(job.name, SourceSchedule(job.name))
                schedule.next_run_at = job.next_run_time

    async def apply(self, config: Config) -> None:
        """A reloaded configuration: sources added, removed or rescheduled (their queued jobs stay)."""
        old = self._sources
        self._config = config
        self._sources = {source.name: source for source in config.resolved_sources()}
        await in_thread(self._executor, sync_config, self._engine, config)
        if self._scheduler is None:
            return
        for name in old.keys() - self._sources.keys():
            if self._scheduler.get_job(_SOURCE_JOB + name) is not None:
                self._scheduler.remove_job(_SOURCE_JOB + name)
            self._state.sources.pop(name, None)
        changed = [
            source
            for name, source in self._sources.items()
            if name not in old or (old[name].interval, old[name].jitter) != (source.interval, source.jitter)
        ]
        await self._schedule(changed)
        logger.info("configuration applied: %d sources, %d (re)scheduled", len(self._sources), len(changed))

    async def stop(self, grace: float) -> None:
        """Defer nothing more; the queued jobs stay for the workers (and the next active scheduler)."""
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        await asyncio.sleep(0)
        if self._app is not None:
            try:
                await asyncio.wait_for(self._app.close_async(), max(1.0, grace))
            except Exception:
                logger.warning("the job queue's connections did not close cleanly", exc_info=True)
            self._app = None


def _planned(source: ResolvedSource, times: SourceTimes, now: datetime) -> datetime:
    return planned_run(
        source.interval,
        now=now,
        last_crawl_at=times.last_crawl_at,
        next_due_at=times.next_due_at,
        jitter=source.jitter,
    )
