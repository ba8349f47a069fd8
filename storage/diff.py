"""The diff: a pure function from (stored state, crawl result, policy) to events and the new state.

It needs no database. Storage loads a `SourceState`, calls `diff`, and applies the `DiffOutcome`
in one transaction. Every rule about trusting a crawl lives here:
- only a complete, non-suspect crawl may close a posting for being absent, and only after
  `close_after_misses` such crawls in a row;
- a suspect crawl (a complete crawl that came back empty or lost more than `max_drop` of the open
  postings) is evidence of nothing on its own: it closes nothing, and the absences it shows are held
  for its loss alone. When a normal complete crawl ends the streak, the held absences are dropped and
  every absent posting's count restarts at that crawl (a real miss from before the streak is dropped
  too: the rule errs towards keeping a posting open). When the loss is seen in
  `close_after_misses + 1` consecutive crawls, the last one is accepted as complete and closes each
  posting absent from at least `close_after_misses` crawls in a row, the held ones included;
- a posting listed by any crawl that is not failed (suspect ones included) has its count reset;
- a board's own closure signal (`Posting.closed`, a past deadline) closes at once;
- a window listing (`CrawlResult.closes_by_absence` false: a feed's newest N items) never
  counts absence as a miss; a complete crawl closes a posting it has not seen for `max_age`;
- a failed crawl changes nothing;
- listing order never matters, and applying the same crawl twice yields nothing new.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from rolewatch.domain import (
    CrawlResult,
    CrawlVerdict,
    Event,
    EventType,
    Posting,
    PostingStatus,
    significant_values,
)

REPOST_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Policy:
    """The per-source rules a crawl is judged by (SPEC §2 defaults)."""

    close_after_misses: int = 2
    max_drop: float = 0.5
    repost_window: timedelta = REPOST_WINDOW


@dataclass(slots=True)
class StoredPosting:
    """What the diff needs to know about a posting already in storage. Read-only by convention
    (the diff derives new ones with `replace`); not frozen because storage builds one per posting
    per crawl, and a frozen dataclass costs three times as much to build."""

    external_id: str
    status: PostingStatus
    fingerprint: str
    values: Mapping[str, str]
    title: str
    company: str | None
    url: str | None
    role_key: str
    episode: int = 1
    misses: int = 0
    closed_at: datetime | None = None
    last_seen_at: datetime | None = None


@dataclass(frozen=True)
class SourceState:
    """One source as storage holds it before a crawl is applied.

    `suspect_streak` counts the consecutive suspect crawls just before this one;
    `applied_crawls` holds identities of crawls already applied, so re-applying one is a no-op.
    `open_elsewhere` maps a role key to `source/external_id` of an open posting on another
    source (filled by storage for the role keys of postings it has not seen).
    """

    def misses(self, external_id: str) -> int:
        """The pending misses of a stored posting, sighted or read in full."""
        count = self.sighted.get(external_id)
        return self.postings[external_id].misses if count is None else count

    source: str
    postings: Mapping[str, StoredPosting] = field(default_factory=dict)
    suspect_streak: int = 0
    applied_crawls: frozenset[str] = frozenset()
    open_elsewhere: Mapping[str, str] = field(default_factory=dict)
    #: Open postings the crawl only sighted (`CrawlResult.sightings`: each record byte for byte
    #: the one its posting was parsed from), by external id, with their pending misses. They are
    #: seen and nothing else, so storage reads nothing else of them, and an unchanged re-crawl of
    #: a board builds no object per posting. None is also in `postings`.
    sighted: Mapping[str, int] = field(default_factory=dict)
    #: Role keys of the crawl's postings new to the source, by external id, where storage has
    #: computed them already (to fill `open_elsewhere`); the diff computes any other itself.
    role_keys: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PostingWrite:
    """A posting whose stored row must be (re)written, and whether that makes a new version."""

    posting: Posting
    status: PostingStatus
    episode: int
    role_key: str
    new_version: bool
    is_new: bool
    closed_at: datetime | None = None
    repost_of: str | None = None
    duplicate_of: str | None = None


@dataclass(frozen=True)
class DiffOutcome:
    """Everything storage must write for one crawl; empty when nothing may change."""

    verdict: CrawlVerdict
    events: tuple[Event, ...] = ()
    writes: tuple[PostingWrite, ...] = ()
    seen: tuple[str, ...] = ()
    misses: Mapping[str, int] = field(default_factory=dict)
    closures: Mapping[str, datetime] = field(default_factory=dict)
    suspect_streak: int = 0
    note: str = ""

    def counts(self) -> dict[str, int]:
        tally = {kind.value: 0 for kind in EventType}
        for event in self.events:
            tally[event.type.value] += 1
        return tally


def role_key(company: str | None, title: str, location_labels: Iterable[str]) -> str:
    """Identity of a *role* across ids: company, title and places, case- and accent-insensitive."""
    parts = [_fold(company or ""), _fold(title), "|".join(sorted(_fold(x) for x in location_labels))]
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=12).hexdigest()


def posting_role_key(posting: Posting) -> str:
    return role_key(posting.company, posting.title, (loc.label() for loc in posting.locations))


@lru_cache(maxsize=65536)
def _fold(text: str) -> str:
    """Cached: companies and places repeat across a board's postings, and every crawl folds them."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    if decomposed.isascii():
        return " ".join(decomposed.split())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def crawl_identity(result: CrawlResult) -> str:
    """Two deliveries of the same crawl share this; two crawls never do."""
    return f"{result.source}@{result.started_at.isoformat()}"


