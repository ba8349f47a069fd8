"""`/metrics` keeps its database figures and refreshes them off the request path
(`scheduler.http.KeptFigures`): a scrape never waits for a read once figures are kept, and a failed
read is not papered over."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import scheduler.http
from scheduler.http import BlockingCall, KeptFigures
from storage.stats import DatabaseFigures


def figures(open_postings: int) -> DatabaseFigures:
    return DatabaseFigures(open_postings={"acme": open_postings}, events={}, deliveries={})


class SlowDatabase:
    """Answers each read with the next figure, only once `release` is set; or fails when told to."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.fail = False
        self.reads = 0

    def read(self) -> DatabaseFigures:
        self.release.wait(10)
        self.reads += 1
        if self.fail:
            raise RuntimeError("database gone")
        return figures(self.reads)


def test_a_scrape_answers_with_the_kept_figures_while_a_fresh_read_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scheduler.http, "FIGURES_FRESH_S", 0.0)  # every scrape finds the figures stale
    database = SlowDatabase()
    kept = KeptFigures(BlockingCall(database.read, "test-figures"), timeout=5)

    async def scrapes() -> list[tuple[DatabaseFigures | None, float]]:
        answers = []
        database.release.set()
        answers.append((await kept.get(), 0.0))  # nothing kept: the first scrape waits for a read
        database.release.clear()
        for _ in range(3):  # the database now stalls: each scrape answers at once with what is kept
            began = time.monotonic()
            answers.append((await kept.get(), time.monotonic() - began))
        database.release.set()
        await asyncio.sleep(0.2)  # the one background read finishes and is kept
        answers.append((await kept.get(), 0.0))
        return answers

    answers = asyncio.run(scrapes())
    assert [answer.open_postings["acme"] if answer else None for answer, _ in answers] == [1, 1, 1, 1, 2]
    assert all(waited < 0.5 for _, waited in answers[1:4])
    assert database.reads <= 3, "one background read at a time, however often scraped"


def test_a_failed_background_read_forgets_the_kept_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler.http, "FIGURES_FRESH_S", 0.0)
    database = SlowDatabase()
    database.release.set()
    kept = KeptFigures(BlockingCall(database.read, "test-figures"), timeout=5)

    async def scrapes() -> list[DatabaseFigures | None]:
        first = await kept.get()
        database.fail = True
        stale = await kept.get()  # starts the read that fails
        await asyncio.sleep(0.2)
        return [first, stale, await kept.get()]  # nothing kept: waits, and the read fails again

    first, stale, after = asyncio.run(scrapes())
    assert first is not None and stale == first
    assert after is None  # reported as rolewatch_database_up 0, not as old figures
