"""Recording a crawl: judge it with the diff against the stored state and write the crawl, postings,
versions and events in one transaction, with the caller's `then` hook (the outbox) inside it."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

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
from storage.database import chunks, dumps, insert_rows
from storage.diff import DiffOutcome, Policy, PostingWrite, SourceState, StoredPosting, crawl_identity, diff
from storage.models import CrawlRow, EventRow, PostingRow, PostingVersionRow, SourceRow
from storage.snapshot import EncodedSnapshot, encode_flat, encode_snapshot, posting_snapshot
from storage.state import ClaimedRow, LoadedState, load_state

if TYPE_CHECKING:
    from rolewatch.config import ResolvedSource

logger = logging.getLogger(__name__)


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


def _now() -> datetime:
    return datetime.now(UTC)


def _claim_source(
    connection: Connection, source: ResolvedSource, result: CrawlResult
) -> tuple[int, ClaimedRow]:
    """The source's id, creating its row if needed, with its suspect streak, `all_seen_at` and
    whether `result` is recorded already.

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
        "recorded_identity": crawl_identity(result),
    }
    claimed = connection.execute(_claim_statement(connection.dialect.name), row).one()
    source_id, streak, all_seen_at, recorded_id, recorded_verdict = claimed
    recorded = (int(recorded_id), str(recorded_verdict)) if recorded_id is not None else None
    return int(source_id), ClaimedRow(int(streak), all_seen_at, recorded)


