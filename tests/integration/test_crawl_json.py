"""The generic `json` type against a real HTTP server: JMESPath mapping, three kinds of paging, verdicts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlVerdict, Salary
from tests.boardserver import BoardRequest, BoardServer, Handler, Reply, json_reply
from tests.fixtures.json import QUOKKA_FIELDS, quokka_job, quokka_jobs, quokka_page
from tests.integration.crawling import by_name, resolved

REAL_HOST = "https://quokka.example"


def by_page_number(jobs: list[dict[str, Any]]) -> Handler:
    """Pages like `?page=N&per_page=M` (1-based), with the total in `meta`."""

    def handler(request: BoardRequest) -> Reply:
        page, size = int(request.query.get("page", 1)), int(request.query.get("per_page", 10))
        chunk = jobs[(page - 1) * size : page * size]
        return json_reply(quokka_page(chunk, total=len(jobs), page=page))

    return handler


def by_offset_in_body(jobs: list[dict[str, Any]]) -> Handler:
    """A POST search API: `{"page": {"offset", "limit"}}` in the JSON body.

    It says `Connection: close`: the test server closes every connection after one answer, and a
    client that pooled it would send the next POST into a closed socket (a GET is resent silently);
    so the POST API also gets a server of its own whose robots.txt says the same.
    """

    def handler(request: BoardRequest) -> Reply:
        window = json.loads(request.body)["page"]
        offset, limit = int(window["offset"]), int(window["limit"])
        page = quokka_page(jobs[offset : offset + limit], total=len(jobs))
        return json_reply(page, headers={"Connection": "close"})

    return handler


def by_next_link(pages: list[list[dict[str, Any]]], last_next: str | None = None) -> Handler:
    """`links.next` holds a relative link to the next page; the last page's is `last_next`."""

    def handler(request: BoardRequest) -> Reply:
        index = int(request.query.get("p", 1))
        following = f"{request.path}?p={index + 1}" if index < len(pages) else last_next
        return json_reply(quokka_page(pages[index - 1], next_link=following, page=index))

    return handler


def by_cursor(pages: list[list[dict[str, Any]]]) -> Handler:
    """Cursor paging: `meta.cursor` names the next page, sent back as `?cursor=`."""

    def handler(request: BoardRequest) -> Reply:
        index = int(request.query.get("cursor", "c1")[1:])
        payload = quokka_page(pages[index - 1], page=index)
        payload["meta"]["cursor"] = f"c{index + 1}" if index < len(pages) else None
        return json_reply(payload)

    return handler


def quokka_source(server: BoardServer, name: str = "quokka", **keys: Any) -> dict[str, Any]:
    """A source on the real host, moved onto the test server with `base_url`."""
    return {
        "name": name,
        "type": "json",
        "url": f"{REAL_HOST}/api/jobs",
        "base_url": server.url,
        "items": "data.jobs",
        "fields": QUOKKA_FIELDS,
        **keys,
    }


