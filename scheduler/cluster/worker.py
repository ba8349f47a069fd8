"""`rolewatch worker`: run crawl and delivery jobs from the queue, on any number of machines, until SIGTERM.

A worker keeps warm crawl workers (`crawler.workers`) as the local daemon does, runs each job's
blocking work in a thread of its own pool, and serves `/healthz` and `/metrics` if asked. procrastinate
stops a worker whose database connection fails; this one then opens a new pool and starts again,
with a growing pause, until the database answers. SIGTERM or SIGINT: take no new job, give running
ones `daemon.grace`, then kill the crawl processes still running (their crawls are recorded as
failed) and exit.

SIGHUP reads the configuration again, as `rolewatch run` does: a job reads its source's options
(URL, politeness, time-out) and the subscriptions its alerts go to from this worker's configuration
when it starts, and a delivery round reads the channels, so after a reload new jobs use the new
ones; a running job finishes with what it started with. An invalid configuration is refused and
the running one kept; a new `database` takes a restart, and so does a new `daemon.grace` (the
queue's worker is handed it when it connects).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from procrastinate import App, JobContext
from procrastinate.exceptions import AlreadyEnqueued

from crawler.workers import CrawlWorkers, Retirement
from notifier.outbox import deliver_due
from rolewatch.config import Config, format_duration
from scheduler.active import in_thread, log_delivery_round, worker_name
from scheduler.cluster.app import CRAWL_RETRIES, QUEUES, RUNTIME, cluster_app, deliver_deferrer
from scheduler.cluster.jobs import CrawlJobs
from scheduler.cluster.metrics import ClusterObserver
from scheduler.lanes import kill_crawl_processes
from scheduler.memory import cap_malloc_arenas
from scheduler.reloading import read_again, serve_reloads
from scheduler.state import DaemonState
from storage.cluster import queue_figures

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from storage.recording import CrawlRecord

logger = logging.getLogger("rolewatch.worker")

#: How often a worker tells procrastinate it is alive…
HEARTBEAT_S = 5.0
#: …and how long without that before the scheduler retries its jobs elsewhere.
STALLED_AFTER_S = 30.0
#: The longest pause between attempts to reach a database that went away.
MAX_RECONNECT_WAIT_S = 30.0
#: After the grace period the crawl processes are killed; their jobs then need a moment to record.
AFTER_KILL_WAIT_S = 10.0
#: How often the role's own heartbeat (for `/healthz`) and its queue figures (for `/metrics`) refresh.
BEAT_S = 2.0


class WorkerRole:
    """One `rolewatch worker` process."""

    def __init__(
        self,
        config: Config,
        engine: Engine,
        *,
        reload_config: Callable[[], Config] | None = None,
        concurrency: int = 1,
        queues: Sequence[str] = QUEUES,
        http: tuple[str, int] | None = None,
        crawl_workers: CrawlWorkers | None = None,
    ) -> None:
        """`crawl_workers` lends a pool the caller keeps (tests share one); by default the role owns one."""
        self.state = DaemonState(role="worker")
        self.name = worker_name()
        self._config = config
        self._engine = engine
        self._reload_config = reload_config
        self._reload = asyncio.Event()
        self._concurrency = concurrency
        self._queues = list(queues)
        self._http = http
        self._executor = ThreadPoolExecutor(concurrency + 4, thread_name_prefix="rolewatch-worker")
        self._own_pool = crawl_workers is None
        self._crawl_workers = crawl_workers or CrawlWorkers(Retirement(max_idle=max(2, concurrency)))
        self._jobs = CrawlJobs(engine, config, self._crawl_workers, reload_config=reload_config)
        self.metrics = ClusterObserver()
        self._stop = asyncio.Event()
        self._running: asyncio.Task[None] | None = None

    def request_stop(self, reason: str = "asked to stop") -> None:
        if self._stop.is_set():
            return
        logger.info(
            "%s: stopping; running jobs have %s to finish", reason, format_duration(self._config.daemon.grace)
        )
        self.state.stopping = True
        self._stop.set()
        if self._running is not None:
            self._running.cancel()  # procrastinate's graceful stop: no new job, running ones get the grace

    def request_reload(self) -> None:
        """SIGHUP: read the configuration again; jobs started from now on use it."""
        self._reload.set()

    @property
    def config(self) -> Config:
        return self._config

    async def run(self) -> None:
        """Until `request_stop`: run jobs, reconnecting whenever the database goes away."""
        cap_malloc_arenas()
        loop = asyncio.get_running_loop()
        handled = self._install_signal_handlers(loop)
        server = await self._serve_http()
        beats = asyncio.create_task(self._beat(), name="worker heartbeat")
        reloads = asyncio.create_task(self._reload_when_asked(), name="worker reload")
        try:
            if self._own_pool:
                await in_thread(self._executor, self._crawl_workers.prestart)
            await self._work()
        finally:
            self.state.stopping = True
            beats.cancel()
            reloads.cancel()
            if server is not None:
                server.close()
            if self._own_pool:
                await in_thread(self._executor, self._crawl_workers.close)
            self._executor.shutdown(wait=False, cancel_futures=True)
            for number in handled:
                loop.remove_signal_handler(number)
        logger.info("worker stopped")

    async def _work(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                await self._run_worker()
                failures = 0
            except asyncio.CancelledError:
                if not self._stop.is_set():
                    raise
                return
            except Exception as error:
                if self._stop.is_set():
                    return
                failures += 1
                wait = min(MAX_RECONNECT_WAIT_S, 2.0**failures)
                logger.warning(
                    "lost the job queue's database (%s); reconnecting in %gs", _describe(error), wait
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), wait)
                continue
            if not self._stop.is_set():  # procrastinate stopped its worker itself (a side task failed)
                logger.warning("the queue's worker stopped on its own; starting it again")
                await asyncio.sleep(1.0)

    async def _run_worker(self) -> None:
        app = cluster_app(
            self._config.database,
            application_name=f"rolewatch worker {self.name}",
            max_size=self._concurrency + 4,
        )
        async with app.open_async():
            logger.info(
                "worker %s: running %s jobs, %d at a time",
                self.name,
                " and ".join(self._queues),
                self._concurrency,
            )
            self._running = asyncio.create_task(
                app.run_worker_async(
                    queues=self._queues,
                    concurrency=self._concurrency,
                    name=self.name,
                    install_signal_handlers=False,
                    shutdown_graceful_timeout=self._config.daemon.grace.total_seconds(),
                    additional_context={RUNTIME: self},
                    delete_jobs="successful",
                    update_heartbeat_interval=HEARTBEAT_S,
                    stalled_worker_timeout=STALLED_AFTER_S,
                    fetch_job_polling_interval=1.0,
                ),
                name="procrastinate worker",
            )
            try:
                await self._running
            finally:
                self._running = None

    # --- the jobs (called by the tasks in scheduler.cluster.app) --------------------------------------

    async def crawl(self, context: JobContext, source: str, due_at: str | None) -> dict[str, Any]:
        job = context.job
        assert job.id is not None
        final = job.attempts >= CRAWL_RETRIES
        running = asyncio.ensure_future(in_thread(self._executor, self._jobs.run, source, job.id, final))
        try:
            record = await asyncio.shield(running)
        except asyncio.CancelledError:
            # The grace period is over: end the crawl, so its source is recorded as failed, not lost.
            killed = kill_crawl_processes()
            logger.warning(
                "%s: crawl stopped after the grace period (%d crawl processes killed)", source, len(killed)
            )
            with contextlib.suppress(Exception):
                await asyncio.wait_for(running, AFTER_KILL_WAIT_S)
            raise
        if record is None:
            return {"source": source, "recorded": False}
        await self._after(context.app, record)
        return {
            "source": source,
            "crawl_id": record.crawl_id,
            "verdict": record.verdict.value,
            "due_at": due_at,
        }

    async def _after(self, app: App, record: CrawlRecord) -> None:
        counts = ", ".join(f"{n} {kind}" for kind, n in record.counts.items() if n)
        logger.info("%s: %s%s", record.source, record.verdict.value, f", {counts}" if counts else "")
        self.metrics.observe_crawl(record.source, record.verdict.value, record.stats.duration_s)
        if record.events:
            with contextlib.suppress(AlreadyEnqueued):  # a delivery waiting will send these too
                await deliver_deferrer(app).defer_async()

    async def deliver(self) -> dict[str, Any]:
        report = await in_thread(self._executor, deliver_due, self._engine, self._config, worker=self.name)
        log_delivery_round(logger, report)
        return {"sent": report.sent, "failed": report.failed, "dead": report.dead}

    # --- around the jobs --------------------------------------------------------------------------------

    async def _beat(self) -> None:
        while True:
            self.state.beat()
            try:
                self.metrics.queue = await asyncio.wait_for(
                    in_thread(self._executor, queue_figures, self._engine), BEAT_S * 5
                )
            except Exception:
                self.metrics.queue = None
            await asyncio.sleep(BEAT_S)

    async def _reload_when_asked(self) -> None:
        await serve_reloads(self._reload, self._reload_once, logger)

    async def _reload_once(self) -> None:
        if self._reload_config is None:
            logger.warning("this worker was started without a configuration file to read again")
            return
        config = await read_again(self._executor, self._reload_config, self._config, logger, "worker")
        if config is None:
            return
        if config.engine != "procrastinate":
            logger.error("the new configuration's engine is %r; keeping the running one", config.engine)
            return
        self._config = config
        self._jobs.apply(config)
        logger.info(
            "configuration reloaded: %d sources, %d subscriptions; jobs started from now on use it",
            len(config.sources),
            len(config.subscriptions),
        )

    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> list[int]:
        if threading.current_thread() is not threading.main_thread():
            return []  # in-process tests run a worker in a thread and stop it with request_stop
        loop.add_signal_handler(signal.SIGTERM, self.request_stop, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self.request_stop, "SIGINT")
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        return [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]

    async def _serve_http(self) -> asyncio.AbstractServer | None:
        if self._http is None:
            return None
        from scheduler.http import serve

        host, port = self._http
        server: asyncio.AbstractServer = await serve(
            self.state, self._engine, lambda: self._config, host, port, observer=self.metrics
        )
        return server


def _describe(error: BaseException) -> str:
    cause = error.__cause__ or error
    return f"{type(cause).__name__}: {str(cause).strip() or 'no detail'}"
