"""SmartRecruiters against a real HTTP server: list paging, one detail per posting, closures, caps, faults,
and re-crawls that skip the detail request of every list record that did not change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlResult, CrawlVerdict, Location, Salary
from tests.boardserver import BoardRequest, BoardServer, Reply, json_reply
from tests.fixtures.smartrecruiters import sr_detail, sr_page, sr_posting, sr_postings
from tests.integration.crawling import by_name, resolved


def listing_path(company: str) -> str:
    return f"/v1/companies/{company}/postings"


def serve(
    server: BoardServer,
    company: str,
    postings: Sequence[Mapping[str, Any]],
    details: Mapping[str, Mapping[str, Any] | None] | None = None,
) -> None:
    """The list, paged by `offset`/`limit` like the real API, and a detail route per posting.

    `details` overrides a posting's detail; None there means no route (the server's 404).
    """
    chosen = dict(details or {})

    def page(request: BoardRequest) -> Reply:
        offset, limit = int(request.query.get("offset", 0)), int(request.query.get("limit", 10))
        chosen_page = [dict(p) for p in postings[offset : offset + limit]]
        return json_reply(sr_page(chosen_page, offset, limit, len(postings)))

    server.route(listing_path(company), page)
    for posting in postings:
        if "id" not in posting:
            continue
        detail = chosen.get(posting["id"], sr_detail(dict(posting)))
        if detail is not None:
            server.set_json(f"{listing_path(company)}/{posting['id']}", detail)


def source(server: BoardServer, name: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": "smartrecruiters", "company": name, "base_url": server.url, **options}


def detail_requests(server: BoardServer, company: str) -> list[BoardRequest]:
    prefix = listing_path(company) + "/"
    return [r for r in server.requests if r.path.startswith(prefix)]


def known_from(*results: CrawlResult) -> dict[str, dict[str, str]]:
    """What storage would hand back: each open posting's raw digest, by source (later results win)."""
    known: dict[str, dict[str, str]] = {}
    for result in results:
        digests = known.setdefault(result.source, {})
        digests.update({p.external_id: p.raw_digest for p in result.postings if not p.closed})
    return known


INTERN = sr_posting(
    "744000000000101",
    "Data Analyst Intern (Summer 2026/27)",
    hybrid=True,
    experience=("internship", "Internship"),
)
GRADUATE = sr_posting(
    "744000000000102",
    "Graduate Network Planner",
    city="",
    region="",
    country="nz",
    remote=True,
    department=None,
)
CONTRACTOR = sr_posting(
    "744000000000103", "Routing Consultant", city="London", region="England", country="gb",
    employment=("contract", "Contract"),
)  # fmt: skip
REMOVED = sr_posting("744000000000104", "Fleet Analyst")


