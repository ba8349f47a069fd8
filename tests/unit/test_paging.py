"""The paging guard: a page that repeats one already read in its chain, and page budgets that fan out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import Response, TextResponse

from crawler.registry import source_types
from crawler.spider import Board, ListingTruncated
from crawler.spiders._paging import META_PAGES_READ, PageBudget, page_identity, read_page, stop_at_repeat
from crawler.spiders.lever import Options
from tests.fixtures.boards import lever_postings
from tests.fixtures.gradconnection import gc_groups
from tests.fixtures.smartrecruiters import sr_page, sr_postings
from tests.fixtures.themuse import muse_jobs, muse_page
from tests.fixtures.tiktok import tiktok_answer, tiktok_posts
from tests.fixtures.workday import wd_page, wd_postings
from tests.integration.crawling import resolved

URL = "https://board.example/jobs"


def record_id(record: Any) -> str | None:
    return str(record["id"]) if "id" in record else None


def response(meta: dict[str, Any]) -> Response:
    return Response(URL, request=Request(URL, meta=meta))


def page(*ids: int) -> list[dict[str, Any]]:
    return [{"id": n, "title": f"Role {n}"} for n in ids]


def test_a_page_is_known_by_its_ids_in_any_order_or_by_its_digest() -> None:
    assert page_identity(page(1, 2, 3), record_id) == page_identity(page(3, 1, 2), record_id)
    assert page_identity(page(1, 2), record_id) != page_identity(page(1, 2, 3), record_id)
    anonymous = [{"title": "no id"}, {"title": "none either"}]
    assert page_identity(anonymous, record_id) == page_identity(list(anonymous), record_id)
    assert page_identity(anonymous, record_id) != page_identity(anonymous[:1], record_id)
    assert page_identity([], record_id) is None


def test_a_chain_remembers_its_pages_and_names_the_one_a_page_repeats() -> None:
    earlier, meta = read_page(response({}), page(1, 2), 1, record_id)
    assert earlier is None
    earlier, meta = read_page(response(meta), page(3, 4), 2, record_id)
    assert earlier is None
    earlier, _ = read_page(response(meta), page(2, 1), 3, record_id)
    assert earlier == 1, "any earlier page counts, not only the previous one"
    with pytest.raises(ListingTruncated, match=r"page 3 holds the same postings as page 2 \(why\)"):
        stop_at_repeat(response(meta), page(4, 3), 3, record_id, "why")


def test_empty_pages_and_other_chains_are_never_repeats() -> None:
    _, meta = read_page(response({}), page(1), 1, record_id)
    assert read_page(response(meta), [], 2, record_id)[0] is None
    assert read_page(response(meta), [], 2, record_id)[0] is None
    assert read_page(response({}), page(1), 1, record_id)[0] is None, "a new chain starts empty"


def test_a_budget_grants_page_requests_per_source_up_to_max_pages() -> None:
    (source,) = resolved([{"name": "acme", "type": "lever", "site": "acme"}])
    board: Board[Options] = Board("acme", source.options, source)  # type: ignore[arg-type]
    other: Board[Options] = Board("other", source.options, source)  # type: ignore[arg-type]
    budget = PageBudget()
    assert budget.grant(board, 1, 5) == 1
    assert budget.grant(board, 10, 5) == 4, "a fan-out is trimmed to what is left"
    assert budget.grant(board, 1, 5) == 0
    assert budget.grant(other, 3, 5) == 3, "each source has its own"


# --- every paged type: a repeated page and a cap of one page ----------------------------------------


def _answer(payload: Any) -> bytes:
    return json.dumps(payload).encode()


#: For each paged type: its source keys and one full page that says there is more (body, headers).
PAGED_TYPES: dict[str, tuple[dict[str, Any], bytes, dict[str, str]]] = {
    "lever": ({"site": "bilby"}, _answer(lever_postings(100)), {}),
    "smartrecruiters": (
        {"company": "Wombat"},
        _answer(sr_page(sr_postings(100), offset=0, limit=100, total=10_000)),
        {},
    ),
    "workday": (
        {"url": "https://acme.wd5.myworkdayjobs.com/External"},
        _answer(wd_page(wd_postings(20), 1000)),
        {},
    ),
    "themuse": ({}, _answer(muse_page(muse_jobs(20), page=0, page_count=50)), {}),
    "tiktok": ({}, _answer(tiktok_answer(tiktok_posts(100), count=10_000)), {}),
    "gradconnection": ({}, _answer(gc_groups(100)), {"count": "10000"}),
}


def first_page(kind: str, **keys: Any) -> tuple[Any, Board[Any], Request]:
    options, _, _ = PAGED_TYPES[kind]
    (source,) = resolved([{"name": "hostile", "type": kind, **options, **keys}])
    spider = source_types()[kind].spider()
    board: Board[Any] = Board(source.name, source.options, source)
    (request,) = spider.start_requests_for(board)
    return spider, board, request


def answer(kind: str, request: Request) -> TextResponse:
    _, body, headers = PAGED_TYPES[kind]
    return TextResponse(request.url, body=body, headers=headers, request=request, encoding="utf-8")


def next_page(outputs: list[Any]) -> Request:
    (follow,) = [out for out in outputs if isinstance(out, Request) and META_PAGES_READ in out.meta]
    return follow


@pytest.mark.parametrize("kind", sorted(PAGED_TYPES))
def test_every_paged_type_stops_at_a_page_that_repeats_the_first(kind: str) -> None:
    spider, board, request = first_page(kind)
    follow = next_page(list(spider.parse_listing(answer(kind, request), board)))
    with pytest.raises(ListingTruncated, match="page 2 holds the same postings as page 1"):
        list(spider.parse_listing(answer(kind, follow), board))


@pytest.mark.parametrize("kind", sorted(PAGED_TYPES))
def test_every_paged_type_has_a_page_cap(kind: str) -> None:
    assert "max_pages" in source_types()[kind].options.model_fields
    spider, board, request = first_page(kind, max_pages=1)
    outputs: list[Any] = []
    with pytest.raises(ListingTruncated, match=r"max_pages"):
        outputs.extend(spider.parse_listing(answer(kind, request), board))
    assert not [out for out in outputs if isinstance(out, Request) and META_PAGES_READ in out.meta]
