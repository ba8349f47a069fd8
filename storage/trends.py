"""Figures over time for the dashboard's charts: events per day, open postings per day, time to close.

Each is one grouped query over an index range bounded by the chart's window, so a chart costs
what its window holds, not what the database holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, case, cast, func, select
from sqlalchemy.engine import Connection, Engine

from rolewatch.domain import EventType, PostingStatus
from storage.models import EventRow, PostingRow

#: Time-to-close buckets in days: the lower bound of each (the last is open-ended).
CLOSE_BUCKETS = (0, 1, 3, 7, 14, 30, 60, 90)


@dataclass(frozen=True)
class DailyCounts:
    """Per UTC day of the window, oldest first: new (and reopened), closed, and open at the day's end."""

    days: tuple[date, ...]
    opened: tuple[int, ...]
    closed: tuple[int, ...]
    open_at_end: tuple[int, ...]


@dataclass(frozen=True)
class CloseTimes:
    """How long postings closed within the window had been seen open, in `CLOSE_BUCKETS`."""

    buckets: tuple[int, ...]
    counts: tuple[int, ...]


def daily_counts(engine: Engine, now: datetime, days: int, company: str | None = None) -> DailyCounts:
    """New and closed per day over the last `days` days; open postings at each day's end worked back
    from the open count now (for one company, from its open postings now)."""
    start = (now - timedelta(days=days - 1)).date()
    window = tuple(start + timedelta(days=n) for n in range(days))
    with engine.connect() as connection:
        per_day = _events_per_day(connection, _start_of(start, now), company)
        open_now = _open_now(connection, company)
    opened = tuple(per_day.get((day, "opened"), 0) for day in window)
    closed = tuple(per_day.get((day, "closed"), 0) for day in window)
    open_at_end = []
    running = open_now
    for index in range(days - 1, -1, -1):
        open_at_end.append(running)
        running -= opened[index] - closed[index]
    return DailyCounts(window, opened, closed, tuple(reversed(open_at_end)))


def _start_of(day: date, now: datetime) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=now.tzinfo)


def _day(connection: Connection, column: Any) -> Any:
    """The UTC calendar day of a timestamp, as each backend spells it."""
    if connection.dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.substr(column, 1, 10)


#: Which side of the chart each counted event type is on (changes are not counted).
SIDES = {EventType.NEW.value: "opened", EventType.REOPENED.value: "opened", EventType.CLOSED.value: "closed"}


def _events_per_day(
    connection: Connection, since: datetime, company: str | None
) -> dict[tuple[date, str], int]:
    """One grouped query per event type, each read from the (type, at, id) or (company, at, id) index
    alone, rather than one over every event of the window and its rows."""
    day = _day(connection, EventRow.at)
    counts: dict[tuple[date, str], int] = {}
    for kind, side in SIDES.items():
        query = select(day, func.count()).where(EventRow.type == kind, EventRow.at >= since)
        if company is not None:
            query = query.where(EventRow.company == company)
        for value, count in connection.execute(query.group_by(day)):
            when = value if isinstance(value, date) else date.fromisoformat(str(value))
            counts[when, side] = counts.get((when, side), 0) + int(count)
    return counts


def _open_now(connection: Connection, company: str | None) -> int:
    query = select(func.count()).where(PostingRow.status == PostingStatus.OPEN.value)
    if company is not None:
        query = query.where(PostingRow.company == company)
    return int(connection.execute(query).scalar_one())


def close_times(engine: Engine, now: datetime, days: int, company: str | None = None) -> CloseTimes:
    """Postings closed in the last `days` days by how long they had been known (first seen → closed),
    counted per bucket by the database: eight rows come back, not one per closed posting."""
    with engine.connect() as connection:
        open_days = _days_between(connection, PostingRow.first_seen_at, PostingRow.closed_at)
        bucket = case(
            *((open_days >= floor, index) for index, floor in reversed(list(enumerate(CLOSE_BUCKETS)))),
            else_=0,
        )
        query = select(bucket, func.count()).where(PostingRow.closed_at >= now - timedelta(days=days))
        if company is not None:
            query = query.where(PostingRow.company == company)
        counts = [0] * len(CLOSE_BUCKETS)
        for index, count in connection.execute(query.group_by(bucket)):
            counts[int(index)] += int(count)
    return CloseTimes(CLOSE_BUCKETS, tuple(counts))


def _days_between(connection: Connection, start: Any, end: Any) -> Any:
    """Days from `start` to `end` as a number, as each backend spells it."""
    if connection.dialect.name == "postgresql":
        return func.extract("epoch", end - start) / 86400
    return func.julianday(end) - func.julianday(start)


def as_mapping(counts: DailyCounts) -> Mapping[str, Any]:
    """The figures as plain JSON-friendly data (the charts page offers them beside the SVG)."""
    return {
        "days": [day.isoformat() for day in counts.days],
        "opened": list(counts.opened),
        "closed": list(counts.closed),
        "open": list(counts.open_at_end),
    }
