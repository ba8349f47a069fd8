"""Per-host crawl lanes: one batch per host at a time, sources due together share it, a failure stays put."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from crawler.spiders.jsonld import Options as JsonLdOptions
from crawler.spiders.simplify import Options as SimplifyOptions
from rolewatch.config import SourceOptions
from rolewatch.domain import CrawlStats, CrawlVerdict
from scheduler.lanes import CrawlLanes, host_key
from storage.recording import CrawlRecord
from tests.integration.storage_factory import resolved_source


def source(name: str, base_url: str | None = None) -> Any:
    return replace(resolved_source(name), options=SourceOptions(base_url=base_url))


def record(name: str) -> CrawlRecord:
    return CrawlRecord(0, name, CrawlVerdict.COMPLETE, "", {}, (), CrawlStats())


class FakeCrawler:
    """Stands in for `crawl_and_record`: sleeps, then records every source; remembers each batch."""

    def __init__(self, seconds: float = 0.3, failing: frozenset[str] = frozenset()) -> None:
        self.seconds = seconds
        self.failing = failing
        self.batches: list[list[str]] = []
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def __call__(self, sources: Sequence[Any], on_record: Callable[[CrawlRecord], None]) -> None:
        names = [s.name for s in sources]
        with self._lock:
            self.batches.append(names)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            time.sleep(self.seconds)
            if self.failing & set(names):
                raise RuntimeError("the database went away")
            for name in names:
                on_record(record(name))
        finally:
            with self._lock:
                self.running -= 1


def run_lanes(crawler: FakeCrawler, scenario: Callable[[CrawlLanes], Any], **limits: int) -> Any:
    async def main() -> Any:
        with ThreadPoolExecutor(8) as executor:
            return await scenario(CrawlLanes(crawler, executor, **limits))

    return asyncio.run(main())


def test_the_host_of_a_source_is_its_configured_url_else_its_type() -> None:
    assert host_key(source("a", "https://API.Lever.co/v0")) == "api.lever.co"
    assert host_key(source("b", "http://127.0.0.1:8765")) == "127.0.0.1:8765"
    assert host_key(source("c")) == "type:greenhouse"
    feed = replace(resolved_source("d"), options=SimplifyOptions(url="https://example.org/listings.json"))
    assert host_key(feed) == "example.org"
    site = replace(resolved_source("e"), options=JsonLdOptions(start_urls=["https://acme.example/careers"]))
    assert host_key(site) == "acme.example"


def test_sources_due_together_on_one_host_share_one_batch() -> None:
    crawler = FakeCrawler()

    async def scenario(lanes: CrawlLanes) -> list[Any]:
        return await asyncio.gather(*(lanes.crawl(source(n, "https://h.example")) for n in "abc"))

    crawled = run_lanes(crawler, scenario)
    assert crawler.batches == [["a", "b", "c"]]
    assert [c.record.source for c in crawled] == ["a", "b", "c"]
    assert all(c.batch_started_at <= c.recorded_at for c in crawled)


def test_what_comes_due_while_a_host_is_crawled_waits_for_the_next_batch() -> None:
    crawler = FakeCrawler(seconds=0.5)

    async def scenario(lanes: CrawlLanes) -> None:
        first = asyncio.create_task(lanes.crawl(source("a", "https://h.example")))
        await asyncio.sleep(0.1)
        late = [asyncio.create_task(lanes.crawl(source(n, "https://h.example"))) for n in "bc"]
        await asyncio.gather(first, *late)

    run_lanes(crawler, scenario)
    assert crawler.batches == [["a"], ["b", "c"]]
    assert crawler.most_running == 1


def test_hosts_are_crawled_side_by_side_up_to_the_batch_limit() -> None:
    crawler = FakeCrawler(seconds=0.4)

    async def scenario(lanes: CrawlLanes) -> float:
        started = time.monotonic()
        await asyncio.gather(*(lanes.crawl(source(f"s{n}", f"https://h{n}.example")) for n in range(4)))
        return time.monotonic() - started

    took = run_lanes(crawler, scenario, max_batches=2)
    assert len(crawler.batches) == 4 and crawler.most_running == 2
    assert took >= 0.8


def test_a_batch_is_cut_at_its_size_limit() -> None:
    crawler = FakeCrawler(seconds=0.05)

    async def scenario(lanes: CrawlLanes) -> None:
        await asyncio.gather(*(lanes.crawl(source(f"s{n}", "https://h.example")) for n in range(5)))

    run_lanes(crawler, scenario, max_batch_size=2)
    assert [len(batch) for batch in crawler.batches] == [2, 2, 1]


def test_a_batch_that_raises_answers_its_sources_and_spares_the_other_hosts() -> None:
    crawler = FakeCrawler(seconds=0.1, failing=frozenset({"bad"}))

    async def scenario(lanes: CrawlLanes) -> tuple[Any, ...]:
        return await asyncio.gather(
            lanes.crawl(source("bad", "https://broken.example")),
            lanes.crawl(source("good", "https://fine.example")),
        )

    bad, good = run_lanes(crawler, scenario)
    assert bad.record is None and bad.batch_started_at is not None
    assert good.record is not None and good.record.source == "good"


def test_closing_answers_the_waiting_and_lets_the_running_batch_finish() -> None:
    crawler = FakeCrawler(seconds=0.4)

    async def scenario(lanes: CrawlLanes) -> tuple[Any, Any, bool]:
        running = asyncio.create_task(lanes.crawl(source("a", "https://h.example")))
        await asyncio.sleep(0.1)
        waiting = asyncio.create_task(lanes.crawl(source("b", "https://h.example")))
        await asyncio.sleep(0.05)
        lanes.close()
        finished = await lanes.wait(5)
        return await running, await waiting, finished

    running, waiting, finished = run_lanes(crawler, scenario)
    assert finished and running.record is not None
    assert waiting.record is None and waiting.batch_started_at is None
    assert crawler.batches == [["a"]]


def test_waiting_for_running_batches_is_bounded() -> None:
    crawler = FakeCrawler(seconds=1.0)

    async def scenario(lanes: CrawlLanes) -> bool:
        task = asyncio.create_task(lanes.crawl(source("a", "https://h.example")))
        await asyncio.sleep(0.1)
        finished = await lanes.wait(0.2)
        await task
        return finished

    assert run_lanes(crawler, scenario) is False
