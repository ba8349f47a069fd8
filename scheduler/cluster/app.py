"""rolewatch's procrastinate app: the connector on the `procrastinate` schema, the queues and the two tasks.

A crawl job names one source. It is deferred with two locks: a queueing lock per source (a source
with a job waiting is never queued twice) and the lock of one of its host's lanes (procrastinate
starts no job whose lock a running job holds, so each lane runs one crawl at a time across the whole
cluster, and a worker never picks a job only to wait for its host).

A host has `concurrency_per_host` lanes when its `delay` is 0: that many crawls of it run at once
across the cluster, each with one request in flight, so the host never has more than
`concurrency_per_host` requests in flight. With a delay it has one lane: one crawl at a time, with
the crawl's own `concurrency_per_host` and `delay` inside it, and the next crawl starting `delay`
after the last one ended (`scheduler.cluster.jobs`). A job goes to the lane with the fewest jobs
waiting or running.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from procrastinate import App, JobContext, PsycopgConnector, RetryStrategy
from sqlalchemy.engine import URL, make_url

from scheduler.lanes import host_key
from storage.cluster import SCHEMA, lane_loads

if TYPE_CHECKING:
    from procrastinate.jobs import JobDeferrer
    from sqlalchemy.engine import Engine

    from rolewatch.config import ResolvedSource

CRAWL_QUEUE = "crawl"
DELIVER_QUEUE = "deliver"
QUEUES = (CRAWL_QUEUE, DELIVER_QUEUE)
CRAWL_TASK = "rolewatch.crawl"
DELIVER_TASK = "rolewatch.deliver"
#: A source's queueing lock is this plus its name; a host lane's job lock is HOST_LOCK, the host's key,
#: `#` and the lane's number.
SOURCE_LOCK = "crawl:"
HOST_LOCK = "host:"
DELIVER_LOCK = "deliver"
#: A crawl job runs at most this many times more after a failure (the database, say); its last run
#: records the crawl as failed instead of raising, as the local engine does.
CRAWL_RETRIES = 2
#: Seconds between a failed run and its retry.
RETRY_WAIT_S = 5
#: Key of the worker's runtime in a job's context.
RUNTIME = "rolewatch"


class JobRuntime(Protocol):
    """What a worker lends its jobs: the blocking work runs there, in the worker's own threads."""

    async def crawl(self, context: JobContext, source: str, due_at: str | None) -> dict[str, Any]: ...

    async def deliver(self) -> dict[str, Any]: ...


def conninfo(url: str | URL) -> str:
    """The libpq URI of a SQLAlchemy URL (`postgresql+psycopg://…` → `postgresql://…`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def cluster_app(url: str | URL, *, application_name: str = "rolewatch", max_size: int = 10) -> App:
    """An app (not yet opened) on `url`'s database, with rolewatch's tasks registered.

    Every connection has the `procrastinate` schema on its `search_path`, where migration 0007 put
    procrastinate's tables and functions. The pool checks a connection before lending it, so a
    connection the server dropped is replaced rather than failing a job.
    """
    connector = PsycopgConnector(
        conninfo=conninfo(url),
        kwargs={"options": f"-c search_path={SCHEMA}", "application_name": application_name},
        min_size=1,
        max_size=max_size,
    )
    app = App(connector=connector)
    app.task(
        name=CRAWL_TASK,
        queue=CRAWL_QUEUE,
        pass_context=True,
        retry=RetryStrategy(max_attempts=CRAWL_RETRIES, wait=RETRY_WAIT_S),
    )(_crawl)
    app.task(name=DELIVER_TASK, queue=DELIVER_QUEUE, pass_context=True, queueing_lock=DELIVER_LOCK)(_deliver)
    return app


def host_lanes(source: ResolvedSource) -> int:
    """Crawls of the source's host that may run at once across the cluster (see the module's doc)."""
    politeness = source.politeness
    return politeness.concurrency_per_host if not politeness.delay else 1


def crawl_lock(engine: Engine, source: ResolvedSource) -> str:
    """The job lock of the host lane a new crawl job of `source` goes to: the least busy one."""
    prefix = f"{HOST_LOCK}{host_key(source)}#"
    lanes = [prefix + str(lane) for lane in range(host_lanes(source))]
    if len(lanes) == 1:
        return lanes[0]
    loads = lane_loads(engine, prefix)
    return min(lanes, key=lambda lock: loads.get(lock, 0))


def crawl_deferrer(app: App, source: str, lock: str) -> JobDeferrer:
    """Defers a crawl job of `source` on the host lane `lock` (from `crawl_lock`)."""
    return app.configure_task(CRAWL_TASK, lock=lock, queueing_lock=SOURCE_LOCK + source)


def deliver_deferrer(app: App) -> JobDeferrer:
    return app.configure_task(DELIVER_TASK, queueing_lock=DELIVER_LOCK)


def due_text(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


async def _crawl(context: JobContext, source: str, due_at: str | None = None) -> dict[str, Any]:
    runtime: JobRuntime = context.additional_context[RUNTIME]
    return await runtime.crawl(context, source, due_at)


async def _deliver(context: JobContext) -> dict[str, Any]:
    runtime: JobRuntime = context.additional_context[RUNTIME]
    return await runtime.deliver()
