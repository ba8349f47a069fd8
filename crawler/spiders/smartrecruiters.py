"""SmartRecruiters posting API: the postings list paged with offset/limit, plus one detail per posting.

The list (`GET /v1/companies/{company}/postings?limit=100&offset=N`, paged to `totalFound`) has
no description, posting URL, apply URL or `active` flag; those come from the detail
(`GET /v1/companies/{company}/postings/{id}`). Details are asked for only for new or changed
list records, at most `max_details` per crawl; see `crawler/spiders/_details.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from scrapy import Request
from scrapy.http import Response

from crawler.normalize.dates import parse_datetime
from crawler.normalize.employment import employment_type
from crawler.normalize.locations import parse_locations
from crawler.normalize.rights import sponsorship_from_text
from crawler.normalize.salary import parse_salary_text, salary_from_range
from crawler.normalize.text import clean_text, html_to_text, sanitize_html
from crawler.normalize.urls import canonical_url
from crawler.spider import (
    Board,
    BoardSpider,
    ListingError,
    ListingTruncated,
    PostingError,
    json_of,
    json_request,
    list_at,
    required_text,
)
from crawler.spiders._details import (
    DETAIL,
    MISSING,
    PAGE_PRIORITY,
    Details,
    cap_reached,
    detail_request,
    is_detail,
    is_gone,
    read_detail,
    salvaged,
    split,
)
from crawler.spiders._paging import page_cap, stop_at_repeat
from crawler.types.smartrecruiters import Options
from rolewatch.domain import Location, Posting, Salary, WorkRights

API = "https://api.smartrecruiters.com"
PUBLIC = "https://jobs.smartrecruiters.com"
_OFFSET, _PAGE = "smartrecruiters_offset", "smartrecruiters_page"
#: Job ad sections in the order a reader expects them.
SECTIONS = ("companyDescription", "jobDescription", "qualifications", "additionalInformation")


class SmartRecruitersSpider(BoardSpider[Options]):
    """Pages the list to `totalFound`; a detail request for each new or changed posting."""

    name = "smartrecruiters"
    volatile_fields = (DETAIL,)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.details = Details()

    def start_requests_for(self, board: Board[Options]) -> Iterable[Request]:
        yield self._page(board, offset=0, page=1)

    def parse_listing(self, response: Response, board: Board[Options]) -> Iterator[Any]:
        if is_detail(response):
            yield from read_detail(response, _detail_of)
            return
        page = json_of(response)
        postings = list_at(page, "content")
        total = page.get("totalFound")
        if not isinstance(total, int) or isinstance(total, bool):
            raise ListingError('JSON has no "totalFound" count')
        page_number = int(response.meta[_PAGE])
        read = stop_at_repeat(response, postings, page_number, self.record_id, "the board ignores `offset`")
        for record in postings:
            if not isinstance(record, Mapping) or not clean_text(str(record.get("name") or "")):
                yield record  # to_posting says what is wrong; no detail request for it
                continue
            make = partial(self._detail, board, record)
            yield from self.details.follow(self, board, record, board.options.max_details, make)
        offset: int = response.meta[_OFFSET]
        following = offset + len(postings)
        problems: list[str] = []
        if postings and following < total and page_number >= board.options.max_pages:
            problems.append(str(page_cap(board.options.max_pages)))
        elif postings and following < total:
            yield self._page(board, offset=following, page=page_number + 1, read=read)
        elif not postings and offset < total:
            problems.append(f"the page at offset {offset} is empty although totalFound is {total}")
        if self.details.newly_capped(board):
            problems.append(str(cap_reached(board.options.max_details)))
        if problems:
            raise ListingTruncated("; ".join(problems))

    def salvage(self, request: Request, board: Board[Options]) -> Iterable[Any]:
        return salvaged(request)

    def _page(
        self, board: Board[Options], offset: int, page: int, read: Mapping[str, Any] | None = None
    ) -> Request:
        options = board.options
        query: dict[str, str | int] = {"limit": options.page_size, "offset": offset}
        query.update(
            {key: value for key, value in (("q", options.query), ("country", options.country)) if value}
        )
        return json_request(
            f"{self._company_url(board)}/postings?{urlencode(query)}",
            meta={_OFFSET: offset, _PAGE: page, **(read or {})},
            priority=PAGE_PRIORITY,
        )

    def _detail(self, board: Board[Options], record: Mapping[str, Any]) -> Request:
        # The list's own `ref` names the real host; base_url (a mirror, a test server) must win.
        posting_id = quote(str(record["id"]), safe="")
        return detail_request(f"{self._company_url(board)}/postings/{posting_id}")

    def _company_url(self, board: Board[Options]) -> str:
        return f"{board.base_url(API)}/v1/companies/{quote(board.options.company, safe='')}"

    def to_posting(self, record: Any, board: Board[Options]) -> Posting:
        if not isinstance(record, Mapping):
            raise PostingError(f"expected a posting object, got {type(record).__name__}")
        listed, detail = split(record)
        title = required_text(listed, "name")
        posting_id = str(listed["id"])
        html = sanitize_html(description_html(detail))
        text = html_to_text(html)
        sponsorship = sponsorship_from_text(text)
        company: Mapping[str, Any] = _object(listed.get("company"))
        location: Mapping[str, Any] = _object(listed.get("location"))
        identifier = clean_text(company.get("identifier")) or board.options.company
        return Posting(
            source=board.name,
            external_id=posting_id,
            title=title,
            url=canonical_url(detail.get("postingUrl"))
            or f"{PUBLIC}/{quote(identifier)}/{quote(posting_id)}",
            apply_url=canonical_url(detail.get("applyUrl")),
            company=board.options.company_name or clean_text(company.get("name")) or identifier,
            department=_label(listed.get("department")) or None,
            locations=locations_of(location),
            workplace=_workplace(location),
            employment_type=employment_type(_employment(listed), title),
            salary=_salary(detail, text),
            posted_at=parse_datetime(listed.get("releasedDate")),
            work_rights=WorkRights(sponsorship=sponsorship) if sponsorship else None,
            description_text=text,
            description_html=html,
            extra=_extra(listed, missing=bool(record.get(MISSING))),
            closed=is_gone(record) or detail.get("active") is False,
        )


def _detail_of(response: Response) -> Mapping[str, Any]:
    """The detail object; anything else (an error object, an HTML page) is unreadable."""
    data = json_of(response)
    if not isinstance(data, dict) or ("jobAd" not in data and "active" not in data):
        keys = ", ".join(sorted(data)[:8]) if isinstance(data, dict) else type(data).__name__
        raise ListingError(f"expected a posting's details (jobAd, active), got {keys or 'an empty object'}")
    return data


def description_html(detail: Mapping[str, Any]) -> str:
    """The job ad's sections in reading order, each under its own heading."""
    sections = _object(_object(detail.get("jobAd")).get("sections"))
    parts = []
    for key in SECTIONS:
        section = _object(sections.get(key))
        body = section.get("text")
        if isinstance(body, str) and body.strip():
            heading = clean_text(section.get("title"))
            parts.append((f"<h3>{escape(heading)}</h3>" if heading else "") + body)
    return "".join(parts)


