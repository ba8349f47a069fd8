"""The paging guard: a page that repeats one already read in its chain, and page budgets that fan out."""

from __future__ import annotations

from typing import Any

import pytest
from scrapy import Request
from scrapy.http import Response

from crawler.spider import Board, ListingTruncated
from crawler.spiders._paging import PageBudget, page_identity, read_page, stop_at_repeat
from crawler.spiders.lever import Options
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
