"""The APScheduler job of each configured source, shared by the local engine and the cluster scheduler.

Both engines plan a source's runs alike (`scheduler.schedule`, first runs rebuilt from the database)
and differ only in what the job does when the source comes due: the local engine crawls it, the
cluster scheduler defers a crawl job. That job is the `run` given to `SourceJobs`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from notifier.sync import sync_config
from scheduler.schedule import first_runs, planned_run, trigger_for
from scheduler.state import DaemonState, SourceSchedule
from storage.schedule import SourceTimes, load_source_times, save_next_due

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from rolewatch.config import Config, ResolvedSource

T = TypeVar("T")
logger = logging.getLogger("rolewatch.scheduler")

_SOURCE_JOB = "source:"
#: A maintenance run that comes due while the event loop is held up still happens within this long.
MAINTENANCE_MISFIRE = timedelta(hours=6)


async def in_thread(executor: Executor, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking work (the database, a crawl, a send) off the event loop, in the daemon's own pool."""
    return await asyncio.get_running_loop().run_in_executor(executor, partial(function, *args, **kwargs))


def source_job_id(name: str) -> str:
    return _SOURCE_JOB + name


def source_of_job(job_id: str) -> str:
    return job_id.removeprefix(_SOURCE_JOB)


def sources_by_name(config: Config) -> dict[str, ResolvedSource]:
    return {source.name: source for source in config.resolved_sources()}


def prepare_database(engine: Engine, config: Config) -> None:
    """At the start of an active scheduler: the schema brought up to date, the configuration synced."""
    from storage.database import upgrade

    upgrade(engine)
    sync_config(engine, config)


def new_apscheduler(config: Config) -> Any:
    """One run of a job at a time, missed runs coalesced, late runs kept within `daemon.misfire_grace`."""
    return AsyncIOScheduler(
        timezone=UTC,
        job_defaults={
            "max_instances": 1,
            "coalesce": True,
            "misfire_grace_time": int(config.daemon.misfire_grace.total_seconds()),
        },
    )


def maintenance_trigger(config: Config) -> Any:
    hour, minute = config.daemon.maintenance_at.split(":")
    return CronTrigger(hour=int(hour), minute=int(minute), timezone=UTC)


class SourceJobs:
    """The jobs of the sources on one APScheduler, and their next runs in the state and the database.

    `run(name)` is what a source's job does when the source comes due.
    """

    def __init__(
        self,
        scheduler: Any,
        run: Callable[[str], Awaitable[None]],
        engine: Engine,
        state: DaemonState,
        executor: Executor,
    ) -> None:
        self._scheduler = scheduler
        self._run = run
        self._engine = engine
        self._state = state
        self._executor = executor

    def job(self, name: str) -> Any:
        return self._scheduler.get_job(source_job_id(name))

    async def schedule(self, sources: Sequence[ResolvedSource]) -> None:
        """(Re)build the jobs of `sources` from what the database remembers of them."""
        if not sources:
            return
        names = [source.name for source in sources]
        times = await in_thread(self._executor, load_source_times, self._engine, names)
        now = datetime.now(UTC)
        planned = {
            source.name: _planned(source, times.get(source.name, SourceTimes()), now) for source in sources
        }
        first = first_runs(planned, now)
        for source in sources:
            self._add_or_reschedule(source, first[source.name])
            schedule = self._state.sources.setdefault(source.name, SourceSchedule(source.name))
            schedule.next_run_at = first[source.name]
        await in_thread(self._executor, save_next_due, self._engine, first)

    def _add_or_reschedule(self, source: ResolvedSource, first: datetime) -> None:
        job_id = source_job_id(source.name)
        trigger = trigger_for(source.interval, source.jitter)
        if self._scheduler.get_job(job_id) is not None:
            self._scheduler.modify_job(job_id, trigger=trigger, next_run_time=first)
            return
        self._scheduler.add_job(
            self._run, trigger, args=[source.name], id=job_id, name=source.name, next_run_time=first
        )

    async def remember_next_run(self, name: str, job: Any) -> None:
        """Store the next run of `job`, the source's job, in the state and the database.

        A failure to store it is only logged: the schedule in memory holds, and a restart then plans
        from the last crawl.
        """
        if job is None or job.next_run_time is None:
            return
        self._state.sources[name].next_run_at = job.next_run_time
        try:
            await in_thread(self._executor, save_next_due, self._engine, {name: job.next_run_time})
        except Exception:
            logger.exception("%s: could not store the next run time", name)

    def beat(self) -> None:
        """Bring each source's next run time in the shared state up to date."""
        for job in self._scheduler.get_jobs():
            if job.id.startswith(_SOURCE_JOB):
                schedule = self._state.sources.setdefault(job.name, SourceSchedule(job.name))
                schedule.next_run_at = job.next_run_time

    async def apply(
        self, old: dict[str, ResolvedSource], new: dict[str, ResolvedSource]
    ) -> list[ResolvedSource]:
        """Drop the jobs of the sources gone from `new`; (re)schedule those added or whose schedule changed.

        Returns the sources (re)scheduled.
        """
        for name in old.keys() - new.keys():
            if self._scheduler.get_job(source_job_id(name)) is not None:
                self._scheduler.remove_job(source_job_id(name))
            self._state.sources.pop(name, None)
        rescheduled = [
            source
            for name, source in new.items()
            if name not in old or (old[name].interval, old[name].jitter) != (source.interval, source.jitter)
        ]
        await self.schedule(rescheduled)
        return rescheduled

    def set_misfire_grace(self, grace: timedelta) -> None:
        seconds = int(grace.total_seconds())
        for job in self._scheduler.get_jobs():
            if job.id.startswith(_SOURCE_JOB):
                self._scheduler.modify_job(job.id, misfire_grace_time=seconds)


def _planned(source: ResolvedSource, times: SourceTimes, now: datetime) -> datetime:
    return planned_run(
        source.interval,
        now=now,
        last_crawl_at=times.last_crawl_at,
        next_due_at=times.next_due_at,
        jitter=source.jitter,
    )
