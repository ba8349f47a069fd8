"""Recruitee careers site API: every published offer of a company in one `GET /api/offers/`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from scrapy import Request
from scrapy.http import Response

from crawler.normalize.dates import parse_datetime
from crawler.normalize.employment import employment_type
from crawler.normalize.locations import parse_locations, place_from_parts
from crawler.normalize.rights import sponsorship_from_text
from crawler.normalize.salary import parse_salary_text, salary_from_range
from crawler.normalize.text import clean_text, html_to_text, sanitize_html
from crawler.normalize.urls import canonical_url
from crawler.spider import Board, BoardSpider, json_of, json_request, list_at, required_text
from crawler.types.recruitee import Options
from rolewatch.domain import Location, Posting, Salary, WorkRights

#: The status of an offer that is open; the public API normally lists only these.
PUBLISHED = "published"
#: Statuses in which the board itself says the offer is over: the posting closes at once.
CLOSED_STATUSES = frozenset({"closed", "archived"})
#: Board fields that are not part of the normalised posting but worth keeping.
EXTRA_FIELDS = (
    "slug", "guid", "status", "created_at", "updated_at", "employment_type_code", "category_code",
    "experience_code", "education_code", "min_hours", "max_hours", "tags",
)  # fmt: skip


class RecruiteeSpider(BoardSpider[Options]):
    """One request per company; `status` and `close_at` are the board's own closure signals.

    An offer whose status is `closed` or `archived` closes at once, and so does one whose
    `close_at` has passed (it also becomes the deadline). Any other status that is not
    `published` (`draft`, `internal`) is not a public posting and is skipped, so it closes
    like any posting that left the listing. `updated_at` moves only when an offer is edited
    (the notes call it Recruitee's best change signal), so it is not volatile; `position`
    is the offer's place in the careers page's ordering and shifts when other offers are
    added or moved, so it is.
    """

    name = "recruitee"
    conditional = True
    volatile_fields = ("position",)

    def start_requests_for(self, board: Board[Options]) -> Iterable[Request]:
        root = board.base_url(f"https://{board.options.company.lower()}.recruitee.com")
        yield json_request(f"{root}/api/offers/")

    def parse_listing(self, response: Response, board: Board[Options]) -> Iterable[Any]:
        return list_at(json_of(response), "offers")

    def to_posting(self, record: Any, board: Board[Options]) -> Posting | None:
        offer: Mapping[str, Any] = record
        status = clean_text(str(offer.get("status") or PUBLISHED)).lower()
        if status != PUBLISHED and status not in CLOSED_STATUSES:
            return None
        title = required_text(offer, "title")
        html = sanitize_html((offer.get("description") or "") + (offer.get("requirements") or ""))
        text = html_to_text(html)
        sponsorship = sponsorship_from_text(text)
        deadline = parse_datetime(offer.get("close_at"))
        workplace = _workplace(offer)
        return Posting(
            source=board.name,
            external_id=str(offer["id"]),
            title=title,
            url=canonical_url(offer.get("careers_url")),
            apply_url=canonical_url(offer.get("careers_apply_url") or offer.get("careers_url")),
            company=board.options.company_name
            or clean_text(offer.get("company_name"))
            or board.options.company,
            department=_department(offer.get("department")),
            locations=_locations(offer, remote=workplace == "remote"),
            workplace=workplace,
            employment_type=employment_type(offer.get("employment_type_code"), title),
            salary=_salary(offer.get("salary")) or parse_salary_text(text),
            posted_at=parse_datetime(offer.get("published_at") or offer.get("created_at")),
            deadline=deadline,
            work_rights=WorkRights(sponsorship=sponsorship) if sponsorship else None,
            description_text=text,
            description_html=html,
            extra={key: offer[key] for key in EXTRA_FIELDS if offer.get(key) not in (None, "", [])},
            closed=status in CLOSED_STATUSES or (deadline is not None and deadline < datetime.now(UTC)),
        )


def _workplace(offer: Mapping[str, Any]) -> str | None:
    """Recruitee's three flags; remote and on-site together mean a mix, which is hybrid."""
    remote, hybrid, on_site = (offer.get(key) is True for key in ("remote", "hybrid", "on_site"))
    if hybrid or (remote and on_site):
        return "hybrid"
    if remote:
        return "remote"
    return "onsite" if on_site else None


def _department(value: Any) -> str | None:
    """A plain name; older careers sites send `{"name": …}` instead."""
    if isinstance(value, Mapping):
        value = value.get("name")
    return clean_text(value) if isinstance(value, str) and clean_text(value) else None


def _locations(offer: Mapping[str, Any], *, remote: bool) -> tuple[Location, ...]:
    """Each entry of `locations` from its structured parts; else the offer's own place fields."""
    places: list[Location] = []
    for entry in offer.get("locations") or ():
        if isinstance(entry, Mapping):
            name = entry.get("name") if isinstance(entry.get("name"), str) else ""
            named_remote = any(place.remote for place in parse_locations(name))  # "Germany/Remote"
            parts = (entry.get("city"), entry.get("state"), entry.get("country"))
            place = place_from_parts(parts, entry.get("country_code"), remote=remote or named_remote)
            if place is None and name:
                place = next(iter(parse_locations(name, country_hint=entry.get("country_code"))), None)
            if place is not None:
                places.append(place)
    if not places:
        parts = (offer.get("city"), offer.get("state_name"), offer.get("country"))
        place = place_from_parts(parts, offer.get("country_code"), remote=remote)
        if place is None:
            found = parse_locations(offer.get("location"), country_hint=offer.get("country_code"))
            places.extend(replace(p, remote=p.remote or remote) for p in found)
        else:
            places.append(place)
    return tuple(dict.fromkeys(places))


def _salary(value: Any) -> Salary | None:
    """`salary` is `{min, max, currency, period}` with amounts as strings, or plain text."""
    if isinstance(value, str):
        return parse_salary_text(value)
    if not isinstance(value, Mapping):
        return None
    return salary_from_range(value.get("min"), value.get("max"), value.get("currency"), value.get("period"))
