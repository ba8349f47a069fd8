"""`/healthz` and `/metrics` on the daemon's own event loop, served by uvicorn beside the web app.

`serve` binds the address and starts uvicorn on the running loop (`scheduler.serving`: at most
MAX_CONNECTIONS open, a deadline for the request head and for taking the answer). `Endpoints` is
the ASGI app it serves: `/healthz` and `/metrics` itself, every other GET and HEAD handed to the web
app the command line passed in (the scheduler never imports it). The database is read in a thread
under a time limit, and `/metrics` keeps its database figures for a few seconds, refreshing them
off the request path: a slow client, a stuck database or a busy page never holds up the loop that
also runs the scheduler, and a scrape never queues behind page queries.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from rolewatch import __version__
from rolewatch.logs import redact
from scheduler.metrics import CONTENT_TYPE, CrawlObserver, MetricsSnapshot, exposition
from scheduler.serving import (
    MAX_CONNECTIONS,
    READ_TIMEOUT_S,
    WRITE_TIMEOUT_S,
    EndpointServer,
    Limits,
    listen,
    start,
)
from storage.stats import DatabaseFigures, check_database, database_figures

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from rolewatch.config import Config
    from scheduler.state import DaemonState

T = TypeVar("T")
log = logging.getLogger(__name__)

#: `/healthz` reports the database unreachable when a one-row query takes longer than this.
DATABASE_TIMEOUT_S = 3.0
#: `/metrics` gives up on the database figures after this long (Prometheus waits 10 s by default).
FIGURES_TIMEOUT_S = 8.0
#: `/metrics` serves database figures read at most this long ago without reading them again...
FIGURES_FRESH_S = 10.0
#: ...and, up to this age, serves them once more while a fresh read runs in the background; older
#: (or never read, or the last read failed) the scrape waits for a read, up to FIGURES_TIMEOUT_S.
FIGURES_STALE_S = 120.0
ALLOWED_METHODS = ("GET", "HEAD")


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, status: int, text: str, **headers: str) -> Response:
        return cls(status, f"{text}\n".encode(), headers=headers)

    @classmethod
    def json(cls, status: int, document: dict[str, Any]) -> Response:
        return cls(status, json.dumps(document, indent=2).encode() + b"\n", "application/json")

    async def send(self, send: Send) -> None:
        """The answer as ASGI messages (uvicorn leaves out the body of an answer to HEAD)."""
        headers = [
            (b"content-type", self.content_type.encode("latin-1")),
            (b"content-length", str(len(self.body)).encode()),
            *([(b"cache-control", b"no-store")] if "cache-control" not in self.headers else []),
            (b"connection", b"close"),
            *((name.encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()),
        ]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


async def serve(
    state: DaemonState,
    engine: Engine,
    config_getter: Callable[[], Config],
    host: str,
    port: int,
    *,
    observer: CrawlObserver | None = None,
    read_timeout: float = READ_TIMEOUT_S,
    write_timeout: float = WRITE_TIMEOUT_S,
    database_timeout: float = DATABASE_TIMEOUT_S,
    figures_timeout: float = FIGURES_TIMEOUT_S,
    max_connections: int = MAX_CONNECTIONS,
    app: ASGIApp | None = None,
) -> asyncio.AbstractServer:
    """Start serving `/healthz` and `/metrics` on the running loop; close the returned server to stop.

    `config_getter` is asked at each request, so a reloaded configuration (SIGHUP) is used at once.
    `observer` supplies the crawl counters; without one `/metrics` has only the other figures.
    `app` (the web dashboard, feeds and API) answers every other GET and HEAD; without one they are 404.
    Binding fails here, with the OSError, before anything is served.
    """
    endpoints = Endpoints(state, engine, config_getter, observer, database_timeout, figures_timeout, app)
    sockets = await listen(host, port)
    limits = Limits(read_timeout, write_timeout, max_connections)
    try:
        server = await start(endpoints, sockets, limits)
    except BaseException:
        for listener in sockets:
            listener.close()
        raise
    served = "/healthz, /metrics and the web app" if app is not None else "/healthz and /metrics"
    log.info("serving %s on %s", served, _addresses(server))
    return server


# --- health ----------------------------------------------------------------------------------------


def overdue_sources(state: DaemonState, config: Config, now: datetime) -> list[str]:
    """Sources the scheduler should have started by now and has not.

    A source is overdue when its next run is late by more than the larger of
    `daemon.misfire_grace` and one of its own intervals. Within the misfire grace APScheduler still
    runs a late job, and a run waiting behind a busy crawl batch is late without anything being
    wrong; a whole interval late means a run was lost, which is what is worth waking someone for.
    """
    floor = config.daemon.misfire_grace
    late = []
    for name in state.overdue(now, floor):
        next_run_at = state.sources[name].next_run_at
        assert next_run_at is not None  # `DaemonState.overdue` lists only scheduled sources
        if now - next_run_at > max(floor, _interval(config, name, next_run_at)):
            late.append(name)
    return late


def _interval(config: Config, name: str, at: datetime) -> timedelta:
    """The source's period; for a cron schedule the gap between its next two runs from `at`."""
    try:
        schedule = config.source(name).interval
    except KeyError:  # dropped from the configuration by a reload, not yet from the schedule
        return timedelta(0)
    if schedule.every is not None:
        return schedule.every
    if schedule.cron is None:
        return timedelta(0)
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(schedule.cron, timezone=UTC)
    first = trigger.get_next_fire_time(None, at)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
    return second - first if first and second else timedelta(0)