def test_a_paged_api_is_mapped_into_normalised_postings(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    jobs = [
        quokka_job(101, "Data Scientist Intern", ["Sydney, NSW", "San Jose, CA"]),
        quokka_job(
            102,
            "  Graduate Data Engineer\u00a02027 ",
            ["Melbourne VIC"],
            schedule="Full-time",
            pay={"note": "AUD 78,000 - 82,000 / Year"},
            published=1785000000000,
        ),
        quokka_job(
            103,
            "Machine Learning Engineer",
            ["Remote (United States)"],
            schedule="Contract",
            arrangement=None,
            state="filled",
            pay=None,
        ),
        quokka_job(104, "Research Assistant", body="We build R&D tools < 1ms.\n\nYou will:\nship models."),
        quokka_job(105, "Data Analyst", body="&lt;p&gt;Escaped once: Tom &amp;amp; Jerry&lt;/p&gt;", tags=[]),
    ]
    board_server.route("/api/jobs", by_page_number(jobs))
    paging = {"type": "page", "param": "page", "start": 1, "size_param": "per_page", "size": 2,
              "total": "meta.total"}  # fmt: skip
    source = quokka_source(board_server, paging=paging, closed_when="state == 'filled'")

    (result,) = crawl_sources(resolved([source]), workers=crawl_workers)

    assert result.verdict is CrawlVerdict.COMPLETE, result.reason
    requests = board_server.requests_to("/api/jobs")
    assert [(r.method, r.query) for r in requests] == [
        ("GET", {"page": "1", "per_page": "2"}),
        ("GET", {"page": "2", "per_page": "2"}),
        ("GET", {"page": "3", "per_page": "2"}),
    ], "the total (5) ends paging after page 3, without asking for an empty page 4"
    assert requests[0].headers["accept"] == "application/json"
    assert (result.stats.pages, result.stats.items, result.stats.errors) == (3, 5, ())
    postings = {p.external_id: p for p in result.postings}
    assert set(postings) == {"101", "102", "103", "104", "105"}

    intern = postings["101"]
    assert (intern.title, intern.company, intern.department) == (
        "Data Scientist Intern",
        "Quokka Labs",
        "Data Science",
    )
    assert [(loc.city, loc.region, loc.country) for loc in intern.locations] == [
        ("Sydney", "NSW", "AU"),
        ("San Jose", "CA", "US"),
    ]
    assert intern.employment_type == "intern" and intern.workplace == "hybrid"
    assert intern.salary == Salary(45, 55, "AUD", "hour", "Paid hourly")
    assert intern.posted_at == datetime(2026, 8, 2, 23, 0, tzinfo=UTC)
    assert intern.deadline == datetime(2026, 9, 30, tzinfo=UTC)
    # relative links resolve against the configured `url` (the real host), tracking parameters go
    assert intern.url == "https://quokka.example/careers/jobs/101"
    assert intern.apply_url == "https://apply.quokka.example/jobs/101/apply"
    assert "<script" not in intern.description_html and "evil.example" not in intern.description_html
    assert "onclick" not in intern.description_html and "javascript:" not in intern.description_html
    assert "<li>Model demand with <b>Python</b></li>" in intern.description_html
    assert "400 cafés & bakeries" in intern.description_text and "color: red" not in intern.description_text
    assert intern.work_rights is not None and intern.work_rights.sponsorship == "offered"
    assert intern.extra == {"requisition": "REQ-101", "tags": ["data", "python"]}
    assert not intern.closed

    graduate = postings["102"]
    assert graduate.title == "Graduate Data Engineer 2027" and graduate.employment_type == "graduate"
    assert graduate.salary == Salary(78000, 82000, "AUD", "year", "AUD 78,000 - 82,000 / Year")
    assert graduate.posted_at == datetime(2026, 7, 25, 17, 20, tzinfo=UTC), "epoch milliseconds"
    assert graduate.locations[0].country == "AU"

    filled = postings["103"]
    assert filled.closed, "closed_when: the API's own flag closes the posting"
    assert filled.workplace == "remote" and filled.locations[0].country == "US"
    assert filled.employment_type == "contract" and filled.salary is None

    plain = postings["104"]
    assert plain.description_html == "<p>We build R&amp;D tools &lt; 1ms.</p><p>You will:<br>ship models.</p>"
    assert plain.description_text == "We build R&D tools < 1ms.\n\nYou will:\nship models."
    escaped = postings["105"]
    assert escaped.description_html == "<p>Escaped once: Tom &amp; Jerry</p>"
    assert escaped.description_text == "Escaped once: Tom & Jerry"
    assert escaped.extra == {"requisition": "REQ-105", "tags": []}


def test_post_offset_paging_in_the_body_and_next_link_and_cursor_paging(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    feed = [quokka_jobs(2, start=1), quokka_jobs(2, start=3), quokka_jobs(1, start=5)]
    board_server.route("/api/feed", by_next_link(feed))
    board_server.route("/api/looping", by_next_link(feed[:2], last_next="/api/looping?p=2"))
    board_server.route("/api/cursor", by_cursor(feed))
    fields = {"id": "id", "title": "name", "company": "'Wombat Health'"}
    search = {
        "name": "wombat",
        "type": "json",
        "method": "POST",
        "headers": {"X-Portal": "careers"},
        "body": {"filters": {"keyword": "data"}, "page": {"offset": 999}},
        "items": "data.jobs",
        "fields": fields,
        "paging": {"type": "offset", "param": "page.offset", "limit_param": "page.limit", "limit": 3,
                   "in": "body"},
    }  # fmt: skip
    linked = {"name": "linked", "type": "json", "url": f"{board_server.url}/api/feed", "items": "data.jobs",
              "fields": fields, "paging": {"type": "next", "next": "links.next"}}  # fmt: skip
    looping = {**linked, "name": "looping", "url": f"{board_server.url}/api/looping"}
    cursor = {**linked, "name": "cursor", "url": f"{board_server.url}/api/cursor",
              "paging": {"type": "next", "next": "meta.cursor", "param": "cursor"}}  # fmt: skip

    with BoardServer() as api:
        robots = Reply(
            200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain", "Connection": "close"}
        )
        api.route("/robots.txt", lambda _request: robots)
        api.route("/api/search", by_offset_in_body(quokka_jobs(7)))
        search["url"] = f"{api.url}/api/search?lang=en"
        results = by_name(crawl_sources(resolved([search, linked, looping, cursor]), workers=crawl_workers))
        sent = api.requests_to("/api/search")

    wombat = results["wombat"]
    assert wombat.verdict is CrawlVerdict.COMPLETE, wombat.reason
    assert len(wombat.postings) == 7 and {p.company for p in wombat.postings} == {"Wombat Health"}
    assert [json.loads(r.body) for r in sent] == [
        {"filters": {"keyword": "data"}, "page": {"offset": offset, "limit": 3}} for offset in (0, 3, 6)
    ], "offset advances by what came back; the short third page is the last"
    assert {r.method for r in sent} == {"POST"} and {r.query["lang"] for r in sent} == {"en"}
    assert sent[0].headers["content-type"] == "application/json"
    assert sent[0].headers["x-portal"] == "careers" and sent[0].headers["accept"] == "application/json"

    for name in ("linked", "cursor"):
        result = results[name]
        assert result.verdict is CrawlVerdict.COMPLETE, result.reason
        assert sorted(int(p.external_id) for p in result.postings) == [1, 2, 3, 4, 5]
    assert [r.query for r in board_server.requests_to("/api/feed")] == [{}, {"p": "2"}, {"p": "3"}]
    assert [r.query for r in board_server.requests_to("/api/cursor")] == [
        {},
        {"cursor": "c2"},
        {"cursor": "c3"},
    ]
    looped = results["looping"]
    assert looped.verdict is CrawlVerdict.COMPLETE and len(looped.postings) == 4
    assert len(board_server.requests_to("/api/looping")) == 2, "a last page linking to itself is the end"


def test_each_fault_gets_its_own_verdict(board_server: BoardServer, crawl_workers: CrawlWorkers) -> None:
    server = board_server
    server.set_json("/wrong-shape", {"error": "unknown board", "code": 404})
    server.set_json("/not-a-list", {"data": {"jobs": {"id": 1, "name": "Analyst"}}})
    maintenance = b"<html><body><h1>Down for maintenance</h1></body></html>"
    server.set_raw("/maintenance", maintenance, headers={"Content-Type": "text/html"})
    server.fail("/broken", 500, times=99)
    server.set_json("/empty", quokka_page([]))
    untitled, anonymous = quokka_job(2, None), quokka_job(3, "Data Engineer")
    del anonymous["id"]
    server.set_json("/one-bad", quokka_page([quokka_job(1, "Data Analyst"), untitled, anonymous,
                                             quokka_job(4, "Data Scientist")]))  # fmt: skip
    server.set_json("/ignores-paging", quokka_page(quokka_jobs(2)))
    server.route("/capped", by_page_number(quokka_jobs(9)))

    def second_page_fails(request: BoardRequest) -> Reply:
        if request.query.get("page") == "1":
            return json_reply(quokka_page(quokka_jobs(2)))
        return Reply(502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"})

    server.route("/flaky", second_page_fails)
    page_paging = {"type": "page", "size_param": "per_page", "size": 2}
    names = ["wrong-shape", "not-a-list", "maintenance", "broken", "empty", "one-bad", "ignores-paging",
             "capped", "flaky"]  # fmt: skip
    entries = []
    for name in names:
        entry: dict[str, Any] = {"name": name, "type": "json", "url": f"{server.url}/{name}",
                                 "items": "data.jobs", "fields": {"id": "id", "title": "name"}}  # fmt: skip
        if name in ("ignores-paging", "capped", "flaky"):
            entry["paging"] = page_paging
        if name == "capped":
            entry["max_pages"] = 2
        entries.append(entry)

    results = by_name(crawl_sources(resolved(entries, retries=0), workers=crawl_workers))

    def label(name: str, query: str = "") -> str:
        return f"GET {server.url}/{name}{query}"

    wrong = results["wrong-shape"]
    assert wrong.verdict is CrawlVerdict.FAILED and wrong.postings == ()
    assert wrong.reason == (
        f"{label('wrong-shape')}: `items` ('data.jobs') is not a list here (got nothing; response: "
        '{"error": "unknown board", "code": 404})'
    ), "a JSON shape that is not the API's fails; it never reads as 'every posting closed'"
    assert results["not-a-list"].verdict is CrawlVerdict.FAILED
    assert "`items` ('data.jobs') is not a list here (got dict" in results["not-a-list"].reason
    assert results["maintenance"].verdict is CrawlVerdict.FAILED
    assert results["maintenance"].reason == (
        f"{label('maintenance')}: response is not JSON (text/html: a maintenance or error page?)"
    )
    assert results["broken"].verdict is CrawlVerdict.FAILED
    assert results["broken"].reason == f"{label('broken')}: HTTP 500"

    empty = results["empty"]
    assert empty.verdict is CrawlVerdict.COMPLETE and empty.postings == () and empty.reason == ""

    one_bad = results["one-bad"]
    assert one_bad.verdict is CrawlVerdict.PARTIAL
    assert sorted(p.external_id for p in one_bad.postings) == ["1", "4"]
    assert one_bad.stats.errors == (
        f"{label('one-bad')}: posting '2' skipped: `fields.title` ('name') found no title",
        f"{label('one-bad')}: posting (no id) skipped: `fields.id` ('id') found no id",
    )

    ignored = results["ignores-paging"]
    assert ignored.verdict is CrawlVerdict.PARTIAL and len(ignored.postings) == 2
    assert ignored.reason == (
        f"{label('ignores-paging', '?page=2&per_page=2')}: page 2 repeats page 1: "
        "does the API read `paging.param`?"
    )

    capped = results["capped"]
    assert capped.verdict is CrawlVerdict.PARTIAL and len(capped.postings) == 4
    assert capped.reason == (
        f"{label('capped', '?page=2&per_page=2')}: listing truncated: stopped after max_pages=2; "
        "the API has more"
    )
    assert len(server.requests_to("/capped")) == 2

    flaky = results["flaky"]
    assert flaky.verdict is CrawlVerdict.PARTIAL and len(flaky.postings) == 2
    assert flaky.reason == f"{label('flaky', '?page=2&per_page=2')}: HTTP 502"
