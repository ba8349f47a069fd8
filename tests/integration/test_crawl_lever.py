"""Lever against a real HTTP server: skip/limit paging to a short page, the EU host, and paging faults."""

from __future__ import annotations

from datetime import UTC, datetime

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlVerdict, Salary
from tests.boardserver import BoardRequest, BoardServer, Handler, Reply, json_reply
from tests.fixtures.boards import lever_posting, lever_postings
from tests.integration.crawling import by_name, resolved, with_limits


def paged(postings: list[dict[str, object]]) -> Handler:
    """A handler that pages like Lever: `skip` and `limit` from the query string."""

    def handler(request: BoardRequest) -> Reply:
        skip, limit = int(request.query.get("skip", 0)), int(request.query.get("limit", 100))
        return json_reply(postings[skip : skip + limit])

    return handler


def test_pages_until_a_short_page_and_normalises_postings(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    intern = lever_posting(
        "5ac1a1e0-1111-4c4c-9d9d-000000000001",
        "Machine Learning Intern, Perception",
        salary_range={"currency": "USD", "interval": "per-hour-wage", "min": 45, "max": 55},
    )
    postings = [intern, *lever_postings(336, start=1)]
    board_server.route("/v0/postings/bilby", paged(postings))
    with BoardServer() as eu:
        eu.route("/v0/postings/bilby-eu", paged(lever_postings(20, title="Lagerist")))
        entries: list[dict[str, object]] = [
            {"name": "bilby", "type": "lever", "site": "bilby", "base_url": board_server.url},
            {"name": "bilby-eu", "type": "lever", "site": "bilby-eu", "page_size": 50, "base_url": eu.url},
        ]
        results = by_name(crawl_sources(resolved(entries), workers=crawl_workers))
        eu_pages = eu.requests_to("/v0/postings/bilby-eu")

    bilby = results["bilby"]
    assert bilby.verdict is CrawlVerdict.COMPLETE, bilby.reason
    assert len(bilby.postings) == 337
    pages = board_server.requests_to("/v0/postings/bilby")
    assert [(r.query["skip"], r.query["limit"], r.query["mode"]) for r in pages] == [
        ("0", "100", "json"),
        ("100", "100", "json"),
        ("200", "100", "json"),
        ("300", "100", "json"),
    ]
    assert (bilby.stats.requests, bilby.stats.pages, bilby.stats.items) == (4, 4, 337)

    posting = next(p for p in bilby.postings if p.external_id == intern["id"])
    assert posting.title == "Machine Learning Intern, Perception"
    assert posting.company == "bilby" and posting.department == "Engineering"
    assert posting.employment_type == "intern" and posting.workplace == "hybrid"
    assert [(loc.city, loc.region, loc.country) for loc in posting.locations] == [("San Jose", "CA", "US")]
    assert posting.salary == Salary(
        45, 55, "USD", "hour", "The hourly rate for this internship is shown below."
    )
    assert posting.posted_at == datetime(2026, 9, 1, 9, 30, tzinfo=UTC)
    assert posting.url == f"https://jobs.lever.co/bilby/{intern['id']}"
    assert posting.apply_url == f"https://jobs.lever.co/bilby/{intern['id']}/apply"
    # opening + body once, each list as a heading and bullets, then the closing text
    assert posting.description_html.count("Bilby Robotics builds warehouse robots.") == 1
    assert "<li>Train models</li>" in posting.description_html
    assert (
        "What you'll do" in posting.description_text
        and "equal opportunity employer" in posting.description_text
    )
    assert posting.extra["team"] == "Machine Learning" and posting.extra["country"] == "US"

    eu_result = results["bilby-eu"]
    assert eu_result.verdict is CrawlVerdict.COMPLETE and len(eu_result.postings) == 20
    assert [(r.query["skip"], r.query["limit"]) for r in eu_pages] == [("0", "50")]
    assert not board_server.requests_to("/v0/postings/bilby-eu"), "base_url must move the whole API"


def test_a_failing_or_slow_second_page_keeps_the_first_and_an_error_object_fails(
    board_server: BoardServer,
    crawl_workers: CrawlWorkers,
) -> None:
    first_page = lever_postings(10)

    def second_page_hangs(request: BoardRequest) -> Reply:
        if request.query.get("skip") == "0":
            return json_reply(first_page)
        return Reply(200, b"[]", {"Content-Type": "application/json"}, delay_s=30)

    def second_page_fails(request: BoardRequest) -> Reply:
        if request.query.get("skip") == "0":
            return json_reply(first_page)
        return Reply(502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"})

    board_server.route("/v0/postings/flaky", second_page_fails)
    board_server.route("/v0/postings/sluggish", second_page_hangs)
    board_server.set_json("/v0/postings/gone", {"ok": False, "error": "Document not found"})
    entries: list[dict[str, object]] = [
        {"name": "flaky", "type": "lever", "site": "flaky", "page_size": 10, "base_url": board_server.url},
        {"name": "gone", "type": "lever", "site": "gone", "base_url": board_server.url},
        {
            "name": "sluggish",
            "type": "lever",
            "site": "sluggish",
            "page_size": 10,
            "base_url": board_server.url,
        },
    ]
    sources = resolved(entries)
    sources[2] = with_limits(sources[2], timeout_s=2)

    results = by_name(crawl_sources(sources, workers=crawl_workers))

    flaky = results["flaky"]
    assert flaky.verdict is CrawlVerdict.PARTIAL
    assert len(flaky.postings) == 10
    page_two = f"GET {board_server.url}/v0/postings/flaky?mode=json&skip=10&limit=10"
    assert flaky.reason == f"{page_two}: HTTP 502 after 1 retry"
    assert (flaky.stats.pages, flaky.stats.requests, flaky.stats.retries) == (1, 3, 1)

    gone = results["gone"]
    assert gone.verdict is CrawlVerdict.FAILED
    assert gone.reason.endswith(
        'expected a JSON array of postings, got an object: {"ok": false, "error": "Document not found"}'
    )

    sluggish = results["sluggish"]
    assert sluggish.verdict is CrawlVerdict.PARTIAL, "a time-out after some postings keeps them"
    assert len(sluggish.postings) == 10
    assert sluggish.reason == "timed out after 2s with 1 request(s) unfinished"
