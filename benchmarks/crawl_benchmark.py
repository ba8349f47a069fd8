"""Crawl benchmark: N Greenhouse-shaped boards × M postings served on 127.0.0.1, crawled end to end.

Prints the first crawl's ingest rate, the unchanged and 1%-churn re-crawl times (with and without
conditional requests), peak RSS, and the floor: the same URLs fetched and JSON-parsed by a minimal
concurrent client. Crawls run in a warm crawl worker, as in the daemon; one unchanged re-crawl
runs in a worker started for it, as `rolewatch crawl` does.
Run: `python benchmarks/crawl_benchmark.py [--boards 200] [--postings 250]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from crawler.workers import CrawlWorkers
from rolewatch.resolve import parse_config
from scheduler.pipeline import crawl_and_record
from storage.database import make_engine, upgrade
from storage.models import EventRow, PostingVersionRow

PARAGRAPH = (
    "&lt;p&gt;You will work with our data science team on experimentation, forecasting and "
    "machine learning systems used by millions of people.&lt;/p&gt;&lt;ul&gt;&lt;li&gt;Python and SQL"
    "&lt;/li&gt;&lt;li&gt;Statistics&lt;/li&gt;&lt;/ul&gt;"
)
CITIES = ["Sydney, NSW", "San Jose, CA", "New York, NY", "London, UK", "Remote - US", "Singapore"]


def job(board: int, n: int, revision: int) -> dict[str, Any]:
    suffix = f" (rev {revision})" if revision else ""
    return {
        "absolute_url": f"https://boards.example/board{board}/jobs/{board * 100000 + n}?gh_src=bench",
        "internal_job_id": board * 100000 + n,
        "location": {"name": CITIES[n % len(CITIES)]},
        "metadata": [
            {
                "id": 1,
                "name": "Employment Type",
                "value": "Intern" if n % 3 == 0 else "Regular",
                "value_type": "single_select",
            }
        ],
        "id": board * 100000 + n,
        "updated_at": "2026-11-01T08:50:01-04:00",
        "requisition_id": f"R-{n}",
        "title": f"{'Data Scientist Intern' if n % 3 == 0 else 'Software Engineer'} {n}{suffix}",
        "company_name": f"Company {board}",
        "first_published": "2026-10-16T11:55:32-04:00",
        "language": "en",
        "application_deadline": None,
        "content": PARAGRAPH * 4 + f"&lt;p&gt;Pay: USD {40 + n % 20} - {60 + n % 20} / hour&lt;/p&gt;",
        "departments": [{"id": 7, "name": "Data", "parent_id": None, "child_ids": []}],
        "offices": [],
    }


class BoardFarm:
    """Every board's body pre-serialised, with an ETag, in a separate server process."""

    def __init__(self, boards: int, postings: int) -> None:
        self.boards, self.postings = boards, postings
        self.revisions: dict[tuple[int, int], int] = {}

    def body(self, board: int) -> bytes:
        jobs = [job(board, n, self.revisions.get((board, n), 0)) for n in range(self.postings)]
        return json.dumps({"jobs": jobs, "meta": {"total": len(jobs)}}).encode()

    def churn(self, fraction: float, round_: int) -> int:
        changed = 0
        step = max(1, round(1 / fraction))
        for board in range(self.boards):
            for n in range(round_ % step, self.postings, step):
                self.revisions[(board, n)] = round_
                changed += 1
        return changed


def serve(farm_args: tuple[int, int], ready: Any, control: Any) -> None:
    """The server process: answers board requests, and applies churn when the parent asks."""
    farm = BoardFarm(*farm_args)
    bodies: dict[int, tuple[bytes, str]] = {}

    def refresh() -> None:
        for board in range(farm.boards):
            body = farm.body(board)
            bodies[board] = (body, '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"')

    refresh()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = self.path.split("?")[0].split("/")
            if len(parts) < 5 or not parts[3].startswith("board"):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body, etag = bodies[int(parts[3][5:])]
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.send(server.server_address[1])
    while True:
        message = control.recv()
        if message is None:
            break
        fraction, round_ = message
        changed = farm.churn(fraction, round_)
        refresh()
        control.send(changed)


def floor_seconds(urls: list[str], concurrency: int) -> float:
    """A minimal concurrent client: fetch each URL and parse its JSON, nothing else."""

    def fetch(url: str) -> int:
        with urllib.request.urlopen(url) as response:
            return len(json.loads(response.read())["jobs"])

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        total = sum(pool.map(fetch, urls))
    assert total > 0
    return time.perf_counter() - start


def config_text(port: int, boards: int, database: str, conditional: bool, concurrency: int) -> str:
    lines = [
        f"database: {database}",
        "defaults:",
        "  obey_robots: false",
        "  timeout: 10m",
        "  politeness: {" + f"concurrency_per_host: {concurrency}, delay: 0s, autothrottle: false, "
        f"conditional_requests: {str(conditional).lower()}" + "}",
        "sources:",
    ]
    lines += [
        f"  - {{name: board{i}, type: greenhouse, board: board{i}, base_url: 'http://127.0.0.1:{port}'}}"
        for i in range(boards)
    ]
    return "\n".join(lines) + "\n"


