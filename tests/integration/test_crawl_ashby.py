"""Ashby against a real HTTP server: compensation tiers, unlisted rows, locations, 304s and faults."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlVerdict, Location, Salary
from tests.boardserver import BoardServer
from tests.fixtures.ashby import (
    ashby_board,
    ashby_job,
    compensation,
    equity_component,
    postal,
    salary_component,
)
from tests.integration.crawling import by_name, resolved

BOARD = "/posting-api/job-board/quokka"


def quokka_jobs() -> list[dict[str, object]]:
    hourly = compensation(
        [[salary_component(40, 45, "AUD", "1 HOUR")], [salary_component(44, 50, "AUD", "1 HOUR")]],
        summary="A$40 – A$50 per hour",
    )
    yearly = compensation(
        [[salary_component(85_000, 95_000, "NZD"), equity_component("NZD")]],
        summary="NZ$85K – NZ$95K • Offers Equity",
    )
    return [
        ashby_job(
            "1f0e8a52-0000-4000-8000-000000000001",
            "Data Science Intern ",
            employment_type="Intern",
            workplace_type="Hybrid",
            is_remote=True,  # Ashby says isRemote for hybrid roles too: workplaceType wins
            secondary=[("Melbourne", postal("Melbourne", "Victoria", "Australia"))],
            pay=hourly,
        ),
        ashby_job(
            "1f0e8a52-0000-4000-8000-000000000002",
            "Graduate Software Engineer 2027",
            location="Remote (New Zealand)",
            address=postal("", "", "New Zealand"),
            workplace_type="Remote",
            is_remote=True,
            pay=yearly,
            description_html="<p>Build our clinic app. We offer visa sponsorship.</p>",
        ),
        ashby_job(
            "1f0e8a52-0000-4000-8000-000000000003",
            "Senior Data Engineer",
            location="Head Office",
            address=postal("San Jose", "California", "United States"),
            employment_type="Contract",
            workplace_type=None,
            is_remote=False,
            description_html="<p>Day rate: AUD 900 - 1,100 per day.</p>",
        ),
        ashby_job(
            "1f0e8a52-0000-4000-8000-000000000004",
            "Hidden Role",
            is_listed=False,
        ),
    ]


def test_a_board_is_read_into_normalised_postings_unlisted_rows_left_out_and_then_304(
    board_server: BoardServer,
    crawl_workers: CrawlWorkers,
) -> None:
    board_server.set_json(BOARD, ashby_board(quokka_jobs()))
    sources = resolved([{"name": "quokka", "type": "ashby", "board": "quokka", "base_url": board_server.url}])

    (result,) = crawl_sources(sources, workers=crawl_workers)

    assert result.verdict is CrawlVerdict.COMPLETE, result.reason
    assert result.stats.errors == () and result.stats.items == 3, "isListed: false is no posting and no error"
    intern, graduate, contractor = sorted(result.postings, key=lambda p: p.external_id)
    assert intern.title == "Data Science Intern" and intern.company == "quokka"
    assert intern.department == "Data & Analytics" and intern.extra["team"] == "Clinical Insights"
    assert intern.employment_type == "intern" and intern.workplace == "hybrid"
    assert [(p.city, p.region, p.country) for p in intern.locations] == [
        ("Sydney", "NSW", "AU"),
        ("Melbourne", "VIC", "AU"),
    ]
    # two hourly tiers in one currency: one range across them, exactly as offered
    assert intern.salary == Salary(40, 50, "AUD", "hour", "A$40 – A$50 per hour")
    assert intern.posted_at == datetime(2026, 8, 3, 4, 15, 9, 120_000, tzinfo=UTC)
    assert intern.url == "https://jobs.ashbyhq.com/quokka/1f0e8a52-0000-4000-8000-000000000001"
    assert intern.apply_url == f"{intern.url}/application"
    assert "<script>" not in intern.description_html and "onclick" not in intern.description_html
    assert "<li>Model patient flow with Python &amp; dbt</li>" in intern.description_html
    assert "Model patient flow with Python & dbt" in intern.description_text
    assert intern.work_rights is not None and intern.work_rights.sponsorship == "not_offered"

    assert graduate.employment_type == "graduate" and graduate.workplace == "remote"
    assert graduate.locations == (Location("Remote (New Zealand)", country="NZ", remote=True),)
    assert graduate.salary == Salary(85_000, 95_000, "NZD", "year", "NZ$85K – NZ$95K")
    assert graduate.extra["compensationTierSummary"] == "NZ$85K – NZ$95K • Offers Equity"
    assert graduate.work_rights is not None and graduate.work_rights.sponsorship == "offered"

    assert contractor.employment_type == "contract" and contractor.workplace is None
    assert contractor.locations == (Location("Head Office", city="San Jose", region="CA", country="US"),)
    assert contractor.salary == Salary(900, 1100, "AUD", "day", "AUD 900 - 1,100 per day")

    (listing,) = board_server.requests_to(BOARD)
    assert listing.method == "GET" and listing.query == {"includeCompensation": "true"}
    assert listing.headers["accept"] == "application/json"

    # one request is the whole board, so the server's validators vouch for all of it
    (again,) = crawl_sources(sources, validators={"quokka": result.validators}, workers=crawl_workers)
    assert again.verdict is CrawlVerdict.COMPLETE and again.unchanged and again.postings == ()
    assert board_server.requests_to(BOARD)[-1].status == 304


def test_each_fault_gets_its_own_verdict(board_server: BoardServer, crawl_workers: CrawlWorkers) -> None:
    server = board_server
    server.fail("/posting-api/job-board/broken", 500, times=99)
    server.set_raw(
        "/posting-api/job-board/maintenance",
        b"<!doctype html><html><body>Ashby is down for maintenance</body></html>",
        headers={"Content-Type": "text/html"},
    )
    server.set_json("/posting-api/job-board/private", {"success": False, "errors": ["job board not found"]})
    server.set_json("/posting-api/job-board/empty", ashby_board([]))
    broken = ashby_job("1f0e8a52-0000-4000-8000-00000000000b", "Analyst")
    del broken["title"]
    jobs = [ashby_job("1f0e8a52-0000-4000-8000-00000000000a", "Data Analyst"), broken, *quokka_jobs()[:1]]
    server.set_json("/posting-api/job-board/onebad", ashby_board(jobs))
    server.set_raw(
        "/posting-api/job-board/Hippocratic%20AI",
        json.dumps(ashby_board(quokka_jobs()[:2])).encode(),
        headers={"Content-Type": "application/json"},
    )
    names = ["broken", "maintenance", "private", "empty", "onebad", "missing", "Hippocratic AI"]
    entries = [
        {"name": n.replace(" ", "-"), "type": "ashby", "board": n, "base_url": server.url} for n in names
    ]

    results = by_name(crawl_sources(resolved(entries), workers=crawl_workers))

    def url(board: str) -> str:
        return f"GET {server.url}/posting-api/job-board/{board}?includeCompensation=true"

    assert results["broken"].verdict is CrawlVerdict.FAILED
    assert results["broken"].reason == f"{url('broken')}: HTTP 500 after 1 retry"
    assert results["maintenance"].verdict is CrawlVerdict.FAILED
    assert "response is not JSON (text/html" in results["maintenance"].reason
    assert results["private"].verdict is CrawlVerdict.FAILED
    assert results["private"].reason.startswith(f'{url("private")}: JSON has no "jobs" list (got an object')
    assert results["empty"].verdict is CrawlVerdict.COMPLETE and results["empty"].postings == ()
    assert results["missing"].verdict is CrawlVerdict.FAILED
    assert results["missing"].reason == f"{url('missing')}: HTTP 404"

    onebad = results["onebad"]
    assert onebad.verdict is CrawlVerdict.PARTIAL and len(onebad.postings) == 2
    skipped = "posting '1f0e8a52-0000-4000-8000-00000000000b' skipped: 'title' is missing or blank"
    assert onebad.reason == f"{url('onebad')}: {skipped}"
    spaced = results["Hippocratic-AI"]
    assert spaced.verdict is CrawlVerdict.COMPLETE and len(spaced.postings) == 2, spaced.reason
