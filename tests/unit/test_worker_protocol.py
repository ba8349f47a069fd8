"""The crawl worker protocol's batch ids: a message is only ever taken for its own batch's."""

from __future__ import annotations

import io
import os
import pickle
from datetime import UTC, datetime

import pytest

from crawler.child import WARM, BatchDone, Crawling, CrawlJob, ResultChannel, SourceDone, _warm_ahead
from crawler.verdict import failed_result
from crawler.workers import ProtocolError, message_of_batch
from rolewatch.domain import CrawlResult, CrawlVerdict

NOW = datetime(2026, 7, 1, tzinfo=UTC)


def result(source: str) -> CrawlResult:
    return CrawlResult(source, CrawlVerdict.COMPLETE, NOW, NOW)


@pytest.mark.parametrize(
    "message",
    [Crawling("current"), SourceDone("current", result("alpha")), BatchDone("current", 1024)],
    ids=["crawling", "result", "done"],
)
def test_a_message_of_the_current_batch_is_taken(message: object) -> None:
    assert message_of_batch(message, "current") is message


@pytest.mark.parametrize(
    "message",
    [Crawling("earlier"), SourceDone("earlier", result("alpha")), BatchDone("earlier", 1024)],
    ids=["crawling", "result", "done"],
)
def test_a_message_of_another_batch_is_never_taken_for_the_current_one(message: object) -> None:
    assert message_of_batch(message, "current") is None


@pytest.mark.parametrize(
    "item",
    ["crawling", result("alpha"), None],
    ids=["untagged-crawling", "untagged-result", "none"],
)
def test_anything_else_is_a_protocol_error(item: object) -> None:
    with pytest.raises(ProtocolError, match="not a protocol message"):
        message_of_batch(item, "current")


def test_every_job_gets_its_own_batch_id() -> None:
    ids = {CrawlJob(()).batch for _ in range(100)}
    assert len(ids) == 100 and "" not in ids


def test_the_worker_tags_every_message_with_the_batch_it_is_crawling() -> None:
    stream = io.BytesIO()
    channel = ResultChannel(stream)
    for batch in ("first", "second"):
        channel.begin(batch)
        channel.crawling()
        channel.send(result("alpha"))
        channel.send(failed_result("alpha", "a second answer is dropped", NOW))
        channel.done()
    stream.seek(0)
    messages = []
    while stream.tell() < len(stream.getvalue()):
        messages.append(pickle.load(stream))

    assert [(type(m).__name__, m.batch) for m in messages] == [
        ("Crawling", "first"),
        ("SourceDone", "first"),
        ("BatchDone", "first"),
        ("Crawling", "second"),
        ("SourceDone", "second"),
        ("BatchDone", "second"),
    ]
    assert all(m.result.verdict is CrawlVerdict.COMPLETE for m in messages if isinstance(m, SourceDone))


def _carrying(postings: int) -> SourceDone:
    from dataclasses import replace

    from tests.integration.storage_factory import posting

    return SourceDone(
        "current", replace(result("alpha"), postings=tuple(posting(n) for n in range(postings)))
    )


def test_read_ahead_is_bounded_by_the_postings_held_not_by_messages() -> None:
    import queue
    import threading

    from crawler.workers import _ReadAhead

    arrivals = _ReadAhead(10)
    arrivals.put(_carrying(3), timeout=1)
    for _ in range(6):  # small messages: many fit
        arrivals.put(Crawling("current"), timeout=1)
    with pytest.raises(queue.Full):
        arrivals.put(Crawling("current"), timeout=0.05)  # 4 + 6 held: the reader waits
    assert isinstance(arrivals.get(timeout=1), SourceDone)
    arrivals.put(Crawling("current"), timeout=1)  # 6 held now
    while not arrivals.empty():
        arrivals.get_nowait()
    arrivals.put(_carrying(25), timeout=1)  # an empty queue takes any message, however large
    assert not arrivals.empty()
    later = threading.Thread(target=arrivals.put, args=(Crawling("current"),))
    later.start()
    later.join(0.1)
    assert later.is_alive(), "nothing more is read ahead while a large message is held"
    assert isinstance(arrivals.get(timeout=1), SourceDone)
    later.join(1)
    assert not later.is_alive() and isinstance(arrivals.get(timeout=1), Crawling)


def test_a_worker_started_ahead_warms_up_only_while_no_batch_waits() -> None:
    """The location tables load in time the worker would spend waiting; a batch already sent is
    read at once (`run_batch` loads them first if some source of it may need parsing)."""
    read, write = os.pipe()
    with os.fdopen(read, "rb") as jobs, os.fdopen(write, "wb") as parent:
        assert _warm_ahead([WARM], jobs) is True
        assert _warm_ahead([], jobs) is False  # a one-off worker: `run_batch` decides
        parent.write(pickle.dumps(CrawlJob(())))
        parent.flush()
        assert _warm_ahead([WARM], jobs) is False
        parent.close()
        assert pickle.load(jobs).sources == ()
        assert _warm_ahead([WARM], jobs) is False  # end of file: nothing to wait for either
