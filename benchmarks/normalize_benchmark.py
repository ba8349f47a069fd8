"""Normalising benchmark: `GreenhouseSpider().to_posting` on N records, no network, no database.

The crawl worker normalises every new record while the parent stores them, so a first ingest of
6,000 postings/s needs the worker well under 160 µs a posting. Times are the process's CPU time,
so that other work on a shared machine weighs less on them. This prints µs per posting for the
whole `to_posting`, then for each of its steps timed alone on the same records, then the top of a
cProfile of `to_posting`. Records are the crawl benchmark's `job()` (8 boards of one shape) mixed
with a few of our own (other locations, salaries, HTML, sponsorship statements), each timed pass on
records it has not seen, after a warm-up pass on others, as a warm crawl worker meets a new board.
`--vs DIR` runs the same measurement alternately in this checkout and in DIR (say a `git worktree`
of the starting commit), each in a fresh process, and prints both medians and their ratio.
Run: `python benchmarks/normalize_benchmark.py [--records 2000] [--repeats 5] [--vs DIR]`.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import html
import io
import json
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: Our own records' varying parts: (location, content HTML, employment metadata, department, company).
VARIED: list[tuple[str, str, Any, str | None, str]] = [
    (
        "Melbourne, VIC; Sydney, NSW",
        "<h2>About</h2><p>Salary: AUD 95,000 – 110,000 per annum + super.</p>"
        "<p>You must have full working rights in Australia; we cannot offer visa sponsorship.</p>",
        "Full-time",
        "Engineering ",
        "Koala\u00a0Analytics",
    ),
    (
        "Remote (US, Canada)",
        "<div><p>The base pay range is $120,000 - $150,000 per year.</p><table><tr><th>Level</th>"
        "<td>Senior</td></tr></table><script>track()</script><pre>code\n  block</pre></div>",
        ["Full Time", "Permanent"],
        None,
        "Bilby Robotics",
    ),
    (
        "Hybrid - Toronto, ON",
        "<p>Compensation: CA$85k–95k.</p><ol start='2'><li><p>Own the roadmap</p></li><li></li></ol>"
        "<p>Visa sponsorship is available for this role.</p>",
        "Contract",
        "Product",
        "Numbat & Co",
    ),
    (
        "US-CA-San Francisco",
        "<p>Équipe <b>données</b> — Zürich &amp; Genève; 5+ years of experience, 401(k) match.</p>"
        "<p>US citizenship is required for this position.</p>",
        "Intern",
        "Data Science",
        "Quokka",
    ),
    (
        "Bengaluru, Karnataka, India",
        "<p>CTC ₹12,00,000 - ₹18,00,000 per annum.</p><ul><li>Python</li><li>Go</li></ul>",
        None,
        "Platform",
        "Wombat Labs",
    ),
    (
        "Berlin, Germany or London, UK",
        "<p>€55.000 - €65.000 brutto im Jahr, learning budget €1,000.</p><br><br><p>Apply now</p>",
        "Temporary",
        "Sales",
        "Echidna GmbH",
    ),
    ("Anywhere", "<p>No figures at all, just prose about the team and the work we do.</p>", "", "", "Dingo"),
]


def greenhouse_records(boards: range, postings: int) -> list[dict[str, Any]]:
    """The crawl benchmark's records for `boards`, every seventh posting one of `VARIED`."""
    from crawl_benchmark import job

    records = []
    for board in boards:
        for n in range(postings):
            record = job(board, n, 0)
            if n % 7 == 3:
                location, content, employment, department, company = VARIED[(board + n) % len(VARIED)]
                record["location"] = {"name": location}
                record["content"] = html.escape(content, quote=True)
                record["metadata"] = [{"id": 1, "name": "Commitment", "value": employment}]
                record["departments"] = [{"id": 2, "name": department}] if department is not None else []
                record["company_name"] = company
                record["application_deadline"] = "2026-12-31T23:59:59Z"
            records.append(record)
    return records