def test_postings_pages_details_closures_caps_and_faults(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    server = board_server
    serve(
        server,
        "wombat",
        [INTERN, GRADUATE, CONTRACTOR, REMOVED],
        {CONTRACTOR["id"]: sr_detail(CONTRACTOR, active=False), REMOVED["id"]: None},
    )
    serve(server, "paged", sr_postings(23))
    flaky_postings = sr_postings(3, name="Dock Supervisor")
    serve(server, "flaky", flaky_postings)
    server.fail(f"{listing_path('flaky')}/{flaky_postings[1]['id']}", 500, times=99)
    untitled = sr_posting("744000000000999", "Packer")
    del untitled["name"]
    serve(server, "onebad", [*sr_postings(2), untitled])
    serve(server, "capped", sr_postings(5))
    server.fail(listing_path("broken"), 500, times=99)
    server.set_raw(
        listing_path("maintenance"),
        b"<html><body>Scheduled maintenance</body></html>",
        headers={"Content-Type": "text/html"},
    )
    server.set_json(listing_path("unknown"), {"message": "Company not found", "code": "NOT_FOUND"})
    serve(server, "empty", [])
    entries = [
        source(server, "wombat"),
        source(server, "paged", page_size=10),
        source(server, "flaky"),
        source(server, "onebad"),
        source(server, "capped", max_details=2),
        *(source(server, name) for name in ("broken", "maintenance", "unknown", "empty")),
    ]

    results = by_name(crawl_sources(resolved(entries), workers=crawl_workers))

    wombat = results["wombat"]
    assert wombat.verdict is CrawlVerdict.COMPLETE, wombat.reason
    intern, graduate, contractor, removed = sorted(wombat.postings, key=lambda p: p.external_id)
    assert intern.title == "Data Analyst Intern (Summer 2026/27)" and intern.company == "Wombat Logistics"
    assert intern.employment_type == "intern", "the experience level says internship; the type says Full-time"
    assert intern.department == "Network Planning" and intern.workplace == "hybrid"
    assert intern.locations == (Location("Melbourne, VIC", city="Melbourne", region="VIC", country="AU"),)
    assert intern.salary == Salary(32, 36, "AUD", "hour", "AUD 32 - 36 per hour")
    assert intern.posted_at == datetime(2026, 8, 3, 1, 22, 10, tzinfo=UTC)
    public = f"https://jobs.smartrecruiters.com/WombatLogistics/{INTERN['id']}-data-analyst-intern"
    assert intern.url is not None and intern.url.startswith(public)
    assert intern.apply_url == f"{intern.url}?oga=true", "tracking parameters removed"
    assert intern.description_html.index("Company Description") < intern.description_html.index("Qualif")
    assert "onerror" not in intern.description_html
    assert "Forecast parcel volumes for our Melbourne hub & model routes." in intern.description_text
    assert intern.work_rights is not None and intern.work_rights.sponsorship == "not_offered"
    assert intern.extra["refNumber"] == "WL101" and intern.extra["experienceLevel"] == "Internship"
    assert not intern.closed

    assert graduate.employment_type == "graduate" and graduate.workplace == "remote"
    assert graduate.locations == (Location("Remote", country="NZ", remote=True),)
    assert graduate.department is None
    assert contractor.employment_type == "contract" and contractor.workplace == "onsite"
    assert contractor.locations[0].country == "GB"
    assert contractor.closed, "detail active: false is the board closing it"
    assert removed.closed and removed.description_text == "", "a detail answering 404 is a closure"
    (first_page,) = server.requests_to(listing_path("wombat"))
    assert first_page.query == {"limit": "100", "offset": "0"}
    assert len(detail_requests(server, "wombat")) == 4

    paged = results["paged"]
    assert paged.verdict is CrawlVerdict.COMPLETE and len(paged.postings) == 23, paged.reason
    pages = [(r.query["offset"], r.query["limit"]) for r in server.requests_to(listing_path("paged"))]
    assert pages == [("0", "10"), ("10", "10"), ("20", "10")]
    assert len(detail_requests(server, "paged")) == 23

    flaky = results["flaky"]
    assert flaky.verdict is CrawlVerdict.PARTIAL and len(flaky.postings) == 3, (
        "a failed detail keeps the posting"
    )
    failed_url = f"{server.url}{listing_path('flaky')}/{flaky_postings[1]['id']}"
    assert flaky.stats.errors == (f"GET {failed_url}: HTTP 500 after 1 retry",)
    kept = next(p for p in flaky.postings if p.external_id == flaky_postings[1]["id"])
    assert kept.title == "Dock Supervisor 1" and kept.description_text == "" and kept.extra["details_missing"]
    assert kept.url == f"https://jobs.smartrecruiters.com/WombatLogistics/{kept.external_id}"

    onebad = results["onebad"]
    assert onebad.verdict is CrawlVerdict.PARTIAL and len(onebad.postings) == 2
    assert onebad.reason.endswith("posting '744000000000999' skipped: 'name' is missing or blank")
    assert len(detail_requests(server, "onebad")) == 2, (
        "no detail request for a record that cannot be a posting"
    )

    capped = results["capped"]
    assert capped.verdict is CrawlVerdict.PARTIAL and len(capped.postings) == 5
    assert "max_details=2 reached" in capped.reason
    assert len(detail_requests(server, "capped")) == 2
    assert sum(bool(p.extra.get("details_missing")) for p in capped.postings) == 3

    list_url = f"GET {server.url}/v1/companies/%s/postings?limit=100&offset=0"
    assert results["broken"].verdict is CrawlVerdict.FAILED
    assert results["broken"].reason == f"{list_url % 'broken'}: HTTP 500 after 1 retry"
    assert results["maintenance"].verdict is CrawlVerdict.FAILED
    assert "response is not JSON (text/html" in results["maintenance"].reason
    assert results["unknown"].verdict is CrawlVerdict.FAILED
    assert results["unknown"].reason.startswith(f'{list_url % "unknown"}: JSON has no "content" list')
    assert results["empty"].verdict is CrawlVerdict.COMPLETE and results["empty"].postings == ()


def test_a_recrawl_fetches_details_only_for_new_changed_or_still_missing_records(
    board_server: BoardServer,
    crawl_workers: CrawlWorkers,
) -> None:
    server = board_server
    steady = sr_postings(12)
    serve(server, "steady", steady)
    moving = sr_postings(4, start=50)
    serve(server, "moving", moving)
    serve(server, "capped", sr_postings(5, start=80))
    sources = resolved(
        [source(server, "steady"), source(server, "moving"), source(server, "capped", max_details=3)]
    )
    first = crawl_sources(sources, workers=crawl_workers)
    assert [r.verdict for r in first] == [CrawlVerdict.COMPLETE, CrawlVerdict.COMPLETE, CrawlVerdict.PARTIAL]
    assert [len(detail_requests(server, name)) for name in ("steady", "moving", "capped")] == [12, 4, 3]
    server.clear_log()

    edited = {**moving[2], "name": "Operations Analyst 52 (Night Shift)"}
    serve(server, "moving", [*moving[:2], edited, moving[3]])
    second = by_name(crawl_sources(sources, known=known_from(*first), workers=crawl_workers))

    steady_again = second["steady"]
    assert steady_again.verdict is CrawlVerdict.COMPLETE, steady_again.reason
    assert detail_requests(server, "steady") == [], "an unchanged board costs its list pages only"
    assert steady_again.postings == () and len(steady_again.sightings) == 12
    assert len(server.requests_to(listing_path("steady"))) == 1

    moved = second["moving"]
    assert [r.path for r in detail_requests(server, "moving")] == [f"{listing_path('moving')}/{edited['id']}"]
    assert [p.title for p in moved.postings] == ["Operations Analyst 52 (Night Shift)"]
    assert moved.postings[0].description_text != "" and len(moved.sightings) == 3

    capped = second["capped"]
    assert capped.verdict is CrawlVerdict.COMPLETE, "the two left without details last time get them now"
    assert len(detail_requests(server, "capped")) == 2 and len(capped.sightings) == 3
    assert all(p.description_text and not p.extra.get("details_missing") for p in capped.postings)