def diff(state: SourceState, result: CrawlResult, policy: Policy) -> DiffOutcome:
    """Judge one crawl against what was stored and say what changes."""
    if result.verdict is CrawlVerdict.FAILED:
        return DiffOutcome(CrawlVerdict.FAILED, suspect_streak=state.suspect_streak, note=result.reason)
    if crawl_identity(result) in state.applied_crawls:
        return DiffOutcome(result.verdict, suspect_streak=state.suspect_streak, note="already applied")
    if result.unchanged:
        return _unchanged(state, result)
    sightings = set(result.sightings)
    listed = _by_identity(result.postings)
    if not (sightings.issuperset(state.sighted) and state.sighted.keys().isdisjoint(listed)):
        raise ValueError("a posting stored as only sighted was not, or was listed in full")
    at = result.finished_at
    events: list[Event] = []
    writes: list[PostingWrite] = []
    seen: list[str] = []
    misses: dict[str, int] = {}
    closures: dict[str, datetime] = {}

    for external_id in sorted(listed):
        posting = listed[external_id]
        stored = state.postings.get(external_id)
        board_closed = posting.closed or (posting.deadline is not None and posting.deadline < at)
        if stored is None:
            _first_sighting(state, posting, board_closed, at, policy, events, writes)
        elif stored.status is PostingStatus.CLOSED:
            _listed_while_closed(stored, posting, board_closed, at, events, writes)
        else:
            _listed_while_open(stored, posting, board_closed, at, events, writes, seen)

    for external_id in sorted(sightings.difference(listed)):
        stored = state.postings.get(external_id)
        if external_id in state.sighted or (stored is not None and stored.status is PostingStatus.OPEN):
            seen.append(external_id)

    present = sightings.union(listed)
    open_before = _open_ids(state)
    absent = sorted(pid for pid in open_before if pid not in present)
    judged = _judge(state, result, listed, len(open_before), len(absent), policy)
    verdict = judged.verdict
    if not result.closes_by_absence:
        if verdict is CrawlVerdict.COMPLETE:
            closures = _aged_out(state, absent, at, result.max_age)
            events.extend(_event(EventType.CLOSED, state.source, state.postings[pid], at) for pid in closures)
    elif verdict is CrawlVerdict.COMPLETE or verdict is CrawlVerdict.SUSPECT:
        # A normal complete crawl right after a suspect streak: the streak's absences were held for a
        # loss that did not last, so they prove nothing and the count starts again here.
        held_dropped = verdict is CrawlVerdict.COMPLETE and state.suspect_streak > 0 and not judged.accepted
        for external_id in absent:
            stored = state.postings[external_id]
            count = (0 if held_dropped else stored.misses) + 1
            misses[external_id] = count
            if verdict is CrawlVerdict.COMPLETE and count >= policy.close_after_misses:
                closures[external_id] = at
                events.append(_event(EventType.CLOSED, state.source, stored, at))
    return DiffOutcome(
        verdict, tuple(events), tuple(writes), tuple(seen), misses, closures, judged.streak, judged.note
    )


