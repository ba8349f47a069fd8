"""Personio against a real HTTP server: the XML feed normalised, conditional requests, fault verdicts."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlVerdict, Location
from tests.boardserver import BoardRequest, BoardServer, Handler, Reply
from tests.fixtures.personio import personio_feed, personio_position
from tests.integration.crawling import by_name, resolved

XML = "text/xml; charset=UTF-8"


def validated(body: bytes, content_type: str = XML) -> Handler:
    """Serve `body` with an ETag and answer a matching If-None-Match with 304, as a CDN would."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def handler(request: BoardRequest) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(304, b"", {"ETag": etag})
        return Reply(200, body, {"Content-Type": content_type, "ETag": etag})

    return handler


def wombat_feed() -> bytes:
    return personio_feed(
        [
            personio_position(
                501, "Data Science Intern (m/f/d)", "Munich", ["Berlin"], employment_type="intern"
            ),
            personio_position(502, "Energy Analytics (m/f/d)", seniority="student", schedule="part-time"),
            personio_position(503, "Data Engineer", "Hamburg", seniority="entry-level"),
            personio_position(504, "Solar Consultant", "Zürich", employment_type="freelance"),
            personio_position(505, "Grid Planner", "Remote", schedule="part-time", sections=()),
            personio_position(
                501, "Data Science Intern (m/f/d)", "Munich", ["Berlin"], employment_type="intern"
            ),
        ]
    )


def test_a_feed_is_read_into_normalised_postings_and_revalidated(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    board_server.route("/xml", validated(wombat_feed()))
    board_server.route("/de/xml", validated(personio_feed([personio_position(601, "Datenanalyst")])))
    entries = [
        {"name": "wombat", "type": "personio", "company": "wombat", "country": "DE",
         "base_url": board_server.url},
        {"name": "wombat-de", "type": "personio", "company": "wombat", "language": "de",
         "base_url": f"{board_server.url}/de"},
    ]  # fmt: skip
    sources = resolved(entries)

    results = by_name(crawl_sources(sources, workers=crawl_workers))

    result = results["wombat"]
    assert result.verdict is CrawlVerdict.COMPLETE, result.reason
    assert (result.stats.requests, result.stats.items) == (1, 5), "a position listed twice is one posting"
    (listing,) = board_server.requests_to("/xml")
    assert listing.query == {"language": "en"} and "xml" in listing.headers["accept"]
    assert board_server.requests_to("/de/xml")[0].query == {"language": "de"}
    assert results["wombat-de"].verdict is CrawlVerdict.COMPLETE
    postings = {p.external_id: p for p in result.postings}

    intern = postings["501"]
    assert (intern.title, intern.company, intern.department) == (
        "Data Science Intern (m/f/d)",
        "Wombat Energy GmbH",
        "Data",
    )
    assert intern.locations == (
        Location("Munich", "Munich", None, "DE"),
        Location("Berlin", "Berlin", None, "DE"),
    )
    assert intern.employment_type == "intern" and intern.workplace is None
    assert intern.posted_at == datetime(2026, 10, 5, 7, 12, 44, tzinfo=UTC)
    assert intern.url == intern.apply_url == f"{board_server.url}/job/501?language=en"
    # each <jobDescription> as its heading and its CDATA HTML, sanitised
    assert "<h3>Your mission</h3><p>Help Wombat Energy plan solar farms &amp; batteries.</p>" in (
        intern.description_html
    )
    assert "<script>" not in intern.description_html and "x()" not in intern.description_text
    assert "Your profile" in intern.description_text and "solar farms & batteries" in intern.description_text
    assert intern.extra["seniority"] == "experienced" and intern.extra["keywords"] == "python,energy"
    assert intern.salary is None and intern.deadline is None

    assert postings["502"].employment_type == "intern", "a student seniority is a working student"
    assert postings["503"].employment_type == "graduate", "entry-level is a graduate role"
    assert postings["503"].locations[0].country == "DE"
    assert postings["504"].employment_type == "contract"
    assert [(p.city, p.country) for p in postings["504"].locations] == [("Zürich", "CH")]
    planner = postings["505"]
    assert (planner.employment_type, planner.workplace, planner.description_html) == (
        "part_time",
        "remote",
        "",
    )
    assert planner.locations == (Location("Remote", None, None, "DE", remote=True),)

    (again,) = crawl_sources(sources[:1], validators={"wombat": result.validators}, workers=crawl_workers)
    assert again.verdict is CrawlVerdict.COMPLETE and again.unchanged and again.postings == ()
    assert board_server.requests_to("/xml")[-1].status == 304


def test_each_fault_gets_its_own_verdict(board_server: BoardServer, crawl_workers: CrawlWorkers) -> None:
    server = board_server
    feed = personio_feed([personio_position(701, "Data Analyst"), personio_position(702, "Data Engineer")])
    server.set_raw("/fine/xml", feed, headers={"Content-Type": XML})
    server.set_raw(
        "/maintenance/xml",
        b"<!DOCTYPE html><html><body><h1>Page not found</h1></body></html>",
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    server.set_raw("/cut/xml", feed[: len(feed) // 2], headers={"Content-Type": XML})
    server.set_raw("/json/xml", b'{"error": "feed disabled"}', headers={"Content-Type": "application/json"})
    server.set_raw("/rss/xml", b"<?xml version='1.0'?><rss><channel/></rss>", headers={"Content-Type": XML})
    server.fail("/broken/xml", 500, times=99)
    server.set_raw("/empty/xml", personio_feed([]), headers={"Content-Type": XML})
    onebad = [
        personio_position(801, "Data Analyst"),
        personio_position(802, None),
        personio_position(803, "BI Lead"),
    ]
    server.set_raw("/onebad/xml", personio_feed(onebad), headers={"Content-Type": XML})
    names = ["fine", "maintenance", "cut", "json", "rss", "broken", "empty", "onebad", "missing"]
    entries = [{"name": n, "type": "personio", "company": n, "base_url": f"{server.url}/{n}"} for n in names]

    results = by_name(crawl_sources(resolved(entries), workers=crawl_workers))

    def url(name: str) -> str:
        return f"GET {server.url}/{name}/xml?language=en"

    assert results["fine"].verdict is CrawlVerdict.COMPLETE and len(results["fine"].postings) == 2
    assert results["maintenance"].verdict is CrawlVerdict.FAILED
    assert results["maintenance"].reason == (
        f"{url('maintenance')}: response is not the XML feed (text/html: a maintenance or error page?)"
    )
    assert results["cut"].verdict is CrawlVerdict.FAILED
    assert results["cut"].reason.startswith(f"{url('cut')}: malformed XML: ")
    assert results["json"].verdict is CrawlVerdict.FAILED
    assert results["json"].reason == f"{url('json')}: response is not XML (application/json)"
    assert results["rss"].verdict is CrawlVerdict.FAILED
    assert results["rss"].reason == f"{url('rss')}: XML root is <rss>, not the <workzag-jobs> job feed"
    assert results["broken"].verdict is CrawlVerdict.FAILED
    assert results["broken"].reason == f"{url('broken')}: HTTP 500 after 1 retry"
    assert results["empty"].verdict is CrawlVerdict.COMPLETE and results["empty"].postings == ()
    assert results["missing"].verdict is CrawlVerdict.FAILED
    assert results["missing"].reason == f"{url('missing')}: HTTP 404"

    partial = results["onebad"]
    assert partial.verdict is CrawlVerdict.PARTIAL
    assert sorted(p.external_id for p in partial.postings) == ["801", "803"]
    assert partial.reason == f"{url('onebad')}: posting '802' skipped: 'name' is missing or blank"
