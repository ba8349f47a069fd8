"""TikTok careers against a real HTTP server: portal headers, offset paging, the cap, and each fault."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlVerdict, Salary
from tests.boardserver import BoardRequest, BoardServer, Handler, Reply, json_reply
from tests.fixtures.tiktok import (
    INVALID_REQUEST,
    NEW_GRAD,
    SAN_JOSE,
    SEARCH,
    SINGAPORE,
    paged_search,
    snowflake,
    tiktok_answer,
    tiktok_post,
    tiktok_posts,
)
from tests.integration.crawling import by_name, resolved

CREATED = datetime(2025, 9, 14, 2, 30, 5, tzinfo=UTC)
EXPIRED_AT = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
INTERN_ID = snowflake(CREATED, 1)
GRAD_ID = snowflake(CREATED, 2)
PROJECT_ID = snowflake(CREATED, 3)
EXPIRED_ID = snowflake(CREATED, 4)

US_REQUIREMENT = (
    "Minimum Qualifications:\n- Graduating between December 2026 and August 2027\n\n"
    "The base salary range for this position in the selected city is $112000 - $180000 annually.\n"
    "We are unable to sponsor visas for this role."
)


def special_posts() -> list[dict[str, object]]:
    return [
        tiktok_post(INTERN_ID, "  Data Scientist Intern (Recommendation) - 2027 Start "),
        tiktok_post(GRAD_ID, "Machine Learning Engineer", SAN_JOSE, NEW_GRAD, requirement=US_REQUIREMENT),
        tiktok_post(
            PROJECT_ID,
            "Trust and Safety Analyst",
            SINGAPORE,
            ("202", "Intern"),
            subject="Project Intern",
            publish_time=int(datetime(2025, 9, 20, 8, 0, tzinfo=UTC).timestamp() * 1000),
            requirement="Monthly allowance: SGD 2,500 - 3,000 / Month",
        ),
        tiktok_post(
            EXPIRED_ID,
            "Data Engineer Intern",
            job_post_info={"expiry_time": int(EXPIRED_AT.timestamp() * 1000)},
        ),
    ]


def by_keyword(handlers: dict[str, Handler]) -> Handler:
    """One search path serves many sources: each source's keyword picks its own board."""

    def handler(request: BoardRequest) -> Reply:
        keyword = json.loads(request.body or b"{}").get("keyword", "")
        return handlers[keyword](request)

    return handler


def bodies(server: BoardServer, keyword: str) -> list[dict[str, object]]:
    found = [json.loads(r.body) for r in server.requests_to(SEARCH)]
    return [body for body in found if body["keyword"] == keyword]


