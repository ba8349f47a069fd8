"""Workday career sites through their CXS JSON API: a POSTed search, 20 per page, plus one detail per posting.

- List: `POST {host}/wday/cxs/{tenant}/{site}/jobs` with `{appliedFacets, limit: 20, offset,
  searchText}`. `total` is trusted from the first page only (later pages may say 0). Many tenants
  serve at most 2,000 postings per query: a bigger site is partial unless `partition_by` names a
  facet, whose values (read from the first page) are then crawled one by one and merged by id.
- Detail: `GET {host}/wday/cxs/{tenant}/{site}{externalPath}` for the description, `startDate`
  (posted) and `endDate` (the deadline); asked only for new or changed list records, at most
  `max_details` per crawl (see `crawler/spiders/_details.py`).
- Dates: the list only says "Posted 3 Days Ago"; the detail's `startDate` is used when read.
  Without it the relative text is resolved against the crawl time to the day, and "Posted 30+
  Days Ago" leaves `posted_at` empty (the text is kept in `extra.postedOn`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final
from urllib.parse import quote

from scrapy import Request
from scrapy.http import Response

from crawler.normalize.dates import parse_datetime
from crawler.normalize.employment import employment_type
from crawler.normalize.locations import parse_locations, workplace_from
from crawler.normalize.rights import sponsorship_from_text
from crawler.normalize.salary import parse_salary_text
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
from crawler.spiders._paging import PageBudget, page_cap, stop_at_repeat
from crawler.types.workday import CareerSite as CareerSite  # where callers have always found them
from crawler.types.workday import Options
from crawler.types.workday import career_site as career_site
from rolewatch.domain import Location, Posting, WorkRights

#: The site's own page size; larger limits are refused by some tenants.
PAGE_SIZE: Final = 20
#: Offsets past this are not served by many tenants (they report total=2000 and repeat page one).
CLAMP: Final = 2000
_OFFSET, _TOTAL, _FACETS, _PART = "workday_offset", "workday_total", "workday_facets", "workday_partition"
_COUNTED_PLACES: Final = re.compile(r"\d+\s+locations?", re.IGNORECASE)
_OVER_A_MONTH: Final = re.compile(r"\d+\s*\+", re.IGNORECASE)
#: Detail fields kept as they are.
EXTRA_FIELDS: Final = (
    "jobReqId", "jobPostingId", "timeType", "remoteType", "timeLeftToApply", "canApply", "postedOn",
)  # fmt: skip


class WorkdaySpider(BoardSpider[Options]):
    """POSTs the search page by page (partitioned by a facet past the 2,000 clamp), then details."""

    name = "workday"
    #: "Posted 3 Days Ago" changes every day without the posting changing.
    volatile_fields = ("postedOn", DETAIL)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.details = Details()
        self.budget = PageBudget()

    def start_requests_for(self, board: Board[Options]) -> Iterable[Request]:
        self.budget.grant(board, 1, board.options.max_pages)
        yield self._page(board, offset=0, facets=dict(board.options.applied_facets))

    def record_id(self, record: Any) -> str | None:
        """The requisition id that ends `externalPath` (`…/Data-Analyst_JR-7309` → `JR-7309`)."""
        if not isinstance(record, Mapping):
            return None
        path = record.get("externalPath")
        if not isinstance(path, str) or not path.strip("/ "):
            return None
        return id_from_path(path)

    def parse_listing(self, response: Response, board: Board[Options]) -> Iterator[Any]:
        if is_detail(response):
            yield from read_detail(response, _detail_of)
            return
        data = json_of(response)
        postings = list_at(data, "jobPostings")
        offset: int = response.meta[_OFFSET]
        facets: dict[str, list[str]] = response.meta[_FACETS]
        partition: str | None = response.meta[_PART]
        total = _first_page_total(data) if offset == 0 else int(response.meta[_TOTAL])
        problems: list[str] = []
        partitioned = False
        page = offset // PAGE_SIZE + 1
        read = stop_at_repeat(response, postings, page, self.record_id, "the board ignores `offset`")
        if offset == 0 and partition is None and total >= CLAMP and board.options.partition_by:
            requests, problem = self._partitions(board, data, total)
            granted = self.budget.grant(board, len(requests), board.options.max_pages)
            yield from requests[:granted]
            partitioned = bool(requests)
            problems.extend([problem] if problem else [])
            problems.extend([str(page_cap(board.options.max_pages))] if granted < len(requests) else [])
        for record in postings:
            if not isinstance(record, Mapping) or not clean_text(str(record.get("title") or "")):
                yield record  # to_posting says what is wrong; no detail request for it
                continue
            make = partial(self._detail, board, str(record.get("externalPath") or ""))
            yield from self.details.follow(self, board, record, board.options.max_details, make)
        if not partitioned:
            following, end = offset + len(postings), min(total, CLAMP)
            if postings and following < end and not self.budget.grant(board, 1, board.options.max_pages):
                problems.append(str(page_cap(board.options.max_pages)))
            elif postings and following < end:
                yield self._page(board, following, facets, partition, total, read)
            elif not postings and offset < end:
                problems.append(f"the page at offset {offset} is empty although the first page said {total}")
            elif total >= CLAMP:
                problems.append(_clamped(total, partition, board.options.partition_by))
        if self.details.newly_capped(board):
            problems.append(str(cap_reached(board.options.max_details)))
        if problems:
            raise ListingTruncated("; ".join(problems))

    def _partitions(
        self, board: Board[Options], data: Mapping[str, Any], total: int
    ) -> tuple[list[Request], str]:
        """One first-page request per value of the `partition_by` facet, and what they may miss."""
        facet = board.options.partition_by or ""
        values = facet_values(data.get("facets"), facet)
        if values is None:
            offered = ", ".join(facet_names(data.get("facets"))) or "none"
            return [], f"partition_by: this site has no facet {facet!r} (it offers: {offered})"
        requests = [
            self._page(board, 0, {**board.options.applied_facets, facet: [value_id]}, f"{facet}={label}")
            for value_id, label, _count in values
        ]
        covered = sum(count for _id, _label, count in values)
        if covered < total:
            return requests, f"the {facet} facet covers {covered} of {total} postings; the rest are not read"
        return requests, ""

    def _page(
        self,
        board: Board[Options],
        offset: int,
        facets: dict[str, list[str]],
        partition: str | None = None,
        total: int = 0,
        read: Mapping[str, Any] | None = None,
    ) -> Request:
        body = {
            "appliedFacets": facets,
            "limit": PAGE_SIZE,
            "offset": offset,
            "searchText": board.options.search_text,
        }
        return json_request(
            f"{self._api(board)}/jobs",
            method="POST",
            body=json.dumps(body),
            headers={"Content-Type": "application/json"},
            meta={_OFFSET: offset, _FACETS: facets, _PART: partition, _TOTAL: total, **(read or {})},
            priority=PAGE_PRIORITY,
        )

    def _detail(self, board: Board[Options], external_path: str) -> Request:
        return detail_request(f"{self._api(board)}{quote(external_path, safe='/-_.~%')}")

    def _api(self, board: Board[Options]) -> str:
        site = board.options.career_site()
        return (
            f"{board.base_url(site.host)}/wday/cxs/{quote(site.tenant, safe='')}/{quote(site.site, safe='')}"
        )

    def salvage(self, request: Request, board: Board[Options]) -> Iterable[Any]:
        return salvaged(request)

    def to_posting(self, record: Any, board: Board[Options]) -> Posting:
        if not isinstance(record, Mapping):
            raise PostingError(f"expected a job posting object, got {type(record).__name__}")
        listed, detail = split(record)
        info: Mapping[str, Any] = _object(detail.get("jobPostingInfo"))
        title = required_text(listed, "title")
        external_id = self.record_id(listed)
        if external_id is None:
            raise PostingError("'externalPath' is missing or blank")
        site = board.options.career_site()
        html = sanitize_html(info.get("jobDescription") or "")
        text = html_to_text(html)
        sponsorship = sponsorship_from_text(text)
        locations = locations_of(listed, info)
        url = canonical_url(info.get("externalUrl")) or canonical_url(
            site.posting_url(listed["externalPath"])
        )
        return Posting(
            source=board.name,
            external_id=external_id,
            title=title,
            url=url,
            apply_url=url,
            company=board.options.company or site.tenant,
            locations=locations,
            workplace=_workplace(listed, info, locations),
            employment_type=employment_type(info.get("timeType") or listed.get("timeType"), title),
            salary=parse_salary_text(text),
            posted_at=parse_datetime(info.get("startDate")) or posted_on(listed.get("postedOn")),
            deadline=parse_datetime(info.get("endDate")),
            work_rights=WorkRights(sponsorship=sponsorship) if sponsorship else None,
            description_text=text,
            description_html=html,
            extra=_extra(listed, info, detail, missing=bool(record.get(MISSING))),
            closed=is_gone(record) or info.get("posted") is False,
        )


def id_from_path(path: str) -> str:
    """The last path segment's suffix after its last `_` (the requisition id), else the whole segment."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last.rsplit("_", 1)[-1] if "_" in last else last


