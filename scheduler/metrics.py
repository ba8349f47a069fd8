"""Prometheus metrics of one daemon: crawl counters it keeps itself, the rest read at each scrape.

Nothing is registered globally: every scrape renders a fresh, private `CollectorRegistry` holding
the daemon's `CrawlObserver` and a `StatusCollector` over one `MetricsSnapshot`. Crawls are counted
by the process that ran them: a standby reports none, a restart starts from zero (which `rate()`
and `increase()` expect), and daily maintenance deleting old crawl rows cannot make a counter go
backwards. The database figures come from the database, so the active instance and a standby
report the same.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)

from rolewatch import __version__
from rolewatch.domain import CrawlVerdict
from storage.stats import DatabaseFigures

#: The classic text format, which every Prometheus version reads; every name here is plain ASCII, so
#: `generate_latest` writes exactly that (recent clients label it `version=1.0.0`, unknown to older servers).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: From a board answering at once (a 304 in a fresh crawl child, ~1.5 s) to the 5-minute default time-out.
CRAWL_DURATION_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


class CrawlObserver:
    """The daemon's own crawl counters; it calls `observe_crawl` once per recorded crawl.

    Kept by hand rather than with `prometheus_client.Counter` so that no `_created` series (a
    process-global switch) doubles the output. Thread-safe: a crawl may be reported from any thread.
    """

    def __init__(self, buckets: Sequence[float] = CRAWL_DURATION_BUCKETS) -> None:
        self._bounds = tuple(sorted(buckets))
        self._lock = threading.Lock()
        self._crawls: dict[tuple[str, str], int] = {}
        #: Per source: how many crawls fell in each bucket (the last one is +Inf), and their total time.
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}

    def observe_crawl(self, source: str, verdict: str, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        with self._lock:
            if source not in self._buckets:
                # Every verdict from the first crawl on, so `increase(...{verdict="failed"})` has a start.
                self._crawls.update({(source, str(known)): 0 for known in CrawlVerdict})
                self._buckets[source] = [0] * (len(self._bounds) + 1)
                self._sums[source] = 0.0
            self._crawls[source, verdict] = self._crawls.get((source, verdict), 0) + 1
            self._buckets[source][bisect.bisect_left(self._bounds, seconds)] += 1
            self._sums[source] += seconds

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            crawls = sorted(self._crawls.items())
            histograms = sorted(
                (source, list(counts), self._sums[source]) for source, counts in self._buckets.items()
            )
        family = CounterMetricFamily(
            "rolewatch_crawls",
            "Crawls run by this process, by source and verdict.",
            labels=["source", "verdict"],
        )
        for (source, verdict), count in crawls:
            family.add_metric([source, verdict], count)
        yield family
        durations = HistogramMetricFamily(
            "rolewatch_crawl_duration_seconds",
            "Wall-clock time of each crawl run by this process, end to end, by source.",
            labels=["source"],
        )
        bounds = [*(str(float(bound)) for bound in self._bounds), "+Inf"]
        for source, counts, total in histograms:
            cumulative = list(itertools.accumulate(counts))
            durations.add_metric([source], list(zip(bounds, cumulative, strict=True)), total)
        yield durations


@dataclass(frozen=True)
class MetricsSnapshot:
    """What one scrape reports besides the crawl counters; `figures` is None when the database failed."""

    scheduler_up: bool
    scheduler_active: bool
    overdue: Sequence[str]
    figures: DatabaseFigures | None
    version: str = field(default=__version__)


class StatusCollector:
    """Renders one `MetricsSnapshot` as metric families; built per scrape, so it holds no state."""

    def __init__(self, snapshot: MetricsSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        snapshot = self.snapshot
        yield InfoMetricFamily(
            "rolewatch_build", "The running rolewatch.", value={"version": snapshot.version}
        )
        yield _gauge("rolewatch_scheduler_up", "1 while the scheduler loop is alive.", snapshot.scheduler_up)
        yield _gauge(
            "rolewatch_scheduler_active",
            "1 when this instance holds the scheduler lock, 0 on a standby.",
            snapshot.scheduler_active,
        )
        yield _gauge(
            "rolewatch_overdue_sources",
            "Sources whose next crawl is late beyond the grace (see /healthz for their names).",
            len(snapshot.overdue),
        )
        yield _gauge(
            "rolewatch_database_up", "1 when the database answered this scrape.", snapshot.figures is not None
        )
        if snapshot.figures is not None:
            yield from _database_metrics(snapshot.figures)


def _database_metrics(figures: DatabaseFigures) -> Iterable[Metric]:
    open_postings = GaugeMetricFamily(
        "rolewatch_open_postings", "Open postings in the database, by source.", labels=["source"]
    )
    for source, count in sorted(figures.open_postings.items()):
        open_postings.add_metric([source], count)
    yield open_postings
    events = CounterMetricFamily(
        "rolewatch_events", "Events recorded in the database, by type.", labels=["type"]
    )
    for event_type, count in sorted(figures.events.items()):
        events.add_metric([event_type], count)
    yield events
    deliveries = GaugeMetricFamily(
        "rolewatch_deliveries", "Outbox rows by status (pending, sent, dead).", labels=["status"]
    )
    for status, count in sorted(figures.deliveries.items()):
        deliveries.add_metric([status], count)
    yield deliveries
    yield _gauge("rolewatch_outbox_depth", "Messages still owed: pending outbox rows.", figures.outbox_depth)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def exposition(snapshot: MetricsSnapshot, observer: CrawlObserver | None = None) -> bytes:
    """The Prometheus text exposition of one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(snapshot))
    if observer is not None:
        registry.register(observer)
    return generate_latest(registry)
