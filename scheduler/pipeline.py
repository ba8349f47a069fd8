"""One crawl pass through the stages: crawl the sources, record each result, hand back the records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from crawler.run import crawl_sources
from notifier.alerts import Outbox
from notifier.sync import sync_config
from storage.recording import CrawlRecord, record_crawl
from storage.state import load_known_digests, load_validators

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from crawler.workers import CrawlWorkers
    from rolewatch.config import Config, ResolvedSource
    from rolewatch.domain import CrawlResult


def crawl_and_record(
    engine: Engine,
    config: Config,
    sources: Sequence[ResolvedSource],
    on_record: Callable[[CrawlRecord], None] | None = None,
    *,
    workers: CrawlWorkers | None = None,
    keep_events: bool = True,
) -> list[CrawlRecord]:
    """Crawl `sources` and record each result as it arrives, so storage overlaps the crawling.

    Each result's alerts and operator notices are written to the outbox with its events; sending
    them is the sender's job (`notifier.outbox.deliver_due`). A daemon passes its pool of warm
    crawl `workers`; without one the batch runs in a worker started for it alone. With
    `keep_events` false the records returned carry no events (`on_record` has had them whole):
    a first crawl of a thousand boards then never holds its hundreds of thousands of events at once.
    """
    sync_config(engine, config)
    outbox = outbox_for(config)
    by_name = {source.name: source for source in sources}
    conditional = [s.name for s in sources if s.politeness.conditional_requests]
    validators = load_validators(engine, conditional)
    records: list[CrawlRecord] = []

    def on_result(result: CrawlResult) -> None:
        crawl_record = record_crawl(engine, by_name[result.source], result, then=outbox.after_record)
        if on_record is not None:
            on_record(crawl_record)
        records.append(crawl_record if keep_events else replace(crawl_record, events=()))

    known = load_known_digests(engine, list(by_name))
    crawl_sources(sources, validators=validators, on_result=on_result, known=known, workers=workers)
    order = {name: index for index, name in enumerate(by_name)}
    return sorted(records, key=lambda r: order[r.source])


_compiled: dict[int, tuple[Config, Outbox]] = {}


def outbox_for(config: Config) -> Outbox:
    """The outbox planner of `config`, compiled once: a daemon re-crawls with the same configuration."""
    cached = _compiled.get(id(config))
    if cached is None or cached[0] is not config:
        _compiled.clear()
        cached = _compiled[id(config)] = (config, Outbox(config))
    return cached[1]


def record_failure(
    engine: Engine, config: Config, source: ResolvedSource, result: CrawlResult
) -> CrawlRecord:
    """Record a crawl that failed outside the crawl child (the pass itself raised) like any other:
    its trouble counts towards the operators' health notice."""
    return record_crawl(engine, source, result, then=outbox_for(config).after_record)
