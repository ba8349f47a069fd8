"""GradConnection campaign search (`GET /api/campaignsearch/`): a JSON array, paged by response headers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

from scrapy import Request
from scrapy.http import Response

from crawler.normalize.dates import parse_datetime
from crawler.normalize.employment import employment_type
from crawler.normalize.locations import parse_locations, workplace_from
from crawler.normalize.rights import sponsorship_from_rights, sponsorship_from_text
from crawler.normalize.salary import parse_salary_text, salary_from_range
from crawler.normalize.text import clean_text, html_to_text, sanitize_html
from crawler.normalize.urls import canonical_url
from crawler.spider import (
    Board,
    BoardSpider,
    ListingError,
    ListingTruncated,
    json_array,
    json_of,
    json_request,
    required_text,
)
from crawler.spiders._paging import stop_at_repeat
from crawler.types.gradconnection import Options
from rolewatch.domain import Posting, Salary, WorkRights

SEARCH_PATH = "/api/campaignsearch/"
#: The country sites' currencies, for a salary written with a bare `$`.
CURRENCIES: Final = {
    "au": "AUD",
    "nz": "NZD",
    "uk": "GBP",
    "hk": "HKD",
    "sg": "SGD",
    "ca": "CAD",
    "my": "MYR",
}
#: Campaigns open "until filled" carry a closing date at the end of 2099: that is no deadline.
NO_DEADLINE_YEAR: Final = 2099
_NEXT_LINK: Final = re.compile(r'<([^>]*)>\s*;[^,]*\brel\s*=\s*"?next"?', re.IGNORECASE)
_OFFSET = "gradconnection_offset"
_PAGES = "gradconnection_pages"
#: Board fields worth keeping beside the normalised posting.
EXTRA_FIELDS: Final = (
    "slug", "disciplines", "display_disciplines", "item_type", "target_mode", "remote_option",
    "earliest_closing_date",
)  # fmt: skip


def site(country: str) -> str:
    """The country site, which serves both the API and the pages postings link to."""
    return f"https://{country}.gradconnection.com"


class GradConnectionSpider(BoardSpider[Options]):
    """Follows the `link: <…>; rel="next"` header; stops where the real matches end.

    A search that matches few campaigns is padded with unrelated "fallback" ones: the
    `fallback` header says so and only the first `fallback_amount` results (counted across the
    whole listing) are real matches. Events and "notify me" placeholders are not postings.
    """

    name = "gradconnection"

    def start_requests_for(self, board: Board[Options]) -> Iterable[Request]:
        options = board.options
        query = [
            (key, value)
            for key, value in (
                ("job_type", options.job_type),
                ("location", options.location),
                ("query", options.query),
                ("disciplines", options.discipline),
                ("limit", str(options.page_size)),
                ("offset", "0"),
            )
            if value
        ]
        url = f"{board.base_url(site(options.country))}{SEARCH_PATH}?{urlencode(query)}"
        yield json_request(url, meta={_OFFSET: 0, _PAGES: 1})

    def parse_listing(self, response: Response, board: Board[Options]) -> Iterable[Any]:
        groups = json_array(json_of(response))
        offset, pages = int(response.meta[_OFFSET]), int(response.meta[_PAGES])
        read = stop_at_repeat(response, groups, pages, self.record_id, "the board ignores `offset`")
        real = _real_matches(response)
        for position, group in enumerate(groups, start=offset):
            if real is not None and position >= real:
                return  # the rest, and every later page, is fallback padding
            yield from _campaigns(group)
        end = offset + len(groups)
        if real is not None and end >= real:
            return
        following = self._next(response, board, end)
        if following is None:
            unpaged = not _header(response, b"link") and _header(response, b"count") is None
            if unpaged and len(groups) >= board.options.page_size:
                raise ListingTruncated("a full page came without paging headers; the rest cannot be found")
            return
        if pages >= board.options.max_pages:
            raise ListingTruncated(f"stopped after {pages} pages (max_pages) with more to read")
        yield following.replace(meta={**following.meta, **read, _PAGES: pages + 1})

    def _next(self, response: Response, board: Board[Options], end: int) -> Request | None:
        """The next page: the `link` header's rel="next", else the next offset below `count`."""
        link = _NEXT_LINK.search(_header(response, b"link") or "")
        if link:
            url = _on_base(urljoin(response.url, link.group(1).strip()), response.url)
            next_offset = _offset_of(url)
            if next_offset is None or next_offset <= int(response.meta[_OFFSET]):
                raise ListingError(f"the next-page link does not move forward: {link.group(1)!r}")
            return json_request(url, meta={_OFFSET: next_offset})
        count = _header_int(response, b"count")
        if count is None or end >= count or end == int(response.meta[_OFFSET]):
            return None
        parts = urlsplit(response.url)
        query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        query["offset"] = str(end)
        return json_request(urlunsplit(parts._replace(query=urlencode(query))), meta={_OFFSET: end})

    def to_posting(self, record: Any, board: Board[Options]) -> Posting:
        campaign: Mapping[str, Any] = record
        title = required_text(campaign, "title")
        external_id = str(campaign["id"])
        organisation = _mapping(campaign.get("customer_organization"))
        home = board.base_url(site(board.options.country))
        url = _page_url(home, organisation.get("slug"), campaign.get("slug"))
        description = campaign.get("description") if isinstance(campaign.get("description"), str) else ""
        html = sanitize_html(description)
        text = html_to_text(html)
        country = board.options.country.upper()
        locations = parse_locations(_names(campaign.get("locations")), country_hint=country)
        interval = _mapping(campaign.get("interval"))
        deadline = _deadline(interval.get("end"))
        job_type = _name(campaign.get("job_type"))
        return Posting(
            source=board.name,
            external_id=external_id,
            title=title,
            url=url,
            apply_url=_apply_url(campaign, home) or url,
            company=clean_text(organisation.get("name")) or None,
            locations=locations,
            workplace=_workplace(campaign.get("remote_option"), locations),
            employment_type=employment_type(job_type or board.options.job_type, title),
            salary=_salary(campaign, CURRENCIES.get(board.options.country)),
            posted_at=parse_datetime(interval.get("start")),
            deadline=deadline,
            work_rights=_work_rights(campaign.get("work_rights"), text),
            description_text=text,
            description_html=html,
            extra=_extra(campaign, organisation, job_type, interval),
            closed=deadline is not None and deadline <= datetime.now(UTC),
        )