def _unchanged(state: SourceState, result: CrawlResult) -> DiffOutcome:
    """A 304 listing: the board is what was parsed last time, so only what it held then is seen again.

    A posting with a pending miss was absent from that body; it must not be reset by a 304.
    Storage withholds validators while a miss is pending, so the next crawl reads the full body.
    A window listing counts no misses, so which open postings that body held is unknown: none is
    marked seen (their last sighting stands), and a 304 closes nothing either.
    """
    candidates = _open_ids(state) if result.closes_by_absence else []
    listed = tuple(sorted(pid for pid in candidates if state.misses(pid) == 0))
    return DiffOutcome(
        CrawlVerdict.COMPLETE,
        seen=listed,
        suspect_streak=state.suspect_streak,
        note="not modified since the last crawl",
    )


def _by_identity(postings: Iterable[Posting]) -> dict[str, Posting]:
    """One posting per id; when a board lists an id twice, a fixed rule picks which, not the order."""
    chosen: dict[str, Posting] = {}
    for posting in postings:
        current = chosen.get(posting.external_id)
        if current is None or (posting.closed, posting.fingerprint) < (current.closed, current.fingerprint):
            chosen[posting.external_id] = posting
    return chosen


def _open_ids(state: SourceState) -> list[str]:
    listed_open = (pid for pid, stored in state.postings.items() if stored.status is PostingStatus.OPEN)
    return [*state.sighted, *listed_open]


def _aged_out(
    state: SourceState, absent: Iterable[str], at: datetime, max_age: timedelta | None
) -> dict[str, datetime]:
    """Open postings of a window listing unseen for `max_age`; none when the age or sighting is unknown."""
    if max_age is None:
        return {}
    return {
        pid: at
        for pid in absent
        if (seen := state.postings[pid].last_seen_at) is not None and at - seen >= max_age
    }


@dataclass(frozen=True)
class _Judgement:
    """A crawl's verdict after judging its losses; `accepted` when it confirms a held loss."""

    verdict: CrawlVerdict
    streak: int
    note: str = ""
    accepted: bool = False


def _judge(
    state: SourceState,
    result: CrawlResult,
    listed: Mapping[str, Posting],
    open_before: int,
    lost: int,
    policy: Policy,
) -> _Judgement:
    """Decide whether a complete crawl's losses can be believed (SPEC §3.1 'suspect'): `lost` of
    the `open_before` postings open before it are absent from it."""
    if result.verdict is not CrawlVerdict.COMPLETE:
        return _Judgement(result.verdict, state.suspect_streak, result.reason)
    if not open_before:
        return _Judgement(CrawlVerdict.COMPLETE, 0)
    emptied = not result.sightings and not any(not p.closed for p in listed.values())
    # Losses from a window listing are postings scrolling out, not a sign of a broken crawl.
    too_many = result.closes_by_absence and lost / open_before > policy.max_drop
    if not (emptied or too_many):
        return _Judgement(CrawlVerdict.COMPLETE, 0)
    streak = state.suspect_streak + 1
    what = "came back empty" if emptied else f"lost {lost} of {open_before} open postings"
    if streak >= policy.close_after_misses + 1:
        return _Judgement(CrawlVerdict.COMPLETE, 0, f"{what}; accepted after {streak} crawls in a row", True)
    return _Judgement(CrawlVerdict.SUSPECT, streak, f"{what}; closures held")


def _first_sighting(
    state: SourceState,
    posting: Posting,
    board_closed: bool,
    at: datetime,
    policy: Policy,
    events: list[Event],
    writes: list[PostingWrite],
) -> None:
    key = state.role_keys.get(posting.external_id) or posting_role_key(posting)
    if board_closed:
        # Known only as closed: kept for history, never announced as new.
        writes.append(PostingWrite(posting, PostingStatus.CLOSED, 1, key, True, True, closed_at=at))
        return
    repost_of = _recent_closed_with_key(state, key, at, policy.repost_window)
    duplicate_of = state.open_elsewhere.get(key)
    writes.append(
        PostingWrite(posting, PostingStatus.OPEN, 1, key, True, True, None, repost_of, duplicate_of)
    )
    events.append(
        _posting_event(EventType.NEW, posting, at, 1, repost_of=repost_of, duplicate_of=duplicate_of)
    )


def _recent_closed_with_key(state: SourceState, key: str, at: datetime, window: timedelta) -> str | None:
    matches = sorted(
        stored.external_id
        for stored in state.postings.values()
        if stored.status is PostingStatus.CLOSED
        and stored.role_key == key
        and stored.closed_at is not None
        and at - stored.closed_at <= window
    )
    return matches[0] if matches else None


