"""`/healthz` and `/metrics` served on the daemon's own event loop by a minimal HTTP/1.1 server.

One request per connection, a bounded request head read within a deadline, and the database
read in a thread under a time limit: a slow client or a stuck database never holds up the loop
that also runs the scheduler. At most MAX_CONNECTIONS are open at once, so a flood of idle
connections costs a bounded number of file descriptors (which the crawls and the database need)
and never shuts out a client that asks at once.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError

from rolewatch import __version__
from rolewatch.logs import redact
from scheduler.metrics import CONTENT_TYPE, CrawlObserver, MetricsSnapshot, exposition
from storage.stats import DatabaseFigures, check_database, database_figures

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from starlette.types import ASGIApp

    from rolewatch.config import Config
    from scheduler.state import DaemonState

T = TypeVar("T")
log = logging.getLogger(__name__)

#: The whole request head (request line and headers) must arrive within this long and this size.
READ_TIMEOUT_S = 5.0
MAX_REQUEST_HEAD = 8 * 1024
#: A client that does not take its answer within this long is dropped.
WRITE_TIMEOUT_S = 5.0
#: Connections open at once; past it the longest-idle one is closed (or, none idle, the new one).
MAX_CONNECTIONS = 64
#: A refused or dropped connection, or a failed accept(), is logged at most once per this long.
REFUSAL_LOG_INTERVAL_S = 60.0
#: Connections the kernel queues for the endpoint before it accepts them: a burst waits there,
#: costing no file descriptor, rather than its handshakes being dropped and retried a second later.
BACKLOG = 1024
#: Connections taken from the backlog in one round of the event loop, which also runs the scheduler.
ACCEPTS_PER_ROUND = 100
#: After accept() fails (out of file descriptors, say) the endpoint waits this long before the next.
ACCEPT_RETRY_S = 0.5
#: `/healthz` reports the database unreachable when a one-row query takes longer than this.
DATABASE_TIMEOUT_S = 3.0
#: `/metrics` gives up on the database figures after this long (Prometheus waits 10 s by default).
FIGURES_TIMEOUT_S = 8.0
ALLOWED_METHODS = ("GET", "HEAD")
REASONS = {
    200: "OK",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


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

    def encode(self, *, include_body: bool = True) -> bytes:
        lines = [
            f"HTTP/1.1 {self.status} {REASONS.get(self.status, 'Unknown')}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
            *(["Cache-Control: no-store"] if "cache-control" not in self.headers else []),
            "Connection: close",
            *(f"{name}: {value}" for name, value in self.headers.items()),
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head + self.body if include_body else head


async def serve(
    state: DaemonState,
    engine: Engine,
    config_getter: Callable[[], Config],
    host: str,
    port: int,
    *,
    observer: CrawlObserver | None = None,
    read_timeout: float = READ_TIMEOUT_S,
    database_timeout: float = DATABASE_TIMEOUT_S,
    figures_timeout: float = FIGURES_TIMEOUT_S,
    max_connections: int = MAX_CONNECTIONS,
    app: ASGIApp | None = None,
) -> asyncio.AbstractServer:
    """Start serving `/healthz` and `/metrics` on the running loop; close the returned server to stop.

    `config_getter` is asked at each request, so a reloaded configuration (SIGHUP) is used at once.
    `observer` supplies the crawl counters; without one `/metrics` has only the other figures.
    `app` (the web dashboard, feeds and API) answers every other GET and HEAD; without one they are 404.
    """
    endpoints = Endpoints(state, engine, config_getter, observer, database_timeout, figures_timeout, app)

    async def connection(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, asked: Callable[[], None]
    ) -> None:
        await _serve_connection(reader, writer, endpoints.route, read_timeout, asked)

    sockets = await _listen(host, port)
    server = Listener(sockets, connection, max_connections)
    await server.start_serving()
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
    """The two pages, with the database calls they share between concurrent requests."""

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
        self._figures = BlockingCall(lambda: database_figures(engine), "rolewatch-metrics-db")

    async def route(self, method: str, target: str, head: bytes = b"") -> Response:
        """`/healthz` and `/metrics` here, on the loop; any other path to the web app, if there is one."""
        pages: dict[str, Callable[[], Awaitable[Response]]] = {
            "/healthz": self.healthz,
            "/metrics": self.metrics,
        }
        page = pages.get(urlsplit(target).path)
        if page is None and self.app is None:
            return Response.text(404, "not found; try /healthz or /metrics")
        if method not in ALLOWED_METHODS:
            return Response.text(405, "method not allowed", Allow=", ".join(ALLOWED_METHODS))
        if page is None:
            return await self.web(method, target, head)
        return await page()

    async def web(self, method: str, target: str, head: bytes) -> Response:
        """The web app's answer; its pages read the database in worker threads, never on this loop."""
        from scheduler.asgi import call_app, request_headers

        assert self.app is not None
        answer = await call_app(self.app, method, target, request_headers(head))
        return Response(answer.status, answer.body, answer.content_type, answer.headers)

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
        figures: DatabaseFigures | None = None
        try:
            figures = await self._figures(self.figures_timeout)
        except TimeoutError:
            log.debug("metrics: no database figures within %gs", self.figures_timeout)
        except SQLAlchemyError as failure:
            log.debug("metrics: no database figures: %s", _describe(failure))
        except Exception:  # not the database's fault: a bug, worth a traceback
            log.warning("metrics: reading the database figures failed", exc_info=True)
        now = datetime.now(UTC)
        overdue = overdue_sources(self.state, self.config_getter(), now) if self.state.active else []
        snapshot = MetricsSnapshot(
            scheduler_up=self.state.alive(now),
            scheduler_active=self.state.active,
            overdue=overdue,
            figures=figures,
        )
        return Response(200, exposition(snapshot, self.observer), CONTENT_TYPE)


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
        if self._running is None or self._running.done():
            self._running = self._start()
        return await asyncio.wait_for(asyncio.shield(self._running), timeout)

    def _start(self) -> asyncio.Future[T]:
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