def _campaigns(group: Any) -> Iterator[Any]:
    """A group's campaigns, each with its organisation; events and "notify me" placeholders left out.

    A group or campaign of the wrong shape is passed on as it is, so it is recorded as skipped.
    """
    if not isinstance(group, Mapping) or not isinstance(group.get("campaigns"), list):
        yield group
        return
    organisation = group.get("customer_organization")
    for campaign in group["campaigns"]:
        if not isinstance(campaign, Mapping):
            yield campaign
        elif campaign.get("is_event") is True or campaign.get("item_type") == "notify_me":
            continue
        else:
            yield {
                **campaign,
                "customer_organization": organisation,
                "earliest_closing_date": group.get("earliest_closing_date"),
            }


def _real_matches(response: Response) -> int | None:
    """How many results are real matches when the page is padded with fallback ones; None if not padded."""
    flag = (_header(response, b"fallback") or "").strip().lower()
    if flag not in ("true", "1", "yes"):
        return None
    amount = _header_int(response, b"fallback_amount")
    if amount is None or amount < 0:
        raise ListingError(
            "results are padded with fallback ones, but fallback_amount does not say how many are real"
        )
    return amount


def _header(response: Response, name: bytes) -> str | None:
    """A header's value; repeated headers (several `link`s) joined as one list, as HTTP allows."""
    values = [raw.decode("latin-1") for raw in response.headers.getlist(name) if raw]
    return ", ".join(values) if values else None