def test_pages_to_the_count_with_portal_headers_and_normalises_postings(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    posts = [*special_posts(), *tiktok_posts(226, start=10)]
    board_server.route(SEARCH, paged_search(posts))
    entries: list[dict[str, object]] = [
        {"name": "tiktok-all", "type": "tiktok", "keyword": "data", "categories": ["6704215862603155720"],
         "locations": ["CT_94", "CT_1103355"], "base_url": board_server.url},
        {"name": "tiktok-interns", "type": "tiktok", "keyword": "", "recruitment": "intern",
         "page_size": 50, "base_url": board_server.url},
    ]  # fmt: skip

    results = by_name(crawl_sources(resolved(entries), workers=crawl_workers))

    every = results["tiktok-all"]
    assert every.verdict is CrawlVerdict.COMPLETE, every.reason
    assert len(every.postings) == 230
    pages = bodies(board_server, "data")
    assert [(b["offset"], b["limit"]) for b in pages] == [(0, 100), (100, 100), (200, 100)]
    assert pages[0] == {
        "keyword": "data",
        "limit": 100,
        "offset": 0,
        "recruitment_id_list": [],
        "job_category_id_list": ["6704215862603155720"],
        "subject_id_list": [],
        "location_code_list": ["CT_94", "CT_1103355"],
    }
    request = board_server.requests_to(SEARCH)[0]
    assert request.method == "POST"
    assert request.headers["website-path"] == "tiktok" and request.headers["portal-channel"] == "tiktok"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["origin"] == "https://lifeattiktok.com"

    postings = {p.external_id: p for p in every.postings}
    intern = postings[INTERN_ID]
    assert intern.title == "Data Scientist Intern (Recommendation) - 2027 Start"
    assert intern.company == "TikTok" and intern.department == "Data Science"
    assert intern.employment_type == "intern"
    assert [(loc.city, loc.region, loc.country) for loc in intern.locations] == [("Sydney", "NSW", "AU")]
    assert intern.url == intern.apply_url == f"https://lifeattiktok.com/search/{INTERN_ID}"
    assert intern.posted_at == CREATED, "no date field: the snowflake id's top 32 bits"
    assert intern.salary is None and intern.work_rights is None and intern.deadline is None
    assert "<h3>Qualifications</h3>" in intern.description_html
    assert "Ship dashboards that product teams use every day &amp; trust" in intern.description_html
    assert "every day & trust" in intern.description_text and "Fluent in SQL" in intern.description_text
    assert intern.extra["code"] and intern.extra["recruit_type_id"] == "202"
    assert intern.extra["job_category_parent"] == "Research and Development"

    graduate = postings[GRAD_ID]
    assert graduate.employment_type == "graduate", "recruit type 201 is new grad"
    assert [(loc.city, loc.region, loc.country) for loc in graduate.locations] == [("San Jose", "CA", "US")]
    assert graduate.salary == Salary(112000, 180000, "USD", "year", "$112000 - $180000 annually")
    assert graduate.work_rights is not None and graduate.work_rights.sponsorship == "not_offered"

    project = postings[PROJECT_ID]
    assert project.employment_type == "intern" and project.extra["job_subject"] == "Project Intern"
    assert project.locations[0].country == "SG"
    assert project.salary == Salary(2500, 3000, "SGD", "month", "SGD 2,500 - 3,000 / Month")
    assert project.posted_at == datetime(2025, 9, 20, 8, 0, tzinfo=UTC), "publish_time wins when given"

    expired = postings[EXPIRED_ID]
    assert expired.deadline == EXPIRED_AT and expired.closed, "a passed expiry_time is the board closing it"
    assert not intern.closed

    assert postings[snowflake(datetime(2026, 8, 1, tzinfo=UTC), 10)].employment_type == "full_time"

    interns = results["tiktok-interns"]
    assert interns.verdict is CrawlVerdict.COMPLETE, interns.reason
    assert sorted(p.external_id for p in interns.postings) == sorted([INTERN_ID, PROJECT_ID, EXPIRED_ID])
    intern_pages = bodies(board_server, "")
    assert [b["offset"] for b in intern_pages] == [0, 50, 100, 150, 200]
    assert {tuple(b["recruitment_id_list"]) for b in intern_pages} == {("2",)}  # type: ignore[arg-type]


def test_max_postings_makes_a_capped_read_partial(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    board_server.route(SEARCH, paged_search(tiktok_posts(250)))
    entries: list[dict[str, object]] = [
        {
            "name": "capped",
            "type": "tiktok",
            "page_size": 50,
            "max_postings": 120,
            "base_url": board_server.url,
        }
    ]

    (result,) = crawl_sources(resolved(entries), workers=crawl_workers)

    assert result.verdict is CrawlVerdict.PARTIAL
    assert len(result.postings) == 120
    assert [(b["offset"], b["limit"]) for b in bodies(board_server, "")] == [(0, 50), (50, 50), (100, 20)]
    assert "listing truncated: read 120 of 250 postings (max_postings)" in result.reason


def test_each_fault_gets_its_own_verdict(board_server: BoardServer, crawl_workers: CrawlWorkers) -> None:
    hostile = tiktok_posts(3, title="Data Analyst")
    del hostile[1]["title"]
    html = Reply(200, b"<html><body>Service unavailable</body></html>", {"Content-Type": "text/html"})
    board_server.route(
        SEARCH,
        by_keyword(
            {
                "invalid": lambda _r: json_reply(INVALID_REQUEST),
                "html": lambda _r: html,
                "broken": lambda _r: Reply(500, b"error", {"Content-Type": "text/plain"}),
                "shape": lambda _r: json_reply({"code": 0, "data": {"total": 3, "jobs": []}}),
                "empty": lambda _r: json_reply(tiktok_answer([])),
                "nothing": lambda _r: json_reply({"code": 0, "data": {"count": 0, "job_post_list": None}}),
                "hostile": lambda _r: json_reply(tiktok_answer(hostile)),
            }
        ),
    )
    names = ["invalid", "html", "broken", "shape", "empty", "nothing", "hostile"]
    entries = [{"name": n, "type": "tiktok", "keyword": n, "base_url": board_server.url} for n in names]

    results = by_name(crawl_sources(resolved(entries), workers=crawl_workers))

    label = f"POST {board_server.url}{SEARCH}"
    assert results["invalid"].verdict is CrawlVerdict.FAILED
    assert results["invalid"].reason == f"{label}: TikTok answered code 1: invalid request"
    assert results["html"].verdict is CrawlVerdict.FAILED
    assert "a maintenance or error page?" in results["html"].reason
    assert results["broken"].verdict is CrawlVerdict.FAILED
    assert results["broken"].reason == f"{label}: HTTP 500 after 1 retry"
    assert results["shape"].verdict is CrawlVerdict.FAILED
    assert 'without a "job_post_list" list' in results["shape"].reason
    for empty in ("empty", "nothing"):
        assert results[empty].verdict is CrawlVerdict.COMPLETE and results[empty].postings == ()
    hostile_result = results["hostile"]
    assert hostile_result.verdict is CrawlVerdict.PARTIAL
    assert len(hostile_result.postings) == 2
    assert hostile_result.reason.endswith("'title' is missing or blank")
