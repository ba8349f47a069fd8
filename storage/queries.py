"""The read side of storage for the CLI: plain frozen dataclasses out, ORM rows never leave `storage/`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, Text, case, cast, func, or_, select
from sqlalchemy.engine import Engine, Row
from sqlalchemy.orm import Session

from rolewatch.domain import (
    CrawlStats,
    CrawlVerdict,
    Event,
    EventType,
    Location,
    PostingStatus,
    Salary,
    WorkRights,
    significant_values,
)
from storage.diff import field_changes
from storage.models import CrawlRow, EventRow, PostingRow, PostingVersionRow, SourceRow
from storage.outbox import StoredAlert, load_alerts
from storage.snapshot import locations_from, posting_from_snapshot, salary_from, work_rights_from
from storage.state import last_sighting

if TYPE_CHECKING:
    from rolewatch.config import ResolvedSource, Schedule


@dataclass(frozen=True)
class SourceStatus:
    """One source at a glance: how its last crawl went, what it holds, when it runs next."""

    name: str
    type: str
    last_crawl_at: datetime | None
    verdict: CrawlVerdict | None
    note: str
    errors: tuple[str, ...]
    open_postings: int
    total_postings: int
    next_run_at: datetime
    consecutive_failures: int


@dataclass(frozen=True)
class PostingSummary:
    """One row of a posting list; `locations` is already readable (`Sydney, AU; Remote, US`)."""

    id: int
    source: str
    external_id: str
    title: str
    company: str | None
    locations: str
    employment_type: str | None
    status: PostingStatus
    first_seen_at: datetime
    last_seen_at: datetime
    closed_at: datetime | None
    url: str | None


@dataclass(frozen=True)
class PostingDetail:
    """A posting's current state: every normalised field plus what storage knows about its life."""

    id: int
    source: str
    external_id: str
    status: PostingStatus
    episode: int
    title: str
    company: str | None
    department: str | None
    url: str | None
    apply_url: str | None
    locations: tuple[Location, ...]
    workplace: str | None
    employment_type: str | None
    salary: Salary | None
    posted_at: datetime | None
    deadline: datetime | None
    work_rights: WorkRights | None
    description_text: str
    description_html: str
    extra: Mapping[str, Any]
    fingerprint: str
    misses: int
    first_seen_at: datetime
    last_seen_at: datetime
    closed_at: datetime | None
    repost_of: str | None
    duplicate_of: str | None


@dataclass(frozen=True)
class PostingVersion:
    """One stored version; `changes` lists each significant field that differs from the version before."""

    id: int
    crawl_id: int
    recorded_at: datetime
    fingerprint: str
    changes: Mapping[str, tuple[str, str]]


@dataclass(frozen=True)
class PostingHistory:
    posting: PostingDetail
    versions: tuple[PostingVersion, ...]
    events: tuple[Event, ...]


@dataclass(frozen=True)
class CrawlSummary:
    """One recorded crawl: verdict, why, event counts and cost."""

    id: int
    source: str
    started_at: datetime
    finished_at: datetime
    verdict: CrawlVerdict
    reason: str
    note: str
    unchanged: bool
    counts: Mapping[str, int]
    stats: CrawlStats


# --- sources -------------------------------------------------------------------------------------


def source_status(
    engine: Engine,
    sources: Sequence[ResolvedSource],
    next_cron_fire: Callable[[str, datetime], datetime | None],
) -> list[SourceStatus]:
    """Status of each configured source, in the order given; a source never crawled shows zeros.

    `next_cron_fire` is the scheduler's reading of a cron expression (`scheduler.schedule`): when
    it fires next after a moment, or None.
    """
    now = datetime.now(UTC)
    names = [source.name for source in sources]
    with Session(engine) as session:
        rows = {
            row.name: row
            for row in session.execute(select(SourceRow).where(SourceRow.name.in_(names))).scalars()
        }
        ids = [row.id for row in rows.values()]
        latest = _latest_crawls(session, ids)
        counts = _posting_counts(session, ids)
        failures = _consecutive_failures(session, ids)
    statuses = []
    for source in sources:
        row = rows.get(source.name)
        source_id = row.id if row else -1
        crawl = latest.get(source_id)
        last_crawl_at = row.last_crawl_at if row else None
        open_count, total = counts.get(source_id, (0, 0))
        statuses.append(
            SourceStatus(
                name=source.name,
                type=source.type,
                last_crawl_at=last_crawl_at,
                verdict=CrawlVerdict(crawl.verdict) if crawl else None,
                note=(crawl.note or crawl.reason) if crawl else "",
                errors=tuple(crawl.errors) if crawl else (),
                open_postings=open_count,
                total_postings=total,
                next_run_at=_next_run(
                    source.interval, last_crawl_at, row.next_due_at if row else None, now, next_cron_fire
                ),
                consecutive_failures=failures.get(source_id, 0),
            )
        )
    return statuses


