"""`engine: procrastinate` as an operator runs it: a real `rolewatch run` and real `rolewatch worker`
processes on one PostgreSQL database, against loopback boards: the events the local engine records, a
worker killed mid-crawl, and SIGTERM letting a running crawl finish.

The processes start through a two-line launcher that shortens the stall detection (a worker is
thought dead after 4 s without a heartbeat rather than 30 s), so a killed worker's job comes back
within seconds.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, Engine

from rolewatch.resolve import parse_config
from storage.database import make_engine, upgrade
from tests.boardserver import BoardRequest, BoardServer, Reply, json_reply
from tests.conftest import PostgresServer
from tests.fixtures.boards import greenhouse_board, greenhouse_job
from tests.integration.cluster_support import crawls, events, eventually
from tests.receivers import Webhook

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

START_TIMEOUT = 180.0  # a loaded 2-core machine takes its time starting crawl processes
LAUNCH = """
import scheduler.cluster.scheduler as scheduling, scheduler.cluster.worker as working
working.HEARTBEAT_S, working.STALLED_AFTER_S = 1.0, 4.0
scheduling.STALLED_AFTER_S, scheduling.HOUSEKEEPING_S = 4.0, 1.0
from rolewatch.cli import cli, main
from rolewatch.cli.worker import worker
cli.add_command(worker)
main()
"""


class Process:
    """One `rolewatch` child process; its stderr is kept line by line for the test to read."""

    def __init__(self, config: Path, *args: str) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("ROLEWATCH_")}
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "--config", str(config), *args],
            cwd=config.parent,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip())

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_for_log(self, text: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None, (
                f"exited ({self.process.returncode}) before {text!r}:\n{self.log}"
            )
            assert time.monotonic() < deadline, f"no {text!r} in the log:\n{self.log}"
            time.sleep(0.05)

    def stop(self, timeout: float = 60.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._reader.join(5)
        if self.process.stderr is not None:
            self.process.stderr.close()


@pytest.fixture
def processes() -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def start(config: Path, *args: str) -> Process:
        started.append(Process(config, *args))
        return started[-1]

    yield start
    for process in started:
        process.kill()


@pytest.fixture
def cluster_db(postgres_server: PostgresServer) -> Iterator[tuple[str, Engine]]:
    url: URL = postgres_server.create_database()
    engine = make_engine(url)
    yield url.render_as_string(hide_password=False), engine
    engine.dispose()
    postgres_server.drop_database(url)


def write_config(
    tmp_path: Path, database: str, sources: list[str], extra: str = "", interval: str = "2s"
) -> Path:
    text = (
        f"database: {database}\n"
        "engine: procrastinate\n"
        "defaults:\n"
        f"  interval: {interval}\n"
        "  jitter: 0%\n"
        "  timeout: 30s\n"
        "  obey_robots: false\n"
        "  politeness: {delay: 0s, autothrottle: false, retries: 0, request_timeout: 20s}\n"
        "daemon: {grace: 15s, deliver_every: 1s}\n"
        "sources:\n" + "".join(f"  - {source}\n" for source in sources) + extra
    )
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "rolewatch.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def outbox(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT status FROM outbox ORDER BY id"))]


def source(name: str, server: BoardServer) -> str:
    return f'{{name: {name}, type: greenhouse, board: {name}, base_url: "{server.url}"}}'


FIRST = {
    "koala": [greenhouse_job(1, "Data Scientist"), greenhouse_job(2, "Analyst")],
    "wombat": [greenhouse_job(7, "Robotics Engineer")],
}
SECOND = {
    "koala": [
        greenhouse_job(1, "Senior Data Scientist"),
        greenhouse_job(2, "Analyst"),
        greenhouse_job(3, "Intern"),
    ],
    "wombat": [],
}


def serve(server: BoardServer, boards: dict[str, list[dict[str, object]]]) -> None:
    for name, jobs in boards.items():
        server.set_json(f"/v1/boards/{name}/jobs", greenhouse_board(jobs))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def page(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return str(response.read().decode())


def health(port: int) -> dict[str, object]:
    def answer() -> dict[str, object] | None:
        try:
            document: dict[str, object] = json.loads(page(port, "/healthz"))
        except OSError:
            return None
        return document

    document = eventually(answer, 30, f"/healthz on port {port}")
    assert document["status"] == "ok", document
    return document


def local_events(tmp_path: Path, server: BoardServer) -> list[tuple[str, str, str, str]]:
    """The same scenario through the local engine's crawl entry point, on SQLite."""
    from scheduler.pipeline import crawl_and_record

    database = f"sqlite:///{tmp_path / 'local.db'}"
    written = write_config(tmp_path / "local", database, [source(n, server) for n in FIRST]).read_text()
    config = parse_config(written.replace("engine: procrastinate", "engine: local"))
    engine = make_engine(database)
    upgrade(engine)
    serve(server, FIRST)
    crawl_and_record(engine, config, config.resolved_sources())
    serve(server, SECOND)
    for _ in range(3):
        crawl_and_record(engine, config, config.resolved_sources())
    try:
        return events(engine)
    finally:
        engine.dispose()


