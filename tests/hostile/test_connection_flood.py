"""A flood of idle connections to the daemon's `/healthz`: few descriptors, one log line, answers.

The server is the daemon's own (`scheduler.http.serve`: uvicorn behind `scheduler.serving`'s accept
loop) on a loop in a thread of this process, and
the flood is 1,100 real TCP connections to it on 127.0.0.1 that never send a request. The process's
descriptor limit is lowered under each test so that a server holding one descriptor per idle
connection would run out, as the attacked daemon did.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine

import scheduler.serving
from rolewatch.resolve import parse_config
from scheduler.http import serve
from scheduler.serving import MAX_CONNECTIONS
from scheduler.state import DaemonState

FLOOD = 1100
CONFIG = parse_config("")


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@contextmanager
def descriptor_limit(headroom: int) -> Iterator[None]:
    """This process may open only `headroom` more files or sockets until the block ends."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_descriptors() + headroom, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextmanager
def healthz_server(engine: Engine, **options: Any) -> Iterator[int]:
    """The daemon's endpoint on an event loop in a thread, as `rolewatch run` serves it; yields the port."""
    state = DaemonState(active=True)
    state.beat(datetime.now(UTC))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="healthz-loop", daemon=True)
    thread.start()
    started = asyncio.run_coroutine_threadsafe(
        serve(state, engine, lambda: CONFIG, "127.0.0.1", 0, **options), loop
    )
    server = started.result(10)
    try:
        yield server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    finally:
        asyncio.run_coroutine_threadsafe(_shut_down(server), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


async def _shut_down(server: asyncio.AbstractServer) -> None:
    server.close()
    await server.wait_closed()
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


def healthz(port: int, timeout: float = 15) -> int:
    """A fresh client's GET /healthz: the status code."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def idle_connection(port: int) -> socket.socket:
    """Connected, and never a byte sent."""
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def close_all(sockets: list[socket.socket]) -> None:
    for client in sockets:
        client.close()
    sockets.clear()


def endpoint_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name in ("scheduler.http", "scheduler.serving", "asyncio") or r.name.startswith("uvicorn")
    ]


def test_idle_connections_neither_exhaust_descriptors_nor_shut_out_a_client(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    flood: list[socket.socket] = []
    # A generous read time-out: idle connections hold their slots, and still nobody is shut out.
    with healthz_server(sqlite_engine, read_timeout=60) as port:
        assert healthz(port) == 200
        before = open_descriptors()
        try:
            with descriptor_limit(FLOOD + 300):
                flood.extend(idle_connection(port) for _ in range(FLOOD))

                assert healthz(port) == 200  # during the flood
                # Our 1,100 client ends, plus at most the server's cap of connections (and slack).
                assert open_descriptors() < before + FLOOD + MAX_CONNECTIONS + 40
        finally:
            close_all(flood)
        assert healthz(port) == 200  # and after it

    records = endpoint_records(caplog)
    assert not [r for r in records if r.exc_info], "a traceback was logged"
    assert len(records) == 1, [r.getMessage() for r in records]
    assert "refused" in records[0].getMessage() and "longest idle" in records[0].getMessage()


def test_running_out_of_descriptors_is_logged_once_without_a_traceback_and_the_endpoint_recovers(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(scheduler.serving, "ACCEPT_RETRY_S", 0.02)  # many failed accepts in little time
    flood: list[socket.socket] = []
    # No connection cap in the way: the server itself must meet EMFILE.
    with healthz_server(sqlite_engine, max_connections=FLOOD) as port:
        assert healthz(port) == 200
        try:
            with descriptor_limit(100):
                with suppress(OSError):  # until this process (server and clients alike) is out of them
                    for _ in range(FLOOD):
                        flood.append(idle_connection(port))
                deadline = time.monotonic() + 10
                while not [r for r in endpoint_records(caplog) if "cannot accept" in r.getMessage()]:
                    assert time.monotonic() < deadline, "the server never met EMFILE"
                    # A connection the server must accept with no descriptor left to do it with.
                    flood.pop().close()
                    with suppress(OSError):
                        flood.append(idle_connection(port))
                    time.sleep(0.05)
                time.sleep(20 * 0.02)  # twenty more failed accepts, which must not be logged again
        finally:
            close_all(flood)
        assert healthz(port) == 200

    records = endpoint_records(caplog)
    assert not [r for r in records if r.exc_info], "a traceback was logged"
    assert len(records) == 1, [r.getMessage() for r in records]
    assert "Too many open files" in records[0].getMessage()
