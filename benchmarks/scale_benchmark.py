"""Scaling out on procrastinate: N boards over 4 loopback hosts (127.0.0.1-4), each answering after a fixed
latency, crawled by 1, 2 and 4 `rolewatch worker` processes (one job at a time each).

For each worker count, on a database of its own with the workers started and warm:
- a backlog of every board, queued at once: crawls per minute (first crawl start to last crawl end),
  and the scaling factor against the first worker count;
- the most requests one host had in flight at once (politeness: never above `concurrency_per_host`);
- PostgreSQL's own time per crawl over the backlog (`active_time` of the database in
  `pg_stat_database`: queue, ledger and recording together, every backend; on a loaded machine it
  includes waiting for a CPU), its commits and rows written per crawl, and the CPU the workers and
  their crawl processes used per crawl;
- jobs arriving at half the measured rate for 30 s: queue latency, from the moment a job is due
  (deferred) to its crawl's start, p50/p95, matched job → crawl through the job ledger.
Then the time one recorded crawl takes in PostgreSQL from the client's side (`record_crawl` with the
ledger row, median of 300, loopback). Needs the PostgreSQL server of the tests
(ROLEWATCH_TEST_PG_URL or postgres@127.0.0.1:5432). Worker logs go to a temporary folder, named on
failure.

    python benchmarks/scale_benchmark.py [--boards 1000] [--workers 1,2,4] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # type: ignore[import-untyped]
from procrastinate import App
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import URL, Engine

from rolewatch.config import Config
from rolewatch.domain import CrawlResult, CrawlVerdict
from rolewatch.resolve import parse_config
from scheduler.cluster.app import cluster_app, crawl_deferrer, crawl_lock
from storage.cluster import crawl_jobs, note_job_crawl
from storage.database import database_url, make_engine, upgrade
from storage.models import CrawlRow
from storage.recording import record_crawl
from tests.boardserver import BoardServer
from tests.fixtures.boards import greenhouse_board, greenhouse_job
from tests.integration.storage_factory import posting

T = TypeVar("T")
HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")
PACED_S = 30.0


@dataclass
class Round:
    workers: int
    per_minute: float
    pg_ms_per_crawl: float
    commits_per_crawl: float
    rows_per_crawl: float
    cpu_ms_per_crawl: float
    most_in_flight: int
    latencies: list[float]


def admin_engine() -> Engine:
    url = database_url(
        os.environ.get("ROLEWATCH_TEST_PG_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    return create_engine(url, isolation_level="AUTOCOMMIT")


def fresh_database(admin: Engine) -> URL:
    name = f"rolewatch_bench_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return admin.url.set(database=name)


def drop_database(admin: Engine, url: URL) -> None:
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))


def write_config(folder: Path, url: URL, servers: list[BoardServer], boards: int, per_host: int) -> Path:
    sources = "".join(
        f'  - {{name: b{i}, type: greenhouse, board: b{i}, base_url: "{servers[i % len(servers)].url}"}}\n'
        for i in range(boards)
    )
    path = folder / "rolewatch.yaml"
    path.write_text(
        f"database: {url.render_as_string(hide_password=False)}\nengine: procrastinate\n"
        "defaults: {interval: 1d, jitter: 0%, obey_robots: false,\n"
        f"  politeness: {{delay: 0s, concurrency_per_host: {per_host}, autothrottle: false, retries: 0}}}}\n"
        f"sources:\n{sources}",
        encoding="utf-8",
    )
    return path


class Deferrer:
    """One open procrastinate app in a thread of its own: defers crawl jobs as the scheduler does."""

    def __init__(self, config: Config, engine: Engine) -> None:
        self._config = config
        self._engine = engine
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._app: App = cluster_app(config.database)
        self._call(self._open())

    async def _open(self) -> None:
        await self._app.open_async()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def defer(self, name: str) -> tuple[int, datetime]:
        """Queue `name`'s crawl now; its job id and the moment it was due."""
        due = datetime.now(UTC)
        lock = crawl_lock(self._engine, self._config.source(name))
        deferrer = crawl_deferrer(self._app, name, lock)
        return self._call(deferrer.defer_async(source=name, due_at=due.isoformat())), due

    def close(self) -> None:
        self._call(self._app.close_async())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def count_crawls(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(CrawlRow)).scalar_one())


