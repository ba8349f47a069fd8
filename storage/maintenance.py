"""Daily upkeep: forget old crawl-log rows that nothing refers to, then let the database tidy itself."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, delete, exists, func, select
from sqlalchemy.engine import Engine

from storage.database import chunks
from storage.models import CrawlRow, EventRow, PostingVersionRow

#: Crawl rows deleted per statement, so a first run on a large log never holds the write lock for long.
DELETE_CHUNK = 5_000


@dataclass(frozen=True)
class MaintenanceReport:
    """What one maintenance run did."""

    crawls_deleted: int
    vacuumed: bool
    analyzed: bool
    duration_s: float


def run_maintenance(engine: Engine, retention: timedelta, now: datetime) -> MaintenanceReport:
    """Delete crawls that finished more than `retention` before `now`, then VACUUM (SQLite) and ANALYZE.

    A crawl that a posting version or an event points to is history, not log, and stays; so does
    each source's latest crawl, which says how the source is doing now.
    """
    started = time.monotonic()
    deleted = _delete_old_crawls(engine, now - retention)
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if sqlite:
            connection.exec_driver_sql("VACUUM")
        connection.exec_driver_sql("ANALYZE")
    return MaintenanceReport(deleted, sqlite, True, round(time.monotonic() - started, 3))


def _delete_old_crawls(engine: Engine, cutoff: datetime) -> int:
    with engine.connect() as connection:
        ids = list(connection.scalars(_unreferenced_old_crawls(engine.dialect.name, cutoff)))
    if not ids:
        return 0
    if engine.dialect.name == "sqlite":
        return _delete_on_sqlite(engine, ids)
    deleted = 0
    for chunk in chunks(ids, DELETE_CHUNK):
        with engine.begin() as connection:
            deleted += connection.execute(delete(CrawlRow).where(CrawlRow.id.in_(chunk))).rowcount
    return deleted


def _unreferenced_old_crawls(dialect: str, cutoff: datetime) -> Select[int]:
    """Old crawls that no event or version points to, leaving out each source's latest.

    Neither backend indexes `posting_versions.crawl_id`. SQLite runs a correlated NOT EXISTS as a
    scan per crawl but builds `NOT IN (subquery)` once; PostgreSQL turns NOT EXISTS into a hash
    anti-join but NOT IN into a per-row subplan once the ids outgrow `work_mem`.
    """
    latest = select(func.max(CrawlRow.id)).group_by(CrawlRow.source_id)
    unreferenced: list[ColumnElement[bool]]
    if dialect == "sqlite":
        unreferenced = [
            CrawlRow.id.not_in(select(EventRow.crawl_id)),
            CrawlRow.id.not_in(select(PostingVersionRow.crawl_id)),
        ]
    else:
        unreferenced = [
            ~exists().where(EventRow.crawl_id == CrawlRow.id),
            ~exists().where(PostingVersionRow.crawl_id == CrawlRow.id),
        ]
    return (
        select(CrawlRow.id)
        .where(CrawlRow.finished_at < cutoff, CrawlRow.id.not_in(latest), *unreferenced)
        .order_by(CrawlRow.id)
    )


def _delete_on_sqlite(engine: Engine, ids: list[int]) -> int:
    """Without an index on `posting_versions.crawl_id`, SQLite's foreign-key check scans that table once per
    deleted crawl; the rows were just found unreferenced (and new versions only ever point at new crawls),
    so the check is switched off for this one connection while it deletes.
    """
    deleted = 0
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            for chunk in chunks(ids, DELETE_CHUNK):
                deleted += connection.execute(delete(CrawlRow).where(CrawlRow.id.in_(chunk))).rowcount
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
    return deleted
