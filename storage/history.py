"""The write side of storage: judge a crawl with the diff and apply its outcome in one transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from rolewatch.domain import (
    CrawlResult,
    CrawlStats,
    CrawlVerdict,
    Event,
    EventType,
    Posting,
    PostingStatus,
    significant_values,
)
from storage.diff import (
    DiffOutcome,
    Policy,
    PostingWrite,
    SourceState,
    StoredPosting,
    crawl_identity,
    diff,
    posting_role_key,
)
from storage.models import Base, CrawlRow, EventRow, PostingRow, PostingVersionRow, SourceRow
from storage.snapshot import posting_snapshot

if TYPE_CHECKING:
    from rolewatch.config import ResolvedSource, SourceConfig

T = TypeVar("T")

# Ids or keys per `IN (…)` list: well under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters.
CHUNK = 10_000
Validators = dict[str, dict[str, str]]


@dataclass(frozen=True)
class CrawlRecord:
    """What recording one crawl did: its verdict and the events it produced, with their ids."""

    crawl_id: int
    source: str
    verdict: CrawlVerdict
    note: str
    counts: Mapping[str, int]
    events: tuple[Event, ...]
    stats: CrawlStats
    #: When the crawl finished (None only for records built by hand).
    at: datetime | None = None


@dataclass(frozen=True)
class _Loaded:
    """The diff's view of a source plus the row ids storage needs to apply the outcome."""

    state: SourceState
    ids: Mapping[str, int]
    elsewhere_ids: Mapping[str, int]
    recorded_crawl: tuple[int, str] | None
    all_seen_at: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def upsert(connection: Connection, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """`INSERT … ON CONFLICT` for the connection's backend; both dialects share the same API."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


# --- sources -------------------------------------------------------------------------------------


def sync_sources(engine: Engine, sources: Sequence[SourceConfig]) -> None:
    """One row per configured source; a source dropped from the configuration keeps its history."""
    if not sources:
        return
    now = _now()
    rows = [
        {
            "name": source.name,
            "type": source.type,
            "config": {**source.model_dump(mode="json"), **source.options.model_dump(mode="json")},
            "created_at": now,
            "updated_at": now,
            "suspect_streak": 0,
            "validators": {},
        }
        for source in sources
    ]
    with engine.begin() as connection:
        statement = upsert(connection, SourceRow)
        statement = statement.on_conflict_do_update(
            index_elements=[SourceRow.name],
            set_={
                "type": statement.excluded.type,
                "config": statement.excluded.config,
                "updated_at": statement.excluded.updated_at,
            },
            where=(SourceRow.type != statement.excluded.type)
            | (SourceRow.config != statement.excluded.config),
        )
        connection.execute(statement, rows)


def _claim_source(connection: Connection, source: ResolvedSource) -> int:
    """The source's id, creating its row if needed.

    It is a write on purpose: on SQLite it takes the write lock before the state is read, so
    two writers cannot both read the same state; on PostgreSQL the upsert locks the source row,
    which serialises crawls of one source.
    """
    now = _now()
    row = {
        "name": source.name,
        "type": source.type,
        "config": {"name": source.name, "type": source.type, **source.options.model_dump(mode="json")},
        "created_at": now,
        "updated_at": now,
        "suspect_streak": 0,
        "validators": {},
    }
    return int(connection.execute(_claim_statement(connection.dialect.name), row).scalar_one())


@cache
def _claim_statement(dialect: str) -> Any:
    """Built once per backend: a statement given its values as parameters is compiled once too."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(SourceRow)
    statement = statement.on_conflict_do_update(
        index_elements=[SourceRow.name], set_={"type": statement.excluded.type}
    )
    return statement.returning(SourceRow.id)


def load_validators(engine: Engine, names: Sequence[str]) -> dict[str, Validators]:
    """The `ETag`/`Last-Modified` to send back, per source name, for sources where a 304 can be trusted.

    A source with an open posting that missed the last complete crawl gets none: a 304 would
    mark that posting as seen again (the diff treats "not modified" as "everything open is
    still listed") and it would never close. A full fetch lets the miss be counted.
    """
    if not names:
        return {}
    pending = select(PostingRow.source_id).where(
        PostingRow.status == PostingStatus.OPEN.value, PostingRow.misses > 0
    )
    query = select(SourceRow.name, SourceRow.validators).where(
        SourceRow.name.in_(list(names)), SourceRow.id.not_in(pending)
    )
    with engine.connect() as connection:
        return {row.name: dict(row.validators) for row in connection.execute(query) if row.validators}


def load_known_digests(engine: Engine, names: Sequence[str]) -> dict[str, dict[str, str]]:
    """Per source, the raw-record digest of each open posting the crawler may skip normalising.

    A posting with a deadline is left out: its closure depends on the clock, so it must be
    judged afresh each crawl even when the board's record is byte for byte the same.
    """
    if not names:
        return {}
    query = (
        select(SourceRow.name, PostingRow.external_id, PostingRow.raw_digest)
        .join(SourceRow, SourceRow.id == PostingRow.source_id)
        .where(
            SourceRow.name.in_(list(names)),
            PostingRow.status == PostingStatus.OPEN.value,
            PostingRow.deadline.is_(None),
            PostingRow.raw_digest.is_not(None),
        )
    )
    known: dict[str, dict[str, str]] = defaultdict(dict)
    with engine.connect() as connection:
        rows = connection.execute(query).all()  # tens of thousands of rows: one fetch, not one per row
    for name, external_id, digest in rows:
        known[name][external_id] = str(digest)  # never NULL: the query excludes those
    return dict(known)


# --- reading the state the diff needs -----------------------------------------------------------


def _significant_of_changed(
    session: Session | Connection, rows: Sequence[Any], result: CrawlResult
) -> dict[int, dict[str, str]]:
    """The stored significant fields, read only for postings whose fingerprint moved.

    The diff needs old values solely to describe a change; reading them (descriptions
    included) for every posting of every crawl would dominate an unchanged re-crawl.
    """
    if not result.postings:
        return {}
    fingerprints = {posting.external_id: posting.fingerprint for posting in result.postings}
    moved = [row.id for row in rows if fingerprints.get(row.external_id, row.fingerprint) != row.fingerprint]
    found: dict[int, dict[str, str]] = {}
    for chunk in chunks(moved):
        query = select(PostingRow.id, PostingRow.significant).where(PostingRow.id.in_(chunk))
        found.update({row.id: row.significant for row in session.execute(query)})
    return found


def load_state(session: Session | Connection, source_id: int, result: CrawlResult) -> SourceState:
    """Everything the diff must know about `source_id` to judge `result`."""
    return _load(session, source_id, result).state


def _load(session: Session | Connection, source_id: int, result: CrawlResult) -> _Loaded:
    streak, all_seen_at = session.execute(
        select(SourceRow.suspect_streak, SourceRow.all_seen_at).where(SourceRow.id == source_id)
    ).one()
    if result.unchanged:
        stored, ids = _listed_state(session, source_id, result)
    else:
        stored, ids = _full_state(session, source_id, result, all_seen_at)
    recorded = session.execute(
        select(CrawlRow.id, CrawlRow.verdict).where(CrawlRow.identity == crawl_identity(result))
    ).first()
    unseen_keys = sorted({posting_role_key(p) for p in result.postings if p.external_id not in stored})
    elsewhere = _open_elsewhere(session, source_id, unseen_keys)
    state = SourceState(
        source=result.source,
        postings=stored,
        suspect_streak=streak,
        applied_crawls=frozenset({crawl_identity(result)}) if recorded else frozenset(),
        open_elsewhere={key: reference for key, (reference, _) in elsewhere.items()},
    )
    return _Loaded(
        state=state,
        ids=ids,
        elsewhere_ids={reference: posting_id for reference, posting_id in elsewhere.values()},
        recorded_crawl=(recorded.id, recorded.verdict) if recorded else None,
        all_seen_at=all_seen_at,
    )


def _listed_state(
    session: Session | Connection, source_id: int, result: CrawlResult
) -> tuple[dict[str, StoredPosting], dict[str, int]]:
    """The state a 304 ("not modified") result is judged on: open postings and their misses.

    The diff takes such a listing for the last one again (`storage.diff._unchanged`): it marks
    open postings seen and writes, closes and announces nothing, so it reads no content. When
    no open posting has a miss pending (the usual case: validators are withheld otherwise), a
    listing that closes by absence needs none of them either: every open posting is seen, and
    the source's `all_seen_at` records that for all of them at once. Skipping that read is most
    of what an unchanged re-crawl of a large board saves.
    """
    if result.closes_by_absence and session.execute(_MISSED_QUERY, {"source_id": source_id}).first() is None:
        return {}, {}
    stored: dict[str, StoredPosting] = {}
    ids: dict[str, int] = {}
    rows = session.execute(_LISTED_QUERY, {"source_id": source_id}).all()  # one fetch, not one per row
    for posting_id, external_id, episode, misses in rows:
        ids[external_id] = posting_id
        stored[external_id] = StoredPosting(
            external_id=external_id,
            status=PostingStatus.OPEN,
            fingerprint="",
            values={},
            title="",
            company=None,
            url=None,
            role_key="",
            episode=episode,
            misses=misses,
        )
    return stored, ids


def _full_state(
    session: Session | Connection, source_id: int, result: CrawlResult, all_seen_at: datetime | None
) -> tuple[dict[str, StoredPosting], dict[str, int]]:
    """Every posting of the source, as the diff compares a parsed listing with them."""
    # Only a listing that closes by age reads sightings; parsing 250 timestamps per crawl
    # otherwise costs more than the rest of an unchanged re-crawl's reading.
    sighted = result.max_age is not None
    rows = session.execute(
        _STATE_QUERY_WITH_SIGHTINGS if sighted else _STATE_QUERY, {"source_id": source_id}
    ).all()
    values = _significant_of_changed(session, rows, result)
    stored: dict[str, StoredPosting] = {}
    ids: dict[str, int] = {}
    for (
        posting_id,
        external_id,
        status,
        fingerprint,
        title,
        company,
        url,
        key,
        episode,
        misses,
        *rest,
    ) in rows:
        closed_at, *sighting = rest
        ids[external_id] = posting_id
        stored[external_id] = StoredPosting(
            external_id=external_id,
            status=_STATUSES[status],
            fingerprint=fingerprint,
            values=values.get(posting_id, {}),
            title=title,
            company=company,
            url=url,
            role_key=key,
            episode=episode,
            misses=misses,
            closed_at=closed_at,
            last_seen_at=last_sighting(status, sighting[0], all_seen_at) if sighting else None,
        )
    return stored, ids


_STATE_COLUMNS = (
    PostingRow.id,
    PostingRow.external_id,
    PostingRow.status,
    PostingRow.fingerprint,
    PostingRow.title,
    PostingRow.company,
    PostingRow.url,
    PostingRow.role_key,
    PostingRow.episode,
    PostingRow.misses,
    PostingRow.closed_at,
)
_STATUSES = {status.value: status for status in PostingStatus}
_MISSED_QUERY = (
    select(PostingRow.id)
    .where(
        PostingRow.source_id == bindparam("source_id"),
        PostingRow.status == PostingStatus.OPEN.value,
        PostingRow.misses > 0,
    )
    .limit(1)
)
_LISTED_QUERY = select(PostingRow.id, PostingRow.external_id, PostingRow.episode, PostingRow.misses).where(
    PostingRow.source_id == bindparam("source_id"), PostingRow.status == PostingStatus.OPEN.value
)
_STATE_QUERY = select(*_STATE_COLUMNS).where(PostingRow.source_id == bindparam("source_id"))
_STATE_QUERY_WITH_SIGHTINGS = select(*_STATE_COLUMNS, PostingRow.last_seen_at).where(
    PostingRow.source_id == bindparam("source_id")
)


def _open_elsewhere(
    session: Session | Connection, source_id: int, keys: Sequence[str]
) -> dict[str, tuple[str, int]]:
    """Role key → (`source/external_id`, id) of the oldest open posting with that key on another source."""
    found: dict[str, tuple[str, int]] = {}
    for chunk in chunks(keys):
        query = (
            select(PostingRow.role_key, SourceRow.name, PostingRow.external_id, PostingRow.id)
            .join(SourceRow, SourceRow.id == PostingRow.source_id)
            .where(
                PostingRow.source_id != source_id,
                PostingRow.status == PostingStatus.OPEN.value,
                PostingRow.role_key.in_(chunk),
            )
            .order_by(PostingRow.id)
        )
        for row in session.execute(query):
            found.setdefault(row.role_key, (f"{row.name}/{row.external_id}", row.id))
    return found


# --- recording a crawl ---------------------------------------------------------------------------


#: Called inside the recording transaction, so what it writes (the outbox) commits with the events.
AfterRecord = Callable[[Connection, "CrawlRecord"], None]


def record_crawl(
    engine: Engine, source: ResolvedSource, result: CrawlResult, *, then: AfterRecord | None = None
) -> CrawlRecord:
    """Judge `result` against what is stored and write the crawl, postings, versions and events at once.

    Recording the same crawl twice (same source and start time) writes nothing the second time.
    `then` runs in the same transaction after the events are written (the notifier's outbox).
    """
    if result.source != source.name:
        raise ValueError(f"a crawl of {result.source!r} cannot be recorded as source {source.name!r}")
    with engine.begin() as connection:
        source_id = _claim_source(connection, source)
        loaded = _load(connection, source_id, result)
        if loaded.recorded_crawl is not None:
            return _already_recorded(loaded.recorded_crawl, source.name, result)
        outcome = diff(loaded.state, result, Policy(source.close_after_misses, source.max_drop))
        crawl_id = _insert_crawl(connection, source_id, result, outcome)
        ids = dict(loaded.ids)
        _write_postings(connection, source_id, crawl_id, result, outcome, ids, loaded.elsewhere_ids)
        all_seen = _sees_every_open_posting(loaded.state, outcome)
        _touch_seen(connection, _sightings_to_write(loaded.state, outcome, ids, all_seen), result.finished_at)
        _refresh_digests(connection, result, outcome, ids)
        _count_misses(connection, outcome, ids)
        _close(connection, outcome, ids, loaded.all_seen_at)
        events = _insert_events(connection, source_id, crawl_id, outcome, ids)
        _update_source(connection, source_id, result, outcome, all_seen)
        record = CrawlRecord(
            crawl_id,
            source.name,
            outcome.verdict,
            outcome.note,
            outcome.counts(),
            events,
            result.stats,
            result.finished_at,
        )
        if then is not None:
            then(connection, record)
    return record


def _refresh_digests(
    connection: Connection, result: CrawlResult, outcome: DiffOutcome, ids: Mapping[str, int]
) -> None:
    """A seen posting that was parsed afresh (its raw record moved, its content did not) keeps the new digest.

    Without this, a record whose only change is noise would be normalised again on every crawl.
    """
    seen = set(outcome.seen)
    rows = [
        {"posting_id": ids[posting.external_id], "raw_digest": posting.raw_digest}
        for posting in result.postings
        if posting.raw_digest and posting.external_id in seen
    ]
    if rows:
        connection.execute(update(PostingRow).where(PostingRow.id == bindparam("posting_id")), rows)


def _already_recorded(recorded: tuple[int, str], name: str, result: CrawlResult) -> CrawlRecord:
    crawl_id, verdict = recorded
    counts = {kind.value: 0 for kind in EventType}
    return CrawlRecord(crawl_id, name, CrawlVerdict(verdict), "already recorded", counts, (), result.stats)


def _insert_crawl(connection: Connection, source_id: int, result: CrawlResult, outcome: DiffOutcome) -> int:
    stats = result.stats
    counts = outcome.counts()
    row = {
        "source_id": source_id,
        "identity": crawl_identity(result),
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "verdict": outcome.verdict.value,
        "reason": result.reason,
        "note": outcome.note,
        "unchanged": result.unchanged,
        "requests": stats.requests,
        "responses": stats.responses,
        "bytes": stats.bytes,
        "pages": stats.pages,
        "items": stats.items,
        "retries": stats.retries,
        "not_modified": stats.not_modified,
        "duration_s": stats.duration_s,
        "errors": list(stats.errors),
        "new_events": counts[EventType.NEW.value],
        "changed_events": counts[EventType.CHANGED.value],
        "closed_events": counts[EventType.CLOSED.value],
        "reopened_events": counts[EventType.REOPENED.value],
    }
    return int(connection.execute(_INSERT_CRAWL, row).scalar_one())


_INSERT_CRAWL = insert(CrawlRow).returning(CrawlRow.id)


def _content_columns(posting: Posting, snapshot: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The posting row's columns that come from the posting itself (shared by insert and update)."""
    return {
        "fingerprint": posting.fingerprint,
        "raw_digest": posting.raw_digest or None,
        "title": posting.title,
        "company": posting.company,
        "department": posting.department,
        "url": posting.url,
        "apply_url": posting.apply_url,
        "locations": snapshot["locations"],
        "workplace": posting.workplace,
        "employment_type": posting.employment_type,
        "salary": snapshot["salary"],
        "posted_at": posting.posted_at,
        "deadline": posting.deadline,
        "work_rights": snapshot["work_rights"],
        "description_text": posting.description_text,
        "description_html": posting.description_html,
        "extra": snapshot["extra"],
        "significant": significant_values(posting),
        "updated_at": now,
    }


def _write_postings(
    connection: Connection,
    source_id: int,
    crawl_id: int,
    result: CrawlResult,
    outcome: DiffOutcome,
    ids: dict[str, int],
    elsewhere_ids: Mapping[str, int],
) -> None:
    """Insert new postings, rewrite changed ones, then append a version where the fingerprint moved.

    `ids` gains the new postings' ids (versions and events need them).
    """
    snapshots = [(write, posting_snapshot(write.posting)) for write in outcome.writes]
    now, at = _now(), result.finished_at
    new = [
        _new_row(write, snapshot, source_id, at, now, ids, elsewhere_ids)
        for write, snapshot in snapshots
        if write.is_new
    ]
    if new:
        ids.update(
            _insert_new_postings(connection, source_id, new, newest_known=max(ids.values(), default=0))
        )
    rewritten = [
        _rewritten_row(write, snapshot, at, now, ids) for write, snapshot in snapshots if not write.is_new
    ]
    if rewritten:
        connection.execute(update(PostingRow).where(PostingRow.id == bindparam("posting_id")), rewritten)
    versions = [
        {
            "posting_id": ids[write.posting.external_id],
            "crawl_id": crawl_id,
            "recorded_at": at,
            "fingerprint": write.posting.fingerprint,
            "snapshot": snapshot,
        }
        for write, snapshot in snapshots
        if write.new_version
    ]
    if versions:
        connection.execute(insert(PostingVersionRow), versions)


def _insert_new_postings(
    connection: Connection, source_id: int, rows: Sequence[Mapping[str, Any]], newest_known: int
) -> dict[str, int]:
    """Insert and learn the new ids: external id → id.

    A plain executemany and one SELECT beat `RETURNING`: with RETURNING, SQLAlchemy sends
    one huge multi-row statement per thousand rows, which psycopg parses slowly in Python.
    Ids only grow, and this transaction holds the source's lock, so every row of this source
    above the newest id loaded before is one inserted here.
    """
    connection.execute(insert(PostingRow), rows)
    inserted = connection.execute(
        select(PostingRow.external_id, PostingRow.id).where(
            PostingRow.source_id == source_id, PostingRow.id > newest_known
        )
    )
    return {external_id: posting_id for external_id, posting_id in inserted}


def _new_row(
    write: PostingWrite,
    snapshot: Mapping[str, Any],
    source_id: int,
    at: datetime,
    now: datetime,
    ids: Mapping[str, int],
    elsewhere_ids: Mapping[str, int],
) -> dict[str, Any]:
    return {
        **_content_columns(write.posting, snapshot, now),
        "source_id": source_id,
        "external_id": write.posting.external_id,
        "status": write.status.value,
        "episode": write.episode,
        "role_key": write.role_key,
        "misses": 0,
        "first_seen_at": at,
        "last_seen_at": at,
        "closed_at": write.closed_at,
        "repost_of_id": ids.get(write.repost_of) if write.repost_of else None,
        "duplicate_of_id": elsewhere_ids.get(write.duplicate_of) if write.duplicate_of else None,
    }


def _rewritten_row(
    write: PostingWrite, snapshot: Mapping[str, Any], at: datetime, now: datetime, ids: Mapping[str, int]
) -> dict[str, Any]:
    return {
        **_content_columns(write.posting, snapshot, now),
        "posting_id": ids[write.posting.external_id],
        "status": write.status.value,
        "episode": write.episode,
        "role_key": write.role_key,
        "misses": 0,
        "last_seen_at": at,
        "closed_at": write.closed_at,
    }


def last_sighting(status: str, own: datetime, all_seen_at: datetime | None) -> datetime:
    """When a posting was last listed: its own sighting, or for an open posting its source's
    `all_seen_at` when later (a crawl that saw every open posting records only that)."""
    if all_seen_at is not None and status == PostingStatus.OPEN.value and all_seen_at > own:
        return all_seen_at
    return own


def _sees_every_open_posting(state: SourceState, outcome: DiffOutcome) -> bool:
    """Whether this crawl saw (or rewrote) every posting open before it, missing and closing none.

    Then the source's `all_seen_at` can stand for each open posting's sighting, and an
    unchanged re-crawl writes one row instead of one per posting.
    """
    if outcome.misses or outcome.closures:
        return False
    seen = set(outcome.seen).union(write.posting.external_id for write in outcome.writes)
    return all(
        external_id in seen
        for external_id, stored in state.postings.items()
        if stored.status is PostingStatus.OPEN
    )


def _sightings_to_write(
    state: SourceState, outcome: DiffOutcome, ids: Mapping[str, int], all_seen: bool
) -> list[int]:
    """The seen postings whose own row must record the sighting: all of them, unless the source's
    `all_seen_at` stands for them; then only those with a miss count to reset."""
    return [
        ids[external_id] for external_id in outcome.seen if not all_seen or state.postings[external_id].misses
    ]


def _touch_seen(connection: Connection, posting_ids: Sequence[int], at: datetime) -> None:
    """Listed and unchanged: only the sighting is news, in one UPDATE per chunk of ids."""
    for chunk in chunks(sorted(posting_ids)):
        connection.execute(
            update(PostingRow).where(PostingRow.id.in_(chunk)).values(last_seen_at=at, misses=0)
        )


def _count_misses(connection: Connection, outcome: DiffOutcome, ids: Mapping[str, int]) -> None:
    """Missing but not (yet) closed; one UPDATE per distinct count, which is one or two in practice."""
    by_count: dict[int, list[int]] = defaultdict(list)
    for external_id, count in outcome.misses.items():
        if external_id not in outcome.closures:
            by_count[count].append(ids[external_id])
    for count, posting_ids in sorted(by_count.items()):
        for chunk in chunks(sorted(posting_ids)):
            connection.execute(update(PostingRow).where(PostingRow.id.in_(chunk)).values(misses=count))


def _close(
    connection: Connection, outcome: DiffOutcome, ids: Mapping[str, int], all_seen_at: datetime | None
) -> None:
    """Close postings. Each takes its last sighting into its own row first, since the source's
    `all_seen_at` speaks only for open postings."""
    by_time: dict[datetime, list[int]] = defaultdict(list)
    for external_id, at in outcome.closures.items():
        by_time[at].append(ids[external_id])
    now = _now()
    values: dict[str, Any] = {"status": PostingStatus.CLOSED.value, "misses": 0, "updated_at": now}
    if all_seen_at is not None:
        values["last_seen_at"] = case(
            (PostingRow.last_seen_at < all_seen_at, all_seen_at), else_=PostingRow.last_seen_at
        )
    for at, posting_ids in sorted(by_time.items()):
        for chunk in chunks(sorted(posting_ids)):
            connection.execute(
                update(PostingRow).where(PostingRow.id.in_(chunk)).values(closed_at=at, **values)
            )


def _repost_reference(source: str, repost_of: str | None) -> str | None:
    """The diff names a repost's predecessor by its bare external id (same source); events say `source/id`."""
    return f"{source}/{repost_of}" if repost_of else None


def _insert_events(
    connection: Connection, source_id: int, crawl_id: int, outcome: DiffOutcome, ids: Mapping[str, int]
) -> tuple[Event, ...]:
    if not outcome.events:
        return ()
    events = [
        replace(event, repost_of=_repost_reference(event.source, event.repost_of)) for event in outcome.events
    ]
    rows = [
        {
            "type": event.type.value,
            "source_id": source_id,
            "posting_id": ids[event.external_id],
            "crawl_id": crawl_id,
            "at": event.at,
            "episode": event.episode,
            "title": event.title,
            "company": event.company,
            "url": event.url,
            "changes": {name: [old, new] for name, (old, new) in event.changes.items()},
            "repost_of": event.repost_of,
            "duplicate_of": event.duplicate_of,
        }
        for event in events
    ]
    # The diff gives a posting at most one event per crawl, so the posting id tells the rows apart.
    # (No RETURNING, for speed, as for postings; in parameter order it would even go row by row.)
    connection.execute(insert(EventRow), rows)
    inserted = connection.execute(
        select(EventRow.posting_id, EventRow.id).where(EventRow.crawl_id == crawl_id)
    )
    event_ids = {posting_id: event_id for posting_id, event_id in inserted}
    return tuple(replace(event, id=event_ids[ids[event.external_id]]) for event in events)


def _update_source(
    connection: Connection, source_id: int, result: CrawlResult, outcome: DiffOutcome, all_seen: bool
) -> None:
    """The suspect streak and the crawl time, plus the validators once a complete crawl has parsed a body.

    Validators from a suspect or partial crawl are not kept: a later 304 would then vouch for a
    listing that was never trusted. A 304 crawl keeps the validators that earned it. A crawl
    that saw every open posting moves `all_seen_at`, their shared last sighting.
    """
    values: dict[str, Any] = {"suspect_streak": outcome.suspect_streak, "last_crawl_at": result.started_at}
    if all_seen:
        values["all_seen_at"] = result.finished_at
    if outcome.verdict is CrawlVerdict.COMPLETE and not result.unchanged:
        values["validators"] = {url: dict(fields) for url, fields in result.validators.items()}
    connection.execute(update(SourceRow).where(SourceRow.id == source_id).values(**values))
