"""Paged listings that would never end: a page cap for every paged type, and a page that repeats one read.

A board that ignores its paging parameter (Lever ignoring `skip`) answers the same page for ever,
and one that invents postings answers new pages for ever; either would keep a crawl paging until
its time limit. Every paged type therefore stops at `max_pages` (a partial crawl, since the rest
was not read), and stops at once when a page holds exactly the postings of a page already read in
the same chain of pages: the board is not paging, so nothing after it can be trusted either.

A chain is the pages one first request leads to (a start URL, a partition); the pages it has
read travel in each next page's request meta, like the rest of the page state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scrapy.http import Response

from crawler.spider import Board, ListingTruncated, raw_digest

#: Request meta: the pages this chain has read, `{page identity: page number}`.
META_PAGES_READ = "rolewatch_pages_read"

RecordId = Callable[[Any], "str | None"]


def page_identity(records: Sequence[Any], record_id: RecordId) -> str | None:
    """What a page is known by: its records' ids in any order, else their digest; None when empty."""
    if not records:
        return None
    ids = [record_id(record) for record in records]
    if all(found is not None for found in ids):
        return raw_digest(sorted(str(found) for found in ids))
    return raw_digest(list(records))


def read_page(
    response: Response, records: Sequence[Any], page: int, record_id: RecordId
) -> tuple[int | None, dict[str, Any]]:
    """(The earlier page of this chain that held exactly these records, or None; the meta that
    carries the chain's pages, this one included, on to the next page's request).

    An empty page is never a repeat: it ends paging by itself.
    """
    read: dict[str, int] = dict(response.meta.get(META_PAGES_READ) or {})
    identity = page_identity(records, record_id)
    earlier = None
    if identity is not None:
        earlier = read.setdefault(identity, page)
    return (earlier if earlier != page else None), {META_PAGES_READ: read}


def stop_at_repeat(
    response: Response, records: Sequence[Any], page: int, record_id: RecordId, why: str
) -> dict[str, Any]:
    """`read_page`, raising `repeated_page` for a repeat; returns the meta for the next page's request."""
    earlier, meta = read_page(response, records, page, record_id)
    if earlier is not None:
        raise repeated_page(page, earlier, why)
    return meta


def repeated_page(page: int, earlier: int, why: str) -> ListingTruncated:
    """The error for a page that repeats an earlier one (`why`: what the board is doing wrong)."""
    return ListingTruncated(
        f"page {page} holds the same postings as page {earlier} ({why}); the rest cannot be read"
    )


def page_cap(max_pages: int) -> ListingTruncated:
    """The error for a listing that goes on past `max_pages`."""
    return ListingTruncated(f"stopped after max_pages={max_pages} pages; the board has more")


@dataclass
class PageBudget:
    """Page requests each source has made in this crawl, for types whose pages fan out.

    One chain compares its page number with `max_pages`; a type that reads one chain per
    partition counts every chain's pages here instead.
    """

    _asked: dict[str, int] = field(default_factory=dict)

    def grant(self, board: Board[Any], wanted: int, max_pages: int) -> int:
        """How many of `wanted` more page requests fit in `max_pages`; those are counted as made."""
        asked = self._asked.get(board.name, 0)
        granted = max(0, min(wanted, max_pages - asked))
        self._asked[board.name] = asked + granted
        return granted
