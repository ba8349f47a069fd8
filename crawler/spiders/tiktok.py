"""TikTok careers (lifeattiktok.com): the ATSX search API, `POST …/search/job/posts`, offset/limit paging."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any, Final

from scrapy import Request
from scrapy.http import Response

from crawler.normalize.dates import parse_datetime
from crawler.normalize.employment import employment_type
from crawler.normalize.locations import parse_locations
from crawler.normalize.rights import sponsorship_from_text
from crawler.normalize.salary import parse_salary_text, salary_from_range
from crawler.normalize.text import clean_text, html_to_text, sanitize_html
from crawler.spider import (
    Board,
    BoardSpider,
    ListingError,
    ListingTruncated,
    json_of,
    json_request,
    quoted_json,
    required_text,
)
from crawler.spiders._paging import page_cap, stop_at_repeat
from crawler.types.tiktok import Options
from rolewatch.domain import Location, Posting, Salary, WorkRights

API = "https://api.lifeattiktok.com"
SEARCH_PATH = "/api/v1/public/supplier/search/job/posts"
SITE = "https://lifeattiktok.com"
#: The portal headers the site's own front end sends; without `website-path` the API answers
#: `invalid request` (with HTTP 200).
PORTAL_HEADERS: Final = {
    "Content-Type": "application/json",
    "website-path": "tiktok",
    "portal-channel": "tiktok",
    "portal-platform": "pc",
    "env": "prod",
    "Accept-Language": "en-US",
    "Origin": SITE,
    "Referer": f"{SITE}/",
}
#: The ids' own word for what each early-careers recruit type is, whatever its display name says.
RECRUIT_TYPE_EMPLOYMENT: Final = {"201": "Graduate", "202": "Intern"}
#: Currencies a bare `$` means in the countries TikTok hires in.
DOLLAR_COUNTRIES: Final = {
    "US": "USD", "AU": "AUD", "CA": "CAD", "NZ": "NZD", "SG": "SGD", "HK": "HKD", "TW": "TWD", "MX": "MXN",
}  # fmt: skip
#: Ids are snowflakes whose top 32 bits are the creation time in Unix seconds; a decoded time
#: outside this window means the id is not one of those, and no date is better than a wrong one.
SNOWFLAKE_EPOCH_FLOOR: Final = datetime(2015, 1, 1, tzinfo=UTC)
_OFFSET, _PAGE = "tiktok_offset", "tiktok_page"


class TikTokSpider(BoardSpider[Options]):
    """Pages by offset to `data.count`; `code` other than 0 (with HTTP 200) is a failed crawl.

    Intern and new-grad are asked for as early careers (the one recruitment id the site's own
    filter is known to take) and told apart here by each record's `recruit_type.id`.
    """

    name = "tiktok"

    def start_requests_for(self, board: Board[Options]) -> Iterable[Request]:
        yield self._page(board, offset=0, page=1)

    def _page(
        self, board: Board[Options], offset: int, page: int, read: Mapping[str, Any] | None = None
    ) -> Request:
        options = board.options
        body = {
            "keyword": options.keyword,
            "limit": min(options.page_size, options.max_postings - offset),
            "offset": offset,
            "recruitment_id_list": options.recruitment_ids(),
            "job_category_id_list": options.categories,
            "subject_id_list": [],
            "location_code_list": options.locations,
        }
        return json_request(
            f"{board.base_url(API)}{SEARCH_PATH}",
            method="POST",
            body=json.dumps(body),
            headers=PORTAL_HEADERS,
            meta={_OFFSET: offset, _PAGE: page, **(read or {})},
        )

    def parse_listing(self, response: Response, board: Board[Options]) -> Iterable[Any]:
        data = _data(json_of(response))
        posts = data.get("job_post_list")
        if posts is None and data.get("count") == 0:
            posts = []
        if not isinstance(posts, list):
            raise ListingError(f'TikTok answered without a "job_post_list" list (data keys: {sorted(data)})')
        count = data.get("count")
        if not isinstance(count, int) or isinstance(count, bool):
            raise ListingError(f"TikTok answered without a numeric data.count (got {count!r})")
        page = int(response.meta[_PAGE])
        read = stop_at_repeat(response, posts, page, self.record_id, "the board ignores `offset`")
        wanted = board.options.wanted_recruit_types()
        for post in posts:
            if wanted is None or not isinstance(post, Mapping) or _recruit_type_id(post) in wanted:
                yield post
        offset = response.meta[_OFFSET] + len(posts)
        if not posts or offset >= count:
            return  # the natural end (a listing that shrank while paging ends early too)
        if offset >= board.options.max_postings:
            raise ListingTruncated(
                f"read {offset} of {count} postings (max_postings); the API's order is not by date, "
                "so the rest are arbitrary postings; narrow the search with recruitment or locations"
            )
        if page >= board.options.max_pages:
            raise page_cap(board.options.max_pages)
        yield self._page(board, offset, page + 1, read)

    def to_posting(self, record: Any, board: Board[Options]) -> Posting:
        post: Mapping[str, Any] = record
        title = required_text(post, "title")
        post_id = str(post["id"])
        description, requirement = _plain(post.get("description")), _plain(post.get("requirement"))
        html = sanitize_html(description_html(description, requirement))
        text = html_to_text(html)
        locations = _locations(post.get("city_info"))
        info: Mapping[str, Any] = _mapping(post.get("job_post_info"))
        deadline = parse_datetime(info.get("expiry_time"))
        sponsorship = sponsorship_from_text(text)
        url = f"{SITE}/search/{post_id}"
        return Posting(
            source=board.name,
            external_id=post_id,
            title=title,
            url=url,
            apply_url=url,
            company=board.options.company,
            department=_name(post.get("department_info")) or _name(post.get("job_category")),
            locations=locations,
            employment_type=_employment_type(post, title),
            salary=_salary(info, requirement, description, locations),
            posted_at=parse_datetime(post.get("publish_time")) or posted_at_from_id(post_id),
            deadline=deadline,
            work_rights=WorkRights(sponsorship=sponsorship) if sponsorship else None,
            description_text=text,
            description_html=html,
            extra=_extra(post),
            closed=deadline is not None and deadline <= datetime.now(UTC),
        )


def posted_at_from_id(post_id: str) -> datetime | None:
    """The creation time a snowflake id carries in its top 32 bits, when that time is plausible.

    TikTok's list has no date field; the id encoding is what the research notes report from a
    third-party adapter, and the sample ids decode to dates just before they were recorded.
    """
    try:
        seconds = int(post_id) >> 32
    except ValueError:
        return None
    if seconds <= 0:
        return None
    try:
        created = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    if created < SNOWFLAKE_EPOCH_FLOOR or created > datetime.now(UTC) + timedelta(days=1):
        return None
    return created


def description_html(description: str, requirement: str) -> str:
    """The two plain-text sections as HTML: a heading each, paragraphs, and lines kept as breaks."""
    parts = []
    for heading, body in (("Responsibilities", description), ("Qualifications", requirement)):
        if body:
            paragraphs = [p for p in body.split("\n\n") if p.strip()]
            rendered = "".join(
                "<p>" + "<br>".join(escape(line.strip()) for line in p.splitlines() if line.strip()) + "</p>"
                for p in paragraphs
            )
            parts.append(f"<h3>{heading}</h3>{rendered}")
    return "".join(parts)


def _data(payload: Any) -> Mapping[str, Any]:
    """`data` of a `{code: 0, data: {...}}` answer; anything else (`invalid request`) is a ListingError."""
    if not isinstance(payload, Mapping) or "code" not in payload:
        raise ListingError(f"not a TikTok search answer (got {_brief(payload)})")
    if payload.get("code") != 0:
        message = clean_text(str(payload.get("message") or "")) or "no message"
        raise ListingError(f"TikTok answered code {payload.get('code')!r}: {message}")
    data = payload.get("data")
    if not isinstance(data, Mapping):
        raise ListingError(f"TikTok answered code 0 without a data object (got {_brief(payload)})")
    return data


def _brief(value: Any) -> str:
    return quoted_json(value)  # short, control-free, and nothing of a redirected response


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _name(value: Any) -> str | None:
    """A node's English name (`en_name`, else `i18n_name`, else `name`)."""
    node = _mapping(value)
    for key in ("en_name", "i18n_name", "name"):
        text = clean_text(node.get(key)) if isinstance(node.get(key), str) else ""
        if text:
            return text
    return None


