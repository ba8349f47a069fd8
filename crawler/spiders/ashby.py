"""Ashby posting API: the whole board in one `GET /posting-api/job-board/{board}?includeCompensation=true`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
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
from crawler.spider import Board, BoardSpider, PostingError, json_of, json_request, list_at, required_text
from crawler.types.ashby import Options
from rolewatch.domain import Location, Posting, Salary, WorkRights

API = "https://api.ashbyhq.com"
#: Board fields that are not part of the normalised posting but worth keeping.
EXTRA_FIELDS = ("team", "isRemote", "workplaceType", "shouldDisplayCompensationOnJobPostings")
#: The compensation component that is pay; equity, bonus and commission ride along in the summary.
SALARY_COMPONENT = "salary"


class AshbySpider(BoardSpider[Options]):
    """One request per board; `isListed: false` rows are unlisted postings, not part of the board."""

    name = "ashby"
    conditional = True

    def start_requests_for(self, board: Board[Options]) -> Iterable[Request]:
        # Board names may hold spaces and capitals ("Hippocratic AI"): quote, never lower-case.
        name = quote(board.options.board, safe="")
        yield json_request(f"{board.base_url(API)}/posting-api/job-board/{name}?includeCompensation=true")

    def parse_listing(self, response: Response, board: Board[Options]) -> Iterator[Any]:
        for job in list_at(json_of(response), "jobs"):
            if isinstance(job, Mapping) and job.get("isListed") is False:
                continue  # reachable by its link only: not a listing, and not an error either
            yield job

    def to_posting(self, record: Any, board: Board[Options]) -> Posting:
        if not isinstance(record, Mapping):
            raise PostingError(f"expected a job object, got {type(record).__name__}")
        job: Mapping[str, Any] = record
        title = required_text(job, "title")
        html = sanitize_html(job.get("descriptionHtml") or "")
        text = html_to_text(html) or clean_text(job.get("descriptionPlain"))
        sponsorship = sponsorship_from_text(text)
        offered = job.get("compensation")
        compensation: Mapping[str, Any] = offered if isinstance(offered, Mapping) else {}
        return Posting(
            source=board.name,
            external_id=str(job["id"]),
            title=title,
            url=canonical_url(job.get("jobUrl")),
            apply_url=canonical_url(job.get("applyUrl")),
            company=board.options.company or board.options.board,
            department=clean_text(job.get("department")) or clean_text(job.get("team")) or None,
            locations=_locations(job),
            workplace=_workplace(job),
            employment_type=employment_type(job.get("employmentType"), title),
            salary=salary_of(compensation) or parse_salary_text(text),
            posted_at=parse_datetime(job.get("publishedAt")),
            work_rights=WorkRights(sponsorship=sponsorship) if sponsorship else None,
            description_text=text,
            description_html=html,
            extra={
                **{key: job[key] for key in EXTRA_FIELDS if job.get(key) is not None},
                **_compensation_summary(compensation),
            },
        )


def _locations(job: Mapping[str, Any]) -> tuple[Location, ...]:
    """The primary location, then the secondary ones, each helped by its structured address."""
    places = [(job.get("location"), job.get("address"))]
    for secondary in job.get("secondaryLocations") or ():
        if isinstance(secondary, Mapping):
            places.append((secondary.get("location"), secondary.get("address")))
    found: dict[Location, None] = {}
    for name, address in places:
        found.update(dict.fromkeys(_place(name, address)))
    return tuple(found)


def _place(name: Any, address: Any) -> tuple[Location, ...]:
    """The board's own label when it reads as a place; else the address's locality, region, country.

    The label says what the employer means ("Remote (Canada)"); the address is the office behind
    it, so it is used only when the label alone cannot be placed ("Head Office", "HQ").
    """
    postal = address.get("postalAddress") if isinstance(address, Mapping) else None
    postal = postal if isinstance(postal, Mapping) else {}
    country = clean_text(postal.get("addressCountry")) or None
    locality = clean_text(postal.get("addressLocality"))
    label = clean_text(name) if isinstance(name, str) else ""
    parsed = parse_locations(label, country_hint=country) if label else ()
    if parsed and all(
        place.country and (place.city or place.region or place.remote or not locality) for place in parsed
    ):
        return parsed
    parts = [clean_text(postal.get(key)) for key in ("addressLocality", "addressRegion", "addressCountry")]
    joined = ", ".join(part for part in parts if part)
    from_address = parse_locations(joined) if joined else ()
    if from_address and from_address[0].country:
        return tuple(
            Location(name=label or place.name, city=place.city, region=place.region, country=place.country)
            for place in from_address
        )
    return parsed or from_address


def _workplace(job: Mapping[str, Any]) -> str | None:
    """`workplaceType` when given (Hybrid roles still say isRemote: true); else the isRemote flag."""
    workplace = workplace_from(job.get("workplaceType"))
    if workplace is None and job.get("isRemote") is True:
        return "remote"
    return workplace


def salary_of(compensation: Mapping[str, Any]) -> Salary | None:
    """The pay range from the salary components: Ashby's summary first, else every tier's.

    Tiers (levels, locations) in one currency and interval become one range from the lowest
    minimum to the highest maximum; a second currency or interval is left to the summary text.
    Amounts, currency and interval stay as given: never annualised or converted.
    """
    text = clean_text(
        compensation.get("scrapeableCompensationSalarySummary") or compensation.get("compensationTierSummary")
    )
    components = [c for c in compensation.get("summaryComponents") or () if _is_salary(c)]
    if not components:
        for tier in compensation.get("compensationTiers") or ():
            if isinstance(tier, Mapping):
                components.extend(c for c in tier.get("components") or () if _is_salary(c))
    if not components:
        return parse_salary_text(text) if text else None
    first = components[0]
    same = [
        c
        for c in components
        if c.get("currencyCode") == first.get("currencyCode") and c.get("interval") == first.get("interval")
    ]
    lows = [c["minValue"] for c in same if isinstance(c.get("minValue"), int | float)]
    highs = [c["maxValue"] for c in same if isinstance(c.get("maxValue"), int | float)]
    return salary_from_range(
        min(lows) if lows else None,
        max(highs) if highs else None,
        first.get("currencyCode"),
        first.get("interval"),
        text or None,
    ) or (parse_salary_text(text) if text else None)


def _is_salary(component: Any) -> bool:
    return (
        isinstance(component, Mapping)
        and str(component.get("compensationType") or "").strip().lower() == SALARY_COMPONENT
    )


def _compensation_summary(compensation: Mapping[str, Any]) -> dict[str, Any]:
    """Ashby's own one-line summary ("CA$152K – CA$190K • Offers Equity"): equity and bonus live there."""
    summary = clean_text(compensation.get("compensationTierSummary"))
    return {"compensationTierSummary": summary} if summary else {}