def _listed_while_open(
    stored: StoredPosting,
    posting: Posting,
    board_closed: bool,
    at: datetime,
    events: list[Event],
    writes: list[PostingWrite],
    seen: list[str],
) -> None:
    changed = posting.fingerprint != stored.fingerprint
    key = posting_role_key(posting)
    if board_closed:
        writes.append(PostingWrite(posting, PostingStatus.CLOSED, stored.episode, key, changed, False, at))
        events.append(_event(EventType.CLOSED, posting.source, stored, at))
    elif changed:
        writes.append(PostingWrite(posting, PostingStatus.OPEN, stored.episode, key, True, False))
        events.append(_change_event(EventType.CHANGED, stored, posting, at, stored.episode))
    else:
        seen.append(stored.external_id)


def _listed_while_closed(
    stored: StoredPosting,
    posting: Posting,
    board_closed: bool,
    at: datetime,
    events: list[Event],
    writes: list[PostingWrite],
) -> None:
    changed = posting.fingerprint != stored.fingerprint
    key = posting_role_key(posting)
    if board_closed:
        if changed:
            writes.append(
                PostingWrite(
                    posting, PostingStatus.CLOSED, stored.episode, key, True, False, stored.closed_at
                )
            )
        return
    episode = stored.episode + 1
    writes.append(PostingWrite(posting, PostingStatus.OPEN, episode, key, changed, False))
    events.append(_change_event(EventType.REOPENED, stored, posting, at, episode))


def _event(kind: EventType, source: str, stored: StoredPosting, at: datetime) -> Event:
    return Event(
        kind, source, stored.external_id, stored.title, stored.company, stored.url, at, stored.episode
    )


def _change_event(
    kind: EventType, stored: StoredPosting, posting: Posting, at: datetime, episode: int
) -> Event:
    """An event carrying the field diff; a same-fingerprint reopening has none to carry."""
    moved = posting.fingerprint != stored.fingerprint
    changes = field_changes(stored.values, significant_values(posting)) if moved else {}
    return _posting_event(kind, posting, at, episode, changes=changes)


def _posting_event(kind: EventType, posting: Posting, at: datetime, episode: int, **details: Any) -> Event:
    """An event about `posting` as listed now; `details` are the event's optional fields."""
    return Event(
        kind,
        posting.source,
        posting.external_id,
        posting.title,
        posting.company,
        posting.url,
        at,
        episode,
        **details,
    )


def field_changes(old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Each significant field that differs, as (old, new); long texts are shortened for reading."""
    return {
        name: (_shorten(old.get(name, "")), _shorten(new.get(name, "")))
        for name in sorted(set(old) | set(new))
        if old.get(name, "") != new.get(name, "")
    }


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def stored_from_posting(
    posting: Posting, status: PostingStatus = PostingStatus.OPEN, **changes: object
) -> StoredPosting:
    """The stored form of a posting as storage would keep it; used by storage and by tests."""
    stored = StoredPosting(
        external_id=posting.external_id,
        status=status,
        fingerprint=posting.fingerprint,
        values=significant_values(posting),
        title=posting.title,
        company=posting.company,
        url=posting.url,
        role_key=posting_role_key(posting),
    )
    return replace(stored, **changes)  # type: ignore[arg-type]


def apply_outcome(state: SourceState, result: CrawlResult, outcome: DiffOutcome) -> SourceState:
    """The state storage would hold after applying `outcome`: the diff's own model of storage.

    Storage does the same in SQL; this in-memory version lets the diff's properties
    (idempotence, round trips) be tested without a database. It holds every posting in full,
    so it takes no state with postings kept as sightings alone.
    """
    if state.sighted:
        raise ValueError("the in-memory model holds every posting in full, none as a sighting alone")
    postings = dict(state.postings)
    seen_at = result.finished_at
    for write in outcome.writes:
        postings[write.posting.external_id] = stored_from_posting(
            write.posting,
            write.status,
            episode=write.episode,
            closed_at=write.closed_at,
            misses=0,
            last_seen_at=seen_at,
        )
    for external_id in outcome.seen:
        postings[external_id] = replace(postings[external_id], misses=0, last_seen_at=seen_at)
    for external_id, count in outcome.misses.items():
        postings[external_id] = replace(postings[external_id], misses=count)
    for external_id, at in outcome.closures.items():
        postings[external_id] = replace(
            postings[external_id], status=PostingStatus.CLOSED, closed_at=at, misses=0
        )
    applied = state.applied_crawls
    if outcome.verdict is not CrawlVerdict.FAILED:
        applied = applied | {crawl_identity(result)}
    return replace(state, postings=postings, suspect_streak=outcome.suspect_streak, applied_crawls=applied)