def _header_int(response: Response, name: bytes) -> int | None:
    try:
        return int((_header(response, name) or "").strip())
    except ValueError:
        return None


def _on_base(url: str, current: str) -> str:
    """A next link on another host (the public site behind a mirror or test server) re-rooted on ours."""
    target, here = urlsplit(url), urlsplit(current)
    if (target.scheme, target.netloc) == (here.scheme, here.netloc):
        return url
    return urlunsplit((here.scheme, here.netloc, target.path, target.query, ""))


def _offset_of(url: str) -> int | None:
    values = parse_qs(urlsplit(url).query).get("offset")
    try:
        return int(values[-1]) if values else None
    except ValueError:
        return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _name(value: Any) -> str | None:
    """A plain string, or the `name` of an object such as `job_type: {id, name, slug}`."""
    if isinstance(value, Mapping):
        value = value.get("name")
    return (clean_text(value) or None) if isinstance(value, str) else None


def _names(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [name for item in items if (name := _name(item))]


def _page_url(home: str, organisation: Any, slug: Any) -> str | None:
    if not (isinstance(organisation, str) and organisation and isinstance(slug, str) and slug):
        return None
    return canonical_url(f"{home}/employers/{organisation}/jobs/{slug}/")


def _apply_url(campaign: Mapping[str, Any], home: str) -> str | None:
    """The employer's own page when known; else GradConnection's tracked redirect to it."""
    origin = campaign.get("origin_target_url")
    if isinstance(origin, str) and origin.strip():
        return canonical_url(origin)
    tracked = campaign.get("target_url")
    return canonical_url(tracked, base=home) if isinstance(tracked, str) and tracked.strip() else None


def _deadline(value: Any) -> datetime | None:
    closing = parse_datetime(value)
    return None if closing is None or closing.year >= NO_DEADLINE_YEAR else closing


def _workplace(remote_option: Any, locations: tuple[Any, ...]) -> str | None:
    if isinstance(remote_option, str) and (workplace := workplace_from(remote_option)):
        return workplace
    return "remote" if locations and all(place.remote for place in locations) else None


def _salary(campaign: Mapping[str, Any], currency: str | None) -> Salary | None:
    """ "AUD 78,000 - 82,000 / Year" as text, or `{min_salary, max_salary, details}`; hidden means none."""
    if campaign.get("show_salary") is False:
        return None
    salary = campaign.get("salary")
    if isinstance(salary, str):
        return parse_salary_text(salary, default_currency=currency)
    if not isinstance(salary, Mapping):
        return None
    details = next(
        (clean_text(salary[key]) for key in ("details", "text") if isinstance(salary.get(key), str)), None
    )
    stated = parse_salary_text(details, default_currency=currency) if details else None
    structured = salary_from_range(
        salary.get("min_salary"),
        salary.get("max_salary"),
        salary.get("currency") or (stated.currency if stated else currency),
        salary.get("period") or (stated.period if stated else None),
        details,
    )
    return structured or stated


def _work_rights(value: Any, text: str) -> WorkRights | None:
    """The board's own list of who may apply, with the sponsorship it implies (else the text's)."""
    labels = tuple(_names(value)) if value is not None else ()
    sponsorship = sponsorship_from_rights(labels) or sponsorship_from_text(text)
    if not labels and sponsorship is None:
        return None
    return WorkRights(sponsorship=sponsorship, rights=labels)


def _extra(
    campaign: Mapping[str, Any],
    organisation: Mapping[str, Any],
    job_type: str | None,
    interval: Mapping[str, Any],
) -> dict[str, Any]:
    extra: dict[str, Any] = {
        key: campaign[key] for key in EXTRA_FIELDS if campaign.get(key) not in (None, "", [])
    }
    if job_type:
        extra["job_type"] = job_type
    if organisation.get("slug"):
        extra["organisation_slug"] = organisation["slug"]
    if interval.get("end") and _deadline(interval.get("end")) is None:
        extra["open_until"] = interval["end"]  # the "until filled" sentinel, kept as the board wrote it
    return extra
