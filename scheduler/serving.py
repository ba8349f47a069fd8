"""uvicorn serving an ASGI app on the daemon's own event loop, with the endpoint's guarantees kept.

uvicorn parses HTTP/1.1 (h11) and runs the app; three things it does not do are added here:

- A cap on open connections. uvicorn's `limit_concurrency` still accepts every connection (and
  spends a file descriptor on it) before answering 503, and asyncio's accept loop logs a traceback
  for each accept() that fails for lack of descriptors. `Listener` is the accept loop instead: past
  `max_connections` the connection idle longest (no request yet) is closed to make room, so a flood
  of idle connections costs a bounded number of descriptors and never shuts out a client that asks
  at once; a failed accept() waits in the kernel's backlog and is logged once a minute.
- A deadline for the request head (uvicorn waits for a first request forever): 408 past it.
- A deadline for the answer to be taken: a client that stops reading is dropped.

One request per connection (every answer says `Connection: close`), as the hand-written server
this replaced answered. uvicorn's own signal handlers are not installed: the daemon keeps SIGTERM,
SIGINT and SIGHUP.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

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
REASONS = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large"}


@dataclass(frozen=True)
class Limits:
    read_timeout: float = READ_TIMEOUT_S
    write_timeout: float = WRITE_TIMEOUT_S
    max_connections: int = MAX_CONNECTIONS


def refusal(status: int, text: str) -> bytes:
    """A whole answer to a request that never became one (too slow, too large, not HTTP)."""
    body = f"{text}\n".encode()
    head = (
        f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


async def start(app: Any, sockets: list[socket.socket], limits: Limits) -> EndpointServer:
    """Serve `app` on the listening `sockets` from the running loop; close the result to stop."""
    config = uvicorn.Config(
        app,
        http="h11",
        ws="none",
        lifespan="off",
        interface="asgi3",
        log_config=None,
        access_log=False,
        server_header=False,
        date_header=False,
        proxy_headers=False,
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD,
    )
    server = EndpointServer(config, sockets, limits)
    await server.begin()
    return server


# --- the protocol ----------------------------------------------------------------------------------


class _Connection(h11.Connection):
    """h11's connection, remembering why the request could not be read (its status hint says 400 or 431)."""

    last_error: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as error:
            self.last_error = error
            raise


class EndpointProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline for the request head and one for taking the answer."""

    def __init__(self, limits: Limits, forget: Callable[[EndpointProtocol], None], **options: Any) -> None:
        super().__init__(**options)
        self.conn = _Connection(h11.SERVER, MAX_REQUEST_HEAD)
        self.limits = limits
        self.forget = forget
        self.idle_since = time.monotonic()
        self._head: bytearray | None = bytearray()  # the request head so far; None once it is whole
        self._read_deadline: asyncio.TimerHandle | None = None
        self._write_deadline: asyncio.TimerHandle | None = None

    @property
    def idle(self) -> bool:
        """No request yet: what the cap closes first when it needs room."""
        return self.cycle is None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._read_deadline = self.loop.call_later(self.limits.read_timeout, self._request_late)

    def connection_lost(self, exc: Exception | None) -> None:
        for deadline in (self._read_deadline, self._write_deadline):
            if deadline is not None:
                deadline.cancel()
        self.forget(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Bytes in; a request head that grows past MAX_REQUEST_HEAD is answered 431 before h11 parses it
        (h11 bounds only a head still incomplete, and parses a whole one of any size)."""
        if self._head is not None:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if (end == -1 and len(self._head) > MAX_REQUEST_HEAD) or end + 4 > MAX_REQUEST_HEAD:
                self._head = None
                self._refuse(431, f"the request head is larger than {MAX_REQUEST_HEAD} bytes")
                return
            if end != -1:
                self._head = None
        if not self.transport.is_closing():
            super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def send_400_response(self, msg: str) -> None:
        error = self.conn.last_error if isinstance(self.conn, _Connection) else None
        if error is not None and error.error_status_hint == 431:
            self._refuse(431, f"the request head is larger than {MAX_REQUEST_HEAD} bytes")
        else:
            self._refuse(400, f"not an HTTP/1.x request ({error or msg})")

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():  # the answer is written; it must be taken within the deadline
            self._drop_after(self.limits.write_timeout)

    def pause_writing(self) -> None:
        super().pause_writing()
        self._drop_after(self.limits.write_timeout)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None

    def _request_late(self) -> None:
        self._read_deadline = None
        if self.cycle is None and not self.transport.is_closing():
            self._refuse(408, f"the request did not arrive within {self.limits.read_timeout:g}s")

    def _refuse(self, status: int, text: str) -> None:
        self.transport.write(refusal(status, text))
        self.transport.close()
        self._drop_after(self.limits.write_timeout)

    def _drop_after(self, seconds: float) -> None:
        if self._write_deadline is None:
            self._write_deadline = self.loop.call_later(seconds, self.transport.abort)


# --- the server ------------------------------------------------------------------------------------


