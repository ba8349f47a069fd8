"""Workable's public widget API: an account's jobs in one `GET /api/v1/widget/accounts/{account}`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from scrapy import Request
from scrapy.http import Response

from crawler.normalize.dates import parse_datetime
from crawler.normalize.employment import employment_type
from crawler.normalize.locations import place_from_parts
from crawler.normalize.rights import sponsorship_from_text
from crawler.normalize.salary import parse_salary_text
from crawler.normalize.text import clean_text, html_to_text, sanitize_html
from crawler.normalize.urls import canonical_url
from crawler.spider import Board, BoardSpider, json_of, json_request, list_at, required_text
from crawler.types.workable import Options
from rolewatch.domain import Location, Posting, WorkRights

API = "https://apply.workable.com"
#: Fields of a widget row that describe its one location; merged rows carry `locations` instead.
ROW_PLACE_FIELDS = ("country", "city", "state", "locations")
#: The key under which the merged record carries the account's own name (the widget's top level).
ACCOUNT_NAME = "account_name"
#: HTML sections of a job with `details=true`, in the order the job page shows them.
DESCRIPTION_FIELDS = ("description", "requirements", "benefits")
#: Board fields that are not part of the normalised posting but worth keeping.
EXTRA_FIELDS = (
    "code", "created_at", "telecommuting", "experience", "education", "function", "industry", "shortlink",
)  # fmt: skip
#: Workable's `experience` levels that say who the role is for, when `employment_type` only gives hours.
LEVEL_TYPES = {"internship": "intern", "entry level": "graduate"}


class WorkableSpider(BoardSpider[Options]):
    """One request per account; a job listed in several places comes once per place, merged here.

    The widget repeats a job's row for each of its locations, so `parse_listing` groups the
    rows by `shortcode` and yields one merged record per job (its `id` is the shortcode, its
    `locations` the sorted union). Record ids and raw digests are therefore taken on the
    merged record, and the order the rows came in changes neither.
    """

    name = "workable"
    conditional = True

    def start_requests_for(self, board: Board[Options]) -> Iterable[Request]:
        account = quote(board.options.account, safe="")
        yield json_request(f"{board.base_url(API)}/api/v1/widget/accounts/{account}?details=true")

    def parse_listing(self, response: Response, board: Board[Options]) -> Iterable[Any]:
        data = json_of(response)
        rows = list_at(data, "jobs")
        name = data.get("name")
        return merge_rows(rows, account_name=clean_text(name) if isinstance(name, str) else None)

    def record_id(self, record: Any) -> str | None:
        if isinstance(record, Mapping) and isinstance(record.get("shortcode"), str):
            return str(record["shortcode"])
        return None

    def to_posting(self, record: Any, board: Board[Options]) -> Posting:
        job: Mapping[str, Any] = record
        title = required_text(job, "title")
        shortcode = required_text(job, "shortcode")
        html = sanitize_html("".join(job.get(key) or "" for key in DESCRIPTION_FIELDS))
        text = html_to_text(html)
        sponsorship = sponsorship_from_text(text)
        remote = job.get("telecommuting") is True
        url = canonical_url(job.get("url") or job.get("shortlink"))
        return Posting(
            source=board.name,
            external_id=shortcode,
            title=title,
            url=url,
            apply_url=canonical_url(job.get("application_url")) or url,
            company=board.options.company or job.get(ACCOUNT_NAME) or board.options.account,
            department=clean_text(job.get("department")) or None,
            locations=_locations(job.get("locations"), remote=remote),
            workplace="remote" if remote else None,
            employment_type=_employment_type(job, title),
            salary=parse_salary_text(text),
            posted_at=parse_datetime(job.get("published_on") or job.get("created_at")),
            work_rights=WorkRights(sponsorship=sponsorship) if sponsorship else None,
            description_text=text,
            description_html=html,
            extra={key: job[key] for key in EXTRA_FIELDS if job.get(key) not in (None, "")},
        )


def merge_rows(rows: Sequence[Any], account_name: str | None = None) -> list[Any]:
    """One record per shortcode: its rows' locations merged, independent of the rows' order.

    A row without a shortcode is passed on as it is, so `to_posting` reports it.
    """
    groups: dict[str, list[Mapping[str, Any]]] = {}
    loose: list[Any] = []
    for row in rows:
        code = row.get("shortcode") if isinstance(row, Mapping) else None
        if isinstance(code, str) and code.strip():
            groups.setdefault(code.strip(), []).append(row)
        else:
            loose.append(row)
    return [_merge(code, group, account_name) for code, group in groups.items()] + loose


def _merge(shortcode: str, rows: list[Mapping[str, Any]], account_name: str | None) -> dict[str, Any]:
    ordered = sorted(rows, key=_canonical)
    places = {_canonical(place): place for row in ordered for place in _row_places(row)}
    record: dict[str, Any] = {
        **{key: value for key, value in ordered[0].items() if key not in ROW_PLACE_FIELDS},
        "id": shortcode,
        "shortcode": shortcode,
        "locations": [places[key] for key in sorted(places)],
    }
    if account_name:
        record[ACCOUNT_NAME] = account_name
    return record


def _row_places(row: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A row's `locations` entries; a row without them names its one place at its top level."""
    listed = [place for place in row.get("locations") or () if isinstance(place, Mapping)]
    if listed:
        return listed
    top = {"city": row.get("city"), "region": row.get("state"), "country": row.get("country")}
    return [top] if any(isinstance(value, str) and value.strip() for value in top.values()) else []


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _locations(value: Any, *, remote: bool) -> tuple[Location, ...]:
    """Visible places first: a place the employer hid is used only when every place is hidden."""
    entries = [entry for entry in value or () if isinstance(entry, Mapping)]
    visible = [entry for entry in entries if entry.get("hidden") is not True] or entries
    places = (
        place_from_parts(
            (entry.get("city"), entry.get("region"), entry.get("country")),
            entry.get("countryCode"),
            remote=remote,
        )
        for entry in visible
    )
    return tuple(dict.fromkeys(place for place in places if place is not None))


def _employment_type(job: Mapping[str, Any], title: str) -> str | None:
    """`employment_type` ("Full-time", "Contract"…) and the title, then the `experience` level.

    An "Internship" level makes an intern whatever the contract; "Entry level" makes a
    graduate role only when nothing more specific than the hours is known.
    """
    found = employment_type(job.get("employment_type"), title)
    experience = job.get("experience")
    level = LEVEL_TYPES.get(clean_text(experience).lower()) if isinstance(experience, str) else None
    if level == "intern" or (level == "graduate" and found in (None, "full_time", "part_time")):
        return level
    return found
