"""Greenhouse job board API: the whole board in one `GET /v1/boards/{board}/jobs?content=true`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from scrapy import Request
from scrapy.http import Response

from crawler.normalize.dates import parse_datetime
from crawler.normalize.employment import employment_type
from crawler.normalize.locations import parse_locations, workplace_from
from crawler.normalize.rights import sponsorship_from_text
from crawler.normalize.salary import parse_salary_text
from crawler.normalize.text import clean_text, html_to_text, sanitize_html, unescape_entities
from crawler.normalize.urls import canonical_url
from crawler.spider import Board, BoardSpider, json_request, raw_list_at, required_text
from crawler.types.greenhouse import Options
from rolewatch.domain import Posting, WorkRights

API = "https://boards-api.greenhouse.io"
#: Custom fields employers use for the kind of contract, in the order we trust them.
EMPLOYMENT_FIELDS = ("Employment Type", "Commitment")
#: Board fields that are not part of the normalised posting but worth keeping.
EXTRA_FIELDS = ("updated_at", "internal_job_id", "requisition_id", "metadata")


class GreenhouseSpider(BoardSpider[Options]):
    """One request per board; `content` is HTML entity-escaped once more than real HTML."""

    name = "greenhouse"
    conditional = True
    volatile_fields = ("updated_at",)

    def start_requests_for(self, board: Board[Options]) -> Iterable[Request]:
        token = quote(board.options.board, safe="")
        yield json_request(f"{board.base_url(API)}/v1/boards/{token}/jobs?content=true")

    def parse_listing(self, response: Response, board: Board[Options]) -> Iterable[Any]:
        return raw_list_at(response, "jobs")

    def to_posting(self, record: Any, board: Board[Options]) -> Posting:
        job: Mapping[str, Any] = record
        title = required_text(job, "title")
        html = sanitize_html(unescape_entities(job.get("content") or ""))
        text = html_to_text(html)
        location = (job.get("location") or {}).get("name")
        sponsorship = sponsorship_from_text(text)
        url = canonical_url(job.get("absolute_url"))
        return Posting(
            source=board.name,
            external_id=str(job["id"]),
            title=title,
            url=url,
            apply_url=url,
            company=_company(job, board.options),
            department=_department(job),
            locations=parse_locations(location),
            workplace=workplace_from(location),
            employment_type=employment_type(_metadata_value(job, EMPLOYMENT_FIELDS), title),
            salary=parse_salary_text(text),
            posted_at=parse_datetime(job.get("first_published")),
            deadline=parse_datetime(job.get("application_deadline")),
            work_rights=WorkRights(sponsorship=sponsorship) if sponsorship else None,
            description_text=text,
            description_html=html,
            extra={key: job[key] for key in EXTRA_FIELDS if job.get(key) is not None},
        )


def _company(job: Mapping[str, Any], options: Options) -> str:
    return options.company or clean_text(job.get("company_name")) or options.board


def _department(job: Mapping[str, Any]) -> str | None:
    departments = job.get("departments") or []
    if not departments:
        return None
    return clean_text(departments[0].get("name")) or None


def _metadata_value(job: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    """The value of the first custom field called one of `names` (employers choose the labels)."""
    custom = job.get("metadata") or ()
    fields = {str(item.get("name", "")).strip().lower(): item.get("value") for item in custom}
    for name in names:
        value = fields.get(name.lower())
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if value:
            return str(value)
    return None
