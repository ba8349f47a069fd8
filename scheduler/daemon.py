"""`rolewatch run`: stand by until this instance holds the database's scheduler lock, then schedule.

Life of a daemon: serve `/healthz` and `/metrics` (if asked) at once; take the scheduler lock or
stand by, polling for it; once active, crawl, deliver and tidy up (`scheduler.active`) while
checking the lock every heartbeat. SIGTERM or SIGINT stops scheduling and gives running work
`daemon.grace` to finish; SIGHUP reloads the configuration (an invalid one is refused and the
running one kept). A lost lock stops scheduling at once and goes back to standing by.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError

from rolewatch.config import Config, format_duration
from scheduler.active import ActiveScheduler, RunTrace, in_thread
from scheduler.lanes import MAX_BATCHES
from scheduler.lock import SchedulerLock, scheduler_lock
from scheduler.memory import cap_malloc_arenas
from scheduler.reloading import read_again, serve_reloads
from scheduler.state import DaemonState

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from starlette.types import ASGIApp

    from scheduler.cluster.scheduler import ClusterScheduler
    from scheduler.metrics import CrawlObserver

logger = logging.getLogger("rolewatch.scheduler")

STANDBY_MESSAGE = "another rolewatch scheduler is active on this database; standing by"
#: How often the state's heartbeat is touched and the lock checked (active) or tried (standby).
HEARTBEAT_S = 2.0
#: A lock check that takes longer than this counts as a lost lock.
LOCK_CHECK_TIMEOUT_S = 15.0
#: Threads beyond the crawl batches: delivery, maintenance, the lock, small database writes.
_SPARE_THREADS = 8


class DaemonError(Exception):
    """The daemon cannot start: something the operator must fix (a busy port, an unwritable lock file)."""


class Daemon:
    """One `rolewatch run` process: standby or active scheduler, until SIGTERM or SIGINT."""

    def __init__(
        self,
        config: Config,
        engine: Engine,
        *,
        reload_config: Callable[[], Config],
        http: tuple[str, int] | None = None,
        lock: SchedulerLock | None = None,
        max_batches: int = MAX_BATCHES,
        on_run: Callable[[RunTrace], None] | None = None,
        web_app: Callable[[Engine, Callable[[], Config]], ASGIApp] | None = None,
    ) -> None:
        """`web_app` builds the web dashboard, feeds and API that `--http` serves beside `/healthz` and
        `/metrics` (the command line passes `rolewatch.web.create_app`; without it only those two)."""
        self.state = DaemonState()
        self._config = config
        self._engine = engine
        self._reload_config = reload_config
        self._http = http
        self._lock = lock or scheduler_lock(engine)
        self._max_batches = max_batches
        self._on_run = on_run
        self._web_app = web_app
        self._executor = ThreadPoolExecutor(max_batches + _SPARE_THREADS, thread_name_prefix="rolewatch")
        self._stop = asyncio.Event()
        self._reload = asyncio.Event()
        self._transition = asyncio.Lock()
        self._active: ActiveScheduler | ClusterScheduler | None = None
        self._metrics = _crawl_observer(config.engine)

    @property
    def config(self) -> Config:
        return self._config

    def request_stop(self, reason: str = "asked to stop") -> None:
        if self._stop.is_set():
            return
        grace = format_duration(self._config.daemon.grace)
        logger.info("%s: stopping; running work has %s to finish", reason, grace)
        self.state.stopping = True
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()

    async def run(self) -> None:
        """Until `request_stop` (SIGTERM, SIGINT): stand by, lead, and stand by again if the lock is lost."""
        cap_malloc_arenas()
        loop = asyncio.get_running_loop()
        self._install_signal_handlers(loop)
        server = await self._serve_http()
        reloads = asyncio.create_task(self._reload_when_asked(), name="reload")
        try:
            first = True
            while not self._stop.is_set():
                if not await self._stand_by(first):
                    break
                first = False
                if not await self._lead():
                    break
        finally:
            self.state.stopping = True
            reloads.cancel()
            await self._release_lock()
            if server is not None:
                server.close()
            self._executor.shutdown(wait=False, cancel_futures=True)
            for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(number)
        logger.info("stopped")

    # --- standby -------------------------------------------------------------------------------

    async def _stand_by(self, first: bool) -> bool:
        """Poll for the lock until it is ours (True) or we are told to stop (False).

        The very first attempt lets a database error through, so a daemon pointed at a
        database it cannot reach fails at once; later ones are logged and retried.
        """
        announced = False
        while not self._stop.is_set():
            self.state.beat()
            try:
                if await in_thread(self._executor, self._lock.acquire):
                    logger.info("this instance is the active scheduler (%s)", self._lock.description)
                    return True
            except OSError as error:
                if first:
                    raise DaemonError(f"cannot take the scheduler lock: {error}") from error
                logger.warning(
                    "cannot take the scheduler lock (%s): %s; retrying", self._lock.description, error
                )
            except DBAPIError as error:
                if first:
                    raise
                logger.warning(
                    "cannot reach the scheduler lock (%s): %s; retrying", self._lock.description, error.orig
                )
            first = False
            if not announced:
                logger.warning(STANDBY_MESSAGE)
                announced = True
            await self._sleep(HEARTBEAT_S)
        return False

    # --- active --------------------------------------------------------------------------------

    async def _lead(self) -> bool:
        """Schedule until told to stop (False) or until the lock is lost (True: stand by again)."""
        active = self._leader()
        lost = False
        try:
            async with self._transition:
                self._active = active
                self.state.active = True
                await active.start()
            lost = await self._watch_lock(active)
        finally:
            async with self._transition:
                await active.stop(self._config.daemon.grace.total_seconds())
                self._active = None
                self.state.active = False
                self.state.sources.clear()  # a standby schedules nothing, so nothing of it is overdue
        if lost:
            logger.error("lost the scheduler lock (%s); stopped scheduling", self._lock.description)
            await self._release_lock()
        return lost

    def _leader(self) -> ActiveScheduler | ClusterScheduler:
        """What an active instance runs: the whole pipeline (local), or only the schedule (procrastinate)."""
        if self._config.engine == "procrastinate":
            from scheduler.cluster.scheduler import ClusterScheduler

            return ClusterScheduler(
                self._engine, self._config, self.state, self._executor, metrics=self._metrics
            )
        return ActiveScheduler(
            self._engine,
            self._config,
            self.state,
            self._executor,
            max_batches=self._max_batches,
            metrics=self._metrics,
            on_run=self._on_run,
        )

    async def _watch_lock(self, active: ActiveScheduler | ClusterScheduler) -> bool:
        while not await self._sleep(HEARTBEAT_S):
            self.state.beat()
            active.beat()
            try:
                held = await asyncio.wait_for(
                    in_thread(self._executor, self._lock.held), LOCK_CHECK_TIMEOUT_S
                )
            except TimeoutError:
                held = False
            if not held:
                return True
        return False

    async def _release_lock(self) -> None:
        # Should the release hang, the process ends soon, and the lock with it.
        with contextlib.suppress(TimeoutError, RuntimeError):
            await asyncio.wait_for(in_thread(self._executor, self._lock.release), LOCK_CHECK_TIMEOUT_S)

    # --- signals and reloading -----------------------------------------------------------------

    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_signal_handler(signal.SIGTERM, self.request_stop, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self.request_stop, "SIGINT")
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)

    async def _reload_when_asked(self) -> None:
        await serve_reloads(self._reload, self._reload_once, logger)

    async def _reload_once(self) -> None:
        config = await read_again(self._executor, self._reload_config, self._config, logger, "daemon")
        if config is None:
            return
        async with self._transition:
            self._config = config
            if self._active is not None:
                await self._active.apply(config)
            else:
                logger.info("configuration reloaded (standing by)")

    # --- helpers -------------------------------------------------------------------------------

    async def _sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if told to stop meanwhile."""
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    async def _serve_http(self) -> asyncio.AbstractServer | None:
        if self._http is None:
            return None
        try:
            from scheduler.http import serve
        except ImportError:
            logger.warning("this build has no HTTP endpoints; ignoring --http")
            return None
        host, port = self._http
        try:
            app = self._web_app(self._engine, lambda: self._config) if self._web_app else None
            server: asyncio.AbstractServer = await serve(
                self.state, self._engine, lambda: self._config, host, port, observer=self._metrics, app=app
            )
        except OSError as error:
            raise DaemonError(f"cannot serve HTTP on {host}:{port}: {error.strerror or error}") from error
        return server


def _crawl_observer(engine: str = "local") -> CrawlObserver | None:
    try:
        from scheduler.metrics import CrawlObserver
    except ImportError:
        return None
    if engine == "procrastinate":  # the scheduler reports the queue too
        from scheduler.cluster.metrics import ClusterObserver

        return ClusterObserver()
    return CrawlObserver()