class EndpointServer(uvicorn.Server, asyncio.AbstractServer):
    """uvicorn's server on a loop that is already running (the daemon's), accepting through `Listener`.

    Also an `asyncio.AbstractServer`, so the daemon keeps it as it kept the server this replaced:
    `close()` stops it, `wait_closed()` waits until its connections are done.
    """

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket], limits: Limits) -> None:
        uvicorn.Server.__init__(self, config)
        self.limits = limits
        self.listener = Listener(sockets, self._protocol, limits.max_connections)
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Nothing: SIGTERM, SIGINT and SIGHUP stay the daemon's own."""
        yield

    async def begin(self) -> None:
        """Start accepting now; uvicorn's housekeeping loop then runs as a task until `close()`."""
        if not self.config.loaded:
            self.config.load()
        self.lifespan = self.config.lifespan_class(self.config)
        await self.startup()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="rolewatch-http")

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        await self.begin()
        await self.wait_closed()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await self.lifespan.startup()
        await self.listener.start_serving()
        self.servers = [self.listener]  # type: ignore[list-item]
        self.started = True

    async def _run(self) -> None:
        await self.main_loop()
        await self.shutdown()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop accepting, close idle connections, give answers in flight the write deadline, then drop."""
        self.listener.close()
        self._shut_connections()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.limits.write_timeout):
                while self.server_state.connections or self.server_state.tasks:
                    await asyncio.sleep(0.05)
        for connection in list(self.server_state.connections):
            if connection.transport is not None:
                connection.transport.abort()
        for task in list(self.server_state.tasks):
            task.cancel()
        await self.listener.wait_closed()
        await self.lifespan.shutdown()

    def _shut_connections(self) -> None:
        """Idle connections closed, busy ones told to close after their answer (uvicorn's `shutdown`)."""
        for connection in list(self.server_state.connections):
            if connection.transport is None or connection.transport.is_closing():
                continue
            with contextlib.suppress(h11.LocalProtocolError):  # h11 already past the point of saying so
                connection.shutdown()

    def _protocol(self) -> EndpointProtocol:
        return EndpointProtocol(
            self.limits,
            self.listener.forget,
            config=self.config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )

    # asyncio.AbstractServer

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return self.listener.sockets

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self.listener.get_loop()

    def is_serving(self) -> bool:
        return self.listener.is_serving()

    async def start_serving(self) -> None:
        if self._task is None:
            await self.begin()

    async def serve_forever(self) -> None:
        await self.serve()

    def close(self) -> None:
        """Stop accepting and close idle connections at once (answers in flight end their connection);
        the rest of the shutdown follows on the loop, for `wait_closed` to wait on."""
        self.should_exit = True
        self.listener.close()
        self._shut_connections()

    async def wait_closed(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)


# --- accepting -------------------------------------------------------------------------------------


async def listen(host: str, port: int) -> list[socket.socket]:
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
            "the daemon's HTTP endpoint refused %d connection(s) since its last report: %s",
            self._unreported,
            reason,
        )
        self._last, self._unreported = now, 0


class Listener(asyncio.AbstractServer):
    """The endpoint's own accept loop, holding at most `limit` connections open.

    Each accepted socket gets an `EndpointProtocol` (uvicorn's, with the deadlines). A connection
    past the limit takes the place of the one idle longest (no request sent yet); failures to accept
    are noted in a RefusalLog and retried after a pause.
    """

    def __init__(
        self, sockets: list[socket.socket], protocol: Callable[[], EndpointProtocol], limit: int
    ) -> None:
        self._sockets = sockets
        self._protocol = protocol
        self._limit = limit
        self._open: dict[EndpointProtocol, None] = {}
        #: Accepted, its transport not made yet: the socket and the task making it.
        self._pending: dict[EndpointProtocol, tuple[socket.socket, asyncio.Task[None]]] = {}
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
        pending = [task for _, task in self._pending.values()]
        await asyncio.gather(*self._accepting, *pending, return_exceptions=True)

    def forget(self, protocol: EndpointProtocol) -> None:
        self._open.pop(protocol, None)

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
        protocol = self._protocol()
        self._open[protocol] = None
        task = self.get_loop().create_task(self._connect(connection, protocol), name="rolewatch-http-connect")
        self._pending[protocol] = (connection, task)

    async def _connect(self, connection: socket.socket, protocol: EndpointProtocol) -> None:
        try:
            await self.get_loop().connect_accepted_socket(lambda: protocol, sock=connection)
        except BaseException as error:
            self.forget(protocol)
            connection.close()
            if not isinstance(error, (OSError, asyncio.CancelledError)):
                raise
        finally:
            self._pending.pop(protocol, None)

    def _drop_longest_idle(self) -> bool:
        idle = [protocol for protocol in self._open if protocol.idle]
        if not idle:
            return False
        oldest = min(idle, key=lambda protocol: protocol.idle_since)
        self.forget(oldest)
        pending = self._pending.pop(oldest, None)
        if pending is not None:  # dropped before its transport was made: nothing else will close it
            connection, task = pending
            task.cancel()
            connection.close()
        else:
            oldest.transport.abort()
        self._refusals.note(f"more than {self._limit} connections open; the longest idle closed")
        return True


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
