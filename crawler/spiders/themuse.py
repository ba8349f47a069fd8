"""The Muse public API v2: `GET /api/public/jobs?page=N`, 20 per page, pages 0-99 only, rate-limited."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import urlencode

from scrapy import Request
from scrapy.http import Response

from crawler.normalize.dates import parse_datetime
from crawler.normalize.employment import employment_type
from crawler.normalize.locations import parse_locations
from crawler.normalize.rights import sponsorship_from_text
from crawler.normalize.salary import parse_salary_text
from crawler.normalize.text import clean_text, html_to_text, sanitize_html
from crawler.normalize.urls import canonical_url
from crawler.spider import (
    Board,
    BoardSpider,
    ListingError,
    ListingTruncated,
    json_of,
    json_request,
    required_text,
)
from crawler.spiders._paging import page_cap, stop_at_repeat
from crawler.types.themuse import LAST_PAGE, Options
from rolewatch.domain import Location, Posting, WorkRights

API = "https://www.themuse.com"
JOBS_PATH = "/api/public/jobs"
#: How The Muse writes "anywhere": it says nothing about where the employer may hire.
MUSE_REMOTE: Final = "flexible / remote"
_PAGE = "themuse_page"


class TheMuseSpider(BoardSpider[Options]):
    """Pages one after another so the rate-limit headers of each page can stop the next.

    When `X-RateLimit-Remaining` reaches 0 with pages still to read, the crawl stops there and
    is partial: the limit resets within the hour, longer than any crawl should wait, and the
    next scheduled crawl reads the whole listing again.
    """

    name = "themuse"

    def start_requests_for(self, board: Board[Options]) -> Iterable[Request]:
        yield self._page(board, 0)

    def _page(self, board: Board[Options], page: int, read: Mapping[str, Any] | None = None) -> Request:
        options = board.options
        query: list[tuple[str, str]] = [("page", str(page))]
        for key in ("company", "category", "level", "location"):
            query.extend((key, value) for value in getattr(options, key))
        if options.api_key is not None:
            query.append(("api_key", options.api_key.get_secret_value()))
        return json_request(
            f"{board.base_url(API)}{JOBS_PATH}?{urlencode(query)}", meta={_PAGE: page, **(read or {})}
        )

    def parse_listing(self, response: Response, board: Board[Options]) -> Iterable[Any]:
        data = json_of(response)
        if not isinstance(data, Mapping) or not isinstance(data.get("results"), list):
            raise ListingError(f'JSON has no "results" list (got {_keys(data)})')
        page_count = data.get("page_count")
        if not isinstance(page_count, int) or isinstance(page_count, bool) or page_count < 0:
            raise ListingError(f"JSON has no numeric page_count (got {page_count!r})")
        page = int(response.meta[_PAGE])
        read = stop_at_repeat(response, data["results"], page + 1, self.record_id, "the board ignores `page`")
        yield from data["results"]
        if page + 1 >= page_count:
            return
        if page >= LAST_PAGE:
            raise ListingTruncated(
                f"{page_count} pages but the API serves pages 0-{LAST_PAGE} only; narrow the filters"
            )
        if page + 1 >= board.options.max_pages:
            raise page_cap(board.options.max_pages)
        remaining = _header_int(response, b"X-RateLimit-Remaining")
        if remaining is not None and remaining <= 0:
            reset = _header_int(response, b"X-RateLimit-Reset")
            when = f"; it resets in {reset}s" if reset is not None else ""
            raise ListingTruncated(
                f"rate limit used up after page {page} of {page_count}{when} (an api_key raises it)"
            )
        yield self._page(board, page + 1, read)

    def to_posting(self, record: Any, board: Board[Options]) -> Posting:
        job: Mapping[str, Any] = record
        title = required_text(job, "name")
        html = sanitize_html(job.get("contents") if isinstance(job.get("contents"), str) else "")
        text = html_to_text(html)
        levels = _names(job.get("levels"))
        categories = _names(job.get("categories"))
        locations = _locations(_names(job.get("locations")))
        company = _mapping(job.get("company"))
        url = canonical_url(_refs(job).get("landing_page"))
        sponsorship = sponsorship_from_text(text)
        return Posting(
            source=board.name,
            external_id=str(job["id"]),
            title=title,
            url=url,
            apply_url=url,
            company=clean_text(company.get("name")) or None,
            department=categories[0] if categories else None,
            locations=locations,
            workplace="remote" if locations and all(place.remote for place in locations) else None,
            # Only "Internship" names an arrangement; "Entry Level" is a seniority band that
            # covers far more than graduate programmes, so the title decides those.
            employment_type=employment_type("; ".join(levels) or None, title),
            salary=parse_salary_text(text),
            posted_at=parse_datetime(job.get("publication_date")),
            work_rights=WorkRights(sponsorship=sponsorship) if sponsorship else None,
            description_text=text,
            description_html=html,
            extra=_extra(job, levels, categories, company),
        )


def _names(value: Any) -> list[str]:
    """The `name` of each `{name: ...}` object in a list, whitespace-normalised."""
    names = []
    for item in value if isinstance(value, list) else ():
        name = (
            clean_text(item.get("name"))
            if isinstance(item, Mapping) and isinstance(item.get("name"), str)
            else ""
        )
        if name:
            names.append(name)
    return names


def _locations(names: list[str]) -> tuple[Location, ...]:
    """The Muse's "Flexible / Remote" is one remote place, not "Flexible" and "Remote"."""
    places: list[Location] = []
    for name in names:
        if name.lower() == MUSE_REMOTE:
            places.append(Location(name=name, remote=True))
        else:
            places.extend(parse_locations(name))
    return tuple(dict.fromkeys(places))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _refs(job: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(job.get("refs"))


def _extra(
    job: Mapping[str, Any], levels: list[str], categories: list[str], company: Mapping[str, Any]
) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "levels": levels or None,
        "categories": categories or None,
        "tags": _names(job.get("tags")) or None,
        "company_id": company.get("id"),
        "company_short_name": company.get("short_name"),
        "short_name": job.get("short_name"),
        "type": job.get("type"),
    }
    return {key: value for key, value in extra.items() if value is not None}


def _header_int(response: Response, name: bytes) -> int | None:
    raw = response.headers.get(name)
    try:
        return int(raw.decode("latin-1").strip()) if raw else None
    except ValueError:
        return None


def _keys(data: Any) -> str:
    if isinstance(data, Mapping):
        return "an object with keys " + ", ".join(sorted(map(str, data))[:8]) if data else "an empty object"
    return "an array" if isinstance(data, list) else type(data).__name__
