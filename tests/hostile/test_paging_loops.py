"""A board that never stops paging: a page that repeats one already read stops the crawl, and so does a cap.

The hostile boards ignore their paging parameter and answer the same page for ever (Lever ignoring
`skip`, an API whose next link always says "more", an offset the search never reads, a pager that
leads back to the same list), or invent new postings on every page. Before the fix a Lever board
ignoring `skip` kept one crawl paging until its time limit. Each now stops, partial, with a reason.
"""

from __future__ import annotations

import json
from typing import Any

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlResult, CrawlVerdict
from tests.boardserver import BoardRequest, BoardServer, Reply, json_reply
from tests.fixtures.boards import lever_postings
from tests.fixtures.html import HTML, careers_page, opening
from tests.fixtures.json import quokka_jobs, quokka_page
from tests.fixtures.tiktok import SEARCH, tiktok_answer, tiktok_posts
from tests.integration.crawling import by_name, resolved

LEVER = "/v0/postings/bilby"


def crawl(entries: list[dict[str, Any]], workers: CrawlWorkers) -> dict[str, CrawlResult]:
    return by_name(crawl_sources(resolved(entries, retries=0), workers=workers))


def lever(server: BoardServer, **keys: Any) -> dict[str, Any]:
    return {"name": "bilby", "type": "lever", "site": "bilby", "base_url": server.url, **keys}


def test_a_lever_board_ignoring_skip_stops_at_its_second_page(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    same = lever_postings(100)
    board_server.route(LEVER, lambda _request: json_reply(same))

    result = crawl([lever(board_server)], crawl_workers)["bilby"]

    assert [r.query["skip"] for r in board_server.requests_to(LEVER)] == ["0", "100"]
    assert result.verdict is CrawlVerdict.PARTIAL and len(result.postings) == 100
    assert result.reason == (
        f"GET {board_server.url}{LEVER}?mode=json&skip=100&limit=100: listing truncated: page 2 holds the "
        "same postings as page 1 (the board ignores `skip`); the rest cannot be read"
    )


def test_a_lever_board_inventing_postings_stops_at_the_default_page_cap(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    def endless(request: BoardRequest) -> Reply:
        skip = int(request.query["skip"])
        return json_reply(lever_postings(1, start=skip))

    board_server.route(LEVER, endless)

    result = crawl([lever(board_server, page_size=1)], crawl_workers)["bilby"]

    assert len(board_server.requests_to(LEVER)) == 100, "max_pages defaults to 100"
    assert result.verdict is CrawlVerdict.PARTIAL and len(result.postings) == 100
    assert result.reason.endswith("listing truncated: stopped after max_pages=100 pages; the board has more")


def test_json_next_paging_that_never_moves_on_stops_at_a_repeated_page(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    def cursor_forever(request: BoardRequest) -> Reply:
        cursor = int(request.query.get("cursor", 0))
        return json_reply(quokka_page(quokka_jobs(3), next_link=f"{cursor + 1}"))  # "more", always

    def two_pages_round(request: BoardRequest) -> Reply:
        cursor = int(request.query.get("cursor", 0))
        jobs = quokka_jobs(3, start=1 + 3 * (cursor % 2))  # pages 1, 2, 1, 2, … under new cursors
        return json_reply(quokka_page(jobs, next_link=f"{cursor + 1}"))

    board_server.route("/same", cursor_forever)
    board_server.route("/round", two_pages_round)
    paging = {"type": "next", "next": "links.next", "param": "cursor"}
    entries = [
        {"name": name, "type": "json", "url": f"{board_server.url}/{name}", "items": "data.jobs",
         "fields": {"id": "id", "title": "name"}, "paging": paging}
        for name in ("same", "round")
    ]  # fmt: skip

    results = crawl(entries, crawl_workers)

    same, round_ = results["same"], results["round"]
    assert same.verdict is CrawlVerdict.PARTIAL and len(same.postings) == 3
    assert same.reason == (
        f"GET {board_server.url}/same?cursor=1: page 2 repeats page 1: does the API read `paging.param`?"
    )
    assert len(board_server.requests_to("/same")) == 2
    assert round_.verdict is CrawlVerdict.PARTIAL and len(round_.postings) == 6
    assert round_.reason.endswith("page 3 repeats page 1: does the API read `paging.param`?")
    assert len(board_server.requests_to("/round")) == 3


def test_an_offset_the_search_never_reads_stops_at_the_second_page(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    same = tiktok_posts(100)

    def ignores_offset(request: BoardRequest) -> Reply:
        assert json.loads(request.body)["offset"] in (0, 100)
        return json_reply(tiktok_answer(same, count=50_000))

    board_server.route(SEARCH, ignores_offset)
    entries = [{"name": "tiktok", "type": "tiktok", "base_url": board_server.url}]

    result = crawl(entries, crawl_workers)["tiktok"]

    assert len(board_server.requests_to(SEARCH)) == 2
    assert result.verdict is CrawlVerdict.PARTIAL and len(result.postings) == 100
    assert result.reason.endswith(
        "listing truncated: page 2 holds the same postings as page 1 (the board ignores `offset`); "
        "the rest cannot be read"
    )


def test_an_html_pager_leading_to_the_same_list_stops_at_the_second_page(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    def ignores_page(request: BoardRequest) -> Reply:
        number = int(request.query.get("page", 1))
        openings = [opening(n, f"Data Analyst {n}") for n in (1, 2, 3)]
        return Reply(200, careers_page(openings, next_href=f"/careers?page={number + 1}"), HTML)

    board_server.route("/careers", ignores_page)
    entry = {
        "name": "numbat", "type": "html", "start_urls": [f"{board_server.url}/careers"], "item": "li.opening",
        "fields": {"id": "./@data-job-id", "title": "a.title"}, "next": "a.next::attr(href)",
    }  # fmt: skip

    result = crawl([entry], crawl_workers)["numbat"]

    assert len(board_server.requests_to("/careers")) == 2
    assert result.verdict is CrawlVerdict.PARTIAL and len(result.postings) == 3
    assert result.reason == (
        f"GET {board_server.url}/careers?page=2: listing truncated: page 2 holds the same postings as "
        "page 1 (its next link leads to the same list again); the rest cannot be read"
    )