def both_workers_counted(metrics: str) -> str | None:
    """The page, when its queue gauges have been read and count two workers; else None."""
    return metrics if "rolewatch_jobs{" in metrics and "rolewatch_workers 2.0" in metrics else None


def test_run_and_two_workers_record_exactly_the_events_of_the_local_engine(
    tmp_path: Path,
    cluster_db: tuple[str, Engine],
    board_server: BoardServer,
    processes: Callable[..., Process],
) -> None:
    url, engine = cluster_db
    serve(board_server, FIRST)
    config = write_config(tmp_path, url, [source(n, board_server) for n in FIRST])
    ports = [free_port(), free_port()]
    scheduler = processes(config, "run", "--http", f"127.0.0.1:{ports[0]}")
    scheduler.wait_for_log("scheduling 2 sources on the procrastinate engine")
    workers = [processes(config, "worker", "--concurrency", "2", "--http", f"127.0.0.1:{ports[1]}")]
    workers.append(processes(config, "worker", "--concurrency", "2"))
    try:
        eventually(
            lambda: {s for s, v, _ in crawls(engine) if v == "complete"} == set(FIRST),
            START_TIMEOUT,
            "first crawls",
        )
    except AssertionError:
        logs = "\n---\n".join(process.log for process in (scheduler, *workers))
        raise AssertionError(f"no first crawls; the logs:\n{logs}") from None
    assert [health(port)["role"] for port in ports] == ["active", "worker"]
    # The second worker may still be starting when the first has done both crawls: wait for the
    # gauges to show it (read once per heartbeat), each page read once so both checks see one reading.
    metrics = eventually(
        lambda: both_workers_counted(page(ports[1], "/metrics")),
        START_TIMEOUT,
        "queue gauges counting both workers",
    )
    assert 'rolewatch_jobs{queue="crawl",status="todo"}' in metrics and "rolewatch_workers 2.0" in metrics
    scheduled = eventually(
        lambda: "rolewatch_workers 2.0" in page(ports[0], "/metrics") and page(ports[0], "/metrics"),
        30,
        "the scheduler's queue gauges",
    )
    assert 'rolewatch_jobs{queue="deliver",status="todo"}' in scheduled
    serve(board_server, SECOND)
    before = {name: len(crawls(engine, name)) for name in FIRST}
    eventually(
        lambda: all(len(crawls(engine, name)) >= before[name] + 3 for name in FIRST),
        START_TIMEOUT,
        "three re-crawls",
    )
    assert [process.stop() for process in (scheduler, *workers)] == [0, 0, 0]
    assert "failed" not in {verdict for _, verdict, _ in crawls(engine)}  # wombat emptied: suspect
    assert events(engine) == local_events(tmp_path, board_server)
    worked = [
        any("koala: complete" in line or "wombat: complete" in line for line in w.lines) for w in workers
    ]
    assert any(worked), "no worker logged a crawl"


