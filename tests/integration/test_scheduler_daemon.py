"""The scheduler in process on a real database, with the crawl stubbed: runs, restarts, reloads and stops.

The crawl itself (a child process per batch) is exercised end to end by tests/acceptance/test_daemon.py;
here `crawl_and_record` is replaced by one that records a synthetic complete crawl at once, so the
scheduling logic can be timed to the second on both backends.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

import scheduler.active
from notifier.outbox import DeliveryReport
from rolewatch.config import Config
from rolewatch.domain import CrawlResult, CrawlStats, CrawlVerdict
from rolewatch.resolve import parse_config
from scheduler.daemon import Daemon
from storage.models import CrawlRow, EventRow, SourceRow
from storage.recording import CrawlRecord, record_crawl
from storage.schedule import load_source_times, save_next_due
from storage.sync import sync_sources
from tests.integration.storage_factory import posting


def configuration(names: Sequence[str], every: str = "1s", host: str | None = None, **daemon: str) -> Config:
    sources = "".join(
        f"  - {{name: {name}, type: greenhouse, board: {name}, base_url: 'http://{host or name}.invalid'}}\n"
        for name in names
    )
    settings = ", ".join(f"{key}: {value}" for key, value in {"grace": "2s", **daemon}.items())
    return parse_config(
        f"defaults: {{interval: {every}, jitter: 0%}}\ndaemon: {{{settings}}}\nsources:\n{sources}"
    )


class StubCrawl:
    """Records a complete crawl of one posting per source, at once (or after `hold` is released)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.crawled: list[tuple[str, datetime]] = []
        self.batches: list[list[str]] = []
        self.hold: threading.Event | None = None
        self.idle = threading.Event()
        self.idle.set()

    def __call__(
        self,
        engine: Engine,
        config: Config,
        sources: Sequence[Any],
        on_record: Callable[[CrawlRecord], None] | None = None,
        *,
        workers: object = None,
        keep_events: bool = True,
    ) -> list[CrawlRecord]:
        self.idle.clear()
        try:
            return self._crawl(engine, sources, on_record)
        finally:
            self.idle.set()

    def _crawl(
        self, engine: Engine, sources: Sequence[Any], on_record: Callable[[CrawlRecord], None] | None
    ) -> list[CrawlRecord]:
        self.batches.append([source.name for source in sources])
        if self.hold is not None:
            self.hold.wait(30)
        records = []
        for source in sources:
            started = datetime.now(UTC)
            self.crawled.append((source.name, started))
            result = CrawlResult(
                source.name,
                CrawlVerdict.COMPLETE,
                started,
                started + timedelta(milliseconds=5),
                postings=(posting(1, source=source.name),),
                stats=CrawlStats(requests=1, responses=1, items=1, duration_s=0.005),
            )
            records.append(record_crawl(engine, source, result))
            if on_record is not None:
                on_record(records[-1])
        return records

    def runs(self, name: str) -> list[datetime]:
        return [at for source, at in self.crawled if source == name]


