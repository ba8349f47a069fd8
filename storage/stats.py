"""Whole-database figures for `/metrics`: a few GROUP BY counts, never a walk over rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import and_, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import InstrumentedAttribute

from rolewatch.domain import EventType, PostingStatus
from storage.models import EventRow, OutboxRow, PostingRow, SourceRow
from storage.outbox import FEED

#: Outbox states a row can be in; reported even when no row is in them, so a rate never starts from nothing.
OUTBOX_STATUSES = ("pending", "sent", "dead", "cancelled")
#: A scrape must never leave a query running on the server after its answer is given up on.
STATEMENT_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class DatabaseFigures:
    """What the database holds right now, the same whichever instance (active or standby) reads it."""

    #: Open postings per source name; every known source is present, with 0 when none is open.
    open_postings: Mapping[str, int]
    #: Events ever recorded per type; every event type is present.
    events: Mapping[str, int]
    #: Outbox rows per status (`pending`, `sent`, `dead`, `cancelled`, and any other status found).
    deliveries: Mapping[str, int]

    @property
    def outbox_depth(self) -> int:
        """Messages still owed: pending rows, whether due now or waiting for a retry."""
        return self.deliveries.get("pending", 0)


def database_figures(engine: Engine) -> DatabaseFigures:
    """Every figure, read over one connection with a bounded statement time."""
    with engine.connect() as connection:
        _limit_statement_time(connection)
        # A `feed` row (the alert of a subscription with no channel) is never a delivery.
        deliveries = _counts(connection, OutboxRow.status, dict.fromkeys(OUTBOX_STATUSES, 0))
        return DatabaseFigures(
            open_postings=_open_postings(connection),
            events=_counts(connection, EventRow.type, dict.fromkeys(EventType, 0)),
            deliveries={key: count for key, count in deliveries.items() if key != FEED},
        )


def check_database(engine: Engine) -> None:
    """Raise unless the database answers a query on rolewatch's own schema (not only `SELECT 1`)."""
    with engine.connect() as connection:
        _limit_statement_time(connection)
        connection.execute(select(SourceRow.id).limit(1)).all()


def _limit_statement_time(connection: Connection) -> None:
    # SQLite has no server to leave work on; its busy timeout already bounds a wait for a lock.
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))


def _open_postings(connection: Connection) -> dict[str, int]:
    # Served by the (source_id, status) index: one index range per source.
    query = (
        select(SourceRow.name, func.count(PostingRow.id))
        .outerjoin(
            PostingRow,
            and_(PostingRow.source_id == SourceRow.id, PostingRow.status == PostingStatus.OPEN.value),
        )
        .group_by(SourceRow.name)
    )
    return {name: count for name, count in connection.execute(query)}


def _counts(
    connection: Connection, column: InstrumentedAttribute[str], known: Mapping[str, int]
) -> dict[str, int]:
    counts = {str(key): value for key, value in known.items()}
    for key, count in connection.execute(select(column, func.count()).group_by(column)):
        counts[str(key)] = count
    return counts
