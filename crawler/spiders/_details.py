"""List-plus-detail boards: one detail request per new or changed posting, capped, never losing the posting.

SmartRecruiters and Workday list postings cheaply but keep the description (and the apply URL,
the dates) behind one detail request per posting. This module holds what both need:

- a list record byte-identical to the one the stored open posting came from gets no detail
  request at all (`BoardSpider.is_unchanged` records it as sighted);
- the detail is merged into the list record under `DETAIL`, a volatile key, so the stored raw
  digest stays the digest of the list record and the next crawl can compare against it;
- a posting whose detail is missing (the per-crawl cap was spent, the request failed) is kept
  from its list record, marked `MISSING` (not volatile), so its digest differs from the list
  record's and the next crawl asks for the detail again;
- a detail answered 404/410 is the board saying the posting is gone (`GONE`): closed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from scrapy import Request
from scrapy.http import Response

from crawler.spider import Board, BoardSpider, ListingError, ListingTruncated

#: Request meta: the list record a detail request belongs to.
META_RECORD = "rolewatch_list_record"
#: Record key holding the detail response; listed in the spider's volatile fields.
DETAIL = "_detail"
#: Record key set when the details could not be read this time.
MISSING = "_detail_missing"
#: Record key holding the HTTP status of a detail that is gone (the posting is closed).
GONE = "_detail_gone"
GONE_STATUSES = (404, 410)
#: Listing pages go before detail requests, so a time limit costs details, not the listing.
PAGE_PRIORITY = 10


@dataclass
class _Budget:
    """One source's detail requests in this crawl."""

    asked: set[str] = field(default_factory=set)
    capped: bool = False
    reported: bool = False


@dataclass
class Details:
    """Which detail requests each source of one spider has made, against its `max_details` cap."""

    budgets: dict[str, _Budget] = field(default_factory=dict)

    def follow(
        self,
        spider: BoardSpider[Any],
        board: Board[Any],
        record: Mapping[str, Any],
        limit: int,
        request: Callable[[], Request],
    ) -> Iterator[Any]:
        """What to do with one list record: nothing, a detail request, or the record without details.

        Nothing for an unchanged record (it is only sighted) or one already asked for (a listing
        that shifts while paged repeats postings); the record itself, marked, once the cap is spent.
        """
        budget = self.budgets.setdefault(board.name, _Budget())
        record_id = spider.record_id(record)
        if record_id is None:
            yield record  # to_posting says what is wrong with it
            return
        if spider.is_unchanged(board, record) or record_id in budget.asked:
            return
        if len(budget.asked) >= limit:
            budget.capped = True
            yield without_details(record)
            return
        budget.asked.add(record_id)
        detail = request()
        yield detail.replace(meta={**detail.meta, META_RECORD: dict(record)})

    def newly_capped(self, board: Board[Any]) -> bool:
        """True once per crawl and source, the first time the cap left a posting without details."""
        budget = self.budgets.get(board.name)
        if budget is None or not budget.capped or budget.reported:
            return False
        budget.reported = True
        return True


def detail_request(url: str, **kwargs: Any) -> Request:
    """A GET for one posting's details that lets a 404/410 through to the spider (a closure)."""
    headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
    meta = {"handle_httpstatus_list": list(GONE_STATUSES), **kwargs.pop("meta", {})}
    return Request(url, headers=headers, meta=meta, **kwargs)


def is_detail(response: Response) -> bool:
    return META_RECORD in response.meta


def read_detail(response: Response, parse: Callable[[Response], Mapping[str, Any]]) -> Iterator[Any]:
    """The list record with its details merged in, or marked gone; unreadable details keep the record."""
    record: Mapping[str, Any] = response.meta[META_RECORD]
    if response.status in GONE_STATUSES:
        yield {**record, GONE: response.status}
        return
    try:
        detail = parse(response)
    except ListingError as exc:
        yield without_details(record)
        raise ListingError(
            f"posting details unreadable, kept the listed posting without them: {exc}"
        ) from None
    yield {**record, DETAIL: dict(detail)}


def salvaged(request: Request) -> list[Any]:
    """The list record behind a detail request that failed for good, marked as missing its details."""
    record = request.meta.get(META_RECORD)
    return [without_details(record)] if isinstance(record, Mapping) else []


def without_details(record: Mapping[str, Any]) -> dict[str, Any]:
    return {**record, MISSING: True}


def split(record: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The list record and its details (empty when missing or gone)."""
    detail = record.get(DETAIL)
    listed = {key: value for key, value in record.items() if key not in (DETAIL, MISSING, GONE)}
    return listed, detail if isinstance(detail, Mapping) else {}


def is_gone(record: Mapping[str, Any]) -> bool:
    return record.get(GONE) in GONE_STATUSES


def cap_reached(limit: int) -> ListingTruncated:
    """The error for a crawl whose cap left postings without details: it is partial, not failed."""
    return ListingTruncated(
        f"max_details={limit} reached: the postings beyond it are kept without their details "
        "until a later crawl fetches them"
    )
