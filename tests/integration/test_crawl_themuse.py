"""The Muse against a real HTTP server: filters, sequential paging, the page cap, the rate limit, faults."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlVerdict, Location, Salary
from tests.boardserver import BoardRequest, BoardServer, Handler, Reply, json_reply
from tests.fixtures.themuse import JOBS, muse_job, muse_jobs, muse_page, paged_jobs
from tests.integration.crawling import by_name, resolved


class InFlight:
    """Wraps a handler and records the most requests it was ever answering at once."""

    def __init__(self, handler: Handler) -> None:
        self.handler, self.now, self.most = handler, 0, 0
        self.lock = threading.Lock()

    def __call__(self, request: BoardRequest) -> Reply:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.05)  # long enough for a fanned-out request to overlap
        with self.lock:
            self.now -= 1
        return self.handler(request)


def by_company(handlers: dict[str, Handler]) -> Handler:
    """One jobs path serves many sources: each source's `company` filter picks its own board."""

    def handler(request: BoardRequest) -> Reply:
        return handlers[request.query.get("company", "")](request)

    return handler


def test_pages_in_order_with_filters_and_normalises_jobs(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    intern = muse_job(11_300_201, "  Data Analyst Intern ", locations=("New York, NY", "Flexible / Remote"))
    grad = muse_job(
        11_300_202,
        "Software Engineer, New Grad",
        locations=("San Jose, CA",),
        levels=(("Entry Level", "entry"),),
        categories=("Software Engineering",),
        contents="<p>Visa sponsorship is available for this role.</p>",
    )
    entry = muse_job(
        11_300_203,
        "Customer Support Specialist",
        locations=("Flexible / Remote",),
        levels=(("Entry Level", "entry"),),
        categories=("Customer Service",),
    )
    jobs = [intern, grad, entry, *muse_jobs(42)]
    in_flight = InFlight(paged_jobs(jobs))
    board_server.route(JOBS, in_flight)
    entries: list[dict[str, object]] = [
        {"name": "muse-numbat", "type": "themuse", "company": ["Numbat Health", "Quokka Labs"],
         "level": "Internship", "location": ["New York, NY", "Flexible / Remote"], "api_key": "k-123",
         "base_url": board_server.url},
    ]  # fmt: skip

    (result,) = crawl_sources(resolved(entries), workers=crawl_workers)

    assert result.verdict is CrawlVerdict.COMPLETE, result.reason
    assert len(result.postings) == 45
    pages = board_server.requests_to(JOBS)
    assert [r.query["page"] for r in pages] == ["0", "1", "2"]
    # Repeated keys arrive as repeated parameters (the log keeps the last of each).
    assert pages[0].query == {
        "page": "0",
        "company": "Quokka Labs",
        "level": "Internship",
        "location": "Flexible / Remote",
        "api_key": "k-123",
    }
    assert in_flight.most == 1, "pages are read one after another, never fanned out"

    postings = {p.external_id: p for p in result.postings}
    first = postings["11300201"]
    assert first.title == "Data Analyst Intern" and first.company == "Numbat Health"
    assert first.department == "Data and Analytics" and first.employment_type == "intern"
    assert first.locations == (
        Location("New York, NY", city="New York City", region="NY", country="US"),
        Location("Flexible / Remote", remote=True),
    )
    assert first.workplace is None, "one office and remote: not a fully remote role"
    assert first.salary == Salary(28, 32, "USD", "hour", "$28 - $32 per hour")
    assert first.posted_at == datetime(2026, 9, 3, 14, 5, 11, 204817, tzinfo=UTC)
    assert first.url == first.apply_url
    assert first.url is not None and first.url.startswith("https://www.themuse.com/jobs/numbat-health/")
    assert "utm_source" not in first.url
    assert "<script" not in first.description_html and "javascript:" not in first.description_html
    assert "onclick" not in first.description_html and "track(" not in first.description_text
    assert "Analyse booking funnels in SQL" in first.description_text
    assert first.extra["levels"] == ["Internship"] and first.extra["tags"] == ["Healthcare"]

    second = postings["11300202"]
    assert second.employment_type == "graduate", "Entry Level plus a new-grad title"
    assert second.work_rights is not None and second.work_rights.sponsorship == "offered"
    assert second.locations[0].country == "US"

    third = postings["11300203"]
    assert third.employment_type is None, "Entry Level alone is a seniority band, not a graduate role"
    assert third.workplace == "remote" and third.locations == (Location("Flexible / Remote", remote=True),)


def one_job_a_page(page_count: int) -> Handler:
    """A query with `page_count` pages; each holds one job, which keeps a 100-page crawl quick."""

    def handler(request: BoardRequest) -> Reply:
        page = int(request.query["page"])
        if page > 99:
            return json_reply({"code": 400, "error": "page must be <= 99"}, status=400)
        return json_reply(muse_page(muse_jobs(1, start=page), page, page_count, total=page_count * 20))

    return handler


def test_the_page_cap_and_a_spent_rate_limit_make_crawls_partial(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    board_server.route(
        JOBS,
        by_company(
            {
                "Big": one_job_a_page(101),
                "Limited": paged_jobs(muse_jobs(60, start=5000), rate_limit=2),
            }
        ),
    )
    entries = [
        {"name": n.lower(), "type": "themuse", "company": n, "base_url": board_server.url}
        for n in ("Big", "Limited")
    ]

    results = by_name(crawl_sources(resolved(entries), workers=crawl_workers))

    big = results["big"]
    assert big.verdict is CrawlVerdict.PARTIAL
    assert len(big.postings) == 100
    big_pages = [r.query["page"] for r in board_server.requests_to(JOBS) if r.query["company"] == "Big"]
    assert big_pages == [str(n) for n in range(100)], "page 100 is never asked for"
    assert big.reason.endswith(
        "listing truncated: 101 pages but the API serves pages 0-99 only; narrow the filters"
    )

    limited = results["limited"]
    assert limited.verdict is CrawlVerdict.PARTIAL
    assert len(limited.postings) == 40
    assert limited.reason.endswith(
        "listing truncated: rate limit used up after page 1 of 3; it resets in 1800s (an api_key raises it)"
    )


def test_each_fault_gets_its_own_verdict(board_server: BoardServer, crawl_workers: CrawlWorkers) -> None:
    hostile = muse_jobs(3)
    del hostile[1]["name"]
    html = Reply(200, b"<!doctype html><html><body>Oops</body></html>", {"Content-Type": "text/html"})
    board_server.route(
        JOBS,
        by_company(
            {
                "Shape": lambda _r: json_reply({"jobs": [], "count": 0}),
                "Html": lambda _r: html,
                "Refused": lambda _r: json_reply({"code": 403, "error": "rate limited"}, status=403),
                "Empty": lambda _r: json_reply(muse_page([], 0, 0)),
                "Hostile": lambda _r: json_reply(muse_page(hostile, 0, 1)),
            }
        ),
    )
    names = ["Shape", "Html", "Refused", "Empty", "Hostile"]
    entries = [
        {"name": n.lower(), "type": "themuse", "company": n, "base_url": board_server.url} for n in names
    ]

    results = by_name(crawl_sources(resolved(entries), workers=crawl_workers))

    assert results["shape"].verdict is CrawlVerdict.FAILED
    assert results["shape"].reason.endswith(
        'JSON has no "results" list (got an object with keys count, jobs)'
    )
    assert results["html"].verdict is CrawlVerdict.FAILED
    assert "a maintenance or error page?" in results["html"].reason
    assert results["refused"].verdict is CrawlVerdict.FAILED
    assert results["refused"].reason.endswith("HTTP 403")
    assert results["empty"].verdict is CrawlVerdict.COMPLETE and results["empty"].postings == ()
    hostile_result = results["hostile"]
    assert hostile_result.verdict is CrawlVerdict.PARTIAL and len(hostile_result.postings) == 2
    assert hostile_result.reason.endswith("posting 9000001 skipped: 'name' is missing or blank")