def posted_on(text: Any, now: datetime | None = None) -> datetime | None:
    """ "Posted 3 Days Ago" as that day (midnight UTC); "Posted 30+ Days Ago" says no date at all."""
    if not isinstance(text, str) or _OVER_A_MONTH.search(text):
        return None
    when = parse_datetime(text, now=now or datetime.now(UTC))
    return when.replace(hour=0, minute=0, second=0, microsecond=0) if when else None


def facet_values(facets: Any, name: str) -> list[tuple[str, str, int]] | None:
    """`(id, label, count)` of each value of the facet called `name`, searched in nested groups too."""
    for facet in facets if isinstance(facets, list) else ():
        if not isinstance(facet, Mapping):
            continue
        raw = facet.get("values")
        values: list[Any] = raw if isinstance(raw, list) else []
        if facet.get("facetParameter") == name:
            return [
                (str(value["id"]), clean_text(str(value.get("descriptor") or value["id"])), _count(value))
                for value in values
                if isinstance(value, Mapping) and value.get("id") is not None
            ]
        nested = facet_values(
            [value for value in values if isinstance(value, Mapping) and "values" in value], name
        )
        if nested is not None:
            return nested
    return None


def facet_names(facets: Any) -> list[str]:
    """Every facet parameter the site offers, nested groups included (for the error message)."""
    names: list[str] = []
    for facet in facets if isinstance(facets, list) else ():
        if isinstance(facet, Mapping) and isinstance(facet.get("facetParameter"), str):
            names.append(facet["facetParameter"])
            names.extend(
                facet_names(
                    [v for v in facet.get("values") or () if isinstance(v, Mapping) and "values" in v]
                )
            )
    return names


