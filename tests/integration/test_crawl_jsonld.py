"""schema.org JobPosting pages on a real HTTP server: link following, ItemLists, sitemaps, faults."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlVerdict, Location, Salary
from tests.boardserver import BoardServer
from tests.fixtures.jsonld import (
    HTML,
    WOMBAT_DESCRIPTION,
    XML,
    flat_salary,
    graph,
    item_list,
    job_posting,
    microdata_posting,
    page,
    place,
    property_value,
    quantitative_salary,
    sitemap,
    sitemap_index,
)
from tests.integration.crawling import by_name, resolved

ORGANIZATION = {"@context": "https://schema.org", "@type": "Organization", "name": "Wombat Energy"}


def serve_wombat(server: BoardServer) -> None:
    links = [
        ("job-link", "/jobs/101?utm_source=careers"),
        ("job-link", "/jobs/102"),
        ("job-link", "jobs/103"),
        ("job-link", "/jobs/101#apply"),  # the same page again: read once
        ("job-link", "/jobs/gone"),  # taken down: 404
        ("nav", "/about"),
    ]
    server.set_raw("/careers", page(ORGANIZATION, links=links), headers=HTML)
    intern = job_posting(
        "Data Scientist Intern",
        identifier=property_value("WE-101"),
        url="/jobs/101?utm_source=schema&team=data",
        description=html.escape(WOMBAT_DESCRIPTION),  # entity-escaped, as some sites send it
        employment=["INTERN", "FULL_TIME"],
        salary=quantitative_salary(38, 42, "AUD", "HOUR"),
        places=[
            place("Sydney", "NSW", "AU"),
            place("Melbourne", "Victoria", {"@type": "Country", "name": "Australia"}),
        ],
    )
    server.set_raw("/jobs/101", page(intern), headers=HTML)
    remote = job_posting(
        "R&amp;D Engineer, Battery Controls",
        identifier="WE-102",
        employment="CONTRACTOR",
        salary=flat_salary(9000, "USD", "MONTH"),
        valid_through=None,
        jobLocationType="TELECOMMUTE",
        applicantLocationRequirements=[
            {"@type": "Country", "name": "United States"},
            {"@type": "Country", "name": "CA"},
        ],
    )
    webpage = {"@type": "WebPage", "@id": "https://wombat.example/jobs/102", "name": "R&D Engineer"}
    server.set_raw("/jobs/102", page(graph(webpage, ORGANIZATION, remote)), headers=HTML)
    graduate = microdata_posting(
        "Graduate Analyst 2027",
        "Numbat Bank",
        "Perth",
        "WA",
        "AU",
        "<p>Join our <b>graduate</b> programme.</p><ul><li>Two rotations</li></ul>",
    )
    server.set_raw("/jobs/103", page(body=graduate), headers=HTML)


def test_start_page_links_are_followed_and_each_detail_page_is_normalised(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    serve_wombat(board_server)
    source = {
        "name": "wombat",
        "type": "jsonld",
        "start_urls": ["/careers"],
        "follow": "a.job-link",
        "base_url": board_server.url,
    }

    (result,) = crawl_sources(resolved([source]), workers=crawl_workers)

    assert result.verdict is CrawlVerdict.COMPLETE, result.reason
    assert (result.stats.requests, result.stats.items, result.stats.errors) == (5, 3, ())
    postings = {p.external_id: p for p in result.postings}
    base = board_server.url
    assert set(postings) == {"WE-101", "WE-102", f"{base}/jobs/103"}

    intern = postings["WE-101"]
    assert intern.title == "Data Scientist Intern" and intern.company == "Wombat Energy"
    assert intern.url == intern.apply_url == f"{base}/jobs/101?team=data"
    assert intern.employment_type == "intern"
    assert intern.salary == Salary(38, 42, "AUD", "hour")
    assert intern.locations == (
        Location("Sydney, NSW", city="Sydney", region="NSW", country="AU"),
        Location("Melbourne, Victoria", city="Melbourne", region="VIC", country="AU"),
    )
    assert intern.workplace is None
    assert intern.posted_at == datetime(2026, 8, 3, tzinfo=UTC)
    assert intern.deadline == datetime(2030, 1, 31, 13, 59, tzinfo=UTC) and not intern.closed
    # The escaped description is unescaped exactly once: real markup, the author's "&amp;" stays "&".
    assert "<ul><li>Model battery demand with Python</li>" in intern.description_html
    assert "&lt;" not in intern.description_html
    assert "40 towns & cities" in intern.description_text
    assert intern.work_rights is not None and intern.work_rights.sponsorship == "offered"

    remote = postings["WE-102"]
    assert remote.title == "R&D Engineer, Battery Controls"
    assert remote.url == f"{base}/jobs/102" and remote.employment_type == "contract"
    assert remote.salary == Salary(9000, 9000, "USD", "month")  # never annualised
    assert remote.workplace == "remote"
    assert [(loc.country, loc.remote) for loc in remote.locations] == [("US", True), ("CA", True)]
    assert remote.deadline is None and not remote.closed
    assert remote.extra["jobLocationType"] == "TELECOMMUTE"

    graduate = postings[f"{base}/jobs/103"]  # microdata, no identifier: the page's URL is its id
    assert (graduate.title, graduate.company) == ("Graduate Analyst 2027", "Numbat Bank")
    assert graduate.employment_type == "intern"  # the site says Internship; the title does not say intern
    assert graduate.locations == (Location("Perth, WA", city="Perth", region="WA", country="AU"),)
    assert (
        graduate.description_html
        == "<p>Join our <b>graduate</b> programme.</p><ul><li>Two rotations</li></ul>"
    )
    assert graduate.posted_at == datetime(2026, 8, 10, tzinfo=UTC)

    assert len(board_server.requests_to("/jobs/101")) == 1, "a page linked twice is read once"
    assert [r.status for r in board_server.requests_to("/jobs/gone")] == [404]
    assert not board_server.requests_to("/about"), "only links the follow selector matches are followed"
    (start,) = board_server.requests_to("/careers")
    assert start.headers["accept"].startswith("text/html")


def test_item_lists_sitemaps_caps_and_faults_each_get_their_verdict(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    server = board_server
    expired = job_posting(
        "Summer Research Intern",
        identifier=1201,
        valid_through="2026-01-15",
        places=[place("Hobart", "TAS", "AU")],
    )
    listed = job_posting("Marketing Intern", url="/list/jobs/marketing-intern", valid_through=None)
    server.set_raw("/list", page(item_list(expired, listed, "/list/jobs/202"), wrap="cdata"), headers=HTML)
    server.set_raw(
        "/list/jobs/202", page(job_posting("Data Engineer", identifier="202"), wrap="comment"), headers=HTML
    )

    detail_urls = [f"{server.url}/s/jobs/{n}" for n in range(1, 6)]
    server.set_raw("/sitemap_index.xml", sitemap_index([f"{server.url}/sitemaps/jobs.xml"]), headers=XML)
    server.set_raw("/sitemaps/jobs.xml", sitemap([*detail_urls, f"{server.url}/s/about"]), headers=XML)
    for n in range(1, 6):
        server.set_raw(
            f"/s/jobs/{n}", page(job_posting(f"Field Technician {n}", identifier=f"S{n}")), headers=HTML
        )
    server.set_raw("/empty.xml", sitemap([]), headers=XML)
    server.set_raw("/html-sitemap.xml", page(), headers=HTML)

    server.set_raw("/bare", page(ORGANIZATION), headers=HTML)
    server.set_raw("/nomatch", page(links=[("nav", "/about")]), headers=HTML)
    mixed_links = [("job-link", f"/m/{n}") for n in (1, 2, 3, 4)]
    server.set_raw("/mixed", page(links=mixed_links), headers=HTML)
    server.set_raw("/m/1", page(job_posting("Site Engineer", identifier="M1")), headers=HTML)
    server.set_raw("/m/2", page(ORGANIZATION), headers=HTML)
    untitled = job_posting("Ghost", identifier="M3")
    del untitled["title"]
    server.set_raw("/m/3", page(untitled), headers=HTML)
    server.set_raw("/m/4", page('{"@type": "JobPosting", "title": "Half'), headers=HTML)
    server.fail("/down", 500, times=99)

    def source(name: str, **options: object) -> dict[str, object]:
        return {"name": name, "type": "jsonld", "base_url": server.url, **options}

    entries = [
        source("list", start_urls=["/list"]),
        source("sitemap", sitemap="/sitemap_index.xml", sitemap_filter="/s/jobs/", max_pages=3),
        source("empty", sitemap="/empty.xml"),
        source("htmlmap", sitemap="/html-sitemap.xml"),
        source("bare", start_urls=["/bare"]),
        source("nomatch", start_urls=["/nomatch"], follow="a.job-link"),
        source("mixed", start_urls=["/mixed"], follow="a.job-link"),
        source("down", start_urls=["/down"]),
    ]

    results = by_name(crawl_sources(resolved(entries, retries=0), workers=crawl_workers))

    def url(path: str) -> str:
        return f"GET {server.url}{path}"

    listing = results["list"]
    assert listing.verdict is CrawlVerdict.COMPLETE, listing.reason
    found = {p.external_id: p for p in listing.postings}
    assert set(found) == {"1201", f"{server.url}/list/jobs/marketing-intern", "202"}
    assert found["1201"].closed, "a validThrough in the past is the site closing the role"
    assert found["1201"].locations[0].country == "AU"
    assert not found["202"].closed and found["202"].title == "Data Engineer"

    capped = results["sitemap"]
    assert capped.verdict is CrawlVerdict.PARTIAL
    assert sorted(p.external_id for p in capped.postings) == ["S1", "S2", "S3"]
    assert (
        capped.reason == f"{url('/sitemaps/jobs.xml')}: listing truncated: more than max_pages=3 detail pages"
    )
    assert not server.requests_to("/s/jobs/4") and not server.requests_to("/s/about")

    assert results["empty"].verdict is CrawlVerdict.COMPLETE and results["empty"].postings == ()
    assert results["htmlmap"].verdict is CrawlVerdict.FAILED
    assert (
        results["htmlmap"].reason == f"{url('/html-sitemap.xml')}: response is not a sitemap (an HTML page)"
    )

    assert results["bare"].verdict is CrawlVerdict.FAILED, "a page without postings is never 'all closed'"
    assert results["bare"].reason == f"{url('/bare')}: no schema.org JobPosting on the page"
    assert results["nomatch"].verdict is CrawlVerdict.FAILED
    assert results["nomatch"].reason == (
        f'{url("/nomatch")}: no schema.org JobPosting on the page and nothing matches follow "a.job-link"'
    )

    mixed = results["mixed"]
    assert mixed.verdict is CrawlVerdict.PARTIAL
    assert [p.external_id for p in mixed.postings] == ["M1"]
    errors = sorted(mixed.stats.errors)
    assert errors[:2] == [
        f"{url('/m/2')}: no schema.org JobPosting on the page",
        f"{url('/m/3')}: posting 'M3' skipped: 'title' is missing or blank",
    ]
    assert errors[2].startswith(
        f"{url('/m/4')}: no schema.org JobPosting on the page (a JSON-LD block is not"
    )
    assert len(errors) == 3

    assert results["down"].verdict is CrawlVerdict.FAILED
    assert results["down"].reason == f"{url('/down')}: HTTP 500"
