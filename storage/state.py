"""The stored state of a source as a crawl meets it: what the diff judges the crawl on, and the
validators and digests the crawler is handed so it can skip what has not changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import String, Text, any_, bindparam, cast, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from rolewatch.domain import CrawlResult, KnownDigests, PostingStatus
from storage.database import chunks
from storage.diff import REPOST_WINDOW, SourceState, StoredPosting, crawl_identity, posting_role_key
from storage.models import PostingRow, SourceRow

Validators = dict[str, dict[str, str]]


@dataclass(frozen=True)
class LoadedState:
    """The diff's view of a source plus the row ids storage needs to apply the outcome."""

    state: SourceState
    ids: Mapping[str, int]
    elsewhere_ids: Mapping[str, int]
    recorded_crawl: tuple[int, str] | None
    all_seen_at: datetime | None = None


def load_validators(engine: Engine, names: Sequence[str]) -> dict[str, Validators]:
    """The `ETag`/`Last-Modified` to send back, per source name, for sources where a 304 can be trusted.

    A source with an open posting that missed the last complete crawl gets none: a 304 would
    mark that posting as seen again (the diff treats "not modified" as "everything open is
    still listed") and it would never close. A full fetch lets the miss be counted.
    """
    if not names:
        return {}
    # Asked of each source's own open postings (the covering index `ix_postings_listed_state`),
    # not as `NOT IN` every open posting with a miss: that read every open posting of every
    # source, 0.1 s a crawl at 50,000 and growing with the database.
    pending = (
        select(PostingRow.id)
        .where(
            PostingRow.source_id == SourceRow.id,
            PostingRow.status == PostingStatus.OPEN.value,
            PostingRow.misses > 0,
        )
        .exists()
    )
    query = select(SourceRow.name, SourceRow.validators).where(SourceRow.name.in_(list(names)), ~pending)
    with engine.connect() as connection:
        return {row.name: dict(row.validators) for row in connection.execute(query) if row.validators}


def load_known_digests(engine: Engine, names: Sequence[str]) -> dict[str, KnownDigests]:
    """Per source, the raw-record digest of each open posting the crawler may skip normalising.

    A posting with a deadline is left out: its closure depends on the clock, so it must be
    judged afresh each crawl even when the board's record is byte for byte the same.
    The database hands each source's pairs over as two JSON arrays (`KnownDigests`): reading
    and pickling 50,000 rows one by one took 50–90 ms before a re-crawl could start, this 10.
    """
    if not names:
        return {}
    # The sources as a subquery on `source_id`, not a join on their names: SQLite then reads the
    # covering index `ix_postings_listed_state`, not each wide row (five times faster).
    wanted = select(SourceRow.id).where(SourceRow.name.in_(list(names)))
    ids, digests = _json_arrays(engine.dialect.name, PostingRow.external_id, PostingRow.raw_digest)
    query = (
        select(SourceRow.name, ids, digests)
        .join(SourceRow, SourceRow.id == PostingRow.source_id)
        .where(
            PostingRow.source_id.in_(wanted),
            PostingRow.status == PostingStatus.OPEN.value,
            PostingRow.deadline.is_(None),
            PostingRow.raw_digest.is_not(None),
        )
        .group_by(SourceRow.name)
    )
    with engine.connect() as connection:
        return {name: KnownDigests(ids, digests) for name, ids, digests in connection.execute(query)}


def _json_arrays(dialect: str, *columns: Any) -> list[Any]:
    """Each column aggregated over the group as the text of a JSON array, all in one order.

    SQLite's `json_group_array` takes no order, but every aggregate of one group is fed the
    same rows in the same order, which is all the pairing needs; PostgreSQL is told the order.
    """
    if dialect == "postgresql":
        return [cast(func.json_agg(aggregate_order_by(column, PostingRow.id)), Text) for column in columns]
    return [func.json_group_array(column) for column in columns]


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
        found.update({row.id: row.significant for row in session.execute(_SIGNIFICANT_QUERY, {"ids": chunk})})
    return found


class ClaimedRow(NamedTuple):
    """What recording reads of the source's row as it claims it (`storage.recording`), in the
    same statement: the suspect streak, `all_seen_at`, and the (id, verdict) of the crawl being
    recorded if it is recorded already."""

    suspect_streak: int
    all_seen_at: datetime | None
    recorded_crawl: tuple[int, str] | None


