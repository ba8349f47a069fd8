"""A daemon's HTTP endpoint served on a loopback port for a test: its state, requests, /metrics parsed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from rolewatch.config import Config
from rolewatch.resolve import parse_config
from scheduler.http import serve
from scheduler.state import DaemonState, SourceSchedule

T = TypeVar("T")
SOURCES = """
sources:
  - {name: stripe, type: greenhouse, board: stripe, interval: 30m}
  - {name: palantir, type: lever, site: palantir, interval: 2h}
  - {name: hourly, type: greenhouse, board: hourly, interval: "0 * * * *"}
"""
CONFIG = parse_config(SOURCES)  # misfire_grace 5m


def daemon_state(*, active: bool = True, **late_by: timedelta) -> DaemonState:
    """A live daemon whose sources are due at `now - late_by[name]` (the others in ten minutes)."""
    state = DaemonState(active=active)
    state.beat(datetime.now(UTC))
    for name in ("stripe", "palantir", "hourly"):
        due = datetime.now(UTC) - late_by.get(name, timedelta(minutes=-10))
        state.sources[name] = SourceSchedule(name, next_run_at=due)
    return state


def with_server(
    state: DaemonState,
    engine: Engine,
    talk: Callable[[int], Awaitable[T]],
    *,
    config: Config = CONFIG,
    **options: Any,
) -> T:
    """Run `serve` on an ephemeral port of a fresh loop while `talk(port)` uses it."""

    async def main() -> T:
        server = await serve(state, engine, lambda: config, "127.0.0.1", 0, **options)
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        try:
            return await talk(port)
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(main())


async def request(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 15)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def get(state: DaemonState, engine: Engine, path: str, **options: Any) -> tuple[int, dict[str, Any]]:
    async def talk(port: int) -> tuple[int, bytes]:
        status, _, body = await request(port, path)
        return status, body

    status, body = with_server(state, engine, talk, **options)
    return status, json.loads(body)


def scrape(
    state: DaemonState, engine: Engine, **options: Any
) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """`/metrics` parsed by prometheus_client: sample name → {sorted labels → value}."""

    async def talk(port: int) -> tuple[int, dict[str, str], bytes]:
        return await request(port, "/metrics")

    status, headers, body = with_server(state, engine, talk, **options)
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples
