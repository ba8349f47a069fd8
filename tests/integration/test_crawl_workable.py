"""Workable against a real HTTP server: one row per location merged into one posting, digests, faults."""

from __future__ import annotations

from datetime import UTC, datetime

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlVerdict, Location, Salary
from tests.boardserver import BoardServer
from tests.fixtures.workable import workable_account, workable_place, workable_row
from tests.integration.crawling import by_name, resolved

WIDGET = "/api/v1/widget/accounts/numbat"
SYDNEY = workable_place("Australia", "AU", "Sydney", "New South Wales")
MELBOURNE = workable_place("Australia", "AU", "Melbourne", "Victoria")


def numbat_rows() -> list[dict[str, object]]:
    """The intern role is listed in two cities, so the widget sends it twice, with other rows between."""
    return [
        workable_row("A1B2C3D4E5", "Data Analyst Intern", SYDNEY, employment_type="Full-time"),
        workable_row(
            "F6A7B8C9D0",
            "Machine Learning Engineer",
            workable_place("United States", "US", "San Jose", "California"),
            telecommuting=True,
            experience="Entry level",
            department="AI",
        ),
        workable_row("A1B2C3D4E5", "Data Analyst Intern", MELBOURNE, employment_type="Full-time"),
        workable_row(
            "0E1D2C3B4A",
            "Clinical Systems Consultant",
            workable_place("United Kingdom", "GB", "London", "England"),
            employment_type="Contract",
            experience="Internship",
            benefits="",
        ),
        workable_row(
            "9F8E7D6C5B",
            "Support Specialist",
            workable_place("New Zealand", "NZ", "Auckland", hidden=True),
            employment_type="Part-time",
            locations=[
                workable_place("New Zealand", "NZ", "Auckland", hidden=True),
                workable_place("New Zealand", "NZ", "Wellington"),
            ],
        ),
    ]


def numbat(server: BoardServer) -> dict[str, object]:
    return {"name": "numbat", "type": "workable", "account": "numbat", "base_url": server.url}


