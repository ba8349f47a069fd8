"""`/healthz` and `/metrics` over real HTTP on 127.0.0.1, against a real database on each backend."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert
from sqlalchemy.engine import Engine

from rolewatch.resolve import parse_config
from scheduler.http import overdue_sources, serve
from scheduler.metrics import CrawlObserver
from scheduler.state import SourceSchedule
from storage.models import CrawlRow, EventRow, OutboxRow, PostingRow, SourceRow
from tests.dockerfile import healthcheck_command
from tests.integration.daemon_http import CONFIG, SOURCES, daemon_state, get, request, scrape, with_server

NOW = datetime.now(UTC)


@pytest.fixture(params=["postgresql", "sqlite"])
def unreachable_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A PostgreSQL server on a closed port, or an SQLite file in a directory that is gone."""
    if request.param == "postgresql":
        url = f"postgresql+psycopg://rolewatch:s3cret-pw@127.0.0.1:{closed_port()}/rolewatch"
    else:
        url = f"sqlite:///{tmp_path / 'removed' / 'rolewatch.db'}"
    engine = create_engine(url)
    yield engine
    engine.dispose()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- /healthz --------------------------------------------------------------------------------------


def test_a_live_scheduler_with_its_database_is_healthy(engine: Engine) -> None:
    status, health = get(daemon_state(), engine, "/healthz")

    assert status == 200
    assert health["status"] == "ok"
    assert health["role"] == "active"
    assert health["scheduler"]["alive"] is True
    assert health["scheduler"]["active"] is True
    assert health["scheduler"]["heartbeat_at"].endswith("Z")
    assert health["database"] == {"reachable": True}
    assert health["overdue"] == []


def test_a_stale_heartbeat_is_unhealthy(engine: Engine) -> None:
    state = daemon_state()
    state.beat(datetime.now(UTC) - timedelta(minutes=5))

    status, health = get(state, engine, "/healthz")

    assert status == 503
    assert health["status"] == "unhealthy"
    assert health["scheduler"]["alive"] is False
    assert health["database"]["reachable"] is True


def test_a_stopping_daemon_is_unhealthy(engine: Engine) -> None:
    state = daemon_state()
    state.stopping = True
    assert get(state, engine, "/healthz")[0] == 503


def test_an_overdue_source_is_unhealthy_and_named(engine: Engine) -> None:
    # stripe runs every 30m: 31 minutes late is a lost run; palantir (every 2h) 31 minutes late is not yet.
    state = daemon_state(stripe=timedelta(minutes=31), palantir=timedelta(minutes=31))

    status, health = get(state, engine, "/healthz")

    assert status == 503
    assert health["overdue"] == ["stripe"]
    assert health["scheduler"]["alive"] is True


def test_a_late_source_that_is_running_is_not_overdue(engine: Engine) -> None:
    state = daemon_state(stripe=timedelta(hours=3))
    state.sources["stripe"].running = True
    assert get(state, engine, "/healthz")[0] == 200


def test_the_overdue_grace_is_the_larger_of_misfire_grace_and_one_interval() -> None:
    now = datetime.now(UTC)
    slow_grace = parse_config("daemon: {misfire_grace: 45m}" + SOURCES)
    late = {"stripe": timedelta(minutes=40), "palantir": timedelta(minutes=40)}

    assert overdue_sources(daemon_state(**late), CONFIG, now) == ["stripe"]
    assert overdue_sources(daemon_state(**late), slow_grace, now) == []
    # A cron schedule's interval is the gap between its runs: 50 minutes late for an hourly one is fine.
    assert overdue_sources(daemon_state(hourly=timedelta(minutes=50)), CONFIG, now) == []
    assert overdue_sources(daemon_state(hourly=timedelta(minutes=65)), CONFIG, now) == ["hourly"]


def test_a_source_dropped_from_the_configuration_uses_the_misfire_grace() -> None:
    now = datetime.now(UTC)
    state = daemon_state()
    state.sources["gone"] = SourceSchedule("gone", next_run_at=now - timedelta(minutes=6))
    assert overdue_sources(state, CONFIG, now) == ["gone"]


def test_a_standby_with_its_database_is_healthy_whatever_its_schedule_says(engine: Engine) -> None:
    state = daemon_state(active=False, stripe=timedelta(hours=3))

    status, health = get(state, engine, "/healthz")

    assert status == 200
    assert health["status"] == "ok"
    assert health["role"] == "standby"
    assert health["scheduler"]["active"] is False
    assert health["overdue"] == []


