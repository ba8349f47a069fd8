"""Daemon benchmark: the scheduler run in process for N crawls of Greenhouse-shaped boards on 127.0.0.1.

Prints the daemon's RSS at start and end (does it grow with the number of crawls?), the crawl
children's peak RSS, the scheduler's own overhead per crawl (due → job start → batch start, and
crawl end → recorded) and the time from a posting appearing on a board to its alert arriving at a
local webhook (p50/p95). Run: `python benchmarks/daemon_benchmark.py [--crawls 500] [--sources 50]`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # type: ignore[import-untyped]
from sqlalchemy import select

from rolewatch.resolve import parse_config
from scheduler.active import RunTrace
from scheduler.daemon import Daemon
from scheduler.memory import cap_malloc_arenas
from storage.database import make_engine
from storage.models import CrawlRow, EventRow
from tests.boardserver import BoardServer
from tests.fixtures.boards import greenhouse_board, greenhouse_job


class Webhook:
    """Collects alert bodies and when each arrived."""

    def __init__(self) -> None:
        self.received: list[tuple[float, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append((time.monotonic(), body.decode("utf-8", "replace")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"


class Boards:
    """`hosts` board servers, each serving its share of the sources; new postings appear on demand."""

    def __init__(self, hosts: int, sources: int, postings: int) -> None:
        self.servers = [BoardServer().start() for _ in range(hosts)]
        self.jobs: dict[int, list[dict[str, Any]]] = {}
        self.added: dict[str, float] = {}
        for n in range(sources):
            self.jobs[n] = [
                greenhouse_job(n * 1000 + m, f"Data Scientist Intern {n}-{m}") for m in range(postings)
            ]
            self.publish(n)

    def server_of(self, source: int) -> BoardServer:
        return self.servers[source % len(self.servers)]

    def publish(self, source: int) -> None:
        self.server_of(source).set_json(f"/v1/boards/b{source}/jobs", greenhouse_board(self.jobs[source]))

    def add_posting(self, source: int) -> None:
        marker = f"Benchmark Role #{len(self.added)}#"
        self.jobs[source].append(greenhouse_job(900_000 + len(self.added), marker))
        self.added[marker] = time.monotonic()
        self.publish(source)

    def close(self) -> None:
        for server in self.servers:
            server.close()


def configuration(database: str, boards: Boards, sources: int, interval: str, webhook: Webhook) -> str:
    lines = [
        f"database: {database}",
        "defaults:",
        f"  interval: {interval}",
        "  jitter: 10%",
        "  timeout: 60s",
        "  obey_robots: false",
        "  politeness: {delay: 0s, autothrottle: false, retries: 0, request_timeout: 10s}",
        "daemon: {grace: 30s, deliver_every: 5s}",
        "sources:",
    ]
    for n in range(sources):
        url = boards.server_of(n).url
        lines.append(f'  - {{name: b{n}, type: greenhouse, board: b{n}, base_url: "{url}"}}')
    lines += ["subscriptions:", f"  - {{name: everything, notify: ['{webhook.url}']}}"]
    return "\n".join(lines) + "\n"


class ChildSampler:
    """Polls the crawl children's RSS while the daemon runs."""

    def __init__(self) -> None:
        self.peak = 0
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.2):
            for child in me.children():
                try:
                    if "crawler.child" in " ".join(child.cmdline()):
                        rss = child.memory_info().rss
                        self.samples.append(rss)
                        self.peak = max(self.peak, rss)
                except psutil.Error:
                    continue

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def describe(label: str, values: list[float]) -> str:
    if not values:
        return f"{label:<36} (none)"
    return (
        f"{label:<36} p50 {percentile(values, 0.5) * 1000:8.0f} ms   "
        f"p95 {percentile(values, 0.95) * 1000:8.0f} ms   "
        f"max {max(values) * 1000:8.0f} ms   (n={len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crawls", type=int, default=500, help="crawls after the first round (default 500)")
    parser.add_argument("--sources", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=5, help="board servers; sources share them round-robin")
    parser.add_argument("--postings", type=int, default=20, help="postings per board")
    parser.add_argument("--interval", default="30s")
    parser.add_argument("--changes-every", type=float, default=3.0, help="seconds between new postings")
    args = parser.parse_args()
    cap_malloc_arenas()  # as `rolewatch run` does first, before this harness starts its threads

    workdir = Path(tempfile.mkdtemp(prefix="rolewatch-daemon-bench-"))
    database = f"sqlite:///{workdir / 'rolewatch.db'}"
    boards = Boards(args.hosts, args.sources, args.postings)
    webhook = Webhook()
    config = parse_config(configuration(database, boards, args.sources, args.interval, webhook))
    engine = make_engine(database)
    traces: list[RunTrace] = []
    me = psutil.Process()
    rss: dict[str, int] = {}
    daemon = Daemon(config, engine, reload_config=lambda: config, on_run=traces.append)

    async def drive() -> None:
        running = asyncio.create_task(daemon.run())
        while not traces:
            await asyncio.sleep(0.1)
        rss["start"] = me.memory_info().rss
        # The first crawls alert every posting on every board; changes start once that backlog is sent,
        # so the alert times below are the steady state, not the queue behind the first alerts.
        initial = args.sources * args.postings
        while len(webhook.received) < initial or len({t.source for t in traces}) < args.sources:
            await asyncio.sleep(0.1)
        rss["warm"] = me.memory_info().rss
        warm_crawls = len(traces)
        next_change = time.monotonic() + args.changes_every
        while len(traces) < warm_crawls + args.crawls:
            if time.monotonic() >= next_change:
                boards.add_posting(random.randrange(args.sources))
                next_change += args.changes_every
            await asyncio.sleep(0.05)
        rss["end"] = me.memory_info().rss
        await asyncio.sleep(5)  # the last alerts' delivery round
        daemon.request_stop("benchmark done")
        await running

    sampler = ChildSampler()
    started = time.monotonic()
    asyncio.run(drive())
    took = time.monotonic() - started
    sampler.stop()
    boards.close()

    with engine.connect() as connection:
        finished = {
            row.id: row.finished_at for row in connection.execute(select(CrawlRow.id, CrawlRow.finished_at))
        }
        recorded = {row.title: row.at for row in connection.execute(select(EventRow.title, EventRow.at))}
    due_to_job = [(t.queued_at - t.due_at).total_seconds() for t in traces if t.due_at]
    job_to_batch = [(t.batch_started_at - t.queued_at).total_seconds() for t in traces if t.batch_started_at]
    end_to_record = [
        (t.recorded_at - finished[t.crawl_id]).total_seconds()
        for t in traces
        if t.recorded_at and t.crawl_id in finished
    ]
    to_alert, to_event = [], []
    wall_minus_monotonic = time.time() - time.monotonic()
    for arrived, body in webhook.received:
        for marker, added in boards.added.items():
            if marker in body:
                to_alert.append(arrived - added)
    for marker, added in boards.added.items():
        if marker in recorded:
            to_event.append(recorded[marker].timestamp() - (added + wall_minus_monotonic))
    verdicts: dict[str, int] = {}
    for trace in traces:
        verdicts[str(trace.verdict)] = verdicts.get(str(trace.verdict), 0) + 1

    print(f"{len(traces)} crawls of {args.sources} sources on {args.hosts} hosts in {took:.0f}s: {verdicts}")
    print(f"daemon RSS at the first crawl        {rss['start'] / 2**20:8.1f} MiB")
    print(f"daemon RSS after the first alerts    {rss['warm'] / 2**20:8.1f} MiB")
    print(f"daemon RSS after {len(traces)} crawls        {rss['end'] / 2**20:8.1f} MiB")
    mean_child = statistics.mean(sampler.samples) / 2**20 if sampler.samples else float("nan")
    print(
        f"crawl child RSS                    peak {sampler.peak / 2**20:6.1f} MiB, mean {mean_child:6.1f} MiB"
    )
    print(describe("due -> job started (scheduler)", due_to_job))
    print(describe("job started -> batch started (lane)", job_to_batch))
    print(describe("crawl finished -> recorded", end_to_record))
    print(describe(f"posting added -> event time ({len(boards.added)})", to_event))
    print(describe("posting added -> alert at the webhook", to_alert))
    print(f"(database and configuration in {workdir}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")


if __name__ == "__main__":
    main()