def health_report(
    state: DaemonState, config: Config, now: datetime, database_error: str | None
) -> tuple[int, dict[str, Any]]:
    """The `/healthz` status code and document.

    Healthy (200) means the scheduler loop is alive, the database answers and, on the active
    instance, no source is overdue. A standby schedules nothing, so its sources are not judged:
    alive with a reachable database, it is healthy too and says `"role": "standby"`.
    """
    alive = state.alive(now)
    overdue = overdue_sources(state, config, now) if state.active else []
    healthy = alive and database_error is None and not overdue
    database: dict[str, Any] = {"reachable": database_error is None}
    if database_error is not None:
        database["error"] = database_error
    document = {
        "status": "ok" if healthy else "unhealthy",
        "role": state.role or ("active" if state.active else "standby"),
        "version": __version__,
        "scheduler": {
            "alive": alive,
            "active": state.active,
            "heartbeat_at": _iso(state.heartbeat_at),
            "started_at": _iso(state.started_at),
            "stopping": state.stopping,
        },
        "database": database,
        "overdue": overdue,
    }
    return (200 if healthy else 503), document


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- endpoints -------------------------------------------------------------------------------------


class Endpoints:
    """The ASGI app the daemon serves: the two pages here, the web app (if any) on every other path."""

    def __init__(
        self,
        state: DaemonState,
        engine: Engine,
        config_getter: Callable[[], Config],
        observer: CrawlObserver | None,
        database_timeout: float,
        figures_timeout: float,
        app: ASGIApp | None = None,
    ) -> None:
        self.state = state
        self.app = app
        self.config_getter = config_getter
        self.observer = observer
        self.database_timeout = database_timeout
        self.figures_timeout = figures_timeout
        self._check = BlockingCall(lambda: check_database(engine), "rolewatch-healthz-db")
        self._figures = KeptFigures(
            BlockingCall(lambda: database_figures(engine), "rolewatch-metrics-db"), figures_timeout
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no lifespan, no websockets: uvicorn is told so
            return
        method, path = scope["method"], scope["path"]
        pages: dict[str, Callable[[], Awaitable[Response]]] = {
            "/healthz": self.healthz,
            "/metrics": self.metrics,
        }
        page = pages.get(path)
        if page is None and self.app is None:
            response = Response.text(404, "not found; try /healthz or /metrics")
        elif method not in ALLOWED_METHODS:
            response = Response.text(405, "method not allowed", Allow=", ".join(ALLOWED_METHODS))
        elif page is None:
            assert self.app is not None
            await self.app(scope, receive, functools.partial(_closing, send))
            return
        else:
            try:
                response = await page()
            except Exception:
                log.exception("%s %s failed", method, path)
                response = Response.text(500, "internal error; see the daemon's log")
        log.debug("%s %s %d", method, path, response.status)
        await response.send(send)

    async def healthz(self) -> Response:
        error = None
        try:
            await self._check(self.database_timeout)
        except TimeoutError:
            error = f"no answer within {self.database_timeout:g}s"
        except SQLAlchemyError as failure:
            error = _describe(failure)
        except Exception as failure:  # not the database's fault: a bug, worth a traceback
            log.warning("healthz: the database check failed", exc_info=True)
            error = _describe(failure)
        if error is not None:
            log.debug("healthz: database unreachable: %s", error)
        status, document = health_report(self.state, self.config_getter(), datetime.now(UTC), error)
        return Response.json(status, document)

    async def metrics(self) -> Response:
        figures = await self._figures.get()
        now = datetime.now(UTC)
        overdue = overdue_sources(self.state, self.config_getter(), now) if self.state.active else []
        snapshot = MetricsSnapshot(
            scheduler_up=self.state.alive(now),
            scheduler_active=self.state.active,
            overdue=overdue,
            figures=figures,
        )
        return Response(200, exposition(snapshot, self.observer), CONTENT_TYPE)


async def _closing(send: Send, message: Message) -> None:
    """The web app's answer as the endpoint gives every answer: one per connection, not cached unless
    the app says how."""
    if message["type"] == "http.response.start":
        headers = [(bytes(name), bytes(value)) for name, value in message.get("headers", [])]
        names = {name.lower() for name, _ in headers}
        if b"cache-control" not in names:
            headers.append((b"cache-control", b"no-store"))
        headers = [(name, value) for name, value in headers if name.lower() != b"connection"]
        headers.append((b"connection", b"close"))
        message = {**message, "headers": headers}
    await send(message)


class KeptFigures:
    """The database figures `/metrics` reports, read in the background and kept for a few seconds.

    Counting a million events takes a database a few hundred milliseconds, more while pages are
    read; Prometheus scrapes every 15 s or so. A scrape therefore reports the figures read at most
    FIGURES_FRESH_S ago, starts a new read when they are older (answering with the kept ones meanwhile,
    up to FIGURES_STALE_S), and waits for a read only when nothing usable is kept: the first scrape,
    or after a failed read (so an unreachable database shows as `rolewatch_database_up 0`).
    """

    def __init__(self, read: BlockingCall[DatabaseFigures], timeout: float) -> None:
        self.read = read
        self.timeout = timeout
        self._kept: tuple[DatabaseFigures, float] | None = None
        self._refreshing: asyncio.Future[DatabaseFigures] | None = None

    async def get(self) -> DatabaseFigures | None:
        age = time.monotonic() - self._kept[1] if self._kept is not None else None
        if self._kept is not None and age is not None and age < FIGURES_STALE_S:
            if age >= FIGURES_FRESH_S:
                self._refresh()
            return self._kept[0]
        try:
            started = time.monotonic()
            figures = await self.read(self.timeout)
        except TimeoutError:
            log.debug("metrics: no database figures within %gs", self.timeout)
        except SQLAlchemyError as failure:
            log.debug("metrics: no database figures: %s", _describe(failure))
        except Exception:  # not the database's fault: a bug, worth a traceback
            log.warning("metrics: reading the database figures failed", exc_info=True)
        else:
            self._kept = (figures, started)
            return figures
        self._kept = None
        return None

    def _refresh(self) -> None:
        """Start a read in the background (unless one runs): what it finds is kept, a failure forgets."""
        running = self.read.start()
        if running is self._refreshing:
            return
        self._refreshing = running
        running.add_done_callback(functools.partial(self._keep, time.monotonic()))

    def _keep(self, started: float, outcome: asyncio.Future[DatabaseFigures]) -> None:
        if outcome.cancelled() or outcome.exception() is not None:
            self._kept = None
        else:
            self._kept = (outcome.result(), started)


def _describe(error: BaseException) -> str:
    """One redacted line: the driver's own message rather than SQLAlchemy's wrapping of it."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return redact(lines[0] if lines else type(original).__name__)


class BlockingCall(Generic[T]):
    """Runs a blocking function in a daemon thread, one run at a time; callers meanwhile share its outcome.

    A daemon thread rather than `asyncio.to_thread`: a call stuck on a dead database must neither
    hold up the process's exit (`asyncio.run` joins the default executor) nor take an executor slot
    the daemon's own work needs; and one run at a time means a stuck database costs one thread,
    however often `/healthz` is polled. A caller that gives up leaves the run going for the next.
    """

    def __init__(self, function: Callable[[], T], name: str) -> None:
        self.function = function
        self.name = name
        self._running: asyncio.Future[T] | None = None

    async def __call__(self, timeout: float) -> T:
        return await asyncio.wait_for(asyncio.shield(self.start()), timeout)

    def start(self) -> asyncio.Future[T]:
        """The run under way, or a new one: its outcome, for callers that do not wait."""
        if self._running is None or self._running.done():
            self._running = self._run()
        return self._running

    def _run(self) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        # Retrieved here so an outcome nobody waited for is not reported as "never retrieved".
        future.add_done_callback(lambda done: done.cancelled() or done.exception())

        def run() -> None:
            try:
                value = self.function()
            except Exception as error:
                outcome = functools.partial(_fail, future, error)
            else:
                outcome = functools.partial(_succeed, future, value)
            with suppress(RuntimeError):  # the loop closed while the call was stuck
                loop.call_soon_threadsafe(outcome)

        threading.Thread(target=run, name=self.name, daemon=True).start()
        return future


def _succeed(future: asyncio.Future[T], value: T) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[T], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)


def _addresses(server: EndpointServer) -> str:
    sockets = server.sockets
    return ", ".join(f"http://{_host_port(s.getsockname())}" for s in sockets) or "(no socket)"


def _host_port(address: Any) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