def test_an_unreachable_database_is_unhealthy_and_says_why(unreachable_engine: Engine) -> None:
    status, health = get(daemon_state(), unreachable_engine, "/healthz")

    assert status == 503
    assert health["status"] == "unhealthy"
    assert health["database"]["reachable"] is False
    assert health["database"]["error"]
    assert "s3cret-pw" not in json.dumps(health)


def test_a_stuck_database_turns_into_an_unhealthy_answer_not_a_hung_endpoint() -> None:
    """A server that accepts connections and never answers: the driver waits, the endpoint does not."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        engine = create_engine(f"postgresql+psycopg://rolewatch@127.0.0.1:{port}/rolewatch")

        async def talk(port: int) -> list[tuple[int, float]]:
            answers = []
            for _ in range(2):  # the second request shares the stuck call instead of starting another
                started = time.monotonic()
                status, _, body = await request(port, "/healthz")
                assert json.loads(body)["database"]["error"] == "no answer within 0.5s"
                answers.append((status, time.monotonic() - started))
            return answers

        threads_before = threading.active_count()
        answers = with_server(daemon_state(), engine, talk, database_timeout=0.5)
        assert [status for status, _ in answers] == [503, 503]
        assert all(seconds < 3 for _, seconds in answers)
        assert threading.active_count() <= threads_before + 1
    engine.dispose()


# --- /metrics --------------------------------------------------------------------------------------


def insert_activity(engine: Engine) -> None:
    """Two sources, three crawls, four postings (three open), five events and four outbox rows."""
    at = {"started_at": NOW, "finished_at": NOW}
    with engine.begin() as connection:
        connection.execute(
            insert(SourceRow),
            [
                {"id": i, "name": name, "type": "greenhouse", "config": {}, "created_at": NOW}
                | {"updated_at": NOW, "suspect_streak": 0, "validators": {}, "trouble_streak": 0}
                | {"trouble_reported": False}
                for i, name in ((1, "stripe"), (2, "palantir"), (3, "idle"))
            ],
        )
        crawl = {"reason": "", "note": "", "unchanged": False, "requests": 1, "responses": 1, "bytes": 10}
        crawl |= {"pages": 1, "items": 2, "retries": 0, "not_modified": 0, "duration_s": 1.5, "errors": []}
        crawl |= {"new_events": 0, "changed_events": 0, "closed_events": 0, "reopened_events": 0}
        connection.execute(
            insert(CrawlRow),
            [
                crawl | at | {"id": i, "source_id": source, "identity": f"crawl-{i}", "verdict": verdict}
                for i, source, verdict in ((1, 1, "complete"), (2, 1, "failed"), (3, 2, "complete"))
            ],
        )
        posting = {"episode": 1, "fingerprint": "f", "role_key": "r", "title": "Data Scientist Intern"}
        posting |= {"locations": [], "description_text": "", "description_html": "", "extra": {}}
        posting |= {
            "significant": {},
            "misses": 0,
            "first_seen_at": NOW,
            "last_seen_at": NOW,
            "updated_at": NOW,
        }
        connection.execute(
            insert(PostingRow),
            [
                posting | {"id": i, "source_id": source, "external_id": str(i), "status": status}
                for i, source, status in ((1, 1, "open"), (2, 1, "open"), (3, 1, "closed"), (4, 2, "open"))
            ],
        )
        event = {"at": NOW, "episode": 1, "title": "Data Scientist Intern", "changes": {}, "crawl_id": 1}
        connection.execute(
            insert(EventRow),
            [
                event | {"id": i, "type": kind, "source_id": 1, "posting_id": posting_id}
                for i, kind, posting_id in ((1, "new", 1), (2, "new", 2), (3, "new", 3), (4, "closed", 3))
            ]
            + [event | {"id": 5, "type": "changed", "source_id": 2, "posting_id": 4, "crawl_id": 3}],
        )
        outbox = {"recipient": "ds-interns", "channel_key": "k", "channel": "json://localhost/hook"}
        outbox |= {"digest": False, "payload": {}, "created_at": NOW, "due_at": NOW, "attempts": 0}
        outbox |= {"last_error": ""}
        connection.execute(
            insert(OutboxRow),
            [
                outbox | {"id": i, "dedupe_key": f"d{i}", "event_id": i, "status": status}
                for i, status in ((1, "pending"), (2, "pending"), (3, "sent"), (4, "dead"))
            ],
        )


def test_metrics_carry_the_database_figures_and_the_crawls_observed(engine: Engine) -> None:
    insert_activity(engine)
    observer = CrawlObserver()
    observer.observe_crawl("stripe", "complete", 3.0)
    observer.observe_crawl("stripe", "failed", 45.0)
    observer.observe_crawl("palantir", "complete", 0.4)

    samples = scrape(daemon_state(stripe=timedelta(hours=1)), engine, observer=observer)

    assert samples["rolewatch_open_postings"] == {
        (("source", "idle"),): 0,
        (("source", "palantir"),): 1,
        (("source", "stripe"),): 2,
    }
    assert samples["rolewatch_events_total"] == {
        (("type", "changed"),): 1,
        (("type", "closed"),): 1,
        (("type", "new"),): 3,
        (("type", "reopened"),): 0,
    }
    assert samples["rolewatch_deliveries"] == {
        (("status", "cancelled"),): 0,
        (("status", "dead"),): 1,
        (("status", "pending"),): 2,
        (("status", "sent"),): 1,
    }
    assert samples["rolewatch_outbox_depth"] == {(): 2}
    assert samples["rolewatch_crawls_total"][(("source", "stripe"), ("verdict", "failed"))] == 1
    assert samples["rolewatch_crawls_total"][(("source", "stripe"), ("verdict", "partial"))] == 0
    assert samples["rolewatch_crawl_duration_seconds_count"] == {
        (("source", "palantir"),): 1,
        (("source", "stripe"),): 2,
    }
    assert samples["rolewatch_crawl_duration_seconds_bucket"][(("le", "5.0"), ("source", "stripe"))] == 1
    assert samples["rolewatch_crawl_duration_seconds_sum"][(("source", "stripe"),)] == 48.0
    assert samples["rolewatch_overdue_sources"] == {(): 1}
    assert samples["rolewatch_scheduler_up"] == {(): 1}
    assert samples["rolewatch_scheduler_active"] == {(): 1}
    assert samples["rolewatch_database_up"] == {(): 1}
    assert samples["rolewatch_build_info"] == {(("version", "0.1.0"),): 1}


def test_metrics_of_an_empty_database_and_a_standby(engine: Engine) -> None:
    samples = scrape(daemon_state(active=False), engine)

    assert samples["rolewatch_scheduler_active"] == {(): 0}
    assert samples["rolewatch_outbox_depth"] == {(): 0}
    assert samples["rolewatch_events_total"][(("type", "new"),)] == 0
    assert "rolewatch_crawls_total" not in samples


def test_metrics_still_answer_when_the_database_does_not(unreachable_engine: Engine) -> None:
    samples = scrape(daemon_state(), unreachable_engine)

    assert samples["rolewatch_database_up"] == {(): 0}
    assert samples["rolewatch_scheduler_up"] == {(): 1}
    assert "rolewatch_open_postings" not in samples


# --- the HTTP side ---------------------------------------------------------------------------------


def test_unknown_paths_are_404_and_other_methods_405(engine: Engine) -> None:
    async def talk(port: int) -> list[tuple[int, dict[str, str], bytes]]:
        return [
            await request(port, "/"),
            await request(port, "/healthz/extra"),
            await request(port, "/healthz", method="POST"),
            await request(port, "/metrics", method="DELETE"),
            await request(port, "/healthz?verbose=1", method="HEAD"),
        ]

    root, extra, post, delete, head = with_server(daemon_state(), engine, talk)

    assert (root[0], extra[0], post[0], delete[0]) == (404, 404, 405, 405)
    assert post[1]["allow"] == "GET, HEAD"
    assert head[0] == 200
    assert head[2] == b""
    assert int(head[1]["content-length"]) > 0


def test_a_slow_client_does_not_block_others_and_is_dropped(engine: Engine) -> None:
    async def talk(port: int) -> tuple[float, int, bytes]:
        slow_reader, slow_writer = await asyncio.open_connection("127.0.0.1", port)
        slow_writer.write(b"GET /hea")  # and never the rest
        await slow_writer.drain()
        started = time.monotonic()
        status, _, _ = await request(port, "/healthz")
        others_waited = time.monotonic() - started
        dropped = await asyncio.wait_for(slow_reader.read(), 5)
        slow_writer.close()
        return others_waited, status, dropped

    others_waited, status, dropped = with_server(daemon_state(), engine, talk, read_timeout=0.5)

    assert status == 200
    assert others_waited < 0.5
    assert dropped.startswith(b"HTTP/1.1 408 ")


def test_an_oversized_request_is_refused(engine: Engine) -> None:
    async def talk(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nX-Padding: " + b"a" * 20_000 + b"\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return answer

    assert with_server(daemon_state(), engine, talk).startswith(b"HTTP/1.1 431 ")


def test_garbage_is_a_bad_request(engine: Engine) -> None:
    async def talk(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello there\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return answer

    assert with_server(daemon_state(), engine, talk).startswith(b"HTTP/1.1 400 ")


# --- the image's HEALTHCHECK -----------------------------------------------------------------------


@pytest.mark.parametrize(("healthy", "exit_ok"), [(True, True), (False, False)])
def test_the_image_healthcheck_follows_healthz(sqlite_engine: Engine, healthy: bool, exit_ok: bool) -> None:
    """The Dockerfile's HEALTHCHECK command, run as written (its port swapped for the test server's)."""
    state = daemon_state()
    if not healthy:
        state.beat(datetime.now(UTC) - timedelta(hours=1))
    command = healthcheck_command()
    assert command[0] == "python"

    async def talk(port: int) -> int:
        argv = [sys.executable, *(part.replace(":8787/", f":{port}/") for part in command[1:])]
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return await asyncio.wait_for(process.wait(), 30)

    returncode = with_server(state, sqlite_engine, talk)
    assert (returncode == 0) is exit_ok


def test_answers_keep_their_headers_and_close_the_connection(engine: Engine) -> None:
    """Served by uvicorn, the endpoints answer as the hand-written server did: the same headers (no
    Server or Date added), one request per connection, and a request without Host refused."""

    async def talk(port: int) -> tuple[list[tuple[int, dict[str, str], bytes]], bytes]:
        answers = [
            await request(port, "/healthz"),
            await request(port, "/metrics"),
            await request(port, "/x"),
        ]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\n\r\n")
        await writer.drain()
        no_host = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return answers, no_host

    (healthz, metrics, missing), no_host = with_server(daemon_state(), engine, talk)

    assert healthz[1] == {
        "content-type": "application/json",
        "content-length": str(len(healthz[2])),
        "cache-control": "no-store",
        "connection": "close",
    }
    assert metrics[1]["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert set(metrics[1]) == {"content-type", "content-length", "cache-control", "connection"}
    assert (missing[0], missing[2]) == (404, b"not found; try /healthz or /metrics\n")
    assert no_host.startswith(b"HTTP/1.1 400 ") and b"Host" in no_host


def test_a_client_that_does_not_take_its_answer_is_dropped(sqlite_engine: Engine) -> None:
    """A page far larger than the socket buffers, asked for and never read: the server gives up on it
    after the write deadline instead of holding the connection (and its slot under the cap) forever."""
    size = 32 * 1024 * 1024

    async def big(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % size)]}
        )
        await send({"type": "http.response.body", "body": b"x" * size})

    async def talk(port: int) -> tuple[int, float, int]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        began = time.monotonic()
        await asyncio.sleep(1.5)  # not reading: the server's writes stall, then its deadline passes
        received = 0
        with suppress(ConnectionError):
            while chunk := await asyncio.wait_for(reader.read(1 << 20), 10):
                received += len(chunk)
        writer.close()
        status, _, _ = await request(port, "/healthz")
        return received, time.monotonic() - began, status

    received, took, status = with_server(daemon_state(), sqlite_engine, talk, app=big, write_timeout=0.5)
    assert received < size, "the whole answer arrived: the server never gave up"
    assert took < 10
    assert status == 200


def test_closing_the_server_closes_idle_connections_at_once(sqlite_engine: Engine) -> None:
    """The daemon stopping: an idle client is let go at once, not after the request deadline."""

    async def main() -> tuple[bytes, float]:
        server = await serve(daemon_state(), sqlite_engine, lambda: CONFIG, "127.0.0.1", 0, read_timeout=30)
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.2)
        began = time.monotonic()
        server.close()
        await server.wait_closed()
        left = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return left, time.monotonic() - began

    left, took = asyncio.run(main())
    assert left == b""
    assert took < 2
