"""The plain data that crosses stage boundaries: a normalised posting, a crawl result, an event."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import msgspec


class CrawlVerdict(StrEnum):
    """How far a crawl can be trusted; only COMPLETE crawls may close postings."""

    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"
    SUSPECT = "suspect"


class EventType(StrEnum):
    NEW = "new"
    CHANGED = "changed"
    CLOSED = "closed"
    REOPENED = "reopened"


class PostingStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


EMPLOYMENT_TYPES = ("full_time", "part_time", "intern", "contract", "temporary", "graduate")
WORKPLACES = ("onsite", "hybrid", "remote")
SALARY_PERIODS = ("hour", "day", "week", "month", "year")
SPONSORSHIP = ("offered", "not_offered", "citizens_only")

_PERIOD_ABBREVIATIONS = {"hour": "hr", "day": "day", "week": "wk", "month": "mo", "year": "yr"}


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`1 source`, `2 sources`, `0 sources`; `many` for a noun whose plural is not noun + s."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"


@dataclass(frozen=True, slots=True)
class Location:
    """One place a role is offered; `country` is ISO 3166 alpha-2."""

    name: str
    city: str | None = None
    region: str | None = None
    country: str | None = None
    remote: bool = False

    def __reduce__(self) -> tuple[type[Location], tuple[str, str | None, str | None, str | None, bool]]:
        """Pickled as a constructor call: every posting crosses from the crawl process pickled, and a
        frozen slotted dataclass otherwise pickles through `dataclasses.fields()`, three times slower."""
        return Location, (self.name, self.city, self.region, self.country, self.remote)

    def label(self) -> str:
        """Short human form: `Sydney, AU`, `Remote, US`, or the board's own text."""
        head = "Remote" if self.remote and not self.city else (self.city or self.name)
        return f"{head}, {self.country}" if self.country and head != self.country else head


@dataclass(frozen=True, slots=True)
class Salary:
    """A pay range exactly as offered: never annualised or converted silently."""

    min: float | None
    max: float | None
    currency: str | None
    period: str | None
    text: str | None = None

    def __reduce__(
        self,
    ) -> tuple[type[Salary], tuple[float | None, float | None, str | None, str | None, str | None]]:
        """Pickled as a constructor call, as Location is."""
        return Salary, (self.min, self.max, self.currency, self.period, self.text)

    def label(self) -> str:
        """`AUD 78,000–82,000/yr`; falls back to the board's own text."""
        period = f"/{_PERIOD_ABBREVIATIONS.get(self.period, self.period)}" if self.period else ""
        return self._with_period(period)

    def spelled_label(self) -> str:
        """`AUD 78,000–82,000 / year`, as messages show it."""
        return self._with_period(f" / {self.period}" if self.period else "")

    def _with_period(self, period: str) -> str:
        if self.min is None and self.max is None:
            return self.text or ""
        low, high = self.min, self.max
        amounts = _amount(low if low is not None else high)
        if low is not None and high is not None and high != low:
            amounts = f"{_amount(low)}–{_amount(high)}"
        currency = f"{self.currency} " if self.currency else ""
        return f"{currency}{amounts}{period}"


