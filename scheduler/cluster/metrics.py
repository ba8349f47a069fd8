"""The cluster's figures in `/metrics`: jobs by queue and status, and the workers procrastinate knows.

They are read from the database by the role's own heartbeat loop (never during a scrape, which
must not wait on the database in the event loop) and rendered from the last reading.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from scheduler.metrics import CrawlObserver
from storage.cluster import QueueFigures

_STATUSES = ("todo", "doing", "failed", "aborted", "cancelled")


class ClusterObserver(CrawlObserver):
    """The crawl counters of this process, plus the queue as last read."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: QueueFigures | None = None

    def collect(self) -> Iterable[Metric]:
        yield from super().collect()
        figures = self.queue
        if figures is None:
            return
        jobs = GaugeMetricFamily(
            "rolewatch_jobs",
            "procrastinate jobs by queue and status (succeeded jobs are deleted).",
            labels=["queue", "status"],
        )
        queues = {queue for queue, _ in figures.jobs} | {"crawl", "deliver"}
        for queue in sorted(queues):
            for status in _STATUSES:
                jobs.add_metric([queue, status], figures.jobs.get((queue, status), 0))
        yield jobs
        yield GaugeMetricFamily(
            "rolewatch_workers", "Workers registered with the queue.", value=len(figures.workers)
        )
