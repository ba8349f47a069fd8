"""One crawl pass through the stages: crawl the sources, record each result, hand back the records."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from crawler.run import crawl_sources
from storage.recording import AfterRecord, CrawlRecord, record_crawl, record_crawls
from storage.state import load_known_digests, load_validators

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from crawler.workers import CrawlWorkers
    from notifier.alerts import Outbox
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

    Only what the crawl itself needs (the validators and digests) is read before the batch is
    sent; storing the configuration and planning the outbox (`RecordingSetup`) wait until it is
    under way, and are done before the first result is recorded.
    """
    by_name = {source.name: source for source in sources}
    conditional = [s.name for s in sources if s.politeness.conditional_requests]
    validators = load_validators(engine, conditional)
    records: list[CrawlRecord] = []

    def recorded(crawl_record: CrawlRecord) -> None:
        if on_record is not None:
            on_record(crawl_record)
        records.append(crawl_record if keep_events else replace(crawl_record, events=()))

    setup = RecordingSetup(engine, config)
    recorder = ResultRecorder(engine, by_name, setup.after_record, recorded, ready=setup)
    known = load_known_digests(engine, list(by_name))
    crawl_sources(
        sources,
        validators=validators,
        on_result=recorder.add,
        known=known,
        workers=workers,
        on_idle=recorder.idle,
    )
    recorder.flush()
    setup()  # a batch that recorded nothing still stores the configuration
    order = {name: index for index, name in enumerate(by_name)}
    return sorted(records, key=lambda r: order[r.source])


class RecordingSetup:
    """What recording needs and crawling does not: the configuration stored (`sync_config`) and
    the outbox planner, with the notifier's imports (Jinja2, the channels). Called, once, when
    the batch has been sent (the recorder's first `idle`): a cold `rolewatch crawl` sent its
    batch 60 ms later while they came first, and the worker waited for it.
    Recording must not begin before it (`ResultRecorder` calls it first): the configuration is
    written in a transaction of its own, which a recording transaction would block on SQLite.
    """

    def __init__(self, engine: Engine, config: Config) -> None:
        self._engine, self._config = engine, config
        self._outbox: Outbox | None = None

    def __call__(self) -> None:
        if self._outbox is None:
            from notifier.sync import sync_config

            sync_config(self._engine, self._config)
            self._outbox = outbox_for(self._config)

    def after_record(self, connection: Connection, record: CrawlRecord) -> None:
        if self._outbox is None:
            raise RuntimeError("a crawl was recorded before the recording was set up")
        self._outbox.after_record(connection, record)


#: Results recorded in one transaction, at most: sources, and postings among them. Together they
#: bound how long a transaction holds SQLite's write lock (a daemon's other batches wait on it):
#: a first crawl's 5,000 postings take well under a second to record.
TOGETHER_SOURCES = 32
TOGETHER_POSTINGS = 5_000
#: How long a result may wait for others to be recorded with; a crawl result is not news to
#: anyone for a few milliseconds, and the wait caps what is left to record when the crawl ends.
TOGETHER_WITHIN_S = 0.05
#: Results carrying this many postings between them are recorded as soon as no other is waiting:
#: their own rows outweigh a transaction's fixed cost, and waiting for more would only leave the
#: recorder idle while the crawl goes on (a first crawl, where recording is the slower side).
AT_ONCE_POSTINGS = 200


class ResultRecorder:
    """Records results as they arrive, several in one transaction: on SQLite a commit (with the
    checkpoint it may bring) cost more than a board's few changed rows, and boards recorded
    together share the pages their rows land on. A result waits at most TOGETHER_WITHIN_S for
    others (results with AT_ONCE_POSTINGS postings, none): the crawl worker calls `idle` while
    no result is waiting, until it says it is done."""

    def __init__(
        self,
        engine: Engine,
        by_name: Mapping[str, ResolvedSource],
        then: AfterRecord,
        recorded: Callable[[CrawlRecord], None],
        *,
        ready: Callable[[], None] = lambda: None,
    ) -> None:
        """`ready` is called before anything is recorded, and whenever the recorder is idle: it
        must do its work once (`RecordingSetup`)."""
        self._engine, self._by_name, self._then, self._recorded = engine, by_name, then, recorded
        self._ready = ready
        self._pending: list[CrawlResult] = []
        self._postings = 0
        self._since = 0.0

    def add(self, result: CrawlResult) -> None:
        if not self._pending:
            self._since = time.monotonic()
        self._pending.append(result)
        self._postings += len(result.postings)
        if len(self._pending) >= TOGETHER_SOURCES or self._postings >= TOGETHER_POSTINGS:
            self.flush()

    def idle(self) -> float | None:
        """Nothing else has come: record what waited long enough, else say when it will have."""
        self._ready()
        if not self._pending:
            return None
        waited = time.monotonic() - self._since
        if waited < TOGETHER_WITHIN_S and self._postings < AT_ONCE_POSTINGS:
            return TOGETHER_WITHIN_S - waited
        self.flush()
        return None

    def flush(self) -> None:
        if not self._pending:
            return
        self._ready()
        pending, self._pending, self._postings = self._pending, [], 0
        crawls = [(self._by_name[result.source], result) for result in pending]
        for crawl_record in record_crawls(self._engine, crawls, then=self._then):
            self._recorded(crawl_record)


_compiled: dict[int, tuple[Config, Outbox]] = {}


def outbox_for(config: Config) -> Outbox:
    """The outbox planner of `config`, compiled once: a daemon re-crawls with the same configuration."""
    from notifier.alerts import Outbox

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