@pytest.fixture
def stub(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> StubCrawl:
    crawl = StubCrawl(engine)
    monkeypatch.setattr(scheduler.active, "crawl_and_record", crawl)
    return crawl


@pytest.fixture
def deliveries(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    rounds: list[datetime] = []

    def deliver_due(engine: Engine, config: Config, **kwargs: Any) -> DeliveryReport:
        rounds.append(datetime.now(UTC))
        return DeliveryReport()

    monkeypatch.setattr("notifier.outbox.deliver_due", deliver_due)
    return rounds


def run_daemon(daemon: Daemon, scenario: Callable[[Daemon], Awaitable[Any]]) -> Any:
    """Run the daemon while `scenario` drives it; stop it afterwards and hand back what scenario returned."""

    async def main() -> Any:
        running = asyncio.create_task(daemon.run())
        try:
            return await scenario(daemon)
        finally:
            daemon.request_stop("test over")
            await asyncio.wait_for(running, 30)

    return asyncio.run(main())


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


def daemon_for(engine: Engine, config: Config, reload: Callable[[], Config] | None = None) -> Daemon:
    return Daemon(
        config.model_copy(update={"database": str(engine.url)}),
        engine,
        reload_config=reload or (lambda: config),
    )


def test_each_source_runs_on_its_interval_and_its_next_run_is_remembered(
    engine: Engine, stub: StubCrawl, deliveries: list[datetime]
) -> None:
    daemon = daemon_for(engine, configuration(["alpha", "beta"], deliver_every="1s"))

    async def scenario(daemon: Daemon) -> None:
        await until(lambda: len(stub.runs("alpha")) >= 3 and len(stub.runs("beta")) >= 3)
        state = daemon.state
        assert state.active and not state.stopping
        assert datetime.now(UTC) - state.heartbeat_at < timedelta(seconds=5)
        assert state.sources["alpha"].last_verdict == "complete"
        assert state.sources["alpha"].next_run_at is not None

    run_daemon(daemon, scenario)
    alpha = stub.runs("alpha")
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(alpha)]
    assert all(0.5 < gap < 2.5 for gap in gaps), gaps
    times = load_source_times(engine, ["alpha"])["alpha"]
    assert times.next_due_at is not None and times.last_crawl_at is not None
    assert times.next_due_at > times.last_crawl_at
    assert len(deliveries) >= 2  # right after the first crawl's events, and every second


def test_a_restart_resumes_the_plan_and_runs_what_is_overdue_at_once(engine: Engine, stub: StubCrawl) -> None:
    config = configuration(["planned", "overdue"], every="1h")
    sync_sources(engine, config.sources)
    now = datetime.now(UTC)
    save_next_due(engine, {"planned": now + timedelta(minutes=20), "overdue": now - timedelta(minutes=5)})
    daemon = daemon_for(engine, config)

    async def scenario(daemon: Daemon) -> None:
        await until(lambda: bool(stub.runs("overdue")))
        await asyncio.sleep(1.0)

    run_daemon(daemon, scenario)
    assert stub.runs("planned") == []
    assert len(stub.runs("overdue")) == 1
    times = load_source_times(engine, ["planned", "overdue"])
    assert times["planned"].next_due_at == now + timedelta(minutes=20)
    assert times["overdue"].next_due_at is not None and times["overdue"].next_due_at > now + timedelta(
        minutes=50
    )


def test_a_reload_adds_and_removes_sources_without_a_restart(engine: Engine, stub: StubCrawl) -> None:
    current = [configuration(["kept", "dropped"])]
    daemon = daemon_for(engine, current[0], reload=lambda: current[0])

    async def scenario(daemon: Daemon) -> None:
        await until(lambda: bool(stub.runs("kept")) and bool(stub.runs("dropped")))
        current[0] = configuration(["kept", "added"])
        daemon.request_reload()
        await until(lambda: bool(stub.runs("added")))
        dropped_runs = len(stub.runs("dropped"))
        await asyncio.sleep(2.0)
        assert len(stub.runs("dropped")) == dropped_runs
        assert set(daemon.state.sources) == {"kept", "added"}

    run_daemon(daemon, scenario)
    with engine.connect() as connection:
        names = set(connection.scalars(select(SourceRow.name)))
    assert names == {"kept", "dropped", "added"}  # a dropped source keeps its history


def test_an_invalid_reload_keeps_the_running_configuration(engine: Engine, stub: StubCrawl) -> None:
    def broken() -> Config:
        return parse_config("sources: [{name: x, type: nosuchtype}]")

    daemon = daemon_for(engine, configuration(["steady"]), reload=broken)

    async def scenario(daemon: Daemon) -> None:
        await until(lambda: bool(stub.runs("steady")))
        daemon.request_reload()
        before = len(stub.runs("steady"))
        await until(lambda: len(stub.runs("steady")) >= before + 2)

    run_daemon(daemon, scenario)
    assert [s.name for s in daemon.config.sources] == ["steady"]


def test_stopping_waits_for_a_running_crawl_within_the_grace_period(engine: Engine, stub: StubCrawl) -> None:
    hold = stub.hold = threading.Event()
    daemon = daemon_for(engine, configuration(["slow"], grace="5s"))

    async def scenario(daemon: Daemon) -> float:
        await until(
            lambda: daemon.state.sources.get("slow") is not None and daemon.state.sources["slow"].running
        )
        asyncio.get_running_loop().call_later(1.0, hold.set)  # the crawl ends 1 s into the grace period
        schedule = daemon.state.sources["slow"]
        started = time.monotonic()
        daemon.request_stop("test")
        while not schedule.last_verdict:
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    took = run_daemon(daemon, scenario)
    assert took < 5
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(CrawlRow)) == 1
        assert connection.scalar(select(func.count()).select_from(EventRow)) == 1


def test_a_crawl_past_the_grace_period_is_abandoned_and_the_daemon_stops(
    engine: Engine, stub: StubCrawl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler.active, "AFTER_KILL_WAIT_S", 0.5)
    stub.hold = threading.Event()
    daemon = daemon_for(engine, configuration(["stuck"], grace="1s"))

    async def scenario(daemon: Daemon) -> None:
        await until(
            lambda: daemon.state.sources.get("stuck") is not None and daemon.state.sources["stuck"].running
        )

    started = time.monotonic()
    try:
        run_daemon(daemon, scenario)
        assert time.monotonic() - started < 15
        assert daemon.state.stopping and not daemon.state.active
    finally:
        stub.hold.set()
        assert stub.idle.wait(10)  # the abandoned crawl records its result before the database is reset


def test_sources_on_one_host_due_soon_join_the_batch_of_the_first(engine: Engine, stub: StubCrawl) -> None:
    config = configuration(["first", "soon", "later"], every="1h", host="ats")
    sync_sources(engine, config.sources)
    now = datetime.now(UTC)
    plan = {"first": now, "soon": now + timedelta(minutes=10), "later": now + timedelta(minutes=50)}
    save_next_due(engine, plan)
    daemon = daemon_for(engine, config)

    async def scenario(daemon: Daemon) -> None:
        await until(lambda: bool(stub.batches))
        await asyncio.sleep(1.0)

    run_daemon(daemon, scenario)
    assert stub.batches == [["first", "soon"]]
    times = load_source_times(engine, ["soon", "later"])
    assert times["soon"].next_due_at is not None and times["soon"].next_due_at > now + timedelta(minutes=55)
    assert times["later"].next_due_at == plan["later"]