def wait_for(engine: Engine, crawls: int, timeout: float, logs: Path) -> None:
    deadline = time.monotonic() + timeout
    while count_crawls(engine) < crawls:
        if time.monotonic() > deadline:
            raise SystemExit(
                f"only {count_crawls(engine)} of {crawls} crawls after {timeout:g}s; logs in {logs}"
            )
        time.sleep(0.25)


def crawl_span(engine: Engine) -> float:
    """Seconds from the first crawl's start to the last crawl's end."""
    with engine.connect() as connection:
        first, last = connection.execute(
            select(func.min(CrawlRow.started_at), func.max(CrawlRow.finished_at))
        ).one()
    return float((last - first).total_seconds())


def database_counters(admin: Engine, database: str) -> dict[str, float]:
    """`database`'s counters in `pg_stat_database`: `active_time` (milliseconds its backends spent
    running statements), commits, and rows written (inserted, updated, deleted)."""
    time.sleep(1.2)  # backends flush their statistics at most once a second when idle
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        row = connection.execute(
            text(
                "SELECT active_time, xact_commit, tup_inserted + tup_updated + tup_deleted "
                "FROM pg_stat_database WHERE datname = :name"
            ),
            {"name": database},
        ).one()
    return {"active_ms": float(row[0]), "commits": float(row[1]), "rows": float(row[2])}


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """CPU time of the worker processes and their crawl children (those alive now)."""
    total = 0.0
    for process in processes:
        try:
            for member in [process, *process.children(recursive=True)]:
                times = member.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def most_in_flight(servers: list[BoardServer], since: float) -> int:
    """The most requests one host was answering at once, from `since` on."""
    most = 0
    for server in servers:
        edges: list[tuple[float, int]] = []
        for request in list(server.requests):
            if request.received_at >= since:
                edges += [(request.received_at, 1), (request.answered_at or time.monotonic(), -1)]
        current = 0
        for _, step in sorted(edges):
            current += step
            most = max(most, current)
    return most


