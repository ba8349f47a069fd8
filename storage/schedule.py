"""The scheduler's memory in the database: when each source last ran and when it is next due."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Engine

from storage.models import SourceRow


@dataclass(frozen=True)
class SourceTimes:
    """A source's last recorded crawl start and the run the scheduler last planned for it."""

    last_crawl_at: datetime | None = None
    next_due_at: datetime | None = None


def load_source_times(engine: Engine, names: Sequence[str]) -> dict[str, SourceTimes]:
    """Per source name, its times; a source never stored is absent."""
    if not names:
        return {}
    query = select(SourceRow.name, SourceRow.last_crawl_at, SourceRow.next_due_at).where(
        SourceRow.name.in_(list(names))
    )
    with engine.connect() as connection:
        return {
            row.name: SourceTimes(row.last_crawl_at, row.next_due_at) for row in connection.execute(query)
        }


def save_next_due(engine: Engine, due: Mapping[str, datetime | None]) -> None:
    """Record each source's next planned run, so a restart resumes the plan rather than redrawing it."""
    if not due:
        return
    rows = [{"source_name": name, "due": at} for name, at in due.items()]
    statement = (
        update(SourceRow)
        .where(SourceRow.name == bindparam("source_name"))
        .values(next_due_at=bindparam("due"))
    )
    with engine.begin() as connection:
        connection.execute(statement, rows)