def test_rows_of_one_shortcode_become_one_posting_with_every_location(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    board_server.set_json(WIDGET, workable_account(numbat_rows()))

    (result,) = crawl_sources(resolved([numbat(board_server)]), workers=crawl_workers)

    assert result.verdict is CrawlVerdict.COMPLETE, result.reason
    assert (result.stats.requests, result.stats.items) == (1, 4), "five rows, four jobs"
    (listing,) = board_server.requests_to(WIDGET)
    assert listing.query == {"details": "true"} and listing.headers["accept"] == "application/json"
    postings = {p.external_id: p for p in result.postings}

    intern = postings["A1B2C3D4E5"]
    assert (intern.title, intern.company, intern.department) == (
        "Data Analyst Intern",
        "Numbat Health",
        "Engineering",
    )
    assert intern.locations == (
        Location("Melbourne, Victoria, Australia", "Melbourne", "VIC", "AU"),
        Location("Sydney, New South Wales, Australia", "Sydney", "NSW", "AU"),
    )
    assert intern.employment_type == "intern" and intern.workplace is None
    assert intern.posted_at == datetime(2026, 11, 3, tzinfo=UTC)
    assert intern.url == "https://apply.workable.com/j/A1B2C3D4E5"
    assert intern.apply_url == "https://apply.workable.com/j/A1B2C3D4E5/apply"
    # description, requirements and benefits, sanitised; the pay is read from the text
    assert "<li>Python or TypeScript</li>" in intern.description_html
    assert "javascript:" not in intern.description_html
    assert "books hospital beds" in intern.description_text and "plus a laptop" in intern.description_text
    assert intern.salary == Salary(34, 38, "USD", "hour", "$34 - $38 per hour")
    assert intern.extra["code"] == "REQ-4E5" and intern.extra["created_at"] == "2026-10-30"

    engineer = postings["F6A7B8C9D0"]
    assert engineer.workplace == "remote" and engineer.employment_type == "graduate"  # "Entry level"
    assert [(p.city, p.region, p.country, p.remote) for p in engineer.locations] == [
        ("San Jose", "CA", "US", True)
    ]

    consultant = postings["0E1D2C3B4A"]
    assert consultant.employment_type == "intern", "an Internship level beats a Contract type"
    assert [(p.city, p.country) for p in consultant.locations] == [("London", "GB")]

    support = postings["9F8E7D6C5B"]
    assert support.employment_type == "part_time"
    assert [(p.city, p.country) for p in support.locations] == [("Wellington", "NZ")], (
        "hidden places stay hidden"
    )


def test_digests_are_taken_on_the_merged_record_whatever_the_row_order(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    board_server.set_json(WIDGET, workable_account(numbat_rows()))
    sources = resolved([numbat(board_server)])
    (first,) = crawl_sources(sources, workers=crawl_workers)
    (second,) = crawl_sources(sources, validators={"numbat": first.validators}, workers=crawl_workers)
    assert second.unchanged and board_server.requests_to(WIDGET)[-1].status == 304

    # Same jobs, rows in another order (a new body, so a 200): every job is only a sighting.
    board_server.set_json(WIDGET, workable_account(list(reversed(numbat_rows()))))
    known = {"numbat": {p.external_id: p.raw_digest for p in first.postings}}
    (third,) = crawl_sources(
        sources, validators={"numbat": first.validators}, known=known, workers=crawl_workers
    )

    assert third.verdict is CrawlVerdict.COMPLETE and not third.unchanged
    assert board_server.requests_to(WIDGET)[-1].status == 200
    assert third.postings == ()
    assert sorted(third.sightings) == sorted(p.external_id for p in first.postings)


def test_each_fault_gets_its_own_verdict(board_server: BoardServer, crawl_workers: CrawlWorkers) -> None:
    server = board_server

    def path(name: str) -> str:
        return f"/{name}/api/v1/widget/accounts/{name}"

    server.set_json(path("fine"), workable_account(numbat_rows()[:2]))
    server.set_raw(
        path("maintenance"),
        b"<html><head><title>Workable</title></head><body>We'll be right back</body></html>",
        headers={"Content-Type": "text/html"},
    )
    server.set_json(path("other"), {"results": [], "nextPage": None, "total": 0})
    server.fail(path("broken"), 500, times=99)
    server.set_json(path("empty"), workable_account([]))
    nameless = workable_row("BADBADBAD1", "Anything", SYDNEY)
    del nameless["title"]
    rows = [workable_row("GOODGOOD01", "Data Engineer", SYDNEY), nameless, {"title": "No shortcode"}]
    server.set_json(path("onebad"), workable_account(rows))
    names = ["fine", "maintenance", "other", "broken", "empty", "onebad", "missing"]
    entries = [{"name": n, "type": "workable", "account": n, "base_url": f"{server.url}/{n}"} for n in names]

    results = by_name(crawl_sources(resolved(entries), workers=crawl_workers))

    def url(name: str) -> str:
        return f"GET {server.url}{path(name)}?details=true"

    assert results["fine"].verdict is CrawlVerdict.COMPLETE and len(results["fine"].postings) == 2
    assert results["maintenance"].verdict is CrawlVerdict.FAILED
    assert results["maintenance"].reason == (
        f"{url('maintenance')}: response is not JSON (text/html: a maintenance or error page?)"
    )
    assert results["other"].verdict is CrawlVerdict.FAILED
    assert results["other"].reason.startswith(f'{url("other")}: JSON has no "jobs" list')
    assert results["broken"].verdict is CrawlVerdict.FAILED
    assert results["broken"].reason == f"{url('broken')}: HTTP 500 after 1 retry"
    assert results["empty"].verdict is CrawlVerdict.COMPLETE and results["empty"].postings == ()
    assert results["missing"].verdict is CrawlVerdict.FAILED
    assert results["missing"].reason == f"{url('missing')}: HTTP 404"

    onebad = results["onebad"]
    assert onebad.verdict is CrawlVerdict.PARTIAL
    assert [p.external_id for p in onebad.postings] == ["GOODGOOD01"]
    assert onebad.stats.errors == (
        f"{url('onebad')}: posting 'BADBADBAD1' skipped: 'title' is missing or blank",
        f"{url('onebad')}: posting (no id) skipped: 'shortcode' is missing or blank",
    )
