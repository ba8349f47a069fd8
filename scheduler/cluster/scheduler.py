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
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.triggers.interval import IntervalTrigger
from procrastinate import App
from procrastinate.exceptions import AlreadyEnqueued

from notifier.sync import sync_config
from rolewatch.config import format_duration
from scheduler.cluster.app import (
    SOURCE_LOCK,
    cluster_app,
    crawl_deferrer,
    crawl_lock,
    deliver_deferrer,
    due_text,
)
from scheduler.cluster.metrics import ClusterObserver
from scheduler.cluster.worker import STALLED_AFTER_S
from scheduler.source_jobs import (
    MAINTENANCE_MISFIRE,
    SourceJobs,
    in_thread,
    maintenance_trigger,
    new_apscheduler,
    prepare_database,
    sources_by_name,
)
from scheduler.state import DaemonState, SourceSchedule
from storage.cluster import busy_queueing_locks, forget_jobs_before, queue_figures

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from rolewatch.config import Config
    from rolewatch.config import Daemon as DaemonSettings
    from scheduler.metrics import CrawlObserver

logger = logging.getLogger("rolewatch.scheduler")

MAINTENANCE_JOB = "maintenance"
DELIVER_JOB = "deliver"
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
        self._sources = sources_by_name(config)
        self._state = state
        self._executor = executor
        self._metrics = metrics
        self._app: App | None = None
        self._scheduler: Any = None
        self._source_jobs: SourceJobs | None = None
        self._busy_said: set[str] = set()

    async def start(self) -> None:
        await in_thread(self._executor, prepare_database, self._engine, self._config)
        self._app = cluster_app(self._config.database, application_name="rolewatch scheduler")
        await self._app.open_async()
        self._scheduler = new_apscheduler(self._config)
        self._source_jobs = SourceJobs(
            self._scheduler, self._defer_crawl, self._engine, self._state, self._executor
        )
        await self._source_jobs.schedule(list(self._sources.values()))
        daemon = self._config.daemon
        self._scheduler.add_job(
            self._ask_for_delivery,
            IntervalTrigger(seconds=daemon.deliver_every.total_seconds()),
            id=DELIVER_JOB,
        )
        self._scheduler.add_job(
            self._housekeeping, IntervalTrigger(seconds=HOUSEKEEPING_S), id="housekeeping"
        )
        self._scheduler.add_job(
            self._maintain,
            maintenance_trigger(self._config),
            id=MAINTENANCE_JOB,
            misfire_grace_time=int(MAINTENANCE_MISFIRE.total_seconds()),
        )
        self._scheduler.start()
        logger.info(
            "scheduling %d sources on the procrastinate engine: workers crawl and deliver (every %s)",
            len(self._sources),
            format_duration(daemon.deliver_every),
        )

    async def _defer_crawl(self, name: str) -> None:
        """The source is due: queue its crawl, unless a job for it is still waiting or running."""
        source = self._sources.get(name)
        if source is None or self._app is None or self._source_jobs is None:
            return
        job = self._source_jobs.job(name)
        due_at = datetime.now(UTC)
        try:
            busy = await in_thread(self._executor, busy_queueing_locks, self._engine, SOURCE_LOCK + name)
            if SOURCE_LOCK + name in busy:
                self._say_busy(name)
                return
            lock = await in_thread(self._executor, crawl_lock, self._engine, source)
            await crawl_deferrer(self._app, name, lock).defer_async(source=name, due_at=due_text(due_at))
        except AlreadyEnqueued:
            self._say_busy(name)
            return
        except Exception:
            logger.exception("%s: could not queue its crawl; it is tried again at its next run", name)
            return
        self._busy_said.discard(name)
        schedule = self._state.sources.setdefault(name, SourceSchedule(name))
        schedule.last_started_at = due_at
        await self._source_jobs.remember_next_run(name, job)

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
        if self._source_jobs is not None:
            self._source_jobs.beat()

    async def apply(self, config: Config) -> None:
        """A reloaded configuration (SIGHUP): sources added, removed or rescheduled, and the daemon's
        delivery interval, misfire grace and maintenance time. Jobs already queued stay; the workers
        read each source's options from their own configuration when a job starts."""
        old_config, old = self._config, self._sources
        self._config = config
        self._sources = sources_by_name(config)
        await in_thread(self._executor, sync_config, self._engine, config)
        if self._source_jobs is None:
            return
        changed = await self._source_jobs.apply(old, self._sources)
        self._apply_daemon_settings(self._source_jobs, old_config.daemon, config.daemon)
        logger.info(
            "configuration applied: %d sources (%d added, %d removed), %d (re)scheduled",
            len(self._sources),
            len(self._sources.keys() - old.keys()),
            len(old.keys() - self._sources.keys()),
            len(changed),
        )

    def _apply_daemon_settings(
        self, source_jobs: SourceJobs, old: DaemonSettings, new: DaemonSettings
    ) -> None:
        if old.misfire_grace != new.misfire_grace:
            source_jobs.set_misfire_grace(new.misfire_grace)
        if old.deliver_every != new.deliver_every:
            trigger = IntervalTrigger(seconds=new.deliver_every.total_seconds())
            self._scheduler.reschedule_job(DELIVER_JOB, trigger=trigger)
        if old.maintenance_at != new.maintenance_at:
            self._scheduler.reschedule_job(MAINTENANCE_JOB, trigger=maintenance_trigger(self._config))

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
