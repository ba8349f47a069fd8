"""GradConnection against a real HTTP server: header paging, fallback padding, placeholders, faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlVerdict, Salary, WorkRights
from tests.boardserver import BoardRequest, BoardServer, Handler, Reply, json_reply
from tests.fixtures.gradconnection import (
    EVERYONE_LOCAL,
    SEARCH,
    campaign_id,
    gc_campaign,
    gc_group,
    gc_groups,
    notify_me,
    paged_search,
)
from tests.integration.crawling import by_name, resolved

NOW = datetime.now(UTC).replace(microsecond=0)
OPEN_UNTIL = NOW + timedelta(days=20)
CLOSED_AT = NOW - timedelta(days=3)


def by_query(handlers: dict[str, Handler]) -> Handler:
    """One search path serves many sources: each source's `query` picks its own board."""

    def handler(request: BoardRequest) -> Reply:
        return handlers[request.query.get("query", "")](request)

    return handler


def special_groups() -> list[dict[str, object]]:
    internship = gc_campaign(
        1,
        "Data Science Summer Internship 2026/27",
        locations=("Sydney", "Melbourne"),
        end=OPEN_UNTIL.isoformat(),
        salary="AUD 78,000 - 82,000 / Year",
    )
    event = gc_campaign(2, "Dingo Analytics Careers Evening", is_event=True, job_type="Graduate Jobs")
    graduate = gc_campaign(
        3,
        "Data Engineer",
        locations=("Perth",),
        job_type="Graduate Jobs",
        end=CLOSED_AT.isoformat(),
        work_rights=["Australian Citizen"],
        salary={"min_salary": 70000, "max_salary": 75000, "details": "$70,000 - $75,000 + super"},
    )
    quant = gc_campaign(
        4,
        "Quantitative Research Intern",
        locations=("Remote",),
        job_type={"id": "f3b0", "name": "Internships", "slug": "internships", "count": None},
        work_rights=[*EVERYONE_LOCAL, "International Student"],
        salary="AUD 45 - 50 / Hour",
        show_salary=False,
        origin_target_url="",
    )
    return [
        gc_group([internship, event]),
        notify_me(90),
        gc_group([graduate], "Quokka Mining"),
        gc_group([quant], "Platypus Capital"),
    ]


