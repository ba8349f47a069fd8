"""The cluster's rows beside procrastinate's queue (PostgreSQL, schema `procrastinate`, migration 0007):
which job recorded which crawl, when each host may next be asked, and what `status` shows of the queue.

A crawl job can run more than once: its worker may die after the crawl was recorded but before the
job was marked done, or a worker thought stalled may still be finishing while the job is retried
elsewhere. The ledger (`crawl_jobs`, keyed by the job's id and written in the crawl's own recording
transaction) makes the second run see the first one's record, and makes a twin's record fail whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, Table, Text, delete, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

#: The PostgreSQL schema holding procrastinate's tables and the cluster's own.
SCHEMA = "procrastinate"

_metadata = MetaData(schema=SCHEMA)
crawl_jobs = Table(
    "crawl_jobs",
    _metadata,
    Column("job_id", BigInteger, primary_key=True),
    Column("crawl_id", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
host_turns = Table(
    "host_turns",
    _metadata,
    Column("host", Text, primary_key=True),
    Column("free_at", DateTime(timezone=True), nullable=False),
)


# --- the crawl-job ledger ---------------------------------------------------------------------------


def crawl_of_job(engine: Engine, job_id: int) -> int | None:
    """The crawl a job already recorded, if any: a retried job then has nothing left to do."""
    with engine.connect() as connection:
        found = connection.execute(select(crawl_jobs.c.crawl_id).where(crawl_jobs.c.job_id == job_id))
        return found.scalar_one_or_none()


def note_job_crawl(connection: Connection, job_id: int, crawl_id: int, source: str, at: datetime) -> None:
    """Inside the recording transaction: a second record for the same job violates the key, and rolls
    its whole crawl (events, outbox rows) back with it."""
    connection.execute(
        crawl_jobs.insert().values(job_id=job_id, crawl_id=crawl_id, source=source, recorded_at=at)
    )


def forget_jobs_before(engine: Engine, cutoff: datetime) -> int:
    """Ledger rows of jobs recorded before `cutoff` (long finished) are deleted by maintenance."""
    with engine.begin() as connection:
        return connection.execute(delete(crawl_jobs).where(crawl_jobs.c.recorded_at < cutoff)).rowcount


# --- host turns -------------------------------------------------------------------------------------


def host_free_at(engine: Engine, host: str) -> datetime | None:
    """When the host's politeness delay after its last crawl runs out (None: never crawled)."""
    with engine.connect() as connection:
        found = connection.execute(select(host_turns.c.free_at).where(host_turns.c.host == host))
        return found.scalar_one_or_none()


def release_host(engine: Engine, host: str, free_at: datetime) -> None:
    statement = postgresql.insert(host_turns).values(host=host, free_at=free_at)
    statement = statement.on_conflict_do_update(
        index_elements=[host_turns.c.host], set_={"free_at": statement.excluded.free_at}
    )
    with engine.begin() as connection:
        connection.execute(statement)


# --- the queue, as the scheduler and `status` see it ------------------------------------------------


def busy_queueing_locks(engine: Engine, prefix: str) -> set[str]:
    """Queueing locks (starting with `prefix`) of jobs waiting or running: those sources are not due again."""
    query = text(
        f"SELECT DISTINCT queueing_lock FROM {SCHEMA}.procrastinate_jobs "
        "WHERE status IN ('todo', 'doing') AND queueing_lock LIKE :prefix"
    )
    with engine.connect() as connection:
        return {row[0] for row in connection.execute(query, {"prefix": prefix})}


def lane_loads(engine: Engine, prefix: str) -> dict[str, int]:
    """Jobs waiting or running on each host lane whose lock starts with `prefix` (idle lanes left out)."""
    query = text(
        f"SELECT lock, count(*) FROM {SCHEMA}.procrastinate_jobs "
        "WHERE status IN ('todo', 'doing') AND left(lock, length(:prefix)) = :prefix GROUP BY lock"
    )
    with engine.connect() as connection:
        return {row[0]: int(row[1]) for row in connection.execute(query, {"prefix": prefix})}


@dataclass(frozen=True)
class ClusterWorker:
    """One worker process registered with procrastinate, and the jobs it is running."""

    id: int
    last_heartbeat: datetime
    running: Sequence[str] = ()


@dataclass(frozen=True)
class QueueFigures:
    """Jobs by queue and status, and the registered workers."""

    jobs: Mapping[tuple[str, str], int] = field(default_factory=dict)
    workers: Sequence[ClusterWorker] = ()


def queue_figures(engine: Engine) -> QueueFigures:
    """What `status` and `/metrics` show of the cluster: one query for the jobs, one for the workers."""
    # Workers delete a job once it succeeds, so the table holds only what waits, runs or failed.
    jobs_query = text(
        f"SELECT queue_name, status::text, count(*) FROM {SCHEMA}.procrastinate_jobs GROUP BY 1, 2"
    )
    workers_query = text(
        f"SELECT w.id, w.last_heartbeat, array_remove(array_agg(j.queueing_lock ORDER BY j.id), NULL) "
        f"FROM {SCHEMA}.procrastinate_workers w LEFT JOIN {SCHEMA}.procrastinate_jobs j "
        "ON j.worker_id = w.id AND j.status = 'doing' GROUP BY w.id, w.last_heartbeat ORDER BY w.id"
    )
    with engine.connect() as connection:
        jobs = {(queue, status): count for queue, status, count in connection.execute(jobs_query)}
        workers = [
            ClusterWorker(worker_id, heartbeat, tuple(running or ()))
            for worker_id, heartbeat, running in connection.execute(workers_query)
        ]
    return QueueFigures(jobs, workers)
