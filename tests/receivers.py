"""Real notification receivers on 127.0.0.1 for delivery tests: an SMTP server and a JSON webhook.

Fixtures `smtp_server` and `webhook`; apprise sends to them through their `.url`.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import pytest
from aiosmtpd.controller import Controller

T = TypeVar("T")

MAIL_FROM = "rolewatch@example.org"
MAIL_TO = "me@example.org"
HANG_LIMIT_S = 30.0


def _wait_for(items: list[T], n: int, timeout: float, what: str) -> list[T]:
    deadline = time.monotonic() + timeout
    while len(items) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {n} {what} within {timeout}s, got {len(items)}")
        time.sleep(0.01)
    return list(items)


# =================================================================================================
# SMTP
# =================================================================================================


class _Sink:
    """aiosmtpd handler that keeps every message it is handed, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        raw = envelope.original_content or envelope.content
        self.messages.append(email.message_from_bytes(raw, policy=email.policy.default))
        return "250 OK"


class _EphemeralController(Controller):
    """A Controller on port 0: the port the OS picked is read back before aiosmtpd connects to it."""

    def _trigger_server(self) -> None:
        server: Any = self.server
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@dataclass
class SmtpServer:
    """A plain (no TLS, no AUTH) SMTP server; `url` is the apprise URL that delivers to it."""

    controller: Any
    sink: _Sink
    closed: bool = False

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from={MAIL_FROM}&to={MAIL_TO}"

    @property
    def messages(self) -> list[EmailMessage]:
        return self.sink.messages

    def wait_for(self, n: int = 1, timeout: float = 5.0) -> list[EmailMessage]:
        return _wait_for(self.sink.messages, n, timeout, "e-mails")

    def close(self) -> None:
        """Stop listening: a send now meets a refused connection."""
        if not self.closed:
            self.closed = True
            self.controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    sink = _Sink()
    controller = _EphemeralController(sink, hostname="127.0.0.1", port=0)
    controller.start()
    server = SmtpServer(controller, sink)
    try:
        yield server
    finally:
        server.close()


# =================================================================================================
# JSON webhook
# =================================================================================================


@dataclass
class WebhookRequest:
    """One request as the webhook saw it; header names are lower-cased, `json` is the parsed body."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")


class _WebhookHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Webhook


class _WebhookHandler(BaseHTTPRequestHandler):
    server: _WebhookHTTPServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        receiver = self.server.receiver
        request = WebhookRequest("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        receiver.requests.append(request)
        if receiver.hanging:
            receiver.released.wait(HANG_LIMIT_S)
            return
        if receiver.delay_s:
            receiver.released.wait(receiver.delay_s)
        self.send_response(receiver.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests look at `requests`, not at a log."""


class Webhook:
    """A JSON webhook on 127.0.0.1 that records requests and answers as told: a status, slowly, a
    hang (no answer until the test ends), or a closed port (connection refused)."""

    def __init__(self) -> None:
        self.requests: list[WebhookRequest] = []
        self.status = 200
        self.hanging = False
        self.delay_s = 0.0
        self.released = threading.Event()
        self._server = _WebhookHTTPServer(("127.0.0.1", 0), _WebhookHandler)
        self._server.receiver = self
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="webhook", daemon=True
        )
        self._thread.start()
        self._closed = False

    @property
    def url(self) -> str:
        """The apprise URL that posts JSON here."""
        return f"json://127.0.0.1:{self.port}/hooks/rolewatch"

    def respond_with(self, status: int) -> None:
        self.status = status

    def slow(self, seconds: float) -> None:
        """Answer each request as told, but only after `seconds`: a slow but working service."""
        self.delay_s = seconds

    def hang(self) -> None:
        """Read each request and never answer it (until the fixture ends)."""
        self.hanging = True

    def close(self) -> None:
        """Stop listening: a send now meets a refused connection."""
        if self._closed:
            return
        self._closed = True
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    refuse = close

    def wait_for(self, n: int = 1, timeout: float = 5.0) -> list[WebhookRequest]:
        return _wait_for(self.requests, n, timeout, "webhook requests")


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    receiver = Webhook()
    try:
        yield receiver
    finally:
        receiver.close()
