"""A Simplify-style `listings.json`: one JSON array of curated postings with their own closure flags."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scrapy import Request
from scrapy.http import Response

from crawler.normalize.dates import parse_datetime
from crawler.normalize.employment import employment_type
from crawler.normalize.locations import parse_locations
from crawler.normalize.rights import sponsorship_from_label
from crawler.normalize.text import clean_text
from crawler.normalize.urls import canonical_url
from crawler.spider import Board, BoardSpider, json_array, json_of, json_request, required_text
from crawler.types.simplify import Options
from rolewatch.domain import Posting, WorkRights

#: Fields kept as they are: the list's own categories and bookkeeping.
EXTRA_FIELDS = (
    "season", "terms", "category", "company_url", "source", "date_updated", "active", "is_visible",
)  # fmt: skip


class SimplifySpider(BoardSpider[Options]):
    """One request for the whole list; `active: false` or `is_visible: false` is the list closing a role."""

    name = "simplify"
    conditional = True

    def start_requests_for(self, board: Board[Options]) -> Iterable[Request]:
        yield json_request(board.options.url)

    def parse_listing(self, response: Response, board: Board[Options]) -> Iterable[Any]:
        return json_array(json_of(response))

    def to_posting(self, record: Any, board: Board[Options]) -> Posting:
        listing: Mapping[str, Any] = record
        title = required_text(listing, "title")
        url = canonical_url(listing.get("url"))
        places = [place for place in listing.get("locations") or () if isinstance(place, str)]
        locations = parse_locations(places)
        return Posting(
            source=board.name,
            external_id=str(listing["id"]),
            title=title,
            url=url,
            apply_url=url,
            company=clean_text(listing.get("company_name")) or None,
            locations=locations,
            workplace="remote" if locations and all(place.remote for place in locations) else None,
            employment_type=board.options.employment_type or employment_type(None, title),
            posted_at=parse_datetime(listing.get("date_posted")),
            work_rights=_work_rights(listing.get("sponsorship")),
            extra={key: listing[key] for key in EXTRA_FIELDS if key in listing},
            closed=listing.get("active") is False or listing.get("is_visible") is False,
        )


def _work_rights(label: Any) -> WorkRights | None:
    if not isinstance(label, str) or not label.strip():
        return None
    label = clean_text(label)
    return WorkRights(sponsorship=sponsorship_from_label(label), rights=(label,))
