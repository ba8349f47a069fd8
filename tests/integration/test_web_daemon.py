"""The daemon's endpoint serves the web app beside `/healthz` and `/metrics`: the same pages, feeds and
API over real HTTP on 127.0.0.1, behind the endpoint's own connection cap and request deadline."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.engine import Engine

from rolewatch.config import Config
from rolewatch.web import create_app
from rolewatch.web.security import CONTENT_SECURITY_POLICY
from scheduler.http import serve
from tests.integration.daemon_http import daemon_state, request
from tests.integration.web_checks import audit
from tests.integration.web_seed import Seeded

T = TypeVar("T")


async def _with_daemon_endpoint(engine: Engine, config: Config, talk: Callable[[int], Awaitable[T]]) -> T:
    app = create_app(engine, lambda: config)
    server = await serve(daemon_state(), engine, lambda: config, "127.0.0.1", 0, app=app)
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    try:
        return await talk(port)
    finally:
        server.close()
        await server.wait_closed()


def test_the_daemon_serves_pages_feeds_and_api_beside_healthz_and_metrics(
    engine: Engine, web_seeded: Seeded, web_config: Config
) -> None:
    async def talk(port: int) -> dict[str, tuple[int, dict[str, str], bytes]]:
        paths = ["/", "/events?type=closed", f"/postings/{web_seeded.hostile_id}", "/feeds/events.atom",
                 "/api/events?since=30d", "/healthz", "/metrics", "/nope"]  # fmt: skip
        return {path: await request(port, path) for path in paths}

    answers = asyncio.run(_with_daemon_endpoint(engine, web_config, talk))

    for path in ("/", "/events?type=closed", f"/postings/{web_seeded.hostile_id}"):
        status, headers, body = answers[path]
        assert status == 200 and headers["content-type"].startswith("text/html"), path
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert audit(body.decode()) == [], path
    assert b"Closing Analyst" in answers["/events?type=closed"][2]
    assert answers["/feeds/events.atom"][1]["content-type"].startswith("application/atom+xml")
    assert json.loads(answers["/api/events?since=30d"][2])["data"]
    assert json.loads(answers["/healthz"][2])["status"] == "ok"
    assert answers["/metrics"][1]["content-type"].startswith("text/plain; version=0.0.4")
    assert answers["/nope"][0] == 404 and b"<!doctype html>" in answers["/nope"][2]


def test_conditional_feed_requests_and_methods_through_the_daemon(
    engine: Engine, web_seeded: Seeded, web_config: Config
) -> None:
    async def talk(port: int) -> list[tuple[int, dict[str, str], bytes]]:
        first = await request(port, "/feeds/events.atom")
        etag = first[1]["etag"]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /feeds/events.atom HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n".encode())
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 15)
        writer.close()
        return [first, (int(raw.split()[1]), {}, raw), await request(port, "/", method="POST"),
                await request(port, "/events", method="HEAD")]  # fmt: skip

    first, again, post, head = asyncio.run(_with_daemon_endpoint(engine, web_config, talk))
    assert first[0] == 200 and first[1]["cache-control"] == "no-cache"
    assert again[0] == 304
    assert post[0] == 405 and post[1]["allow"] == "GET, HEAD"
    assert head[0] == 200 and head[2] == b""


def test_healthz_answers_at_once_while_pages_are_read(
    engine: Engine, web_seeded: Seeded, web_config: Config
) -> None:
    async def talk(port: int) -> float:
        readers = [asyncio.create_task(request(port, "/charts")) for _ in range(8)]
        started = time.monotonic()
        status, _, _ = await request(port, "/healthz")
        waited = time.monotonic() - started
        await asyncio.gather(*readers)
        assert status == 200
        return waited

    assert asyncio.run(_with_daemon_endpoint(engine, web_config, talk)) < 2.0
