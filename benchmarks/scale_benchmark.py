"""Scaling out on procrastinate: N boards over 4 loopback hosts (127.0.0.1-4), each answering after a fixed
latency, crawled by 1, 2 and 4 `rolewatch worker` processes (one job at a time each).

Prints, per worker count: crawls per minute through a backlog of every board, the scaling factor
against one worker, and the queue latency (due → crawl started) p50/p95 while jobs arrive at half
the measured rate; then the time one recorded crawl spends in PostgreSQL (`record_crawl` with the
job ledger, on loopback). Needs the PostgreSQL server of the tests (ROLEWATCH_TEST_PG_URL or
postgres@127.0.0.1:5432).

    python benchmarks/scale_benchmark.py [--boards 1000] [--workers 1,2,4] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import URL, Engine

from rolewatch.domain import CrawlResult, CrawlVerdict
from rolewatch.resolve import parse_config
from scheduler.cluster.app import cluster_app, crawl_deferrer
from scheduler.lanes import host_key
from storage.cluster import note_job_crawl
from storage.database import database_url, make_engine, upgrade
from storage.models import CrawlRow
from storage.recording import record_crawl
from tests.boardserver import BoardServer
from tests.fixtures.boards import greenhouse_board, greenhouse_job
from tests.integration.storage_factory import posting

HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")
LAUNCH = (
    "from rolewatch.cli import cli, main\n"
    "from rolewatch.cli.worker import worker\n"
    "cli.add_command(worker)\n"
    "main()\n"
)


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


def write_config(folder: Path, url: URL, servers: list[BoardServer], boards: int) -> Path:
    sources = "".join(
        f'  - {{name: b{i}, type: greenhouse, board: b{i}, base_url: "{servers[i % len(servers)].url}"}}\n'
        for i in range(boards)
    )
    path = folder / "rolewatch.yaml"
    path.write_text(
        f"database: {url.render_as_string(hide_password=False)}\nengine: procrastinate\n"
        "defaults: {interval: 1d, jitter: 0%, obey_robots: false,\n"
        "  politeness: {delay: 0s, autothrottle: false, retries: 0}}\n"
        f"sources:\n{sources}",
        encoding="utf-8",
    )
    return path


def defer(config_path: Path, names: list[str]) -> list[datetime]:
    config = parse_config(config_path.read_text(encoding="utf-8"))

    async def run() -> list[datetime]:
        app = cluster_app(config.database)
        due: list[datetime] = []
        async with app.open_async():
            for name in names:
                moment = datetime.now(UTC)
                deferrer = crawl_deferrer(app, name, host_key(config.source(name)))
                await deferrer.defer_async(source=name, due_at=moment.isoformat())
                due.append(moment)
        return due

    return asyncio.run(run())


def crawl_starts(engine: Engine) -> dict[str, datetime]:
    from storage.models import SourceRow

    query = select(SourceRow.name, func.min(CrawlRow.started_at)).join(SourceRow).group_by(SourceRow.name)
    with engine.connect() as connection:
        return {row[0]: row[1] for row in connection.execute(query)}


def count_crawls(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(CrawlRow)).scalar_one())


def wait_for(engine: Engine, crawls: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while count_crawls(engine) < crawls:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {count_crawls(engine)} of {crawls} crawls after {timeout:g}s")
        time.sleep(0.25)


def round_with(
    workers: int, admin: Engine, servers: list[BoardServer], boards: int
) -> tuple[float, list[float]]:
    url = fresh_database(admin)
    engine = make_engine(url)
    upgrade(engine)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            config = write_config(Path(folder), url, servers, boards)
            processes = [
                subprocess.Popen(
                    [sys.executable, "-c", LAUNCH, "--config", str(config), "worker", "--concurrency", "1"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(workers)
            ]
            with engine.connect() as connection:
                while (
                    connection.execute(
                        text("SELECT count(*) FROM procrastinate.procrastinate_workers")
                    ).scalar_one()
                    < workers
                ):
                    time.sleep(0.2)
                    connection.commit()
            started = time.monotonic()
            defer(config, [f"b{i}" for i in range(boards)])
            wait_for(engine, boards, 3600)
            rate = boards / (time.monotonic() - started) * 60
            latencies = paced(config, engine, boards, rate / 2)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(60)
        engine.dispose()
        drop_database(admin, url)
    return rate, latencies


def paced(config: Path, engine: Engine, boards: int, per_minute: float, seconds: float = 30.0) -> list[float]:
    """Jobs arriving at `per_minute` for `seconds`: how long each waited from due to its crawl's start."""
    count = max(4, int(per_minute * seconds / 60))
    names = [f"b{i}" for i in range(count)]
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM procrastinate.crawl_jobs"))
    before = crawl_starts(engine)
    due: dict[str, datetime] = {}
    gap = 60.0 / per_minute
    for name in names:
        due[name] = defer(config, [name])[0]
        time.sleep(gap)
    wait_for(engine, boards + count, 600)
    with engine.connect() as connection:
        from storage.models import SourceRow

        query = select(SourceRow.name, func.max(CrawlRow.started_at)).join(SourceRow).group_by(SourceRow.name)
        latest = {row[0]: row[1] for row in connection.execute(query)}
    return [(latest[name] - due[name]).total_seconds() for name in names if latest[name] != before.get(name)]


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--boards", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds each board takes to answer")
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
    results: dict[int, tuple[float, list[float]]] = {}
    try:
        for workers in (int(w) for w in args.workers.split(",")):
            results[workers] = round_with(workers, admin, servers, args.boards)
            rate, latencies = results[workers]
            quantiles = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else latencies * 19
            base = results[min(results)][0]
            print(
                f"{workers} workers: {rate:7.0f} crawls/min, x{rate / base:.2f}; queue latency "
                f"p50 {statistics.median(latencies):.2f}s p95 {quantiles[18]:.2f}s "
                f"({len(latencies)} paced jobs)",
                flush=True,
            )
        print(f"PostgreSQL per recorded crawl (median): {postgres_time_per_record(admin) * 1000:.1f} ms")
    finally:
        for server in servers:
            server.close()
        admin.dispose()


if __name__ == "__main__":
    main()