def _latest_crawls(session: Session, source_ids: Sequence[int]) -> dict[int, CrawlRow]:
    newest = (
        select(func.max(CrawlRow.id)).where(CrawlRow.source_id.in_(source_ids)).group_by(CrawlRow.source_id)
    )
    crawls = session.execute(select(CrawlRow).where(CrawlRow.id.in_(newest))).scalars()
    return {crawl.source_id: crawl for crawl in crawls}


def _posting_counts(session: Session, source_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(open, total) per source, in one grouped query."""
    is_open = case((PostingRow.status == PostingStatus.OPEN.value, 1), else_=0)
    query = (
        select(PostingRow.source_id, func.sum(is_open), func.count())
        .where(PostingRow.source_id.in_(source_ids))
        .group_by(PostingRow.source_id)
    )
    return {
        source_id: (int(open_count or 0), int(total))
        for source_id, open_count, total in session.execute(query)
    }


def _consecutive_failures(session: Session, source_ids: Sequence[int]) -> dict[int, int]:
    """Failed crawls since each source's last crawl that was not a failure."""
    failed = CrawlVerdict.FAILED.value
    last_ok = (
        select(CrawlRow.source_id, func.max(CrawlRow.id).label("ok_id"))
        .where(CrawlRow.verdict != failed)
        .group_by(CrawlRow.source_id)
        .subquery()
    )
    query = (
        select(CrawlRow.source_id, func.count())
        .outerjoin(last_ok, last_ok.c.source_id == CrawlRow.source_id)
        .where(
            CrawlRow.source_id.in_(source_ids),
            CrawlRow.verdict == failed,
            CrawlRow.id > func.coalesce(last_ok.c.ok_id, 0),
        )
        .group_by(CrawlRow.source_id)
    )
    return {source_id: int(count) for source_id, count in session.execute(query)}


def _next_run(
    schedule: Schedule,
    last_crawl_at: datetime | None,
    due: datetime | None,
    now: datetime,
    next_cron_fire: Callable[[str, datetime], datetime | None],
) -> datetime:
    """When the source runs next: the scheduler's own plan if it recorded one, else from the schedule."""
    if due is not None:
        return due
    if schedule.cron:
        return next_cron_fire(schedule.cron, now) or now
    if last_crawl_at is None or schedule.every is None:
        return now
    return last_crawl_at + schedule.every


# --- postings ------------------------------------------------------------------------------------


def list_postings(
    engine: Engine,
    *,
    open_only: bool = False,
    source: str | None = None,
    text: str | None = None,
    limit: int | None = None,
) -> list[PostingSummary]:
    """Stored postings, oldest first; `text` is a case-insensitive substring of title, company or a place."""
    query = _postings_query().order_by(PostingRow.id)
    if open_only:
        query = query.where(PostingRow.status == PostingStatus.OPEN.value)
    if source is not None:
        query = query.where(SourceRow.name == source)
    if text:
        query = query.where(
            or_(
                PostingRow.title.icontains(text, autoescape=True),
                PostingRow.company.icontains(text, autoescape=True),
                cast(PostingRow.locations, Text).icontains(text, autoescape=True),
            )
        )
    elif limit is not None:
        query = query.limit(limit)
    with Session(engine) as session:
        rows = session.execute(query).all()
    if text:
        # The SQL test also matches JSON keys ("remote", "city"); keep rows that match on a real value.
        rows = [row for row in rows if _mentions(row, text.casefold())]
    return [_summary(row) for row in rows[:limit]]


def _postings_query() -> Select[*tuple[Any, ...]]:
    return select(
        PostingRow.id,
        SourceRow.name.label("source"),
        PostingRow.external_id,
        PostingRow.title,
        PostingRow.company,
        PostingRow.locations,
        PostingRow.employment_type,
        PostingRow.status,
        PostingRow.first_seen_at,
        PostingRow.last_seen_at,
        SourceRow.all_seen_at,
        PostingRow.closed_at,
        PostingRow.url,
    ).join(SourceRow, SourceRow.id == PostingRow.source_id)


def _mentions(row: Row[Any], needle: str) -> bool:
    places = locations_from(row.locations)
    haystack = [row.title, row.company or ""]
    haystack += [
        part for place in places for part in (place.name, place.city, place.region, place.label()) if part
    ]
    return any(needle in value.casefold() for value in haystack)


def _summary(row: Row[Any]) -> PostingSummary:
    return PostingSummary(
        id=row.id,
        source=row.source,
        external_id=row.external_id,
        title=row.title,
        company=row.company,
        locations="; ".join(place.label() for place in locations_from(row.locations)),
        employment_type=row.employment_type,
        status=PostingStatus(row.status),
        first_seen_at=row.first_seen_at,
        last_seen_at=last_sighting(row.status, row.last_seen_at, row.all_seen_at),
        closed_at=row.closed_at,
        url=row.url,
    )


def posting_history(engine: Engine, ref: str) -> PostingHistory | None:
    """A posting with its versions and events; `ref` is its id or `source/external_id`."""
    with Session(engine) as session:
        row = session.execute(_posting_by_ref(ref)).first()
        if row is None:
            return None
        posting: PostingRow = row.PostingRow
        versions = session.execute(
            select(PostingVersionRow)
            .where(PostingVersionRow.posting_id == posting.id)
            .order_by(PostingVersionRow.id)
        ).scalars()
        history_versions = _versions(list(versions))
        events = session.execute(
            _events_query().where(EventRow.posting_id == posting.id).order_by(EventRow.id)
        )
        history_events = tuple(_event(event) for event in events)
        references = _references(session, [posting.repost_of_id, posting.duplicate_of_id])
    detail = _detail(posting, row.source, references, row.all_seen_at)
    return PostingHistory(detail, history_versions, history_events)


def _posting_by_ref(ref: str) -> Select[*tuple[Any, ...]]:
    query = select(PostingRow, SourceRow.name.label("source"), SourceRow.all_seen_at).join(
        SourceRow, SourceRow.id == PostingRow.source_id
    )
    text = ref.strip()
    if text.isdigit():
        return query.where(PostingRow.id == int(text))
    source, _, external_id = text.partition("/")
    return query.where(SourceRow.name == source, PostingRow.external_id == external_id)


def _references(session: Session, posting_ids: Sequence[int | None]) -> dict[int, str]:
    """`source/external_id` for each posting id, to show what a repost or duplicate points at."""
    wanted = [posting_id for posting_id in posting_ids if posting_id is not None]
    if not wanted:
        return {}
    query = (
        select(PostingRow.id, SourceRow.name, PostingRow.external_id)
        .join(SourceRow, SourceRow.id == PostingRow.source_id)
        .where(PostingRow.id.in_(wanted))
    )
    return {row.id: f"{row.name}/{row.external_id}" for row in session.execute(query)}


def _detail(
    posting: PostingRow, source: str, references: Mapping[int, str], all_seen_at: datetime | None
) -> PostingDetail:
    return PostingDetail(
        id=posting.id,
        source=source,
        external_id=posting.external_id,
        status=PostingStatus(posting.status),
        episode=posting.episode,
        title=posting.title,
        company=posting.company,
        department=posting.department,
        url=posting.url,
        apply_url=posting.apply_url,
        locations=locations_from(posting.locations),
        workplace=posting.workplace,
        employment_type=posting.employment_type,
        salary=salary_from(posting.salary),
        posted_at=posting.posted_at,
        deadline=posting.deadline,
        work_rights=work_rights_from(posting.work_rights),
        description_text=posting.description_text,
        description_html=posting.description_html,
        extra=dict(posting.extra),
        fingerprint=posting.fingerprint,
        misses=posting.misses,
        first_seen_at=posting.first_seen_at,
        last_seen_at=last_sighting(posting.status, posting.last_seen_at, all_seen_at),
        closed_at=posting.closed_at,
        repost_of=references.get(posting.repost_of_id) if posting.repost_of_id else None,
        duplicate_of=references.get(posting.duplicate_of_id) if posting.duplicate_of_id else None,
    )


def _versions(rows: Sequence[PostingVersionRow]) -> tuple[PostingVersion, ...]:
    """Each version with what changed since the one before (the first one changes nothing)."""
    versions = []
    previous: dict[str, str] | None = None
    for row in rows:
        values = significant_values(posting_from_snapshot(row.snapshot))
        changes = field_changes(previous, values) if previous is not None else {}
        versions.append(PostingVersion(row.id, row.crawl_id, row.recorded_at, row.fingerprint, changes))
        previous = values
    return tuple(versions)


# --- events and crawls ---------------------------------------------------------------------------


def list_events(
    engine: Engine,
    *,
    since: datetime | None = None,
    type: str | None = None,
    source: str | None = None,
    limit: int | None = None,
) -> list[Event]:
    """Events oldest first; with `limit`, the most recent `limit` of them."""
    query = _events_query()
    if since is not None:
        query = query.where(EventRow.at >= since)
    if type is not None:
        query = query.where(EventRow.type == EventType(type).value)
    if source is not None:
        query = query.where(SourceRow.name == source)
    if limit is not None:
        query = query.order_by(EventRow.id.desc()).limit(limit)
    with Session(engine) as session:
        events = [_event(row) for row in session.execute(query)]
    return sorted(events, key=lambda event: event.id or 0)


def events_after(engine: Engine, after: int) -> list[StoredAlert]:
    """Every event recorded after event id `after`, oldest first, with its posting as stored now."""
    with engine.connect() as connection:
        query = select(EventRow.id).where(EventRow.id > after).order_by(EventRow.id)
        ids = list(connection.execute(query).scalars())
        found = load_alerts(connection, ids)
    return [found[event_id] for event_id in ids if event_id in found]


def _events_query() -> Select[*tuple[Any, ...]]:
    return (
        select(
            EventRow.id,
            EventRow.type,
            SourceRow.name.label("source"),
            PostingRow.external_id,
            EventRow.title,
            EventRow.company,
            EventRow.url,
            EventRow.at,
            EventRow.episode,
            EventRow.changes,
            EventRow.repost_of,
            EventRow.duplicate_of,
        )
        .join(SourceRow, SourceRow.id == EventRow.source_id)
        .join(PostingRow, PostingRow.id == EventRow.posting_id)
    )


def _event(row: Row[Any]) -> Event:
    return Event(
        type=EventType(row.type),
        source=row.source,
        external_id=row.external_id,
        title=row.title,
        company=row.company,
        url=row.url,
        at=row.at,
        episode=row.episode,
        changes={name: (old, new) for name, (old, new) in row.changes.items()},
        repost_of=row.repost_of,
        duplicate_of=row.duplicate_of,
        id=row.id,
    )


def crawl_log(engine: Engine, source: str | None = None, limit: int = 20) -> list[CrawlSummary]:
    """The most recent crawls, newest first."""
    query = (
        select(CrawlRow, SourceRow.name.label("source"))
        .join(SourceRow, SourceRow.id == CrawlRow.source_id)
        .order_by(CrawlRow.id.desc())
        .limit(limit)
    )
    if source is not None:
        query = query.where(SourceRow.name == source)
    with Session(engine) as session:
        return [_crawl_summary(row.CrawlRow, row.source) for row in session.execute(query)]


def _crawl_summary(crawl: CrawlRow, source: str) -> CrawlSummary:
    return CrawlSummary(
        id=crawl.id,
        source=source,
        started_at=crawl.started_at,
        finished_at=crawl.finished_at,
        verdict=CrawlVerdict(crawl.verdict),
        reason=crawl.reason,
        note=crawl.note,
        unchanged=crawl.unchanged,
        counts={
            EventType.NEW.value: crawl.new_events,
            EventType.CHANGED.value: crawl.changed_events,
            EventType.CLOSED.value: crawl.closed_events,
            EventType.REOPENED.value: crawl.reopened_events,
        },
        stats=CrawlStats(
            requests=crawl.requests,
            responses=crawl.responses,
            bytes=crawl.bytes,
            pages=crawl.pages,
            items=crawl.items,
            retries=crawl.retries,
            not_modified=crawl.not_modified,
            duration_s=crawl.duration_s,
            errors=tuple(crawl.errors),
        ),
    )
