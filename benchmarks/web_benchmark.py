"""p95 of every page, feed and API call of the web app over 100,000 postings and 1,000,000 events.

    python benchmarks/web_benchmark.py                      # SQLite in a temporary directory
    python benchmarks/web_benchmark.py --postgres postgresql+psycopg://postgres@127.0.0.1/postgres

The database is seeded directly through SQLAlchemy Core (bulk inserts in `at` order, as a daemon
would have written them), migrated first so the real indexes are in place. The app is then served
by uvicorn on 127.0.0.1, as `rolewatch web` serves it, and each call is made `--runs` times over one
keep-alive connection; the table shows p50, p95 and the slowest. With `--postgres` a throwaway
database is created on that server and dropped afterwards.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import random
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text, update
from sqlalchemy.engine import Engine

from rolewatch.config import Config
from rolewatch.domain import Location, Posting, Salary
from rolewatch.resolve import parse_config
from rolewatch.web import create_app
from rolewatch.web.paging import encode_cursor
from rolewatch.web.server import server_config
from storage.database import make_engine, upgrade
from storage.models import CrawlRow, EventRow, OutboxRow, PostingRow, PostingVersionRow, SourceRow
from storage.snapshot import location_document, posting_snapshot

TARGET_MS = 150.0
SOURCES = 50
CRAWLS_PER_SOURCE = 200
DAYS = 365
CHUNK = 5_000
ROLES = [
    "Data Scientist",
    "Software Engineer",
    "Machine Learning",
    "Analyst",
    "Backend Engineer",
    "Frontend Developer",
    "Research Scientist",
    "Product Manager",
    "Designer",
    "Quant Researcher",
    "Security Engineer",
    "Cloud Engineer",
    "Mobile Developer",
    "Platform Engineer",
    "DevOps",
]
KINDS = ["Intern", "Graduate", "", "Senior", "Junior", "Lead", "Associate"]
PLACES = [
    ("Sydney", "AU"),
    ("Melbourne", "AU"),
    ("San Jose", "US"),
    ("New York", "US"),
    ("London", "GB"),
    ("Berlin", "DE"),
    ("Singapore", "SG"),
    ("Toronto", "CA"),
    ("Paris", "FR"),
    ("Tokyo", "JP"),
]
TYPES = ["intern", "graduate", "full_time", "full_time", "full_time", "contract", None]
WORDS = [
    *("python", "sql", "statistics", "models", "pipelines", "experiments", "dashboards", "stakeholders"),
    *("cloud", "spark", "kubernetes", "research", "product", "customers", "growth", "ranking", "quality"),
]


# --- seeding -------------------------------------------------------------------------------------


def seed(engine: Engine, postings: int, events: int, now: datetime) -> None:
    """Sources, crawls, postings (a sample with versions), events spread over a year, some outbox rows."""
    rng = random.Random(11)
    start = now - timedelta(days=DAYS)
    with engine.begin() as connection:
        connection.execute(
            insert(SourceRow),
            [
                {
                    "name": f"source-{n:02d}",
                    "type": "greenhouse",
                    "config": {},
                    "created_at": start,
                    "updated_at": start,
                    "validators": {},
                    "last_crawl_at": now - timedelta(minutes=n),
                }
                for n in range(SOURCES)
            ],
        )
    crawl_ids = _seed_crawls(engine, rng, start, now)
    _seed_postings(engine, rng, postings, start, now)
    _seed_versions(engine, min(postings, 2_000), start)
    _seed_events(engine, rng, postings, events, start, now, crawl_ids)
    with engine.begin() as connection:
        connection.execute(
            insert(OutboxRow),
            [
                {
                    "recipient": "interns",
                    "channel_key": f"k{n}",
                    "channel": "json://redacted",
                    "dedupe_key": f"d{n}",
                    "digest": False,
                    "payload": {},
                    "status": "pending" if n % 3 else "sent",
                    "created_at": now,
                    "due_at": now,
                    "attempts": 0,
                    "last_error": "",
                }
                for n in range(1_000)
            ],
        )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        with engine.connect() as connection:  # a daemon's WAL is checkpointed as it goes; this one at once
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _seed_crawls(engine: Engine, rng: random.Random, start: datetime, now: datetime) -> list[int]:
    step = (now - start) / CRAWLS_PER_SOURCE
    rows = []
    for source in range(SOURCES):
        for n in range(CRAWLS_PER_SOURCE):
            at = start + step * n
            verdict = "failed" if rng.random() < 0.05 else "complete"
            rows.append(
                {
                    "source_id": source + 1,
                    "identity": f"{source}-{n}",
                    "started_at": at,
                    "finished_at": at + timedelta(seconds=5),
                    "verdict": verdict,
                    "reason": "HTTP 503" if verdict == "failed" else "",
                    "note": "",
                    "unchanged": False,
                    "requests": 3,
                    "responses": 3,
                    "bytes": 12345,
                    "pages": 1,
                    "items": 40,
                    "retries": 0,
                    "not_modified": 0,
                    "duration_s": 5.0,
                    "errors": [],
                    "new_events": 1,
                    "changed_events": 1,
                    "closed_events": 0,
                    "reopened_events": 0,
                }
            )
    with engine.begin() as connection:
        for chunk in _chunks(rows):
            connection.execute(insert(CrawlRow), chunk)
        return list(connection.execute(select(CrawlRow.id).order_by(CrawlRow.id)).scalars())


def _posting(n: int, rng: random.Random) -> Posting:
    city, country = PLACES[n % len(PLACES)]
    title = f"{ROLES[n % len(ROLES)]} {KINDS[(n // 7) % len(KINDS)]}".strip()
    description = " ".join(rng.choice(WORDS) for _ in range(60))
    return Posting(
        source=f"source-{n % SOURCES:02d}",
        external_id=str(n),
        title=title,
        company=f"Company {n % 500:03d}",
        url=f"https://boards.example/jobs/{n}",
        locations=(Location(city, city=city, country=country),),
        employment_type=TYPES[n % len(TYPES)],
        salary=Salary(50_000 + n % 50 * 1_000, 60_000 + n % 50 * 1_000, "AUD", "year")
        if n % 3 == 0
        else None,
        description_text=description,
        description_html=f"<p>{description}</p>",
    )


def _seed_postings(engine: Engine, rng: random.Random, count: int, start: datetime, now: datetime) -> None:
    with engine.begin() as connection:
        batch = []
        for n in range(count):
            posting = _posting(n, rng)
            first_seen = start + (now - start) * (n / count)
            closed = rng.random() < 0.4
            batch.append(
                {
                    "source_id": n % SOURCES + 1,
                    "external_id": posting.external_id,
                    "status": "closed" if closed else "open",
                    "episode": 1,
                    "fingerprint": posting.fingerprint,
                    "raw_digest": None,
                    "role_key": f"{posting.company}|{posting.title}",
                    "title": posting.title,
                    "company": posting.company,
                    "department": None,
                    "url": posting.url,
                    "apply_url": None,
                    "locations": [location_document(loc) for loc in posting.locations],
                    "workplace": None,
                    "employment_type": posting.employment_type,
                    "salary": posting_snapshot(posting)["salary"],
                    "posted_at": None,
                    "deadline": None,
                    "work_rights": None,
                    "description_text": posting.description_text,
                    "description_html": posting.description_html,
                    "extra": {},
                    "significant": {},
                    "misses": 0,
                    "first_seen_at": first_seen,
                    "last_seen_at": now,
                    "closed_at": first_seen + timedelta(days=rng.randint(1, 120)) if closed else None,
                    "repost_of_id": None,
                    "duplicate_of_id": None,
                    "updated_at": now,
                }
            )
            if len(batch) == CHUNK:
                connection.execute(insert(PostingRow), batch)
                batch = []
        if batch:
            connection.execute(insert(PostingRow), batch)


def _seed_versions(engine: Engine, count: int, start: datetime) -> None:
    rng = random.Random(3)
    rows = []
    for n in range(count):
        first = _posting(n, rng)
        second = Posting(**{**first.__dict__, "title": first.title + " (updated)", "fingerprint": ""})
        for number, version in enumerate((first, second)):
            rows.append(
                {
                    "posting_id": n + 1,
                    "crawl_id": 1,
                    "recorded_at": start + timedelta(days=number),
                    "fingerprint": version.fingerprint,
                    "snapshot": posting_snapshot(version),
                }
            )
    with engine.begin() as connection:
        for chunk in _chunks(rows):
            connection.execute(insert(PostingVersionRow), chunk)


def _seed_events(
    engine: Engine,
    rng: random.Random,
    postings: int,
    count: int,
    start: datetime,
    now: datetime,
    crawl_ids: list[int],
) -> None:
    """`count` events in time order; each names a random posting and copies its title, as recorded."""
    span = (now - start).total_seconds()
    kinds = ["new"] * 30 + ["changed"] * 45 + ["closed"] * 20 + ["reopened"] * 5
    with engine.begin() as connection:
        batch = []
        for n in range(count):
            posting = rng.randrange(postings)
            kind = kinds[n % len(kinds)]
            title = f"{ROLES[posting % len(ROLES)]} {KINDS[(posting // 7) % len(KINDS)]}".strip()
            changes = {"salary": ["AUD 50,000/yr", "AUD 55,000/yr"]} if kind == "changed" else {}
            batch.append(
                {
                    "type": kind,
                    "source_id": posting % SOURCES + 1,
                    "posting_id": posting + 1,
                    "crawl_id": crawl_ids[n % len(crawl_ids)],
                    "at": start + timedelta(seconds=span * n / count),
                    "episode": 1,
                    "title": title,
                    "company": f"Company {posting % 500:03d}",
                    "url": f"https://boards.example/jobs/{posting}",
                    "changes": changes,
                    "repost_of": None,
                    "duplicate_of": None,
                }
            )
            if len(batch) == CHUNK:
                connection.execute(insert(EventRow), batch)
                batch = []
        if batch:
            connection.execute(insert(EventRow), batch)


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for index in range(0, len(rows), CHUNK):
        yield rows[index : index + CHUNK]


# --- measuring -----------------------------------------------------------------------------------


def benchmark_config() -> Config:
    sources = "\n".join(
        f"  - {{name: source-{n:02d}, type: greenhouse, board: b{n}}}" for n in range(SOURCES)
    )
    return parse_config(
        f"sources:\n{sources}\n"
        "subscriptions:\n"
        "  - {name: interns, query: 'title:intern AND (data OR machine)', locations: [Sydney, Melbourne]}\n"
        "  - {name: rare, query: 'title:quant AND title:graduate', locations: [Tokyo]}\n"
    )


def calls(engine: Engine, now: datetime) -> dict[str, list[str]]:
    """Each measured call, with a few variants so that no one row or page is all that is read."""
    with engine.connect() as connection:
        middle_event = connection.execute(
            select(EventRow.at, EventRow.id)
            .order_by(EventRow.id)
            .offset(500_000 if _events(connection) > 500_000 else 0)
            .limit(1)
        ).one()
    event_cursor = encode_cursor((middle_event.at, middle_event.id))
    api_cursor = encode_cursor((middle_event.id,))
    title_cursor = encode_cursor(("Machine Learning Graduate", 50_000))
    oldest_cursor = encode_cursor((50_000,))
    ids = [17, 420, 999, 1500, 1999]
    return {
        "/ (overview)": ["/"],
        "/events": ["/events"],
        "/events deep cursor": [f"/events?cursor={event_cursor}"],
        "/events?type=reopened": ["/events?type=reopened"],
        "/events?source=": ["/events?source=source-07", "/events?source=source-31"],
        "/events?company=": ["/events?company=Company%20042", "/events?company=Company%20377"],
        "/events?since=7d&until=": [
            f"/events?since=30d&until={(now - timedelta(days=7)).date().isoformat()}"
        ],
        "/postings": ["/postings"],
        "/postings?sort=title deep": [f"/postings?sort=title&cursor={title_cursor}"],
        "/postings?status=all&sort=oldest deep": [f"/postings?status=all&sort=oldest&cursor={oldest_cursor}"],
        "/postings?employment_type=intern": ["/postings?employment_type=intern"],
        "/postings?q=title:intern AND location:Sydney": [
            "/postings?q=title%3Aintern%20AND%20location%3ASydney"
        ],
        "/postings?q=rare (scan-limited)": [
            "/postings?q=title%3Aquant%20AND%20title%3Agraduate&location=Tokyo"
        ],
        "/postings/{id}": [f"/postings/{n}" for n in ids],
        "/sources": ["/sources"],
        "/sources/{name}": ["/sources/source-03", "/sources/source-44"],
        "/subscriptions/interns": ["/subscriptions/interns"],
        "/subscriptions/rare (scan-limited)": ["/subscriptions/rare"],
        "/charts (30 days)": ["/charts"],
        "/charts?company=": ["/charts?company=Company%20042"],
        "/feeds/events.atom": ["/feeds/events.atom"],
        "/feeds/sources/{name}.json": ["/feeds/sources/source-05.json"],
        "/feeds/subscriptions/interns.atom": ["/feeds/subscriptions/interns.atom"],
        "/api/events?since=24h": ["/api/events?since=24h"],
        "/api/events deep cursor": [f"/api/events?cursor={api_cursor}"],
        "/api/events?type=reopened&source=": ["/api/events?type=reopened&source=source-09"],
        "/api/postings?q=": ["/api/postings?q=title%3Aintern%20AND%20location%3ASydney"],
        "/api/postings/{id}": [f"/api/postings/{n}" for n in ids],
        "/api/sources": ["/api/sources"],
    }


def _events(connection: Any) -> int:
    return int(connection.execute(text("SELECT max(id) FROM events")).scalar_one() or 0)


class CallFailed(Exception):
    """A measured call answered something other than 200."""


def measure(port: int, paths: list[str], runs: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    timings = []
    for run in range(runs + 2):
        path = paths[run % len(paths)]
        began = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - began) * 1000
        if response.status != 200:
            raise CallFailed(f"{path}: HTTP {response.status}: {body[:200]!r}")
        if run >= 2:  # the first two warm the connection and the caches
            timings.append(elapsed)
    connection.close()
    return timings


def conditional(port: int, path: str, runs: int) -> list[float]:
    """A feed reader polling with the ETag it was given: each answer is a 304."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    etag = response.getheader("ETag") or ""
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        connection.request("GET", path, headers={"If-None-Match": etag})
        answer = connection.getresponse()
        answer.read()
        timings.append((time.perf_counter() - began) * 1000)
        assert answer.status == 304, answer.status
    connection.close()
    return timings


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def serve(engine: Engine, config: Config) -> tuple[Any, int]:
    import uvicorn

    app = create_app(engine, lambda: config)
    server = uvicorn.Server(server_config(app, "127.0.0.1", 0))
    thread = threading.Thread(target=server.run, name="web-benchmark-server", daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, port


def _seed_alerts(engine: Engine, count: int = 1_000) -> None:
    """Point the `interns` outbox rows at events (the newest `new` ones), as a daemon's alerts are, so
    the subscription's feed (read from the outbox) has entries; also done to a kept older database."""
    with engine.begin() as connection:
        pointed = connection.execute(
            select(func.count()).where(OutboxRow.recipient == "interns", OutboxRow.event_id.is_not(None))
        ).scalar_one()
        if pointed:
            return
        rows = connection.execute(
            select(OutboxRow.id).where(OutboxRow.recipient == "interns").order_by(OutboxRow.id).limit(count)
        ).scalars()
        events = connection.execute(
            select(EventRow.id).where(EventRow.type == "new").order_by(EventRow.id.desc()).limit(count)
        ).scalars()
        for row_id, event_id in zip(list(rows), list(events), strict=False):
            connection.execute(update(OutboxRow).where(OutboxRow.id == row_id).values(event_id=event_id))


def run(engine: Engine, label: str, postings: int, events: int, runs: int) -> bool:
    now = datetime.now(UTC)
    began = time.perf_counter()
    upgrade(engine)
    with engine.connect() as connection:
        seeded = connection.execute(select(PostingRow.id).limit(1)).first() is not None
    if seeded:  # a kept database (--sqlite PATH) from an earlier run
        print(f"\n{label}: reusing the seeded database")
        now = _seeded_now(engine)
    else:
        seed(engine, postings, events, now)
        took = time.perf_counter() - began
        print(f"\n{label}: seeded {postings:,} postings and {events:,} events in {took:.0f} s")
    _seed_alerts(engine)
    server, port = serve(engine, benchmark_config())
    ok = True
    try:
        print(f"{'call':52} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        measured: list[tuple[str, Callable[[], list[float]]]] = [
            (name, functools.partial(measure, port, paths, runs))
            for name, paths in calls(engine, now).items()
        ]
        measured.append(
            ("/feeds/events.atom (304, If-None-Match)", lambda: conditional(port, "/feeds/events.atom", runs))
        )
        for name, measuring in measured:
            try:
                timings = measuring()
            except CallFailed as failure:
                ok = False
                print(f"{name:52} failed: {failure}", flush=True)
                continue
            slow = p95(timings) > TARGET_MS
            ok &= not slow
            mark = "  over target" if slow else ""
            figures = f"{statistics.median(timings):8.1f} {p95(timings):8.1f} {max(timings):8.1f}"
            print(f"{name:52} {figures}{mark}", flush=True)
    finally:
        server.should_exit = True
    idle, busy = metrics_while_pages_are_read(engine, benchmark_config(), runs)
    for name, timings in (
        ("/metrics (daemon endpoint, idle)", idle),
        ("/metrics while 4 clients read pages", busy),
    ):
        figures = f"{statistics.median(timings):8.1f} {p95(timings):8.1f} {max(timings):8.1f}"
        print(f"{name:52} {figures}", flush=True)
    return ok


def metrics_while_pages_are_read(
    engine: Engine, config: Config, runs: int
) -> tuple[list[float], list[float]]:
    """`/metrics` from the daemon's own endpoint (serving the app beside it), idle and then while four
    clients read pages through the same endpoint as fast as they can."""
    import asyncio

    from scheduler.http import serve
    from scheduler.state import DaemonState

    state = DaemonState(active=True)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="web-benchmark-daemon", daemon=True).start()

    async def start() -> Any:
        state.beat(datetime.now(UTC))
        return await serve(
            state, engine, lambda: config, "127.0.0.1", 0, app=create_app(engine, lambda: config)
        )

    server = asyncio.run_coroutine_threadsafe(start(), loop).result()
    port = server.sockets[0].getsockname()[1]
    idle = [_fresh_get(port, "/metrics") for _ in range(runs)]
    stop = threading.Event()

    def reader(path: str) -> None:
        while not stop.is_set():
            _fresh_get(port, path)

    paths = ["/", "/events", "/charts", "/postings?q=title%3Aintern"]
    readers = [threading.Thread(target=reader, args=(path,), daemon=True) for path in paths]
    for thread in readers:
        thread.start()
    time.sleep(1)
    busy = [_fresh_get(port, "/metrics") for _ in range(runs)]
    stop.set()
    for thread in readers:
        thread.join()
    loop.call_soon_threadsafe(server.close)
    return idle, busy


