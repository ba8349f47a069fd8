"""The sample boards on a loopback HTTP server, each round as the scenario has them."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from rolewatch.demo.scenario import BOARDS, SampleBoard, Scenario

ROBOTS_TXT = b"User-agent: *\nAllow: /\n"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


class SampleBoards:
    """A loopback HTTP server answering for the three sample boards, switched from round to round."""

    def __init__(self, scenario: Scenario) -> None:
        self._scenario = scenario
        self._lock = threading.Lock()
        self._content: dict[str, tuple[SampleBoard, list[dict[str, Any]]]] = {}
        self.requests = 0
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="demo boards", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> SampleBoards:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def show(self, number: int) -> None:
        """From now on, serve the boards as they are in round `number`."""
        content = {board.path: (board, self._scenario.board(board, number)) for board in BOARDS}
        with self._lock:
            self._content = content

    def answer(self, target: str) -> tuple[int, bytes, str]:
        """Status, body and content type for a GET of `target` (a path with its query)."""
        parts = urlsplit(target)
        with self._lock:
            self.requests += 1
            found = self._content.get(parts.path)
        if parts.path == "/robots.txt":
            return 200, ROBOTS_TXT, "text/plain; charset=utf-8"
        if found is None:
            return 404, b'{"error": "not found"}', "application/json"
        board, records = found
        payload: Any = records
        if board.paged:
            query = dict(parse_qsl(parts.query))
            skip, limit = int(query.get("skip") or 0), int(query.get("limit") or 100)
            payload = records[skip : skip + limit]
        elif board.wrapper:
            payload = {board.wrapper: records, "meta": {"total": len(records)}}
        return 200, json.dumps(payload, ensure_ascii=False).encode(), "application/json; charset=utf-8"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        boards = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._reply(body=True)

            def do_HEAD(self) -> None:
                self._reply(body=False)

            def _reply(self, *, body: bool) -> None:
                status, content, kind = boards.answer(self.path)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(content)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if body:
                        self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the demo prints what the daemon makes of the boards instead."""

        return Handler