def test_a_worker_killed_mid_crawl_has_its_job_retried_and_nothing_is_recorded_or_alerted_twice(
    tmp_path: Path,
    cluster_db: tuple[str, Engine],
    board_server: BoardServer,
    webhook: Webhook,
    processes: Callable[..., Process],
) -> None:
    url, engine = cluster_db
    asked = threading.Event()
    answers = iter([8.0])

    def first_answer_is_slow(request: BoardRequest) -> Reply:
        asked.set()
        reply = json_reply(greenhouse_board(FIRST["koala"]))
        return Reply(reply.status, reply.body, reply.headers, delay_s=next(answers, 0.0))

    board_server.route("/v1/boards/koala/jobs", first_answer_is_slow)
    alerts = f"subscriptions:\n  - {{name: everything, notify: ['{webhook.url}']}}\n"
    config = write_config(tmp_path, url, [source("koala", board_server)], alerts, interval="1h")
    doomed = processes(config, "worker")
    scheduler = processes(config, "run")
    scheduler.wait_for_log("scheduling 1 sources on the procrastinate engine")
    assert asked.wait(START_TIMEOUT), "the crawl never reached the board"
    doomed.process.kill()  # SIGKILL, mid-crawl
    doomed.process.wait(10)
    survivor = processes(config, "worker")
    scheduler.wait_for_log("was running on a worker that stopped beating; retrying it")
    eventually(lambda: crawls(engine), START_TIMEOUT, "the retried crawl to be recorded")
    webhook.wait_for(1, timeout=START_TIMEOUT)
    eventually(lambda: outbox(engine) == ["sent", "sent"], START_TIMEOUT, "both alerts sent")
    sent = len(webhook.requests)
    time.sleep(3.0)  # room for a duplicate to show up
    assert survivor.stop() == 0 and scheduler.stop() == 0
    assert crawls(engine) == [("koala", "complete", "")]
    assert sorted(kind for _, kind, _, _ in events(engine)) == ["new", "new"]
    assert outbox(engine) == ["sent", "sent"] and len(webhook.requests) == sent, "an alert was sent twice"


def test_sigterm_lets_a_running_crawl_finish_within_the_grace_period(
    tmp_path: Path,
    cluster_db: tuple[str, Engine],
    board_server: BoardServer,
    processes: Callable[..., Process],
) -> None:
    url, engine = cluster_db
    asked = threading.Event()

    def slow(request: BoardRequest) -> Reply:
        asked.set()
        reply = json_reply(greenhouse_board(FIRST["koala"]))
        return Reply(reply.status, reply.body, reply.headers, delay_s=4.0)

    board_server.route("/v1/boards/koala/jobs", slow)
    config = write_config(tmp_path, url, [source("koala", board_server)], interval="1h")
    worker = processes(config, "worker")
    scheduler = processes(config, "run")
    assert asked.wait(START_TIMEOUT), "the crawl never reached the board"
    started = time.monotonic()
    assert worker.stop() == 0
    assert time.monotonic() - started < 15 + 10, "the worker outlived its grace period"
    assert crawls(engine) == [("koala", "complete", "")]
    assert scheduler.stop() == 0


def test_sighup_reloads_the_scheduler_and_the_workers(
    tmp_path: Path,
    cluster_db: tuple[str, Engine],
    board_server: BoardServer,
    processes: Callable[..., Process],
) -> None:
    """koala moves to another host and wombat is added: the scheduler queues wombat, and the worker
    says it reloaded on the signal (not only when wombat's job names a source it does not know) and
    crawls koala on its new host. The in-process tests show a reload alone moves a known source."""
    url, engine = cluster_db
    serve(board_server, {"koala": FIRST["koala"]})
    config = write_config(tmp_path, url, [source("koala", board_server)], interval="2s")
    scheduler = processes(config, "run")
    scheduler.wait_for_log("scheduling 1 sources on the procrastinate engine")  # the database is set up
    worker = processes(config, "worker")
    eventually(lambda: crawls(engine, "koala"), START_TIMEOUT, "koala's first crawl")
    with BoardServer("127.0.0.2") as moved:
        serve(moved, FIRST)
        write_config(tmp_path, url, [source("koala", moved), source("wombat", moved)], interval="2s")
        for process in (scheduler, worker):
            process.process.send_signal(signal.SIGHUP)
        scheduler.wait_for_log("configuration applied: 2 sources (1 added, 0 removed)", 60)
        worker.wait_for_log("configuration reloaded: 2 sources", 60)
        eventually(lambda: crawls(engine, "wombat"), START_TIMEOUT, "wombat's first crawl")
        eventually(
            lambda: any(r.path == "/v1/boards/koala/jobs" for r in moved.requests),
            START_TIMEOUT,
            "koala crawled on its new host",
        )
        assert scheduler.stop() == 0 and worker.stop() == 0
    assert "failed" not in {verdict for _, verdict, _ in crawls(engine)}
