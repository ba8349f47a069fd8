"""Calling an ASGI app in-process for one parsed HTTP/1.x request: how the daemon's endpoint
(`scheduler.http`), which keeps its connection cap, its request-head deadline and its own `/healthz`
and `/metrics`, serves the web dashboard (handed to the daemon by the command line) on every other path.

One request per connection, no request body (the app is read-only), the answer collected whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from starlette.types import ASGIApp, Message

#: Response headers the calling server writes itself (it always closes the connection after one answer).
OWN_HEADERS = frozenset({b"content-length", b"content-type", b"connection", b"transfer-encoding"})


@dataclass(frozen=True)
class AppAnswer:
    status: int
    content_type: str
    headers: dict[str, str]
    body: bytes


def request_headers(head: bytes) -> list[tuple[bytes, bytes]]:
    """The header lines of a raw request head, names lower-cased as ASGI wants them."""
    headers = []
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip():
            headers.append((name.strip().lower(), value.strip()))
    return headers


async def call_app(
    app: ASGIApp,
    method: str,
    target: str,
    headers: Sequence[tuple[bytes, bytes]],
    server: tuple[str, int] | None = None,
) -> AppAnswer:
    """One GET or HEAD to `app`; its answer, body and all."""
    parts = urlsplit(target)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(parts.path) or "/",
        "raw_path": (parts.path or "/").encode("latin-1"),
        "query_string": parts.query.encode("latin-1"),
        "root_path": "",
        "headers": list(headers),
        "client": None,
        "server": server,
        "state": {},
    }
    started: Message = {}
    chunks: list[bytes] = []
    sent_request = False

    async def receive() -> Message:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body" and method != "HEAD":
            chunks.append(bytes(message.get("body", b"")))

    await app(scope, receive, send)
    raw = [(bytes(name).lower(), bytes(value)) for name, value in started.get("headers", [])]
    content_type = next(
        (v.decode("latin-1") for n, v in raw if n == b"content-type"), "application/octet-stream"
    )
    kept = {n.decode("latin-1"): v.decode("latin-1") for n, v in raw if n not in OWN_HEADERS}
    return AppAnswer(int(started.get("status", 500)), content_type, kept, b"".join(chunks))