# --- connections -----------------------------------------------------------------------------------

#: Serves one accepted connection; calls its third argument once the request has arrived.
ConnectionHandler = Callable[
    [asyncio.StreamReader, asyncio.StreamWriter, Callable[[], None]], Awaitable[None]
]


async def _listen(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on every address `host` names (as `asyncio.start_server` binds them)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, protocol, _, address in dict.fromkeys(infos):
            listener = socket.socket(family, kind, protocol)
            sockets.append(listener)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            listener.bind(address)
            listener.listen(BACKLOG)
            listener.setblocking(False)
    except BaseException:
        for listener in sockets:
            listener.close()
        raise
    return sockets


class RefusalLog:
    """Says that connections are being refused once per interval, with how many, never per connection.

    A flood is many refusals a second; a line (let alone a traceback) for each would fill the log
    and cost the very resources the flood is short of.
    """

    def __init__(self, interval: float = REFUSAL_LOG_INTERVAL_S) -> None:
        self.interval = interval
        self._last: float | None = None
        self._unreported = 0

    def note(self, reason: str) -> None:
        self._unreported += 1
        now = time.monotonic()
        if self._last is not None and now - self._last < self.interval:
            return
        log.warning(
            "the health and metrics endpoint refused %d connection(s) since its last report: %s",
            self._unreported,
            reason,
        )
        self._last, self._unreported = now, 0


class Listener(asyncio.AbstractServer):
    """The endpoint's own accept loop, holding at most `limit` connections open.

    `asyncio.start_server` accepts without bound and logs a traceback for every accept() that fails
    for lack of file descriptors. Here a connection past the limit takes the place of the one idle
    longest (one that has not sent its request yet), so idle connections cannot shut out a client
    that asks at once; failures to accept are noted in a RefusalLog and retried after a pause.
    """

    def __init__(self, sockets: list[socket.socket], handler: ConnectionHandler, limit: int) -> None:
        self._sockets = sockets
        self._handler = handler
        self._limit = limit
        self._open: set[asyncio.Task[None]] = set()
        self._idle: dict[asyncio.Task[None], None] = {}  # insertion order: the longest idle first
        self._unowned: dict[asyncio.Task[None], socket.socket] = {}  # accepted, no transport yet
        self._accepting: list[asyncio.Task[None]] = []
        self._refusals = RefusalLog()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._sockets)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop or asyncio.get_running_loop()

    def is_serving(self) -> bool:
        return any(not task.done() for task in self._accepting)

    async def start_serving(self) -> None:
        if self._accepting:
            return
        self._loop = asyncio.get_running_loop()
        for listener in self._sockets:
            task = self._loop.create_task(self._accept(listener), name="rolewatch-http-accept")
            # Closed once its accept() is withdrawn from the selector, never while still registered.
            task.add_done_callback(functools.partial(_close_listener, listener))
            self._accepting.append(task)

    async def serve_forever(self) -> None:
        await self.start_serving()
        await asyncio.gather(*self._accepting, return_exceptions=True)

    def close(self) -> None:
        """Stop accepting; connections already open finish on their own."""
        if not self._accepting:
            for listener in self._sockets:
                listener.close()
        for task in self._accepting:
            task.cancel()

    async def wait_closed(self) -> None:
        await asyncio.gather(*self._accepting, return_exceptions=True)

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                connection, _ = await loop.sock_accept(listener)
                self._admit(connection)
                for connection in _queued(listener):
                    self._admit(connection)
            except ConnectionAbortedError:  # the client left while queued: nothing to refuse
                continue
            except OSError as error:  # EMFILE and its kin: the connection waits in the backlog
                self._refusals.note(f"cannot accept: {error.strerror or error}")
                await asyncio.sleep(ACCEPT_RETRY_S)

    def _admit(self, connection: socket.socket) -> None:
        connection.setblocking(False)
        if len(self._open) >= self._limit and not self._drop_longest_idle():
            connection.close()
            self._refusals.note(f"{self._limit} connections open, every one busy answering")
            return
        task = self.get_loop().create_task(self._serve(connection), name="rolewatch-http-connection")
        self._open.add(task)
        self._idle[task] = None
        self._unowned[task] = connection
        task.add_done_callback(self._forget)

    def _drop_longest_idle(self) -> bool:
        if not self._idle:
            return False
        oldest = next(iter(self._idle))
        self._forget(oldest)
        oldest.cancel()
        self._refusals.note(f"more than {self._limit} connections open; the longest idle closed")
        return True

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._open.discard(task)
        self._idle.pop(task, None)
        stray = self._unowned.pop(task, None)
        if stray is not None:  # dropped before it ran: no transport will close its socket
            stray.close()

    async def _serve(self, connection: socket.socket) -> None:
        task = asyncio.current_task()
        assert task is not None
        del self._unowned[task]
        try:
            reader, writer = await asyncio.open_connection(sock=connection, limit=MAX_REQUEST_HEAD)
        except BaseException:
            connection.close()
            raise
        await self._handler(reader, writer, lambda: self._idle.pop(task, None))