@cache
def _claim_statement(dialect: str) -> Any:
    """Built once per backend: a statement given its values as parameters is compiled once too.
    It returns what `load_state` would otherwise read in statements of its own: the source's
    state, and the crawl's id and verdict if this very crawl is recorded already."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(SourceRow)
    statement = statement.on_conflict_do_update(
        index_elements=[SourceRow.name], set_={"type": statement.excluded.type}
    )
    recorded = CrawlRow.identity == bindparam("recorded_identity")
    return statement.returning(
        SourceRow.id,
        SourceRow.suspect_streak,
        SourceRow.all_seen_at,
        select(CrawlRow.id).where(recorded).scalar_subquery(),
        select(CrawlRow.verdict).where(recorded).scalar_subquery(),
    )


#: Called inside the recording transaction, so what it writes (the outbox) commits with the events.
AfterRecord = Callable[[Connection, "CrawlRecord"], None]


def record_crawl(
    engine: Engine, source: ResolvedSource, result: CrawlResult, *, then: AfterRecord | None = None
) -> CrawlRecord:
    """Judge `result` against what is stored and write the crawl, postings, versions and events at once.

    Recording the same crawl twice (same source and start time) writes nothing the second time.
    `then` runs in the same transaction after the events are written (the notifier's outbox).
    """
    _check_source(source, result)
    with engine.begin() as connection:
        return _record(connection, source, result, then)


def record_crawls(
    engine: Engine,
    crawls: Sequence[tuple[ResolvedSource, CrawlResult]],
    *,
    then: AfterRecord | None = None,
) -> Iterator[CrawlRecord]:
    """Record several crawls (of distinct sources) in one transaction, each as `record_crawl` would.

    One commit for all: on SQLite a commit (with the checkpoint it may bring) cost more than
    a board's few changed rows, and boards recorded together share the pages their rows land
    on. Each record is yielded once its transaction has committed. Should recording any of
    them raise, the transaction keeps none, and they are recorded again one transaction each,
    in order: those before the one that fails are kept and yielded, and its error propagates,
    just as when the crawls are recorded one by one.
    """
    for source, result in crawls:
        _check_source(source, result)
    if len(crawls) > 1:
        try:
            with engine.begin() as connection:
                records = [_record(connection, source, result, then) for source, result in crawls]
        except Exception:
            logger.warning(
                "recording %d crawls together failed; recording them one at a time",
                len(crawls),
                exc_info=True,
            )
        else:
            yield from records
            return
    for source, result in crawls:
        yield record_crawl(engine, source, result, then=then)


def _check_source(source: ResolvedSource, result: CrawlResult) -> None:
    if result.source != source.name:
        raise ValueError(f"a crawl of {result.source!r} cannot be recorded as source {source.name!r}")


def _record(
    connection: Connection, source: ResolvedSource, result: CrawlResult, then: AfterRecord | None
) -> CrawlRecord:
    """`record_crawl` inside the caller's transaction."""
    source_id, claimed = _claim_source(connection, source, result)
    loaded = load_state(connection, source_id, result, claimed)
    if loaded.recorded_crawl is not None:
        return _already_recorded(loaded.recorded_crawl, source.name, result)
    outcome = diff(loaded.state, result, Policy(source.close_after_misses, source.max_drop))
    crawl_id = _insert_crawl(connection, source_id, result, outcome)
    ids = dict(loaded.ids)
    _write_postings(connection, source_id, crawl_id, result, outcome, ids, loaded)
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
        connection.execute(_UPDATE_POSTING, rows)


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


def _content_columns(posting: Posting, documents: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The posting row's columns that come from the posting itself (shared by insert and update);
    its JSON documents from `documents`: the snapshot's and the significant values, as documents
    or as their encoded text."""
    return {
        "fingerprint": posting.fingerprint,
        "raw_digest": posting.raw_digest or None,
        "title": posting.title,
        "company": posting.company,
        "department": posting.department,
        "url": posting.url,
        "apply_url": posting.apply_url,
        "locations": documents["locations"],
        "workplace": posting.workplace,
        "employment_type": posting.employment_type,
        "salary": documents["salary"],
        "posted_at": posting.posted_at,
        "deadline": posting.deadline,
        "work_rights": documents["work_rights"],
        "description_text": posting.description_text,
        "description_html": posting.description_html,
        "extra": documents["extra"],
        "significant": documents["significant"],
        "updated_at": now,
    }


#: The posting row's JSON columns that a new posting's row is given encoded.
_ENCODED_DOCUMENTS = ("locations", "salary", "work_rights", "extra", "significant")


def _write_postings(
    connection: Connection,
    source_id: int,
    crawl_id: int,
    result: CrawlResult,
    outcome: DiffOutcome,
    ids: dict[str, int],
    loaded: LoadedState,
) -> None:
    """Insert new postings, rewrite changed ones, then append a version where the fingerprint moved.

    `ids` gains the new postings' ids (versions and events need them). Each snapshot is encoded
    once: the new posting's row and its version share that text. New rows are built as they are
    written, so on PostgreSQL the server inserts the first while the rest are encoded. A
    rewritten row sets the indexed columns of its state only where they moved (`_moved_state`).
    """
    elsewhere_ids = loaded.elsewhere_ids
    now, at = _now(), result.finished_at
    encoded: dict[str, EncodedSnapshot] = {}

    def new_rows() -> Iterator[dict[str, Any]]:
        for write in outcome.writes:
            if write.is_new:
                text = encoded[write.posting.external_id] = encode_snapshot(posting_snapshot(write.posting))
                documents = _documents(text, write.posting)
                yield _new_row(write, documents, source_id, at, now, ids, elsewhere_ids)

    if any(write.is_new for write in outcome.writes):
        newest = connection.execute(_NEWEST_ID).scalar_one_or_none() or 0
        ids.update(_insert_new_postings(connection, source_id, new_rows(), newest))
    rewritten: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    stored = loaded.state.postings
    for write in outcome.writes:
        if not write.is_new:
            snapshot = posting_snapshot(write.posting)
            moved = _moved_state(write, stored.get(write.posting.external_id))
            rewritten[tuple(moved)].append(_rewritten_row(write, snapshot, at, now, ids, moved))
            if write.new_version:
                encoded[write.posting.external_id] = encode_snapshot(snapshot)
    for rows in rewritten.values():  # one executemany per set of columns (its rows share their keys)
        connection.execute(_UPDATE_POSTING, rows)
    versions = (
        {
            "posting_id": ids[write.posting.external_id],
            "crawl_id": crawl_id,
            "recorded_at": at,
            "fingerprint": write.posting.fingerprint,
            "snapshot": encoded[write.posting.external_id].text,
        }
        for write in outcome.writes
        if write.new_version
    )
    insert_rows(connection, PostingVersionRow, versions, encoded=("snapshot",))


def _documents(encoded: EncodedSnapshot, posting: Posting) -> dict[str, str | None]:
    """A new row's JSON columns as text, bound as they are (`insert_rows`' `encoded`)."""
    return {
        "locations": encoded.locations,
        "salary": encoded.salary,
        "work_rights": encoded.work_rights,
        "extra": encoded.extra,
        "significant": encode_flat(significant_values(posting)),
    }


def _insert_new_postings(
    connection: Connection, source_id: int, rows: Iterable[Mapping[str, Any]], newest_known: int
) -> dict[str, int]:
    """Insert and learn the new ids: external id → id.

    A plain executemany and one SELECT beat `RETURNING`: with RETURNING, SQLAlchemy sends
    one huge multi-row statement per thousand rows, which psycopg parses slowly in Python.
    Ids only grow, and this transaction holds the source's lock, so every row of this source
    above the newest id of any posting before the insert is one inserted here.

    That newest id is the whole table's (`newest_known`, from `_NEWEST_ID`), not the source's:
    PostgreSQL answered the source's own by walking the primary key down from the newest row
    until it met one of the source's, which for a new source is the whole table: 8 ms a board
    in a first crawl of 200 boards, longer with each. The table's is the end of that index.
    (It is asked of the database: the state loaded leaves out most of a board's closed
    postings, which are often newer than its open ones.)
    """
    insert_rows(connection, PostingRow, rows, encoded=_ENCODED_DOCUMENTS)
    inserted = connection.execute(_INSERTED_IDS, {"source_id": source_id, "newest_known": newest_known})
    return {external_id: posting_id for external_id, posting_id in inserted}


# Statements of every crawl, built once: building one cost about as much as running it.
_UPDATE_POSTING = update(PostingRow).where(PostingRow.id == bindparam("posting_id"))
_NEWEST_ID = select(func.max(PostingRow.id))
_INSERTED_IDS = select(PostingRow.external_id, PostingRow.id).where(
    PostingRow.source_id == bindparam("source_id"), PostingRow.id > bindparam("newest_known")
)
_EVENT_IDS = select(EventRow.posting_id, EventRow.id).where(EventRow.crawl_id == bindparam("crawl_id"))


def _new_row(
    write: PostingWrite,
    documents: Mapping[str, Any],
    source_id: int,
    at: datetime,
    now: datetime,
    ids: Mapping[str, int],
    elsewhere_ids: Mapping[str, int],
) -> dict[str, Any]:
    return {
        **_content_columns(write.posting, documents, now),
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
    write: PostingWrite,
    snapshot: Mapping[str, Any],
    at: datetime,
    now: datetime,
    ids: Mapping[str, int],
    moved: Mapping[str, Any],
) -> dict[str, Any]:
    """The changed posting's row: its content, its sighting, and the indexed state columns that
    moved (`_moved_state`), which are the only ones of `INDEXED_STATE` it sets."""
    documents = {**snapshot, "significant": significant_values(write.posting)}
    row = {
        **_content_columns(write.posting, documents, now),
        "posting_id": ids[write.posting.external_id],
        "last_seen_at": at,
    }
    for column in INDEXED_STATE:
        row.pop(column, None)  # title and company come with the content
    row.update(moved)
    return row


#: The columns of a posting row that some index of the postings table holds and that a rewrite
#: may leave as they were. Its content columns that indexes hold (`raw_digest` and `deadline`,
#: with the state in `ix_postings_listed_state`) are always set: the raw digest always moves.
INDEXED_STATE: Final = ("status", "episode", "role_key", "misses", "closed_at", "title", "company")


def _state_columns(write: PostingWrite) -> dict[str, Any]:
    """The values `INDEXED_STATE` takes in the rewritten row, as bound."""
    posting = write.posting
    return {
        "status": write.status.value,
        "episode": write.episode,
        "role_key": write.role_key,
        "misses": 0,
        "closed_at": write.closed_at,
        "title": posting.title,
        "company": posting.company,
    }


def _moved_state(write: PostingWrite, stored: StoredPosting | None) -> dict[str, Any]:
    """Those of `INDEXED_STATE` whose value the rewrite changes, compared with the row as read,
    with their new values (in `INDEXED_STATE`'s order).

    SQLite rewrites an index only when an UPDATE sets one of its columns, whatever the value, and
    setting all of them made it rewrite all nine indexes of the postings table for every changed
    posting (~100 µs a row); a changed posting keeps its status, episode and company, and
    mostly its title and role. A posting not read in full (no fingerprint: only sighted) sets them
    all.
    """
    after = _state_columns(write)
    if stored is None or not stored.fingerprint:
        return after
    before = {
        "status": stored.status.value,
        "episode": stored.episode,
        "role_key": stored.role_key,
        "misses": stored.misses,
        "closed_at": stored.closed_at,
        "title": stored.title,
        "company": stored.company,
    }
    return {column: value for column, value in after.items() if value != before[column]}


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
    return [ids[external_id] for external_id in outcome.seen if not all_seen or state.misses(external_id)]


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
    if not outcome.closures:
        return
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
    events = outcome.events
    rows = (
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
            "changes": _changes_text(event),
            "repost_of": _repost_reference(event.source, event.repost_of),
            "duplicate_of": event.duplicate_of,
        }
        for event in events
    )
    # The diff gives a posting at most one event per crawl, so the posting id tells the rows apart.
    # (No RETURNING, for speed, as for postings; in parameter order it would even go row by row.)
    insert_rows(connection, EventRow, rows, encoded=("changes",))
    inserted = connection.execute(_EVENT_IDS, {"crawl_id": crawl_id})
    event_ids = {posting_id: event_id for posting_id, event_id in inserted}
    # One copy of each event, with both fields it gains here.
    return tuple(
        _recorded_event(
            event, _repost_reference(event.source, event.repost_of), event_ids[ids[event.external_id]]
        )
        for event in events
    )


def _recorded_event(event: Event, repost_of: str | None, event_id: int) -> Event:
    """`replace(event, repost_of=…, id=…)` without running the dataclass's `__init__` again (a
    first crawl copies 50,000 events): a copy of its fields, the two changed."""
    copy = object.__new__(Event)
    copy.__dict__.update(event.__dict__, repost_of=repost_of, id=event_id)
    return copy


def _changes_text(event: Event) -> str:
    """The event's changes as `dumps` writes them; a new posting's event has none: `{}` needs no encoder."""
    if not event.changes:
        return "{}"
    return dumps({name: [old, new] for name, (old, new) in event.changes.items()})


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
    parameters = {f"new_{column}": value for column, value in values.items()}
    connection.execute(_update_source_statement(tuple(values)), {"source_id": source_id, **parameters})


@cache
def _update_source_statement(columns: tuple[str, ...]) -> Any:
    """One statement per set of columns written (four at most), built once, not once per crawl."""
    return (
        update(SourceRow)
        .where(SourceRow.id == bindparam("source_id"))
        .values({column: bindparam(f"new_{column}") for column in columns})
    )