def _fresh_get(port: int, path: str) -> float:
    """One request on its own connection (the daemon's endpoint answers one per connection)."""
    began = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path)
    answer = connection.getresponse()
    answer.read()
    connection.close()
    if answer.status != 200:
        raise CallFailed(f"{path}: HTTP {answer.status}")
    return (time.perf_counter() - began) * 1000


def _seeded_now(engine: Engine) -> datetime:
    """The seeding's "now": its newest event (measured calls look back from it)."""
    with engine.connect() as connection:
        newest: datetime = connection.execute(select(func.max(EventRow.at))).scalar_one()
    return newest


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postings", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40, help="requests per call (p95 over these)")
    parser.add_argument("--postgres", metavar="URL", help="also run on a throwaway database on this server")
    parser.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL")
    parser.add_argument("--sqlite", metavar="PATH", help="keep the SQLite database here (reused when seeded)")
    args = parser.parse_args()
    results = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{args.sqlite or Path(folder) / 'web.db'}")
            results.append(run(engine, "SQLite", args.postings, args.events, args.runs))
            engine.dispose()
    if args.postgres:
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        name = f"rolewatch_web_bench_{secrets.token_hex(4)}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            engine = make_engine(admin.url.set(database=name))
            results.append(run(engine, "PostgreSQL", args.postings, args.events, args.runs))
            engine.dispose()
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(
        f"\np95 target {TARGET_MS:.0f} ms: {'met by every call' if all(results) else 'NOT met by every call'}"
    )
    print(json.dumps({"target_ms": TARGET_MS, "all_met": all(results)}))


if __name__ == "__main__":
    main()