def _queued(listener: socket.socket) -> Iterator[socket.socket]:
    """The connections already waiting in the backlog, without a round of the event loop for each."""
    for _ in range(ACCEPTS_PER_ROUND):
        try:
            connection, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        yield connection


def _close_listener(listener: socket.socket, _accepting: asyncio.Task[None]) -> None:
    listener.close()


# --- the wire --------------------------------------------------------------------------------------


async def _serve_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    route: Callable[[str, str, bytes], Awaitable[Response]],
    read_timeout: float,
    asked: Callable[[], None] = lambda: None,
) -> None:
    """Answer one request; `asked` is called once it has arrived (the connection is no longer idle)."""
    try:
        method, response = await _answer(reader, route, read_timeout, asked)
        if response is not None:
            writer.write(response.encode(include_body=method != "HEAD"))
            await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT_S)
    except (ConnectionError, TimeoutError):
        pass
    except Exception:
        log.exception("the health and metrics endpoint failed")
    finally:
        writer.close()
        with suppress(ConnectionError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), WRITE_TIMEOUT_S)


async def _answer(
    reader: asyncio.StreamReader,
    route: Callable[[str, str, bytes], Awaitable[Response]],
    read_timeout: float,
    asked: Callable[[], None],
) -> tuple[str, Response | None]:
    """The request's method and its response; no response for a client that left before asking."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), read_timeout)
    except TimeoutError:
        return "", Response.text(408, f"the request did not arrive within {read_timeout:g}s")
    except asyncio.LimitOverrunError:
        return "", Response.text(431, f"the request head is larger than {MAX_REQUEST_HEAD} bytes")
    except asyncio.IncompleteReadError:
        return "", None
    asked()
    request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return "", Response.text(400, "not an HTTP/1.x request")
    method, target = parts[0], parts[1]
    try:
        response = await route(method, target, head)
    except Exception:
        log.exception("%s %s failed", method, target)
        response = Response.text(500, "internal error; see the daemon's log")
    log.debug("%s %s %d", method, target, response.status)
    return method, response


def _addresses(server: Listener) -> str:
    sockets = server.sockets
    return ", ".join(f"http://{_host_port(s.getsockname())}" for s in sockets) or "(no socket)"


def _host_port(address: Any) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
