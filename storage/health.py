"""Each source's run of troubled crawls, and the two moments operators hear of: failing and recovered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from rolewatch.domain import CrawlVerdict
from storage.models import SourceRow

TROUBLED = (CrawlVerdict.FAILED, CrawlVerdict.SUSPECT)


@dataclass(frozen=True)
class HealthTurn:
    """A source crossed into trouble (`failing`) or out of it; at most one of each per run of crawls."""

    source: str
    failing: bool
    crawls: int
    reason: str
    since: datetime


def note_crawl_health(
    connection: Connection, source: str, verdict: CrawlVerdict, reason: str, at: datetime, threshold: int
) -> HealthTurn | None:
    """Count the source's consecutive troubled crawls; edge-triggered, so never one message per crawl."""
    row = connection.execute(_STREAK_QUERY, {"name": source}).one_or_none()
    if row is None:
        return None
    if verdict in TROUBLED:
        streak, since = row.trouble_streak + 1, row.trouble_since or at
        turn = None
        reported = row.trouble_reported
        if streak >= threshold and not reported:
            turn, reported = HealthTurn(source, True, streak, reason, since), True
        values = {"trouble_streak": streak, "trouble_since": since, "trouble_reported": reported}
    else:
        if not (row.trouble_streak or row.trouble_since or row.trouble_reported):
            return None  # healthy and was healthy: nothing to write
        turn = None
        if row.trouble_reported:
            turn = HealthTurn(source, False, row.trouble_streak, reason, row.trouble_since or at)
        values = {"trouble_streak": 0, "trouble_since": None, "trouble_reported": False}
    connection.execute(update(SourceRow).where(SourceRow.id == row.id).values(**values))
    return turn


#: Built once, not once per crawl: building a statement cost more than running it.
_STREAK_QUERY = select(
    SourceRow.id, SourceRow.trouble_streak, SourceRow.trouble_since, SourceRow.trouble_reported
).where(SourceRow.name == bindparam("name"))