def locations_of(location: Mapping[str, Any]) -> tuple[Location, ...]:
    """Rebuilt from city, region and country: `fullLocation` is often malformed ("Dublin, , Ireland")."""
    country = clean_text(location.get("country")).upper() or None
    text = ", ".join(part for part in (clean_text(location.get(k)) for k in ("city", "region")) if part)
    if not text and location.get("remote") is True:
        text = "Remote"
    if not text:
        full = clean_text(location.get("fullLocation"))
        text = ", ".join(part.strip() for part in full.split(",") if part.strip())
    if text:
        return parse_locations(text, country_hint=country)
    return parse_locations(country) if country else ()


def _workplace(location: Mapping[str, Any]) -> str | None:
    """The list's own flags; both false (and both present) is an on-site role."""
    remote, hybrid = location.get("remote"), location.get("hybrid")
    if remote is True:
        return "remote"
    if hybrid is True:
        return "hybrid"
    return "onsite" if remote is False and hybrid is False else None


def _employment(listed: Mapping[str, Any]) -> str:
    """`typeOfEmployment`, plus the experience level when it says internship (filed as "Full-time")."""
    kind = _label(listed.get("typeOfEmployment"))
    level = _object(listed.get("experienceLevel"))
    if str(level.get("id") or "").lower() == "internship":
        kind = f"{kind} internship".strip()
    return kind


def _salary(detail: Mapping[str, Any], text: str) -> Salary | None:
    """A `compensation` object when a detail has one (not seen in every account), else the ad's text."""
    offered = _object(detail.get("compensation"))
    if offered:
        salary = salary_from_range(
            offered.get("min"), offered.get("max"), offered.get("currency"), offered.get("period")
        )
        if salary is not None:
            return salary
    return parse_salary_text(text)


def _extra(listed: Mapping[str, Any], *, missing: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {
        key: listed[key] for key in ("uuid", "refNumber", "jobAdId", "customField") if listed.get(key)
    }
    for key in ("industry", "function", "experienceLevel", "typeOfEmployment"):
        label = _label(listed.get(key))
        if label:
            extra[key] = label
    language = _object(listed.get("language")).get("code")
    if language:
        extra["language"] = language
    if missing:
        extra["details_missing"] = True
    return extra


def _label(value: Any) -> str:
    return clean_text(_object(value).get("label"))


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