def _plain(value: Any) -> str:
    """Plain text with its line structure, CRLFs and trailing blanks tidied."""
    if not isinstance(value, str):
        return ""
    lines = [" ".join(line.split()) for line in value.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip()


def _recruit_type_id(post: Any) -> str | None:
    recruit = _mapping(post.get("recruit_type")) if isinstance(post, Mapping) else {}
    return str(recruit["id"]) if recruit.get("id") is not None else None


def _employment_type(post: Mapping[str, Any], title: str) -> str | None:
    """By recruit type (202 intern, 201 new grad, 101 regular), then `job_subject`, then the title."""
    by_id = RECRUIT_TYPE_EMPLOYMENT.get(_recruit_type_id(post) or "")
    board_value = by_id or _name(post.get("recruit_type"))
    kind = employment_type(board_value, title)
    if kind in (None, "full_time"):
        subject = employment_type(_name(post.get("job_subject")))  # "Project Intern"
        if subject in ("intern", "graduate"):
            return subject
    return kind


def _locations(city: Any) -> tuple[Location, ...]:
    """The city → state → country chain as one place: "San Jose, California, United States of America"."""
    names: list[str] = []
    node = _mapping(city)
    for _ in range(4):  # city, state, country; never loop on a cyclic or absurd chain
        name = _name(node)
        if name and name not in names:
            names.append(name)
        node = _mapping(node.get("parent"))
        if not node:
            break
    return parse_locations(", ".join(names)) if names else ()


def _salary(
    info: Mapping[str, Any], requirement: str, description: str, locations: tuple[Location, ...]
) -> Salary | None:
    """The structured range when given (always null so far), else a range the text states."""
    structured = salary_from_range(info.get("min_salary"), info.get("max_salary"), info.get("currency"), None)
    if structured is not None:
        return structured
    countries = {place.country for place in locations if place.country}
    currency = DOLLAR_COUNTRIES.get(countries.pop()) if len(countries) == 1 else None
    return parse_salary_text(requirement, default_currency=currency) or parse_salary_text(
        description, default_currency=currency
    )


def _extra(post: Mapping[str, Any]) -> dict[str, Any]:
    category = _mapping(post.get("job_category"))
    extra: dict[str, Any] = {
        "code": post.get("code"),
        "recruit_type": _name(post.get("recruit_type")),
        "recruit_type_id": _recruit_type_id(post),
        "job_subject": _name(post.get("job_subject")),
        "job_category": _name(category),
        "job_category_id": category.get("id"),
        "job_category_parent": _name(category.get("parent")),
        "city_code": _mapping(post.get("city_info")).get("code"),
        "tags": [name for tag in post.get("tag_list") or () if (name := _name(tag))] or None,
    }
    return {key: value for key, value in extra.items() if value is not None}
