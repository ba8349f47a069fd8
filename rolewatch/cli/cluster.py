"""What `rolewatch status` adds with `engine: procrastinate`: the workers and the queue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from rolewatch.output import render

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from rolewatch.config import Config


def show_cluster(config: Config, engine: Engine, fmt: str) -> None:
    """The queue (jobs by queue and status), each worker's heartbeat and running crawls; tables only."""
    if config.engine != "procrastinate" or fmt != "table":
        return
    from storage.cluster import queue_figures

    figures = queue_figures(engine)
    now = datetime.now(UTC)
    queue = ", ".join(f"{queue} {status}: {count}" for (queue, status), count in sorted(figures.jobs.items()))
    click.echo(f"Queue: {queue or 'empty'}.")
    rows = [
        {
            "worker": worker.id,
            "heartbeat": f"{(now - worker.last_heartbeat).total_seconds():.0f}s ago",
            "running": ", ".join(lock.removeprefix("crawl:") for lock in worker.running) or "-",
        }
        for worker in figures.workers
    ]
    if rows:
        render(rows, ["worker", "heartbeat", "running"], fmt)
    else:
        click.echo("Workers: none (start them with `rolewatch worker`).")
