"""The read side for the web: keyset pages of events, postings and crawls, and the overview's figures.

Every page is one index range read from a cursor (the last row's sort key), never an OFFSET, so
page 2,000 costs what page 1 costs. Rows become the same plain objects the CLI prints
(`storage.queries`), so the API can give exactly what `--format json` gives.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, literal, select, tuple_
from sqlalchemy.engine import Engine, Row
from sqlalchemy.orm import Session

from rolewatch.domain import CrawlVerdict, Event, EventType, Posting, PostingStatus
from storage.models import CrawlRow, EventRow, OutboxRow, PostingRow, SourceRow
from storage.outbox import StoredAlert, load_alerts
from storage.queries import (
    CrawlSummary,
    PostingDetail,
    PostingSummary,
    _crawl_summary,
    _detail,
    _event,
    _latest_crawls,
    _postings_query,
    _references,
    _summary,
)
from storage.snapshot import locations_from, salary_from, work_rights_from

T = TypeVar("T")

#: A search that filters in Python reads batches until its page is full or this much time has gone, so
#: a query that matches little answers in bounded time and offers to read on rather than scanning all.
SCAN_BUDGET_S = 0.06
SCAN_BATCH = 100


@dataclass(frozen=True)
class SourceHealth:
    """One stored source: its last verdict and why, its failure streak, what it holds."""

    name: str
    type: str
    last_crawl_at: datetime | None
    verdict: CrawlVerdict | None
    note: str
    #: Failed or suspect crawls in a row (storage keeps the count as it records each crawl).
    trouble_streak: int
    open_postings: int
    total_postings: int


@dataclass(frozen=True)
class Overview:
    sources: tuple[SourceHealth, ...]
    open_postings: int
    events_last_day: int
    events_last_week: int
    outbox_depth: int


@dataclass(frozen=True)
class EventFilter:
    type: str | None = None
    source: str | None = None
    company: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class TimelineEvent:
    """An event and the posting it is about (the CLI's object has no posting id; links need one)."""

    event: Event
    posting_id: int


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page; `cursor` is the key to ask for the next one, None on the last page.

    `scanned_out` is True when a Python-filtered search stopped at its scan limit before filling
    the page: there may be more further on, and the cursor continues from where it stopped.
    """

    items: tuple[T, ...]
    cursor: tuple[Any, ...] | None
    scanned_out: bool = False


@dataclass(frozen=True)
class PostingFilter:
    open_only: bool = True
    source: str | None = None
    employment_types: tuple[str, ...] = ()
    sort: str = "newest"


POSTING_SORTS = ("newest", "oldest", "title")


# --- overview ------------------------------------------------------------------------------------


def source_health(engine: Engine, name: str | None = None) -> list[SourceHealth]:
    """Every stored source by name (or just `name`), with its latest crawl's verdict and posting counts."""
    query = select(SourceRow).order_by(SourceRow.name)
    if name is not None:
        query = query.where(SourceRow.name == name)
    with Session(engine) as session:
        rows = list(session.execute(query).scalars())
        ids = [row.id for row in rows]
        latest = _latest_crawls(session, ids)
        counts = _open_and_total(session, ids)
    health = []
    for row in rows:
        crawl = latest.get(row.id)
        open_count, total = counts.get(row.id, (0, 0))
        health.append(
            SourceHealth(
                name=row.name,
                type=row.type,
                last_crawl_at=row.last_crawl_at,
                verdict=CrawlVerdict(crawl.verdict) if crawl else None,
                note=(crawl.note or crawl.reason) if crawl else "",
                trouble_streak=row.trouble_streak,
                open_postings=open_count,
                total_postings=total,
            )
        )
    return health


def _open_and_total(session: Session, source_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(open, total) per source from the (source_id, status) index alone: a count per (source, status)."""
    query = (
        select(PostingRow.source_id, PostingRow.status, func.count())
        .where(PostingRow.source_id.in_(source_ids))
        .group_by(PostingRow.source_id, PostingRow.status)
    )
    counts: dict[int, tuple[int, int]] = {}
    for source_id, status, count in session.execute(query):
        open_count, total = counts.get(source_id, (0, 0))
        opened = count if status == PostingStatus.OPEN.value else 0
        counts[source_id] = (open_count + opened, total + count)
    return counts


def overview(engine: Engine, now: datetime) -> Overview:
    """The front page's figures: the sources' own counts summed, and three counts each served by an index."""
    sources = tuple(source_health(engine))
    with Session(engine) as session:
        day, week = (
            session.execute(select(func.count()).where(EventRow.at >= now - span)).scalar_one()
            for span in (timedelta(days=1), timedelta(days=7))
        )
        depth = session.execute(select(func.count()).where(OutboxRow.status == "pending")).scalar_one()
    open_count = sum(source.open_postings for source in sources)
    return Overview(sources, open_count, day, week, depth)


def source_names(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.execute(select(SourceRow.name).order_by(SourceRow.name)).scalars())


# --- events --------------------------------------------------------------------------------------


def event_page(
    engine: Engine,
    wanted: EventFilter,
    *,
    after: tuple[datetime, int] | None = None,
    limit: int = 50,
    newest_first: bool = True,
) -> Page[TimelineEvent]:
    """Events in (at, id) order from the cursor `after`; the timeline reads newest first, the API oldest.

    Ordering by the time (not the id alone) lets `since` and `until` bound the index range, so a
    filter matching little never walks the whole table.
    """
    query = _timeline_query(wanted)
    key = tuple_(EventRow.at, EventRow.id)
    if after is not None:
        bound = tuple_(literal(after[0], EventRow.at.type), literal(after[1]))
        query = query.where(key < bound if newest_first else key > bound)
    order = (EventRow.at.desc(), EventRow.id.desc()) if newest_first else (EventRow.at, EventRow.id)
    with Session(engine) as session:
        rows = session.execute(query.order_by(*order).limit(limit + 1)).all()
    items = tuple(TimelineEvent(_event(row), row.posting_id) for row in rows[:limit])
    cursor = _event_cursor(items[-1].event) if len(rows) > limit else None
    return Page(items, cursor)


def _timeline_query(wanted: EventFilter) -> Select[*tuple[Any, ...]]:
    """The columns `storage.queries` builds an Event from, with events the only table in FROM.

    The source's name and the posting's external id come from correlated lookups by primary key,
    so the planner drives the query from an events index in the page's order and stops at LIMIT;
    with the tables joined, SQLite may start from the sources and sort a million events instead.
    """
    source_name = select(SourceRow.name).where(SourceRow.id == EventRow.source_id).scalar_subquery()
    external_id = select(PostingRow.external_id).where(PostingRow.id == EventRow.posting_id).scalar_subquery()
    query = select(
        EventRow.id,
        EventRow.type,
        source_name.label("source"),
        external_id.label("external_id"),
        EventRow.title,
        EventRow.company,
        EventRow.url,
        EventRow.at,
        EventRow.episode,
        EventRow.changes,
        EventRow.repost_of,
        EventRow.duplicate_of,
        EventRow.posting_id,
    )
    if wanted.type is not None:
        query = query.where(EventRow.type == EventType(wanted.type).value)
    if wanted.source is not None:
        source_id = select(SourceRow.id).where(SourceRow.name == wanted.source).scalar_subquery()
        query = query.where(EventRow.source_id == source_id)
    if wanted.company is not None:
        query = query.where(EventRow.company == wanted.company)
    if wanted.since is not None:
        query = query.where(EventRow.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(EventRow.at < wanted.until)
    return query


def _event_cursor(event: Event) -> tuple[datetime, int]:
    assert event.id is not None  # stored events always have one
    return (event.at, event.id)


@dataclass(frozen=True)
class FeedState:
    """What a feed's validators are made of: the newest matching event, and the newest event of all
    (any insert changes it, so an event recorded with an older time still refreshes the ETag)."""

    newest_id: int | None
    newest_at: datetime | None
    last_id: int


def feed_state(engine: Engine, wanted: EventFilter) -> FeedState:
    query = _timeline_query(wanted).order_by(EventRow.at.desc(), EventRow.id.desc()).limit(1)
    with Session(engine) as session:
        row = session.execute(query).first()
        last = session.execute(select(func.max(EventRow.id))).scalar_one()
    return FeedState(row.id if row else None, row.at if row else None, int(last or 0))


def alerted_events(engine: Engine, recipient: str, limit: int) -> list[StoredAlert]:
    """The newest events `recipient` (a subscription) was alerted on, newest first: its outbox rows.

    The outbox holds the notifier's own verdict, written with the events (matching, event types,
    and the quiet rule for a repost or a duplicate of a role the subscription has heard of), so a
    feed read from it holds what the subscription alerts on, not what its query would match now.
    One entry per event, however many channels it went to; a row of any status counts (a message
    that failed to send was still an alert).
    """
    query = (
        select(OutboxRow.event_id)
        .where(OutboxRow.recipient == recipient, OutboxRow.event_id.is_not(None))
        .distinct()
        .order_by(OutboxRow.event_id.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        ids = [event_id for event_id in connection.execute(query).scalars() if event_id is not None]
        found = load_alerts(connection, ids)
    return [found[event_id] for event_id in ids if event_id in found]


def api_event_page(
    engine: Engine, wanted: EventFilter, *, after: int | None = None, limit: int = 50
) -> Page[Event]:
    """Events in id order (the order they were recorded, as `rolewatch events` lists them).

    The id, not the time, is the API's cursor: a client polling with it never misses an event that
    was recorded after its last call with an earlier time (a long crawl finishing late).
    """
    query = _timeline_query(wanted)
    if after is not None:
        query = query.where(EventRow.id > after)
    if wanted.since is not None:
        # The first id recorded since then, found on the (at, id) index, bounds the id range to read:
        # without it the id order would walk every older event to find the first recent one.
        # (`id + 0`, not `id`: SQLite would otherwise look for the minimum by walking the ids from the
        # first, testing each event's time, instead of reading the time index's range.)
        first = select(func.min(EventRow.id + 0)).where(EventRow.at >= wanted.since).scalar_subquery()
        query = query.where(EventRow.id >= first)
    with Session(engine) as session:
        rows = session.execute(query.order_by(EventRow.id).limit(limit + 1)).all()
    items = tuple(_event(row) for row in rows[:limit])
    return Page(items, (items[-1].id,) if len(rows) > limit else None)


def scan_events(
    engine: Engine, wanted: EventFilter, after: tuple[datetime, int] | None
) -> Iterator[tuple[list[int], tuple[datetime, int], bool]]:
    """Event ids newest first in batches, each with the cursor after it and whether it is the last,
    for filters run in Python."""
    cursor = after
    while True:
        page = event_page(engine, wanted, after=cursor, limit=SCAN_BATCH)
        if not page.items:
            return
        ids = [item.event.id for item in page.items if item.event.id is not None]
        cursor = _event_cursor(page.items[-1].event)
        yield ids, cursor, page.cursor is None
        if page.cursor is None:
            return


# --- postings ------------------------------------------------------------------------------------


def posting_page(
    engine: Engine,
    wanted: PostingFilter,
    *,
    after: tuple[Any, ...] | None = None,
    limit: int = 50,
    accepts: Callable[[Posting], bool] | None = None,
    with_description: bool = True,
) -> Page[PostingSummary]:
    """Postings in the chosen order from the cursor; `accepts` (the subscription filters) is run in Python
    on postings read with their description text only when `with_description`.

    Without `accepts` this is one index range. With it, rows are read in batches and tested until
    the page is full or `SCAN_BUDGET_S` has gone.
    """
    if accepts is None:
        query = _paged(_postings_query(), wanted, after).limit(limit + 1)
        with Session(engine) as session:
            rows = session.execute(query).all()
        items = tuple(_summary(row) for row in rows[:limit])
        return Page(items, _posting_cursor(items[-1], wanted.sort) if len(rows) > limit else None)
    return _searched_page(engine, wanted, after, limit, accepts, with_description)


def _searched_page(
    engine: Engine,
    wanted: PostingFilter,
    after: tuple[Any, ...] | None,
    limit: int,
    accepts: Callable[[Posting], bool],
    with_description: bool,
) -> Page[PostingSummary]:
    found: list[int] = []
    columns = (
        _MATCHING_COLUMNS.add_columns(PostingRow.description_text) if with_description else _MATCHING_COLUMNS
    )
    cursor = after
    deadline = time.monotonic() + SCAN_BUDGET_S
    exhausted = False
    with engine.connect() as connection:
        while len(found) < limit and not exhausted and time.monotonic() < deadline:
            batch = connection.execute(_paged(columns, wanted, cursor).limit(SCAN_BATCH)).all()
            exhausted = len(batch) < SCAN_BATCH
            for row in batch:
                cursor = (row.title, row.id) if wanted.sort == "title" else (row.id,)
                if accepts(_matching_posting(row)):
                    found.append(row.id)
                    if len(found) == limit:
                        exhausted = row is batch[-1] and exhausted
                        break
        summaries = {
            row.id: _summary(row)
            for row in connection.execute(_postings_query().where(PostingRow.id.in_(found)))
        }
    items = tuple(summaries[posting_id] for posting_id in found)
    more = None if exhausted else cursor
    return Page(items, more, scanned_out=len(found) < limit and more is not None)


#: What matching reads of a posting: no HTML, no board extras, no JSON it does not need.
_MATCHING_COLUMNS = select(
    PostingRow.id,
    SourceRow.name.label("source"),
    PostingRow.external_id,
    PostingRow.title,
    PostingRow.company,
    PostingRow.locations,
    PostingRow.workplace,
    PostingRow.employment_type,
    PostingRow.salary,
    PostingRow.work_rights,
).join(SourceRow, SourceRow.id == PostingRow.source_id)


def _matching_posting(row: Row[Any]) -> Posting:
    """The posting as subscriptions judge it; the stored fingerprint is not needed to match, so none is
    computed (a Posting built without one would hash every field)."""
    return Posting(
        source=row.source,
        external_id=row.external_id,
        title=row.title,
        company=row.company,
        locations=locations_from(row.locations or []),
        workplace=row.workplace,
        employment_type=row.employment_type,
        salary=salary_from(row.salary),
        work_rights=work_rights_from(row.work_rights),
        description_text=getattr(row, "description_text", ""),
        fingerprint="-",
    )


def _paged(
    query: Select[*tuple[Any, ...]], wanted: PostingFilter, after: tuple[Any, ...] | None
) -> Select[*tuple[Any, ...]]:
    if wanted.open_only:
        query = query.where(PostingRow.status == PostingStatus.OPEN.value)
    if wanted.source is not None:
        query = query.where(SourceRow.name == wanted.source)
    if wanted.employment_types:
        query = query.where(PostingRow.employment_type.in_(wanted.employment_types))
    if after is not None:
        query = query.where(_after(wanted.sort, after))
    return query.order_by(*_order(wanted.sort))


def _after(sort: str, after: tuple[Any, ...]) -> ColumnElement[bool]:
    if sort == "title":
        return tuple_(PostingRow.title, PostingRow.id) > tuple_(
            literal(str(after[0])), literal(int(after[1]))
        )
    if sort == "oldest":
        return PostingRow.id > int(after[0])
    return PostingRow.id < int(after[0])


def _order(sort: str) -> Sequence[Any]:
    if sort == "title":
        return (PostingRow.title, PostingRow.id)
    if sort == "oldest":
        return (PostingRow.id,)
    return (PostingRow.id.desc(),)


def _posting_cursor(summary: PostingSummary, sort: str) -> tuple[Any, ...]:
    return (summary.title, summary.id) if sort == "title" else (summary.id,)


def _row_cursor(row: PostingRow, sort: str) -> tuple[Any, ...]:
    return (row.title, row.id) if sort == "title" else (row.id,)


def posting_details(engine: Engine, posting_ids: Sequence[int]) -> list[PostingDetail]:
    """Every field of these postings, in the order given (the CSV export's rows)."""
    query = (
        select(PostingRow, SourceRow.name, SourceRow.all_seen_at)
        .join(SourceRow, SourceRow.id == PostingRow.source_id)
        .where(PostingRow.id.in_(posting_ids))
    )
    with Session(engine) as session:
        rows = session.execute(query).all()
        linked = [i for row in rows for i in (row[0].repost_of_id, row[0].duplicate_of_id)]
        references = _references(session, linked)
        found = {row[0].id: _detail(row[0], row[1], references, row[2]) for row in rows}
    return [found[posting_id] for posting_id in posting_ids if posting_id in found]


def posting_ref(engine: Engine, posting_id: int) -> str | None:
    """`source/external_id` of a posting, for its page's title and links."""
    query = (
        select(SourceRow.name, PostingRow.external_id)
        .join(SourceRow, SourceRow.id == PostingRow.source_id)
        .where(PostingRow.id == posting_id)
    )
    with Session(engine) as session:
        row = session.execute(query).first()
    return f"{row[0]}/{row[1]}" if row else None


# --- crawls --------------------------------------------------------------------------------------


def crawl_page(
    engine: Engine, source: str, *, before: int | None = None, limit: int = 50
) -> Page[CrawlSummary]:
    """One source's crawl log, newest first, keyset on the crawl id (the (source_id, id) index)."""
    query = (
        select(CrawlRow, SourceRow.name.label("source"))
        .join(SourceRow, SourceRow.id == CrawlRow.source_id)
        .where(SourceRow.name == source)
        .order_by(CrawlRow.source_id, CrawlRow.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(CrawlRow.id < before)
    with Session(engine) as session:
        rows = session.execute(query).all()
        items = tuple(_crawl_summary(row.CrawlRow, row.source) for row in rows[:limit])
    return Page(items, (items[-1].id,) if len(rows) > limit else None)