def _amount(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


@dataclass(frozen=True, slots=True)
class WorkRights:
    """Visa sponsorship as one of SPONSORSHIP (or None when unknown) plus the board's own labels."""

    sponsorship: str | None = None
    rights: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[type[WorkRights], tuple[str | None, tuple[str, ...]]]:
        """Pickled as a constructor call, as Location is."""
        return WorkRights, (self.sponsorship, self.rights)

    def label(self) -> str:
        parts = [self.sponsorship or "", *self.rights]
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class Posting:
    """One role as a board lists it, normalised; identity is (source, external_id).

    `closed` is the board's own statement that the role is no longer open (an
    `active: false` flag, say); a posting absent from a listing is the diff's business.
    `fingerprint` is derived from the significant fields when not given; `raw_digest` is the
    digest of the board's raw record, which lets the next crawl skip normalising it unchanged.
    """

    source: str
    external_id: str
    title: str
    url: str | None = None
    apply_url: str | None = None
    company: str | None = None
    department: str | None = None
    locations: tuple[Location, ...] = ()
    workplace: str | None = None
    employment_type: str | None = None
    salary: Salary | None = None
    posted_at: datetime | None = None
    deadline: datetime | None = None
    work_rights: WorkRights | None = None
    description_text: str = ""
    description_html: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    closed: bool = False
    raw_digest: str = ""
    fingerprint: str = ""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", _fingerprint(self))

    def location_labels(self) -> str:
        return "; ".join(loc.label() for loc in self.locations)


def significant_values(posting: Posting) -> dict[str, str]:
    """The fields whose change is a change of the role, each rendered as text a person can read.

    Noise never reaches this point: whitespace is collapsed and tracking parameters are
    stripped during normalisation, and locations are sorted here so listing order is moot.
    """
    rights = posting.work_rights.label() if posting.work_rights else ""
    return {
        "title": " ".join(posting.title.split()),
        "company": " ".join((posting.company or "").split()),
        "department": " ".join((posting.department or "").split()),
        "locations": "; ".join(sorted(loc.label() for loc in posting.locations)),
        "workplace": posting.workplace or "",
        "employment_type": posting.employment_type or "",
        "salary": posting.salary.label() if posting.salary else "",
        "deadline": posting.deadline.date().isoformat() if posting.deadline else "",
        "work_rights": rights,
        "url": posting.url or "",
        "apply_url": posting.apply_url or "",
        "description": " ".join(posting.description_text.split()),
    }


def fingerprint_of(values: Mapping[str, str]) -> str:
    canonical = _CANONICAL_JSON.encode(dict(sorted(values.items())))
    return _digest(canonical)


def _fingerprint(posting: Posting) -> str:
    """`fingerprint_of(significant_values(posting))`, the same text digested.

    The JSON is laid out by one format string, each value quoted by the encoder's own quoting
    function: `JSONEncoder.encode` sets up an encoder per call, which costs more than the
    quoting, and every normalised posting is fingerprinted.
    """
    values = significant_values(posting)
    try:
        quoted = tuple([_quoted(values[name]) for name in _SORTED_SIGNIFICANT])
    except TypeError:  # a value that is not text: only the encoder itself knows how it is written
        return fingerprint_of(values)
    return _digest(_SIGNIFICANT_JSON % quoted)


def _digest(canonical: str) -> str:
    return hashlib.blake2b(canonical.encode("utf-8"), digest_size=16).hexdigest()


#: `json.dumps(..., ensure_ascii=False, separators=(",", ":"))` without building an encoder per
#: call.
_CANONICAL_JSON: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
#: How that encoder quotes a string (the C version where there is one).
_quoted: Final = json.encoder.encode_basestring

#: The significant fields by name, in the order `significant_values` gives them (the one list of
#: them, and the order a change's fields are shown in). The posting read for them is given a
#: fingerprint, so that it needs none of the names below, which are built from these.
SIGNIFICANT_FIELDS: Final = tuple(
    significant_values(Posting(source="", external_id="", title="", fingerprint="-"))
)
#: The same names sorted, as the fingerprint's JSON has them, and that JSON with a `%s` per value.
_SORTED_SIGNIFICANT: Final = tuple(sorted(SIGNIFICANT_FIELDS))
_SIGNIFICANT_JSON: Final = "{" + ",".join(f"{_quoted(name)}:%s" for name in _SORTED_SIGNIFICANT) + "}"


@dataclass(frozen=True)
class CrawlStats:
    """What the crawl cost and what went wrong, as recorded with its verdict."""

    requests: int = 0
    responses: int = 0
    bytes: int = 0
    pages: int = 0
    items: int = 0
    retries: int = 0
    not_modified: int = 0
    duration_s: float = 0.0
    errors: tuple[str, ...] = ()


class KnownDigests(Mapping[str, str]):
    """One source's open postings that the crawler may skip normalising: external id → the digest
    of the raw record each was parsed from (`storage.state.load_known_digests` makes them).

    Held as the two JSON arrays the database aggregates (ids, and digests in the same order),
    and built into a dict only where it is read, in the crawl worker: handing over a board's
    250 pairs then costs two strings, not 500 objects pickled and unpickled. Across a batch of
    50,000 postings that was most of the time between a re-crawl's start and its first request.
    Two arrays that do not pair up (which a bug would cause, never a board) read as no postings:
    that costs a normalisation, never a posting taken for another.
    """

    __slots__ = ("_by_id", "digests_json", "ids_json")

    def __init__(self, ids_json: str, digests_json: str) -> None:
        self.ids_json = ids_json
        self.digests_json = digests_json
        self._by_id: dict[str, str] | None = None

    def __reduce__(self) -> tuple[type[KnownDigests], tuple[str, str]]:
        return (KnownDigests, (self.ids_json, self.digests_json))

    def pairs(self) -> tuple[list[str], list[str]]:
        """The ids and their digests, as two lists of text of the same length (both empty if not)."""
        try:
            ids, digests = _TEXTS.decode(self.ids_json), _TEXTS.decode(self.digests_json)
        except msgspec.MsgspecError:
            return [], []
        return (ids, digests) if len(ids) == len(digests) else ([], [])

    def by_digest(self) -> dict[str, str]:
        """Digest → external id, built straight from the arrays (the spider looks records up by digest)."""
        ids, digests = self.pairs()
        return dict(zip(digests, ids, strict=True))

    def _mapping(self) -> dict[str, str]:
        if self._by_id is None:
            ids, digests = self.pairs()
            self._by_id = dict(zip(ids, digests, strict=True))
        return self._by_id

    def __getitem__(self, external_id: str) -> str:
        return self._mapping()[external_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(self._mapping())

    def __repr__(self) -> str:
        return f"KnownDigests({self._mapping()!r})"


#: A JSON array of text, read and checked in one pass in C (msgspec).
_TEXTS: Final = msgspec.json.Decoder(list[str])


@dataclass(frozen=True)
class CrawlResult:
    """One source's crawl as the crawler saw it.

    `verdict` is the crawler's: complete, partial or failed. Whether a complete crawl is
    suspect depends on what was open before, so the diff decides that.
    `unchanged` means every listing request answered 304 Not Modified: the board is
    exactly as last parsed and `postings` is empty on purpose.
    `validators` maps a listing URL to the `ETag`/`Last-Modified` the server sent.
    `sightings` are ids listed with a raw record identical to the one their stored open posting
    was parsed from: listed and unchanged, so they were never normalised again.
    `closes_by_absence` is False for a listing that is only a window onto the board (a feed
    keeping its newest N items): a posting missing from it may just have scrolled out, so the
    diff never counts that as a miss; it closes such a posting only once it has gone unseen
    for `max_age` (never, when that is None).
    """

    source: str
    verdict: CrawlVerdict
    started_at: datetime
    finished_at: datetime
    postings: tuple[Posting, ...] = ()
    stats: CrawlStats = field(default_factory=CrawlStats)
    reason: str = ""
    unchanged: bool = False
    validators: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    sightings: tuple[str, ...] = ()
    closes_by_absence: bool = True
    max_age: timedelta | None = None


@dataclass(frozen=True)
class Event:
    """Something a person may want to hear about a posting; `changes` maps field -> (old, new)."""

    type: EventType
    source: str
    external_id: str
    title: str
    company: str | None
    url: str | None
    at: datetime
    episode: int = 1
    changes: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    repost_of: str | None = None
    duplicate_of: str | None = None
    id: int | None = None