def timed(label: str, action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = action()
    seconds = time.perf_counter() - start
    print(f"  {label}: {seconds:.2f} s", flush=True)
    return seconds, value


def timed_median(label: str, action: Callable[[], Any], times: int = 3) -> float:
    """The median of `times` runs, each printed: both sides of the ratio get the same treatment,
    so one noisy run on a shared machine does not decide it."""
    runs = []
    for _ in range(times):
        start = time.perf_counter()
        action()
        runs.append(time.perf_counter() - start)
    median = statistics.median(runs)
    print(f"  {label}: {median:.2f} s (median of {', '.join(f'{r:.2f}' for r in runs)})", flush=True)
    return median


def counts(engine: Any) -> tuple[int, int]:
    with engine.connect() as connection:
        versions = connection.execute(select(func.count()).select_from(PostingVersionRow)).scalar_one()
        events = connection.execute(select(func.count()).select_from(EventRow)).scalar_one()
    return int(versions), int(events)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(boards: int, postings: int, concurrency: int, workdir: Path) -> dict[str, float]:
    total = boards * postings
    print(
        f"\n{boards} boards × {postings} postings = {total:,} postings "
        f"(SQLite, concurrency {concurrency}/host)"
    )
    parent_ready, child_ready = multiprocessing.Pipe()
    parent_control, child_control = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=((boards, postings), child_ready, child_control), daemon=True
    )
    server.start()
    port = parent_ready.recv()
    urls = [f"http://127.0.0.1:{port}/v1/boards/board{i}/jobs?content=true" for i in range(boards)]
    floor_seconds(urls[:5], concurrency)  # warm the server's caches of nothing in particular
    floor = timed_median("floor (fetch + JSON parse)", lambda: floor_seconds(urls, concurrency))

    database = f"sqlite:///{workdir}/bench-{boards}x{postings}.db"
    engine = make_engine(database)
    upgrade(engine)
    conditional = parse_config(config_text(port, boards, database, True, concurrency))
    unconditional = parse_config(config_text(port, boards, database, False, concurrency))

    workers = CrawlWorkers()  # warm crawl workers, as the daemon keeps them
    workers.prestart()

    def crawl(config: Any, pool: CrawlWorkers | None = workers) -> Any:
        return crawl_and_record(engine, config, config.resolved_sources(), workers=pool)

    first, records = timed("first crawl (ingest)", lambda: crawl(conditional))
    assert all(r.verdict.value == "complete" for r in records), [
        r.note for r in records if r.verdict.value != "complete"
    ]
    before = counts(engine)
    unchanged_304 = timed_median("unchanged re-crawl, conditional (304s)", lambda: crawl(conditional))
    unchanged_full, _ = timed("unchanged re-crawl, full bodies parsed", lambda: crawl(unconditional))
    unchanged_cold, _ = timed(
        "unchanged re-crawl, conditional, cold worker (as `rolewatch crawl`)",
        lambda: crawl(conditional, None),
    )
    after = counts(engine)
    parent_control.send((0.01, 1))
    changed = parent_control.recv()
    churn, churn_records = timed(
        f"1% churn re-crawl ({changed} postings changed)", lambda: crawl(conditional)
    )
    churn_events = sum(r.counts.get("changed", 0) for r in churn_records)
    workers.close()
    parent_control.send(None)
    server.join(5)
    own, children = peak_rss_mb(), workers.peak_rss / 2**20
    figures = {
        "postings": total,
        "floor_s": floor,
        "first_s": first,
        "ingest_per_s": total / first,
        "unchanged_304_s": unchanged_304,
        "unchanged_full_s": unchanged_full,
        "unchanged_cold_s": unchanged_cold,
        "churn_s": churn,
        "ratio_304": unchanged_304 / floor,
        "ratio_full": unchanged_full / floor,
        "rss_parent_mb": own,
        "rss_child_mb": children,
    }
    print(f"  ingest: {figures['ingest_per_s']:,.0f} postings/s")
    print(
        f"  unchanged re-crawl / floor: {figures['ratio_304']:.2f}× (304s), "
        f"{figures['ratio_full']:.2f}× (full)"
    )
    print(f"  unchanged re-crawls wrote {after[0] - before[0]} versions and {after[1] - before[1]} events")
    print(f"  1% churn: {churn_events} changed events for {changed} edited postings")
    print(f"  peak RSS: parent {own:.0f} MB, crawl worker {children:.0f} MB")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", type=int, default=200)
    parser.add_argument("--postings", type=int, default=250)
    parser.add_argument(
        "--concurrency", type=int, default=8, help="requests in flight per host, both clients"
    )
    parser.add_argument("--no-scaling", action="store_true", help="skip the quarter-size run for linearity")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        results = [run(args.boards, args.postings, args.concurrency, workdir)]
        if not args.no_scaling:
            results.insert(0, run(max(1, args.boards // 4), args.postings, args.concurrency, workdir))
    if len(results) == 2:
        small, large = results
        print("\nscaling (seconds per 1,000 postings, quarter size → full size):")
        for key in ("first_s", "unchanged_full_s", "churn_s"):
            a = small[key] / small["postings"] * 1000
            b = large[key] / large["postings"] * 1000
            print(f"  {key}: {a:.3f} → {b:.3f}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
