"""A real HTTP server on 127.0.0.1 that plays job boards for the crawler tests, and logs what it was asked."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class BoardRequest:
    """One request as the server saw it; header names are lower-cased."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default_factory=time.monotonic)
    answered_at: float | None = None
    status: int | None = None


@dataclass(frozen=True)
class Reply:
    """What to answer: status, body, headers, and how long to wait before answering.

    A cut-off transfer: `close_delimited` sends no Content-Length (the body ends when the server
    closes the connection, so a cut body looks whole to HTTP); `declared_length` declares more
    bytes than the body has, then closes.
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    close_delimited: bool = False
    declared_length: int | None = None


Handler = Callable[[BoardRequest], Reply]

NOT_FOUND = Reply(404, b"<html><body><h1>404 Not Found</h1></body></html>", {"Content-Type": "text/html"})


def json_reply(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
    body = json.dumps(payload).encode("utf-8")
    return Reply(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


class _Validated:
    """Serves one body with an ETag and Last-Modified, answering matching conditional requests with 304."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.etag = '"' + hashlib.sha256(reply.body).hexdigest()[:20] + '"'
        self.modified_at = time.time()
        self.last_modified = formatdate(self.modified_at, usegmt=True)

    def __call__(self, request: BoardRequest) -> Reply:
        validators = {"ETag": self.etag, "Last-Modified": self.last_modified}
        if self._not_modified(request):
            return Reply(304, b"", validators)
        return Reply(self.reply.status, self.reply.body, {**self.reply.headers, **validators})

    def _not_modified(self, request: BoardRequest) -> bool:
        if "if-none-match" in request.headers:
            return self.etag in [tag.strip() for tag in request.headers["if-none-match"].split(",")]
        since = request.headers.get("if-modified-since")
        if since:
            try:
                return parsedate_to_datetime(since).timestamp() >= int(self.modified_at)
            except (TypeError, ValueError):
                return False
        return False


class _Server(ThreadingHTTPServer):
    """Room for a whole crawl batch connecting at once (the default backlog of 5 refuses some)."""

    request_queue_size = 128
    daemon_threads = True


class BoardServer:
    """Routes by path (query ignored); tests change the answers between crawls and read `requests`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._routes: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.requests: list[BoardRequest] = []
        # Another loopback address (127.0.0.2: Linux routes all of 127/8 to lo) plays an internal host.
        self._httpd = _Server((host, 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="board-server", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> BoardServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> BoardServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- configuring answers -------------------------------------------------------------------

    def route(self, path: str, handler: Handler) -> None:
        with self._lock:
            self._routes[path] = handler

    def set_json(
        self, path: str, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        """Serve `payload` as JSON with an ETag (a hash of the body) and a Last-Modified."""
        self.route(path, _Validated(json_reply(payload, status, headers)))

    def set_raw(
        self,
        path: str,
        body: bytes,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        delay_s: float = 0.0,
    ) -> None:
        self.route(path, _constant(Reply(status, body, dict(headers or {}), delay_s)))

    def fail(self, path: str, status: int, times: int = 1, headers: Mapping[str, str] | None = None) -> None:
        """Answer `status` to the next `times` requests for `path`, then answer as before."""
        after = self._routes.get(path, _constant(NOT_FOUND))
        failure = Reply(status, f"error {status}".encode(), {"Content-Type": "text/plain", **(headers or {})})
        remaining = [times]

        def handler(request: BoardRequest) -> Reply:
            with self._lock:
                failing = remaining[0] > 0
                remaining[0] -= 1 if failing else 0
            return failure if failing else after(request)

        self.route(path, handler)

    def hang(self, path: str, seconds: float) -> None:
        """Wait `seconds` before answering `path` as before (the server closing ends the wait)."""
        after = self._routes.get(path, _constant(NOT_FOUND))

        def handler(request: BoardRequest) -> Reply:
            self._closing.wait(seconds)
            return after(request)

        self.route(path, handler)

    def set_robots(self, text: str) -> None:
        self.set_raw("/robots.txt", text.encode(), headers={"Content-Type": "text/plain"})

    # --- reading the log -----------------------------------------------------------------------

    def requests_to(self, path: str) -> list[BoardRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- serving -------------------------------------------------------------------------------

    def _answer(self, request: BoardRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            handler = self._routes.get(request.path)
        return handler(request) if handler else NOT_FOUND

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def do_HEAD(self) -> None:
                self._serve()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests read `requests` instead."""

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = BoardRequest(
                    method=self.command,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                reply = server._answer(request)
                if reply.delay_s:
                    server._closing.wait(reply.delay_s)
                # Recorded before the reply goes out: the crawler may read it, finish and hand its
                # result to a test asking what was answered before this thread runs again.
                request.answered_at = time.monotonic()
                request.status = reply.status
                # The crawler may have given up on this request: that is what some tests want.
                with suppress(BrokenPipeError, ConnectionResetError):
                    self._send(reply)

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.status != 304 and not reply.close_delimited:
                    length = len(reply.body) if reply.declared_length is None else reply.declared_length
                    self.send_header("Content-Length", str(length))
                # This server answers one request per connection; saying so keeps a client from
                # reusing a closed connection (a resent GET is harmless, a lost POST is not).
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD" and reply.status != 304:
                    self.wfile.write(reply.body)

        return _Handler


def _constant(reply: Reply) -> Handler:
    return lambda _request: reply


@contextmanager
def board_server() -> Iterator[BoardServer]:
    with BoardServer() as server:
        yield server