def _count(value: Mapping[str, Any]) -> int:
    count = value.get("count")
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


def _first_page_total(data: Mapping[str, Any]) -> int:
    total = data.get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise ListingError('JSON has no "total" count on the first page')
    return total


def _clamped(total: int, partition: str | None, partition_by: str | None) -> str:
    where = f"the {partition} partition" if partition else "the site"
    advice = (
        "a finer partition_by facet" if partition_by else "partition_by (e.g. jobFamilyGroup or locations)"
    )
    return f"{where} lists {total} postings but Workday serves at most {CLAMP:,} per query; set {advice}"


def _detail_of(response: Response) -> Mapping[str, Any]:
    """The detail without `similarJobs` (other postings, not this one's business)."""
    data = json_of(response)
    if not isinstance(data, dict) or not isinstance(data.get("jobPostingInfo"), dict):
        raise ListingError('JSON has no "jobPostingInfo" object')
    return {key: value for key, value in data.items() if key != "similarJobs"}


def locations_of(listed: Mapping[str, Any], info: Mapping[str, Any]) -> tuple[Location, ...]:
    """The detail's location and additional locations; else the list's text unless it only counts them."""
    country = _object(_object(info.get("jobRequisitionLocation")).get("country")).get("alpha2Code")
    country = country or _object(info.get("country")).get("descriptor")
    places: Sequence[Any] = [info.get("location"), *(info.get("additionalLocations") or ())]
    if not any(isinstance(place, str) and place.strip() for place in places):
        places = [listed.get("locationsText")]
    found: dict[Location, None] = {}
    for place in places:
        if isinstance(place, str) and place.strip() and not _COUNTED_PLACES.fullmatch(place.strip()):
            found.update(dict.fromkeys(_place(place, country if isinstance(country, str) else None)))
    return tuple(found)


def _place(text: str, country: str | None) -> tuple[Location, ...]:
    """One Workday location name; `United States-Utah-Corinne` (country first) is read backwards."""
    parsed = parse_locations(text, country_hint=country)
    if "-" not in text or all(_placed(place) for place in parsed):
        return parsed
    pieces = [piece.strip() for piece in text.split("-") if piece.strip()]
    if len(pieces) < 2:
        return parsed
    backwards = parse_locations(", ".join(reversed(pieces)), country_hint=country)
    if backwards and all(_placed(place) for place in backwards):
        return tuple(
            Location(name=text, city=p.city, region=p.region, country=p.country, remote=p.remote)
            for p in backwards
        )
    return parsed


def _placed(place: Location) -> bool:
    """Read as more than the hinted country: a city, a region, or a remote place."""
    return bool(place.country and (place.city or place.region or place.remote))


def _workplace(
    listed: Mapping[str, Any], info: Mapping[str, Any], locations: tuple[Location, ...]
) -> str | None:
    """`remoteType` where the tenant shows it; else remote when every location is a remote one."""
    workplace = workplace_from(info.get("remoteType") or listed.get("remoteType"))
    if workplace is None and locations and all(place.remote for place in locations):
        return "remote"
    return workplace


def _extra(
    listed: Mapping[str, Any], info: Mapping[str, Any], detail: Mapping[str, Any], *, missing: bool
) -> dict[str, Any]:
    merged = {**listed, **info}
    extra: dict[str, Any] = {key: merged[key] for key in EXTRA_FIELDS if merged.get(key) not in (None, "")}
    if listed.get("bulletFields"):
        extra["bulletFields"] = listed["bulletFields"]
    organisation = clean_text(_object(detail.get("hiringOrganization")).get("name"))
    if organisation:
        extra["hiringOrganization"] = organisation
    if missing:
        extra["details_missing"] = True
    return extra


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