def load_state(
    session: Session | Connection, source_id: int, result: CrawlResult, claimed: ClaimedRow
) -> LoadedState:
    """Everything the diff must know about `source_id` to judge `result`, with the row ids to apply it."""
    streak, all_seen_at, recorded = claimed
    sighted: dict[str, int] = {}
    if result.unchanged:
        stored, ids = _listed_state(session, source_id, result)
    else:
        stored, ids, sighted = _full_state(session, source_id, result, all_seen_at)
    unseen = {p.external_id: posting_role_key(p) for p in result.postings if p.external_id not in stored}
    elsewhere = _open_elsewhere(session, source_id, sorted(set(unseen.values())))
    state = SourceState(
        source=result.source,
        postings=stored,
        suspect_streak=streak,
        applied_crawls=frozenset({crawl_identity(result)}) if recorded else frozenset(),
        open_elsewhere={key: reference for key, (reference, _) in elsewhere.items()},
        sighted=sighted,
        role_keys=unseen,
    )
    return LoadedState(
        state=state,
        ids=ids,
        elsewhere_ids={reference: posting_id for reference, posting_id in elsewhere.values()},
        recorded_crawl=recorded,
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
        stored[external_id] = _sighted(external_id, episode, misses)
    return stored, ids


def _full_state(
    session: Session | Connection, source_id: int, result: CrawlResult, all_seen_at: datetime | None
) -> tuple[dict[str, StoredPosting], dict[str, int], dict[str, int]]:
    """Every posting of the source, as the diff compares a parsed listing with them, and the open
    postings the crawl only sighted (their record unchanged, `CrawlResult.sightings`), by
    external id with their misses: the diff marks those seen and reads nothing else of them.

    So a board whose records mostly did not change costs one narrow read of its open postings
    and a full read of the few that did (or went missing), not a full read of every posting. Of
    its closed postings the diff needs only those listed again and, when the crawl lists a new
    posting, those of its role closed within the repost window (it may repost one): a board's
    history of closed postings grows for as long as it is watched, and reading it made an
    unchanged re-crawl of a board with 8,000 of them cost 50 ms instead of 0.5
    (`benchmarks/history_benchmark.py`). Their ids are not read either (`ids` holds the open
    postings and those read in full).
    """
    stored: dict[str, StoredPosting] = {}
    ids: dict[str, int] = {}
    sighted: dict[str, int] = {}
    listed = {posting.external_id for posting in result.postings}
    only_sighted = set(result.sightings).difference(listed)
    if only_sighted:
        rest: list[int] = []
        narrow = session.execute(_NARROW_QUERY, {"source_id": source_id}).all()  # one fetch, not one per row
        for posting_id, external_id, misses in narrow:
            ids[external_id] = posting_id
            if external_id in only_sighted:
                sighted[external_id] = misses
            else:
                rest.append(posting_id)
        for external_ids in chunks(sorted(listed.difference(ids))):  # closed ones listed again, new ones
            found = session.execute(_BY_EXTERNAL_IDS, {"source_id": source_id, "external_ids": external_ids})
            for posting_id, external_id in found:
                ids[external_id] = posting_id  # listed again while closed: reopened, or kept closed
                rest.append(posting_id)
        new = [posting for posting in result.postings if posting.external_id not in ids]
        if new:  # a new posting may repost one closed lately, with the same role
            keys = sorted({posting_role_key(posting) for posting in new})
            since = result.finished_at - REPOST_WINDOW
            rest.extend(_recently_closed(session, source_id, keys, since, rest))
        if not rest:
            return stored, ids, sighted
        if len(rest) * 2 > len(ids):  # most postings need reading in full anyway: read them all at once
            sighted.clear()
        else:
            some: list[Any] = []
            for chunk in chunks(rest):
                some.extend(session.execute(_by_ids(_state_query(result)), {"ids": chunk}).all())
            _add_full_rows(session, some, result, all_seen_at, stored, ids)
            return stored, ids, sighted
    rows = session.execute(
        _state_query(result).where(PostingRow.source_id == bindparam("source_id")), {"source_id": source_id}
    ).all()
    _add_full_rows(session, rows, result, all_seen_at, stored, ids)
    return stored, ids, sighted


def _recently_closed(
    session: Session | Connection, source_id: int, keys: Sequence[str], since: datetime, taken: Sequence[int]
) -> list[int]:
    """The ids of the source's postings with one of the role `keys` closed at `since` or later,
    but those in `taken`: the postings a new posting may be a repost of."""
    already = set(taken)
    found: list[int] = []
    for chunk in chunks(keys):
        parameters = {"source_id": source_id, "since": since, "keys": chunk}
        found.extend(row for row in session.execute(_RECENTLY_CLOSED_QUERY, parameters).scalars())
    return [posting_id for posting_id in found if posting_id not in already]


def _sighted(external_id: str, episode: int, misses: int) -> StoredPosting:
    """An open posting as the diff needs it when the crawl only sighted it: open, its episode and misses."""
    return StoredPosting(
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


def _state_query(result: CrawlResult) -> Any:
    """Only a listing that closes by age reads sightings; parsing 250 timestamps per crawl
    otherwise costs more than the rest of an unchanged re-crawl's reading."""
    return _STATE_SELECT_WITH_SIGHTINGS if result.max_age is not None else _STATE_SELECT


@cache
def _by_ids(query: Any) -> Any:
    """`query` for the postings whose ids are bound as `ids`; built once per query."""
    return query.where(PostingRow.id.in_(_IDS))


def _add_full_rows(
    session: Session | Connection,
    rows: Sequence[Any],
    result: CrawlResult,
    all_seen_at: datetime | None,
    stored: dict[str, StoredPosting],
    ids: dict[str, int],
) -> None:
    values = _significant_of_changed(session, rows, result)
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
_STATE_SELECT = select(*_STATE_COLUMNS)
_STATE_SELECT_WITH_SIGHTINGS = select(*_STATE_COLUMNS, PostingRow.last_seen_at)
#: What `_full_state` reads of every open posting first; the index on (source, status, external
#: id, episode, misses, …) covers it.
_NARROW_QUERY = select(PostingRow.id, PostingRow.external_id, PostingRow.misses).where(
    PostingRow.source_id == bindparam("source_id"), PostingRow.status == PostingStatus.OPEN.value
)
_BY_EXTERNAL_IDS = select(PostingRow.id, PostingRow.external_id).where(
    PostingRow.source_id == bindparam("source_id"),
    PostingRow.external_id.in_(bindparam("external_ids", expanding=True)),
)
#: By the role key index alone: given an indexed source and status, SQLite (which keeps no
#: statistics) walks every closed posting of the board instead of looking the few keys up (as in
#: `_open_elsewhere`), so both are written as expressions no index serves.
_RECENTLY_CLOSED_QUERY = select(PostingRow.id).where(
    PostingRow.role_key.in_(bindparam("keys", expanding=True)),
    (PostingRow.source_id + 0) == bindparam("source_id"),
    PostingRow.status.concat("") == PostingStatus.CLOSED.value,
    PostingRow.closed_at >= bindparam("since"),
)
# Statements of every crawl are built once, with their values as parameters: building one cost
# more than running it, and an expanding `IN` is compiled once too.
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_SIGNIFICANT_QUERY = select(PostingRow.id, PostingRow.significant).where(PostingRow.id.in_(_IDS))


def _open_elsewhere(
    session: Session | Connection, source_id: int, keys: Sequence[str]
) -> dict[str, tuple[str, int]]:
    """Role key → (`source/external_id`, id) of the oldest open posting with that key on another source."""
    found: dict[str, tuple[str, int]] = {}
    bind = session if isinstance(session, Connection) else session.get_bind()
    query = _open_elsewhere_query(bind.dialect.name)
    for chunk in chunks(keys):
        for row in session.execute(query, {"source_id": source_id, "keys": list(chunk)}):
            found.setdefault(row.role_key, (f"{row.name}/{row.external_id}", row.id))
    return found


@cache
def _open_elsewhere_query(dialect: str) -> Any:
    """The open postings of other sources with one of the role keys bound as `keys`, oldest first.

    `status || ''`, not `status`: given an indexed status, SQLite (which keeps no statistics)
    walks every open posting by the status index rather than look the few keys up, and a first
    crawl's recording then grew with every open posting stored (0.2 s a crawl at 50,000). So
    only the role key index is usable here. On PostgreSQL the keys are one array parameter
    (`= ANY`), not an `IN` list of hundreds: the statement is the same text for every board.
    """
    if dialect == "postgresql":
        keys = PostingRow.role_key == any_(bindparam("keys", type_=postgresql.ARRAY(String)))
    else:
        keys = PostingRow.role_key.in_(bindparam("keys", expanding=True))
    return (
        select(PostingRow.role_key, SourceRow.name, PostingRow.external_id, PostingRow.id)
        .join(SourceRow, SourceRow.id == PostingRow.source_id)
        .where(
            PostingRow.source_id != bindparam("source_id"),
            PostingRow.status.concat("") == PostingStatus.OPEN.value,
            keys,
        )
        .order_by(PostingRow.id)
    )


def last_sighting(status: str, own: datetime, all_seen_at: datetime | None) -> datetime:
    """When a posting was last listed: its own sighting, or for an open posting its source's
    `all_seen_at` when later (a crawl that saw every open posting records only that)."""
    if all_seen_at is not None and status == PostingStatus.OPEN.value and all_seen_at > own:
        return all_seen_at
    return own