def test_follows_link_headers_skips_placeholders_and_normalises_campaigns(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    groups = [*special_groups(), *gc_groups(236, start=100)]
    board_server.route(SEARCH, paged_search(groups, link_host="https://au.gradconnection.com"))
    entries: list[dict[str, object]] = [
        {"name": "gradconnection-ds", "type": "gradconnection", "job_type": "internships",
         "query": "data science", "location": "sydney,AU,Cities", "discipline": "data-science-and-analytics",
         "base_url": board_server.url},
    ]  # fmt: skip

    (result,) = crawl_sources(resolved(entries), workers=crawl_workers)

    assert result.verdict is CrawlVerdict.COMPLETE, result.reason
    assert len(result.postings) == 239, "236 + 3: the event and the notify-me placeholder are not postings"
    pages = board_server.requests_to(SEARCH)
    assert [(r.query["offset"], r.query["limit"]) for r in pages] == [
        ("0", "100"),
        ("100", "100"),
        ("200", "100"),
    ]
    assert pages[0].query == {
        "job_type": "internships",
        "location": "sydney,AU,Cities",
        "query": "data science",
        "disciplines": "data-science-and-analytics",
        "limit": "100",
        "offset": "0",
    }
    assert pages[0].headers["accept"] == "application/json"

    postings = {p.external_id: p for p in result.postings}
    assert campaign_id(2) not in postings and campaign_id(90) not in postings
    intern = postings[campaign_id(1)]
    assert intern.title == "Data Science Summer Internship 2026/27"
    assert intern.company == "Dingo Analytics" and intern.employment_type == "intern"
    assert [(loc.city, loc.region, loc.country) for loc in intern.locations] == [
        ("Sydney", "NSW", "AU"),
        ("Melbourne", "VIC", "AU"),
    ]
    assert intern.salary == Salary(78000, 82000, "AUD", "year", "AUD 78,000 - 82,000 / Year")
    assert intern.work_rights == WorkRights("not_offered", tuple(EVERYONE_LOCAL))
    assert intern.posted_at == datetime(2026, 8, 3, tzinfo=UTC)
    assert intern.deadline == OPEN_UNTIL and not intern.closed
    base = board_server.url  # the site's pages live where its API does (a mirror, here the test server)
    assert intern.url == f"{base}/employers/dingo-analytics/jobs/data-science-summer-internship-2026-27-1/"
    assert intern.apply_url == "https://careers.example.com.au/jobs/1"
    assert intern.description_text == "Spend 12 weeks with our analytics team building models & dashboards."
    assert intern.extra["display_disciplines"] == ["Data Science and Analytics", "Computer Science"]
    assert intern.extra["earliest_closing_date"] == OPEN_UNTIL.isoformat()

    graduate = postings[campaign_id(3)]
    assert graduate.employment_type == "graduate" and graduate.company == "Quokka Mining"
    assert graduate.locations[0].country == "AU" and graduate.locations[0].region == "WA"
    assert graduate.salary == Salary(70000, 75000, "AUD", "year", "$70,000 - $75,000 + super")
    assert graduate.work_rights == WorkRights("citizens_only", ("Australian Citizen",))
    assert graduate.deadline == CLOSED_AT and graduate.closed, "a closing date that has passed closes it"

    quant = postings[campaign_id(4)]
    assert quant.employment_type == "intern" and quant.extra["job_type"] == "Internships"
    assert quant.salary is None, "show_salary: false hides the salary"
    assert quant.work_rights == WorkRights(None, (*EVERYONE_LOCAL, "International Student"))
    assert quant.deadline is None and quant.extra["open_until"] == "2099-12-31T12:59:00+00:00"
    assert quant.workplace == "remote" and quant.locations[0].country == "AU"
    assert quant.apply_url == f"{base}/track-link/{campaign_id(1004)}/"


def test_fallback_padding_ends_the_listing_at_the_last_real_match(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    padded = gc_groups(2, start=10, title="Quantum Analyst") + gc_groups(8, start=500, title="Unrelated Role")
    spread = gc_groups(7, start=20, title="Actuarial Intern") + gc_groups(
        8, start=600, title="Unrelated Role"
    )

    def no_amount(request: BoardRequest) -> Reply:
        return json_reply(gc_groups(3), headers={"fallback": "True", "count": "3"})

    board_server.route(
        SEARCH,
        by_query(
            {
                "quantum": paged_search(padded, fallback_amount=2),
                "actuarial": paged_search(spread, fallback_amount=7),
                "vague": no_amount,
            }
        ),
    )
    entries = [
        {"name": q, "type": "gradconnection", "query": q, "page_size": 5, "base_url": board_server.url}
        for q in ("quantum", "actuarial", "vague")
    ]

    results = by_name(crawl_sources(resolved(entries), workers=crawl_workers))

    quantum = results["quantum"]
    assert quantum.verdict is CrawlVerdict.COMPLETE, quantum.reason
    assert sorted(p.title for p in quantum.postings) == ["Quantum Analyst 10", "Quantum Analyst 11"]
    asked = [r.query["offset"] for r in board_server.requests_to(SEARCH) if r.query.get("query") == "quantum"]
    assert asked == ["0"], "the next link only leads to more padding"

    actuarial = results["actuarial"]
    assert actuarial.verdict is CrawlVerdict.COMPLETE, actuarial.reason
    assert len(actuarial.postings) == 7 and all(p.title.startswith("Actuarial") for p in actuarial.postings)
    asked = [
        r.query["offset"] for r in board_server.requests_to(SEARCH) if r.query.get("query") == "actuarial"
    ]
    assert asked == ["0", "5"]

    vague = results["vague"]
    assert vague.verdict is CrawlVerdict.FAILED
    assert vague.reason.endswith(
        "padded with fallback ones, but fallback_amount does not say how many are real"
    )


def test_caps_and_faults_get_their_own_verdicts(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    hostile = gc_groups(3, start=40)
    del hostile[1]["campaigns"][0]["title"]
    html = Reply(200, b"<html><body>Bad gateway</body></html>", {"Content-Type": "text/html"})
    board_server.route(
        SEARCH,
        by_query(
            {
                "long": paged_search(gc_groups(30, start=50)),
                "headless": lambda _r: json_reply(gc_groups(10, start=90)),
                "html": lambda _r: html,
                "broken": lambda _r: Reply(500, b"error", {"Content-Type": "text/plain"}),
                "shape": lambda _r: json_reply({"detail": "Invalid page."}),
                "empty": lambda _r: json_reply([], headers={"count": "0"}),
                "hostile": lambda _r: json_reply([*hostile, {"unexpected": True}], headers={"count": "4"}),
            }
        ),
    )
    names = ["long", "headless", "html", "broken", "shape", "empty", "hostile"]
    entries = [
        {"name": n, "type": "gradconnection", "query": n, "page_size": 10, "max_pages": 2,
         "base_url": board_server.url}
        for n in names
    ]  # fmt: skip

    results = by_name(crawl_sources(resolved(entries), workers=crawl_workers))

    long = results["long"]
    assert long.verdict is CrawlVerdict.PARTIAL and len(long.postings) == 20
    assert long.reason.endswith("listing truncated: stopped after 2 pages (max_pages) with more to read")
    headless = results["headless"]
    assert headless.verdict is CrawlVerdict.PARTIAL and len(headless.postings) == 10
    assert headless.reason.endswith("a full page came without paging headers; the rest cannot be found")
    assert results["html"].verdict is CrawlVerdict.FAILED
    assert "a maintenance or error page?" in results["html"].reason
    assert results["broken"].verdict is CrawlVerdict.FAILED
    assert results["broken"].reason.endswith("HTTP 500 after 1 retry")
    assert results["shape"].verdict is CrawlVerdict.FAILED
    assert results["shape"].reason.endswith(
        'expected a JSON array of postings, got an object: {"detail": "Invalid page."}'
    )
    assert results["empty"].verdict is CrawlVerdict.COMPLETE and results["empty"].postings == ()
    hostile_result = results["hostile"]
    assert hostile_result.verdict is CrawlVerdict.PARTIAL
    assert len(hostile_result.postings) == 2
    assert len(hostile_result.stats.errors) == 2, hostile_result.stats.errors
    assert "'title' is missing or blank" in hostile_result.stats.errors[0]