def measure(records_per_pass: int, repeats: int, profile: bool) -> dict[str, Any]:
    """µs per posting for `to_posting` and for each step; the caller prints them."""
    from crawler.spider import Board
    from crawler.spiders.greenhouse import GreenhouseSpider
    from rolewatch.resolve import parse_config

    (source,) = parse_config(
        json.dumps({"sources": [{"name": "bench", "type": "greenhouse", "board": "bench"}]})
    ).resolved_sources()
    board: Board[Any] = Board(source.name, source.options, source)
    spider = GreenhouseSpider()
    per_board = 250
    boards = max(1, records_per_pass // per_board)

    def fresh(offset: int) -> list[dict[str, Any]]:
        return greenhouse_records(range(offset * boards + 1, (offset + 1) * boards + 1), per_board)

    kept: list[Any] = []  # postings stay alive, as in the worker's ledger: the collector walks them
    for record in fresh(0):
        kept.append(spider.to_posting(record, board))
    totals = []
    for repeat in range(1, repeats + 1):
        records = fresh(repeat)
        started = time.process_time()
        kept.extend(spider.to_posting(record, board) for record in records)
        totals.append((time.process_time() - started) / len(records) * 1e6)
    steps = {name: seconds * 1e6 for name, seconds in _step_times(fresh(repeats + 1), board).items()}
    report: dict[str, Any] = {"records": records_per_pass, "total": min(totals), "steps": steps}
    if profile:
        records = fresh(repeats + 2)
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [spider.to_posting(record, board) for record in records])
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        report["profile"] = out.getvalue()
    return report


def _step_times(records: list[dict[str, Any]], board: Any) -> dict[str, float]:
    """Each step of `greenhouse.to_posting`, alone, on inputs the step before made; seconds a posting."""
    from crawler.normalize.dates import parse_datetime
    from crawler.normalize.employment import employment_type
    from crawler.normalize.locations import parse_locations, workplace_from
    from crawler.normalize.rights import sponsorship_from_text
    from crawler.normalize.salary import parse_salary_text
    from crawler.normalize.text import clean_text, html_to_text, sanitize_html, unescape_entities
    from crawler.normalize.urls import canonical_url
    from crawler.spiders import greenhouse
    from rolewatch.domain import Posting, WorkRights

    content = [record.get("content") or "" for record in records]
    escaped = [unescape_entities(value) for value in content]
    sanitized = [sanitize_html(value) for value in escaped]
    texts = [html_to_text(value) for value in sanitized]
    places = [(record.get("location") or {}).get("name") for record in records]
    kinds = [greenhouse._metadata_value(record, greenhouse.EMPLOYMENT_FIELDS) for record in records]
    titles = [clean_text(record["title"]) for record in records]
    fields = [spider_fields(record, board) for record in records]
    steps: list[tuple[str, Callable[[], object]]] = [
        ("unescape_entities", lambda: [unescape_entities(value) for value in content]),
        ("sanitize_html", lambda: [sanitize_html(value) for value in escaped]),
        ("html_to_text", lambda: [html_to_text(value) for value in sanitized]),
        ("sponsorship_from_text", lambda: [sponsorship_from_text(text) for text in texts]),
        ("parse_salary_text", lambda: [parse_salary_text(text) for text in texts]),
        ("parse_locations", lambda: [parse_locations(place) for place in places]),
        ("workplace_from", lambda: [workplace_from(place) for place in places]),
        ("canonical_url", lambda: [canonical_url(record.get("absolute_url")) for record in records]),
        ("title (required_text)", lambda: [clean_text(record["title"]) for record in records]),
        ("company + department", lambda: [_names(record, board) for record in records]),
        ("metadata value", lambda: [_kind_field(record) for record in records]),
        ("employment_type", lambda: [employment_type(k, t) for k, t in zip(kinds, titles, strict=True)]),
        ("parse_datetime x2", lambda: [_dates(record, parse_datetime) for record in records]),
        ("Posting(...) incl. fingerprint", lambda: [Posting(**f) for f in fields]),
        ("WorkRights(...)", lambda: [WorkRights(sponsorship="not_offered") for _ in records]),
    ]
    times = {}
    for name, step in steps:
        gc.collect()
        started = time.process_time()
        step()
        times[name] = (time.process_time() - started) / len(records)
    return times


