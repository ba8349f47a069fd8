"""Workday against a real HTTP server: POSTed search paging with `total` on page one only, details,
relative dates, the 2,000 clamp and facet partitions, each fault's verdict, and unchanged re-crawls."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlResult, CrawlVerdict, Location, Salary
from tests.boardserver import BoardRequest, BoardServer
from tests.fixtures.workday import Tenant, wd_detail, wd_posting, wd_postings
from tests.integration.crawling import by_name, resolved

SITE = "https://bilby.wd3.myworkdayjobs.com/en-US/Bilby_Careers"


def api(tenant: str, site: str = "Bilby_Careers") -> str:
    return f"/wday/cxs/{tenant}/{site}"


def serve(
    server: BoardServer,
    tenant: str,
    board: Tenant,
    details: dict[str, dict[str, Any] | None] | None = None,
) -> Tenant:
    """The search endpoint and a detail route per posting (`details` overrides; None is a 404)."""
    server.route(f"{api(tenant)}/jobs", board)
    chosen = details or {}
    for posting in board.postings:
        path = posting.get("externalPath")
        if not path:
            continue
        detail = chosen.get(path, wd_detail(posting))
        if detail is not None:
            server.set_json(f"{api(tenant)}{path}", detail)
    return board


def source(server: BoardServer, tenant: str, **options: Any) -> dict[str, Any]:
    url = f"https://{tenant}.wd3.myworkdayjobs.com/en-US/Bilby_Careers"
    return {"name": tenant, "type": "workday", "url": url, "base_url": server.url, **options}


def detail_requests(server: BoardServer, tenant: str) -> list[BoardRequest]:
    return [r for r in server.requests if r.path.startswith(f"{api(tenant)}/job/")]


def known_from(*results: CrawlResult) -> dict[str, dict[str, str]]:
    known: dict[str, dict[str, str]] = {}
    for result in results:
        known.setdefault(result.source, {}).update(
            {p.external_id: p.raw_digest for p in result.postings if not p.closed}
        )
    return known


INTERN = wd_posting("JR-7101", "Data Science Intern", "Sydney", posted_on="Posted 6 Days Ago")
GRADUATE = wd_posting(
    "JR-7102", "Graduate Process Engineer", "United States-California-San Jose", time_type="Full time"
)
CASUAL = wd_posting("JR-7103", "Warehouse Operator - Casual", "Bega", time_type="Part time")
REMOVED = wd_posting("JR-7104", "Quality Technician", "Bega")


def test_search_paging_details_dates_partitions_and_faults(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    server = board_server
    bilby = Tenant([INTERN, GRADUATE, CASUAL, REMOVED, *wd_postings(41)])
    serve(
        server,
        "bilby",
        bilby,
        {
            INTERN["externalPath"]: wd_detail(
                INTERN, additional=["Melbourne"], start_date="2026-08-04", end_date="2026-09-30"
            ),
            GRADUATE["externalPath"]: wd_detail(
                GRADUATE, country=("United States of America", "US"), remoteType="Hybrid"
            ),
            CASUAL["externalPath"]: wd_detail(CASUAL, time_type="Part time", posted=False),
            REMOVED["externalPath"]: None,
        },
    )
    listed = [
        wd_posting("JR-8001", "Cheesemaker", "2 Locations", posted_on="Posted Yesterday"),
        wd_posting("JR-8002", "Cheese Grader", "Bega", posted_on="Posted 30+ Days Ago"),
        wd_posting("JR-8003", "Milk Tester", "Bega", posted_on="Posted Today"),
        wd_posting("JR-8004", "Packer", "Bega", posted_on=None),
    ]
    serve(server, "listonly", Tenant(listed))

    sydney, melbourne = "loc-syd", "loc-mel"
    in_sydney = wd_postings(25, start=100, title="Sydney Analyst")
    in_melbourne = wd_postings(10, start=200, title="Melbourne Analyst") + in_sydney[:5]
    memberships = {p["externalPath"]: {"locations": [sydney]} for p in in_sydney}
    for posting in in_melbourne:
        memberships.setdefault(posting["externalPath"], {"locations": []})["locations"].append(melbourne)
    parted = serve(
        server,
        "parted",
        Tenant(
            in_sydney + in_melbourne[:10],
            facets=memberships,
            labels={sydney: "Sydney", melbourne: "Melbourne"},
            groups={"locations": "locationMainGroup"},
            claimed=(2000, {sydney: 1400, melbourne: 700}),
        ),
    )
    big = Tenant(wd_postings(2050, start=10_000), facets={}, clamp=2000)
    server.route(f"{api('clamped')}/jobs", big)

    server.fail(f"{api('broken')}/jobs", 500, times=99)
    server.set_raw(
        f"{api('maintenance')}/jobs",
        b"<html><head><title>Workday is currently unavailable</title></head></html>",
        headers={"Content-Type": "text/html"},
    )
    server.set_json(f"{api('refused')}/jobs", {"errorCode": "HTTP_404", "httpStatus": 404, "message": "x"})
    serve(server, "empty", Tenant([]))
    untitled = wd_posting("JR-9003", "Untitled")
    del untitled["title"]
    serve(server, "onebad", Tenant([*wd_postings(2, start=9000), untitled]))
    entries = [
        source(server, "bilby", company="Bilby Dairy"),
        source(server, "listonly", max_details=0),
        source(server, "parted", partition_by="locations"),
        source(server, "clamped", partition_by="jobFamilyGroup", max_details=0),
        *(source(server, name) for name in ("broken", "maintenance", "refused", "empty", "onebad")),
    ]

    results = by_name(crawl_sources(resolved(entries, timeout="60s"), workers=crawl_workers))

    result = results["bilby"]
    assert result.verdict is CrawlVerdict.COMPLETE, result.reason
    assert len(result.postings) == 45
    pages = server.requests_to(f"{api('bilby')}/jobs")
    assert [json.loads(r.body) for r in pages] == [
        {"appliedFacets": {}, "limit": 20, "offset": offset, "searchText": ""} for offset in (0, 20, 40)
    ], "pages two and three said total 0: only the first page's total counts"
    assert {(r.method, r.headers["content-type"], r.headers["accept"]) for r in pages} == {
        ("POST", "application/json", "application/json")
    }
    assert len(detail_requests(server, "bilby")) == 45
    postings = {p.external_id: p for p in result.postings}
    intern = postings["JR-7101"]
    assert intern.title == "Data Science Intern" and intern.company == "Bilby Dairy"
    assert intern.employment_type == "intern", "the title beats the board's Full time"
    assert [(p.city, p.region, p.country) for p in intern.locations] == [
        ("Sydney", "NSW", "AU"),
        ("Melbourne", "VIC", "AU"),
    ]
    assert intern.posted_at == datetime(2026, 8, 4, tzinfo=UTC), (
        "the detail's startDate, not 'Posted 6 Days Ago'"
    )
    assert intern.deadline == datetime(2026, 9, 30, tzinfo=UTC)
    assert intern.salary == Salary(35, 40, "AUD", "hour", "AUD 35 - 40 per hour")
    assert intern.work_rights is not None and intern.work_rights.sponsorship == "not_offered"
    public = f"https://bilby.wd3.myworkdayjobs.com/Bilby_Careers{INTERN['externalPath']}"
    assert intern.url == intern.apply_url == public
    assert "<iframe" not in intern.description_html and "<li>" in intern.description_html
    assert "cheese for 9 million Australians & a few koalas" in intern.description_text
    assert intern.extra["jobReqId"] == "JR-7101"
    assert intern.extra["hiringOrganization"] == "Bilby Dairy Services Pty Ltd"
    graduate = postings["JR-7102"]
    assert graduate.employment_type == "graduate" and graduate.workplace == "hybrid"
    assert graduate.locations == (
        Location("United States-California-San Jose", city="San Jose", region="CA", country="US"),
    )
    casual = postings["JR-7103"]
    assert casual.employment_type == "part_time" and casual.closed, "detail posted: false closes it"
    assert postings["JR-7104"].closed, "a detail answering 404 is a closure"

    listonly = results["listonly"]
    assert listonly.verdict is CrawlVerdict.PARTIAL and "max_details=0 reached" in listonly.reason
    assert detail_requests(server, "listonly") == []
    by_id = {p.external_id: p for p in listonly.postings}
    day = listonly.started_at.replace(hour=0, minute=0, second=0, microsecond=0)
    assert by_id["JR-8001"].posted_at in (day - timedelta(days=1), day)
    assert by_id["JR-8001"].locations == (), "'2 Locations' counts places, it names none"
    assert by_id["JR-8002"].posted_at is None and by_id["JR-8002"].extra["postedOn"] == "Posted 30+ Days Ago"
    assert by_id["JR-8003"].posted_at in (day, day + timedelta(days=1))
    assert by_id["JR-8004"].posted_at is None
    site = "https://listonly.wd3.myworkdayjobs.com/Bilby_Careers"
    assert by_id["JR-8003"].url == f"{site}/job/Bega/Milk-Tester_JR-8003", (
        "built from the site and externalPath"
    )

    partitioned = results["parted"]
    assert partitioned.verdict is CrawlVerdict.COMPLETE, partitioned.reason
    assert len(partitioned.postings) == 35, "the five in both locations are read once"
    asked = sorted(json.dumps([b["appliedFacets"], b["offset"]]) for b in parted.bodies)
    expected = [
        ({}, 0),
        ({"locations": [sydney]}, 0),
        ({"locations": [melbourne]}, 0),
        ({"locations": [sydney]}, 20),
    ]
    assert asked == sorted(json.dumps([facets, offset]) for facets, offset in expected)
    assert len(detail_requests(server, "parted")) == 35

    clamped = results["clamped"]
    assert clamped.verdict is CrawlVerdict.PARTIAL and len(clamped.postings) == 2000
    assert len(big.bodies) == 100 and big.bodies[-1]["offset"] == 1980
    errors = " | ".join(clamped.stats.errors)
    assert "partition_by: this site has no facet 'jobFamilyGroup' (it offers: none)" in errors
    assert "the site lists 2000 postings but Workday serves at most 2,000 per query" in errors

    def url(tenant: str) -> str:
        return f"POST {server.url}{api(tenant)}/jobs"

    assert results["broken"].verdict is CrawlVerdict.FAILED
    assert results["broken"].reason == f"{url('broken')}: HTTP 500 after 1 retry"
    assert results["maintenance"].verdict is CrawlVerdict.FAILED
    assert "response is not JSON (text/html" in results["maintenance"].reason
    assert results["refused"].verdict is CrawlVerdict.FAILED
    assert results["refused"].reason.startswith(f'{url("refused")}: JSON has no "jobPostings" list')
    assert results["empty"].verdict is CrawlVerdict.COMPLETE and results["empty"].postings == ()
    onebad = results["onebad"]
    assert onebad.verdict is CrawlVerdict.PARTIAL and len(onebad.postings) == 2
    assert "'title' is missing or blank" in onebad.reason
    assert len(detail_requests(server, "onebad")) == 2


def test_a_recrawl_skips_details_of_unchanged_postings_even_as_posted_on_ages(
    board_server: BoardServer,
    crawl_workers: CrawlWorkers,
) -> None:
    server = board_server
    postings = wd_postings(25)
    serve(server, "steady", Tenant(postings))
    sources = resolved([source(server, "steady")])
    (first,) = crawl_sources(sources, workers=crawl_workers)
    assert first.verdict is CrawlVerdict.COMPLETE and len(detail_requests(server, "steady")) == 25
    server.clear_log()

    aged = [{**p, "postedOn": "Posted 4 Days Ago"} for p in postings]  # every list record's text moved on
    aged[7] = {**aged[7], "title": "Production Operator 7 (Night Shift)"}
    serve(server, "steady", Tenant(aged))
    (second,) = crawl_sources(sources, known=known_from(first), workers=crawl_workers)

    assert second.verdict is CrawlVerdict.COMPLETE, second.reason
    assert [r.path for r in detail_requests(server, "steady")] == [
        f"{api('steady')}{aged[7]['externalPath']}"
    ]
    assert [p.title for p in second.postings] == ["Production Operator 7 (Night Shift)"]
    assert second.postings[0].posted_at == datetime(2026, 8, 4, tzinfo=UTC)
    assert len(second.sightings) == 24 and len(server.requests_to(f"{api('steady')}/jobs")) == 2