def round_with(workers: int, admin: Engine, servers: list[BoardServer], boards: int, per_host: int) -> Round:
    url = fresh_database(admin)
    engine = make_engine(url)
    upgrade(engine)
    processes: list[subprocess.Popen[bytes]] = []
    folder = Path(tempfile.mkdtemp(prefix="rolewatch-scale-"))
    try:
        config_path = write_config(folder, url, servers, boards, per_host)
        config = parse_config(config_path.read_text(encoding="utf-8"))
        environment = {k: v for k, v in os.environ.items() if not k.startswith("ROLEWATCH_")}
        for number in range(workers):
            with (folder / f"worker{number}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "rolewatch",
                            "--config",
                            str(config_path),
                            "worker",
                            "--concurrency",
                            "1",
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                        env=environment,
                    )
                )
        registered = "SELECT count(*) FROM procrastinate.procrastinate_workers"
        with engine.connect() as connection:
            while connection.execute(text(registered)).scalar_one() < workers:
                if any(process.poll() is not None for process in processes):
                    raise SystemExit(f"a worker exited; logs in {folder}")
                time.sleep(0.2)
                connection.commit()
        watched = [psutil.Process(process.pid) for process in processes]
        deferrer = Deferrer(config, engine)
        try:
            since = time.monotonic()
            pg_before, cpu_before = database_counters(admin, str(url.database)), cpu_seconds(watched)
            for index in range(boards):
                deferrer.defer(f"b{index}")
            wait_for(engine, boards, 3600, folder)
            cpu_used = cpu_seconds(watched) - cpu_before
            pg_after = database_counters(admin, str(url.database))
            pg_used = {key: pg_after[key] - pg_before[key] for key in pg_after}
            per_minute = boards / crawl_span(engine) * 60
            in_flight = most_in_flight(servers, since)
            latencies = paced(deferrer, engine, boards, per_minute / 2, folder)
        finally:
            deferrer.close()
        return Round(
            workers,
            per_minute,
            pg_used["active_ms"] / boards,
            pg_used["commits"] / boards,
            pg_used["rows"] / boards,
            cpu_used / boards * 1000,
            in_flight,
            latencies,
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(60)
        engine.dispose()
        drop_database(admin, url)
        if sys.exc_info()[0] is None:  # on failure the logs stay for reading
            shutil.rmtree(folder, ignore_errors=True)


def paced(deferrer: Deferrer, engine: Engine, boards: int, per_minute: float, logs: Path) -> list[float]:
    """Jobs arriving at `per_minute` for PACED_S: how long each waited from due to its crawl's start."""
    count = max(4, int(per_minute * PACED_S / 60))
    gap = 60.0 / per_minute
    due: dict[int, datetime] = {}
    next_at = time.monotonic()
    for number in range(count):
        job_id, moment = deferrer.defer(f"b{number % boards}")
        due[job_id] = moment
        next_at += gap
        time.sleep(max(0.0, next_at - time.monotonic()))
    wait_for(engine, boards + count, 600, logs)
    query = (
        select(crawl_jobs.c.job_id, CrawlRow.started_at)
        .join(CrawlRow, CrawlRow.id == crawl_jobs.c.crawl_id)
        .where(crawl_jobs.c.job_id.in_(list(due)))
    )
    with engine.connect() as connection:
        started = {row[0]: row[1] for row in connection.execute(query)}
    return [(started[job] - due[job]).total_seconds() for job in due if job in started]


def postgres_time_per_record(admin: Engine, runs: int = 300) -> float:
    """Seconds one recorded crawl of a one-posting board spends in PostgreSQL (record + ledger row)."""
    url = fresh_database(admin)
    engine = make_engine(url)
    try:
        upgrade(engine)
        config = parse_config(
            f"database: {url.render_as_string(hide_password=False)}\nengine: procrastinate\n"
            "sources: [{name: koala, type: greenhouse, board: koala}]\n"
        )
        source = config.source("koala")
        times = []
        for job in range(runs):
            now = datetime.now(UTC)
            result = CrawlResult(
                "koala",
                CrawlVerdict.COMPLETE,
                now,
                now,
                postings=(posting("1", source="koala", title="Analyst"),),
            )
            started = time.perf_counter()
            record_crawl(
                engine,
                source,
                result,
                then=lambda connection, record, job=job, now=now: note_job_crawl(
                    connection, job, record.crawl_id, record.source, now
                ),
            )
            times.append(time.perf_counter() - started)
        return statistics.median(times)
    finally:
        engine.dispose()
        drop_database(admin, url)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--boards", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds each board takes to answer")
    parser.add_argument("--per-host", type=int, default=2, help="the boards' concurrency_per_host")
    args = parser.parse_args()
    body = json.dumps(greenhouse_board([greenhouse_job(1, "Analyst")])).encode()
    servers = [BoardServer(host).start() for host in HOSTS]
    for index in range(args.boards):
        servers[index % len(servers)].set_raw(
            f"/v1/boards/b{index}/jobs",
            body,
            headers={"Content-Type": "application/json"},
            delay_s=args.latency,
        )
    admin = admin_engine()
    rounds: list[Round] = []
    print(
        f"{args.boards} boards on {len(HOSTS)} hosts answering after {args.latency:g}s; {os.cpu_count()} CPUs"
    )
    try:
        for workers in (int(w) for w in args.workers.split(",")):
            result = round_with(workers, admin, servers, args.boards, args.per_host)
            rounds.append(result)
            latencies = result.latencies
            scaling = result.per_minute / rounds[0].per_minute
            print(
                f"{workers} workers: {result.per_minute:6.0f} crawls/min, x{scaling:.2f}; queue latency "
                f"p50 {statistics.median(latencies):.2f}s p95 {quantile(latencies, 0.95):.2f}s "
                f"({len(latencies)} jobs at {result.per_minute / 2:.0f}/min); per crawl: PostgreSQL "
                f"{result.pg_ms_per_crawl:.1f} ms active, {result.commits_per_crawl:.1f} commits, "
                f"{result.rows_per_crawl:.1f} rows written; workers' CPU {result.cpu_ms_per_crawl:.0f} ms; "
                f"at most {result.most_in_flight} requests in flight per host",
                flush=True,
            )
        client_ms = postgres_time_per_record(admin) * 1000
        print(f"record_crawl + ledger row, client side (median): {client_ms:.1f} ms")
    finally:
        for server in servers:
            server.close()
        admin.dispose()


if __name__ == "__main__":
    main()
