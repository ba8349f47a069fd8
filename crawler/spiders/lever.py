"""Lever postings API: `GET /v0/postings/{site}?mode=json`, paged with `skip`/`limit` until a short page."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any
from urllib.parse import quote

from scrapy import Request
from scrapy.http import Response

from crawler.normalize.dates import parse_datetime
from crawler.normalize.employment import employment_type
from crawler.normalize.locations import parse_locations, workplace_from
from crawler.normalize.rights import sponsorship_from_text
from crawler.normalize.salary import parse_salary_text, salary_from_range
from crawler.normalize.text import clean_text, html_to_text, sanitize_html
from crawler.normalize.urls import canonical_url
from crawler.spider import Board, BoardSpider, json_array, json_of, json_request, required_text
from crawler.spiders._paging import page_cap, stop_at_repeat
from crawler.types.lever import Options
from rolewatch.domain import Posting, Salary, WorkRights

API = "https://api.lever.co"
_SKIP, _PAGE = "lever_skip", "lever_page"
#: Board fields that are not part of the normalised posting but worth keeping.
EXTRA_FIELDS = ("createdAt", "country", "workplaceType")


class LeverSpider(BoardSpider[Options]):
    """Pages with skip/limit: a full page asks for the next one, a short page is the natural end.

    A board that ignores `skip` answers its first page again and again: that page repeating
    stops the crawl (partial), as does `max_pages`.
    """

    name = "lever"

    def start_requests_for(self, board: Board[Options]) -> Iterable[Request]:
        yield self._page(board, skip=0, page=1)

    def parse_listing(self, response: Response, board: Board[Options]) -> Iterable[Any]:
        postings = json_array(json_of(response))
        page = int(response.meta[_PAGE])
        read = stop_at_repeat(response, postings, page, self.record_id, "the board ignores `skip`")
        yield from postings
        if len(postings) >= board.options.page_size:
            if page >= board.options.max_pages:
                raise page_cap(board.options.max_pages)
            yield self._page(board, skip=response.meta[_SKIP] + len(postings), page=page + 1, read=read)

    def _page(
        self, board: Board[Options], skip: int, page: int, read: Mapping[str, Any] | None = None
    ) -> Request:
        site = quote(board.options.site, safe="")
        query = f"mode=json&skip={skip}&limit={board.options.page_size}"
        meta = {_SKIP: skip, _PAGE: page, **(read or {})}
        return json_request(f"{board.base_url(API)}/v0/postings/{site}?{query}", meta=meta)

    def to_posting(self, record: Any, board: Board[Options]) -> Posting:
        posting: Mapping[str, Any] = record
        categories: Mapping[str, Any] = posting.get("categories") or {}
        title = required_text(posting, "text")
        html = sanitize_html(description_html(posting))
        text = html_to_text(html)
        sponsorship = sponsorship_from_text(text)
        team = clean_text(categories.get("team")) or None
        return Posting(
            source=board.name,
            external_id=str(posting["id"]),
            title=title,
            url=canonical_url(posting.get("hostedUrl")),
            apply_url=canonical_url(posting.get("applyUrl")),
            company=board.options.company or board.options.site,
            department=clean_text(categories.get("department")) or team,
            locations=parse_locations(_places(categories), country_hint=posting.get("country")),
            workplace=workplace_from(posting.get("workplaceType")),
            employment_type=employment_type(categories.get("commitment"), title),
            salary=_salary(posting),
            posted_at=parse_datetime(posting.get("createdAt")),
            work_rights=WorkRights(sponsorship=sponsorship) if sponsorship else None,
            description_text=text,
            description_html=html,
            extra={
                **{key: posting[key] for key in EXTRA_FIELDS if posting.get(key) is not None},
                **({"team": team} if team else {}),
            },
        )


def description_html(posting: Mapping[str, Any]) -> str:
    """Opening and body (`description` already holds both), each list as a heading and bullets, closing."""
    opening, body = posting.get("opening") or "", posting.get("descriptionBody") or ""
    body = posting.get("description") or opening + body
    lists = "".join(
        f"<h3>{escape(str(item.get('text') or ''))}</h3><ul>{item.get('content') or ''}</ul>"
        for item in posting.get("lists") or []
        if isinstance(item, Mapping)
    )
    return body + lists + (posting.get("additional") or "")


def _places(categories: Mapping[str, Any]) -> list[str]:
    every = [place for place in categories.get("allLocations") or [] if isinstance(place, str)]
    primary = categories.get("location")
    return every or ([primary] if isinstance(primary, str) else [])


def _salary(posting: Mapping[str, Any]) -> Salary | None:
    """`salaryRange` when given, else a range stated in the salary description or the closing text."""
    stated = clean_text(posting.get("salaryDescriptionPlain")) or None
    offered = posting.get("salaryRange")
    if isinstance(offered, Mapping):
        salary = salary_from_range(
            offered.get("min"), offered.get("max"), offered.get("currency"), offered.get("interval"), stated
        )
        if salary is not None:
            return salary
    return parse_salary_text(stated) or parse_salary_text(posting.get("additionalPlain"))
