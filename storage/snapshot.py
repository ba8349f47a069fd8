"""A posting as JSON-ready data and back, so versions keep the whole posting and reads rebuild it exactly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
from msgspec import Raw

from rolewatch.domain import Location, Posting, Salary, WorkRights
from storage.database import dumps

if TYPE_CHECKING:
    from storage.models import PostingRow


def posting_snapshot(posting: Posting) -> dict[str, Any]:
    """Every field of the normalised posting; nested values are reused for the posting row's columns."""
    return {
        "source": posting.source,
        "external_id": posting.external_id,
        "title": posting.title,
        "url": posting.url,
        "apply_url": posting.apply_url,
        "company": posting.company,
        "department": posting.department,
        "locations": [location_document(location) for location in posting.locations],
        "workplace": posting.workplace,
        "employment_type": posting.employment_type,
        "salary": salary_document(posting.salary),
        "posted_at": _iso(posting.posted_at),
        "deadline": _iso(posting.deadline),
        "work_rights": work_rights_document(posting.work_rights),
        "description_text": posting.description_text,
        "description_html": posting.description_html,
        "extra": dict(posting.extra),
        "closed": posting.closed,
        "fingerprint": posting.fingerprint,
    }


@dataclass(frozen=True, slots=True)
class EncodedSnapshot:
    """A snapshot's JSON text with the posting row's JSON columns, encoded before they are bound.

    The rows of a first crawl are bound without SQLAlchemy's JSON type (its processor per value
    cost more than the encoding); None is a column left SQL NULL, as that type stores None.
    """

    text: str
    locations: str | None
    salary: str | None
    work_rights: str | None
    extra: str | None


def encode_snapshot(snapshot: Mapping[str, Any]) -> EncodedSnapshot:
    """The snapshot and its documents as `dumps` writes them, character for character.

    Each document is encoded once, by `dumps`, and embedded in the snapshot as it is. The rest
    of the snapshot is plain strings, booleans and nulls (a board's descriptions, mostly), which
    msgspec writes as `dumps` does, escapes included, in a third of the time; a snapshot holding
    anything else (a number where a string belongs) is written by `dumps` whole. The types are
    checked in C (`map(type, …)` into a set): a first crawl encodes 50,000 snapshots.
    """
    documents = {name: dumps(snapshot[name]) for name in _ROW_DOCUMENTS}
    members = dict(snapshot)
    members.update((name, Raw(text)) for name, text in documents.items())
    if _PLAIN_OR_RAW.issuperset(map(type, members.values())):
        text = _msgspec_json(members).decode()
    else:
        text = dumps(snapshot)
    column = {name: None if snapshot[name] is None else documents[name] for name in _ROW_DOCUMENTS}
    return EncodedSnapshot(
        text, column["locations"], column["salary"], column["work_rights"], column["extra"]
    )


def encode_flat(document: Mapping[str, Any]) -> str:
    """`dumps(document)` for a mapping of plain strings, booleans and nulls (a posting's
    significant values), through msgspec when that is what it holds, else through `dumps`."""
    if _TEXT.issuperset(map(type, document)) and _PLAIN.issuperset(map(type, document.values())):
        return _msgspec_json(document).decode()
    return dumps(document)


#: The snapshot's documents that are also posting row columns.
_ROW_DOCUMENTS = ("locations", "salary", "work_rights", "extra")
#: The types msgspec writes exactly as `dumps` does. Not floats (formatted its own way), nor
#: dates (`extra` may hold some; it writes them its own way), which arrive in encoded documents.
_PLAIN = frozenset({str, bool, type(None)})
_PLAIN_OR_RAW = _PLAIN | {Raw}
_TEXT = frozenset({str})
_msgspec_json = msgspec.json.Encoder().encode


def posting_from_snapshot(document: Mapping[str, Any]) -> Posting:
    """The posting a snapshot was taken of; its stored fingerprint is kept, not recomputed."""
    return Posting(
        source=document["source"],
        external_id=document["external_id"],
        title=document["title"],
        url=document.get("url"),
        apply_url=document.get("apply_url"),
        company=document.get("company"),
        department=document.get("department"),
        locations=locations_from(document.get("locations") or []),
        workplace=document.get("workplace"),
        employment_type=document.get("employment_type"),
        salary=salary_from(document.get("salary")),
        posted_at=_datetime(document.get("posted_at")),
        deadline=_datetime(document.get("deadline")),
        work_rights=work_rights_from(document.get("work_rights")),
        description_text=document.get("description_text") or "",
        description_html=document.get("description_html") or "",
        extra=dict(document.get("extra") or {}),
        closed=bool(document.get("closed", False)),
        fingerprint=document.get("fingerprint") or "",
    )


def location_document(location: Location) -> dict[str, Any]:
    return {
        "name": location.name,
        "city": location.city,
        "region": location.region,
        "country": location.country,
        "remote": location.remote,
    }


def locations_from(documents: Sequence[Mapping[str, Any]]) -> tuple[Location, ...]:
    return tuple(Location(**document) for document in documents)


def salary_document(salary: Salary | None) -> dict[str, Any] | None:
    if salary is None:
        return None
    return {
        "min": salary.min,
        "max": salary.max,
        "currency": salary.currency,
        "period": salary.period,
        "text": salary.text,
    }


def salary_from(document: Mapping[str, Any] | None) -> Salary | None:
    return Salary(**document) if document is not None else None


def work_rights_document(rights: WorkRights | None) -> dict[str, Any] | None:
    if rights is None:
        return None
    return {"sponsorship": rights.sponsorship, "rights": list(rights.rights)}


def work_rights_from(document: Mapping[str, Any] | None) -> WorkRights | None:
    if document is None:
        return None
    return WorkRights(document.get("sponsorship"), tuple(document.get("rights") or ()))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _datetime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def posting_from_row(row: PostingRow, source: str) -> Posting:
    """The posting as stored now (its current state), for rendering alerts and matching subscriptions."""
    return Posting(
        source=source,
        external_id=row.external_id,
        title=row.title,
        url=row.url,
        apply_url=row.apply_url,
        company=row.company,
        department=row.department,
        locations=locations_from(row.locations or []),
        workplace=row.workplace,
        employment_type=row.employment_type,
        salary=salary_from(row.salary),
        posted_at=row.posted_at,
        deadline=row.deadline,
        work_rights=work_rights_from(row.work_rights),
        description_text=row.description_text,
        description_html=row.description_html,
        extra=dict(row.extra or {}),
        closed=row.status == "closed",
        fingerprint=row.fingerprint,
    )
