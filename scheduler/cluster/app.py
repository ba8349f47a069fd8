"""rolewatch's procrastinate app: the connector on the `procrastinate` schema, the queues and the two tasks.

A crawl job names one source. It is deferred with two locks: a queueing lock per source (a source
with a job waiting is never queued twice) and a job lock per host (procrastinate starts no job whose
lock a running job holds, so one crawl runs per host across the whole cluster, and the host's
`concurrency_per_host` and `delay` hold across every worker, as they do within one crawl).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from procrastinate import App, JobContext, PsycopgConnector, RetryStrategy
from sqlalchemy.engine import URL, make_url

from storage.cluster import SCHEMA

if TYPE_CHECKING:
    from procrastinate.jobs import JobDeferrer

CRAWL_QUEUE = "crawl"
DELIVER_QUEUE = "deliver"
QUEUES = (CRAWL_QUEUE, DELIVER_QUEUE)
CRAWL_TASK = "rolewatch.crawl"
DELIVER_TASK = "rolewatch.deliver"
#: A source's queueing lock is this plus its name; a host's job lock is HOST_LOCK plus its key.
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


def crawl_deferrer(app: App, source: str, host: str) -> JobDeferrer:
    return app.configure_task(CRAWL_TASK, lock=HOST_LOCK + host, queueing_lock=SOURCE_LOCK + source)


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
