"""History benchmark: recording an unchanged full-body re-crawl of one board as its closed postings pile up.

A board watched for months keeps every posting it ever listed; most are closed. A re-crawl whose
records are unchanged sends only sightings, and recording it should cost what the open postings
cost, whatever the history. For each size of history (closed postings) this records a board of
250 open postings crawled as sightings, five times, and five times more with a new posting
listed too, on SQLite (and PostgreSQL with `--postgres URL`), and prints the best time per crawl
of each kind and its ratio to the board with no history.
Run: `python benchmarks/history_benchmark.py [--closed 0,500,2000,8000] [--postgres URL]`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawl_benchmark import database

from rolewatch.config import Politeness, ResolvedSource, Schedule, SourceOptions
from rolewatch.domain import CrawlResult, CrawlVerdict, Location, Posting
from storage.database import make_engine, upgrade
from storage.recording import record_crawl

OPEN = 250
SOURCE = ResolvedSource(
    name="acme",
    type="greenhouse",
    options=SourceOptions(),
    interval=Schedule(every=timedelta(minutes=30)),
    jitter=0.1,
    close_after_misses=2,
    max_drop=0.5,
    timeout=timedelta(minutes=5),
    user_agent="rolewatch-benchmark",
    obey_robots=True,
    politeness=Politeness(),
)


def posting(external_id: str, closed: bool = False) -> Posting:
    return Posting(
        source=SOURCE.name,
        external_id=external_id,
        title=f"Data Scientist Intern {external_id}",
        company="Acme",
        url=f"https://acme.example/jobs/{external_id}",
        locations=(Location("Sydney, NSW", city="Sydney", region="NSW", country="AU"),),
        description_text="You will work with our data science team. " * 20,
        description_html="<p>You will work with our data science team.</p>" * 20,
        closed=closed,
    )


def crawl_of(postings: list[Posting], at: datetime, sightings: tuple[str, ...] = ()) -> CrawlResult:
    finished = at + timedelta(seconds=5)
    return CrawlResult(SOURCE.name, CrawlVerdict.COMPLETE, at, finished, tuple(postings), sightings=sightings)


def seconds_per_crawl(url: str, closed: int) -> tuple[float, float]:
    """The best of five crawls of the board's open postings as sightings alone, and the best of
    five that also list a new posting (whose repost, if it were one, the diff must find)."""
    engine = make_engine(url)
    upgrade(engine)
    at = datetime(2026, 11, 1, 9, tzinfo=UTC)
    open_postings = [posting(str(n)) for n in range(OPEN)]
    history = [posting(f"closed-{n}", closed=True) for n in range(closed)]
    record_crawl(engine, SOURCE, crawl_of(open_postings + history, at))
    sighted = tuple(p.external_id for p in open_postings)
    runs: dict[bool, list[float]] = {False: [], True: []}
    for number in range(1, 11):
        with_new = number % 2 == 0
        listed = [posting(f"new-{number}")] if with_new else []
        start = time.perf_counter()
        record = record_crawl(engine, SOURCE, crawl_of(listed, at + timedelta(hours=number), sighted))
        runs[with_new].append(time.perf_counter() - start)
        assert record.verdict is CrawlVerdict.COMPLETE and len(record.events) == len(listed), record.note
        sighted += tuple(p.external_id for p in listed)  # still listed, unchanged, next time
    engine.dispose()
    return min(runs[False]), min(runs[True])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--closed", default="0,500,2000,8000", help="sizes of history, comma-separated")
    parser.add_argument("--postgres", default="", help="also on PostgreSQL (a server URL)")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.closed.split(",")]
    backends = ["sqlite"] + ([arguments.postgres] if arguments.postgres else [])
    with tempfile.TemporaryDirectory() as work:
        for backend in backends:
            shown = "SQLite" if backend == "sqlite" else "PostgreSQL"
            print(f"{shown}: one board, {OPEN} open postings sighted")
            first: tuple[float, float] | None = None
            for size in sizes:
                with database(backend, Path(work), f"history-{size}") as url:
                    sighted, with_new = seconds_per_crawl(url, size)
                first = first or (sighted, with_new)
                alone = f"{sighted * 1000:5.1f} ms a crawl ({sighted / first[0]:.2f}× no history)"
                new = f"{with_new * 1000:5.1f} ms with a new posting ({with_new / first[1]:.2f}×)"
                print(f"  {size:>6,} closed: {alone}, {new}")


if __name__ == "__main__":
    main()