def spider_fields(record: dict[str, Any], board: Any) -> dict[str, Any]:
    """The arguments `to_posting` gives `Posting`, fingerprint excluded, for timing the constructor."""
    from crawler.spiders.greenhouse import GreenhouseSpider

    posting = GreenhouseSpider().to_posting(record, board)
    names = [name for name in posting.__dataclass_fields__ if name != "fingerprint"]
    return {name: getattr(posting, name) for name in names}


def _names(record: dict[str, Any], board: Any) -> tuple[str, str | None]:
    from crawler.spiders import greenhouse

    return greenhouse._company(record, board.options), greenhouse._department(record)


def _kind_field(record: dict[str, Any]) -> str | None:
    from crawler.spiders import greenhouse

    return greenhouse._metadata_value(record, greenhouse.EMPLOYMENT_FIELDS)


def _dates(record: dict[str, Any], parse: Callable[[Any], Any]) -> tuple[Any, Any]:
    return parse(record.get("first_published")), parse(record.get("application_deadline"))


def show(report: dict[str, Any], label: str = "") -> None:
    print(f"{label}to_posting: {report['total']:.1f} µs/posting (best pass of {report['records']} records)")
    for name, micros in report["steps"].items():
        print(f"  {name:<32} {micros:7.1f} µs")
    print(f"  {'sum of steps':<32} {sum(report['steps'].values()):7.1f} µs")
    if "profile" in report:
        print(report["profile"])


def _paths(root: Path) -> Iterator[str]:
    yield str(root)
    yield str(HERE)  # `crawl_benchmark.job` is the record shape, whichever checkout is measured


def _child(root: Path, records: int, repeats: int) -> dict[str, Any]:
    code = (
        "import json, sys; sys.path[:0] = json.loads(sys.argv[1]); import normalize_benchmark as b; "
        "print(json.dumps(b.measure(int(sys.argv[2]), int(sys.argv[3]), False)))"
    )
    args = [sys.executable, "-c", code, json.dumps(list(_paths(root))), str(records), str(repeats)]
    out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=root).stdout
    result: dict[str, Any] = json.loads(out.splitlines()[-1])
    return result


def compare(other: Path, records: int, repeats: int, rounds: int) -> None:
    """This checkout and `other` alternately, each round in fresh processes; medians and ratio."""
    here = HERE.parent
    runs: dict[Path, list[dict[str, Any]]] = {here: [], other: []}
    for _ in range(rounds):
        for root in (other, here):
            runs[root].append(_child(root, records, repeats))
    for root, label in ((other, "baseline"), (here, "this")):
        totals = [run["total"] for run in runs[root]]
        print(f"{label:<9} {statistics.median(totals):7.1f} µs/posting  ({root}; runs {_round(totals)})")
    steps = runs[here][0]["steps"]
    print(f"\n{'step (median µs)':<34} {'baseline':>9} {'this':>9}")
    for name in steps:
        old = statistics.median(run["steps"].get(name, 0.0) for run in runs[other])
        new = statistics.median(run["steps"][name] for run in runs[here])
        print(f"  {name:<32} {old:9.1f} {new:9.1f}")
    ratios = [mine["total"] / base["total"] for mine, base in zip(runs[here], runs[other], strict=True)]
    print(f"\nthis / baseline: {statistics.median(ratios):.2f} (the median of the rounds' {_round2(ratios)})")


def _round(values: list[float]) -> str:
    return ", ".join(f"{value:.0f}" for value in values)


def _round2(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000, help="records per timed pass")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes (the best is shown)")
    parser.add_argument("--vs", type=Path, help="another checkout to measure alternately with this one")
    parser.add_argument("--rounds", type=int, default=3, help="alternations with --vs")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile listing")
    args = parser.parse_args()
    if args.vs:
        compare(args.vs.resolve(), args.records, args.repeats, args.rounds)
        return
    sys.path[:0] = list(_paths(HERE.parent))
    show(measure(args.records, args.repeats, not args.no_profile))


if __name__ == "__main__":
    main()
