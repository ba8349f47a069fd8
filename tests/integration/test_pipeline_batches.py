"""Results recorded together when they come together, and never held back for one still crawling."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import yaml
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

import scheduler.pipeline as pipeline
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlStats, CrawlVerdict
from rolewatch.resolve import parse_config
from scheduler.pipeline import ResultRecorder, crawl_and_record
from storage.recording import CrawlRecord
from tests.boardserver import BoardRequest, BoardServer, Reply, json_reply
from tests.fixtures.boards import greenhouse_board, greenhouse_job
from tests.integration.storage_factory import Board, posting, row_counts


def test_a_result_is_recorded_while_another_board_is_still_answering(
    engine: Engine, board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    koala_recorded = threading.Event()
    released_by_the_record: list[bool] = []
    board_server.set_json("/v1/boards/koala/jobs", greenhouse_board([greenhouse_job(1, "Data Analyst")]))

    def wombat_waits_for_koala_to_be_recorded(request: BoardRequest) -> Reply:
        released_by_the_record.append(koala_recorded.wait(15))
        return json_reply(greenhouse_board([greenhouse_job(2, "Quant Intern")]))

    board_server.route("/v1/boards/wombat/jobs", wombat_waits_for_koala_to_be_recorded)
    config = parse_config(
        yaml.safe_dump(
            {
                "database": engine.url.render_as_string(hide_password=False),
                "defaults": {"timeout": "40s", "politeness": {"delay": "0s", "autothrottle": False}},
                "sources": [
                    {"name": name, "type": "greenhouse", "board": name, "base_url": board_server.url}
                    for name in ("koala", "wombat")
                ],
            }
        )
    )

    def on_record(record: CrawlRecord) -> None:
        if record.source == "koala":
            koala_recorded.set()

    records = crawl_and_record(engine, config, config.resolved_sources(), on_record, workers=crawl_workers)

    assert released_by_the_record == [True], "koala's result waited for wombat's instead of being recorded"
    assert [(r.source, r.verdict.value, r.counts["new"]) for r in records] == [
        ("koala", "complete", 1),
        ("wombat", "complete", 1),
    ]


def test_results_gathered_within_the_wait_are_recorded_in_one_transaction(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.setattr(pipeline, "TOGETHER_WITHIN_S", 0.3)
    boards = [Board(engine, name) for name in ("koala", "wombat", "quokka")]
    recorded: list[str] = []
    commits: list[int] = []

    def count(connection: Connection) -> None:
        commits.append(1)

    event.listen(engine, "commit", count)
    request.addfinalizer(lambda: event.remove(engine, "commit", count))

    def then(connection: Connection, record: Any) -> None:
        pass

    recorder = ResultRecorder(
        engine, {b.source.name: b.source for b in boards}, then, lambda r: recorded.append(r.source)
    )
    started = time.monotonic()
    for n, board in enumerate(boards):
        recorder.add(board.result([posting(n, source=board.source.name)]))
    wait = recorder.idle()
    held = row_counts(engine)["crawls"]
    remaining = 0.3 - (time.monotonic() - started)
    time.sleep(max(0.0, remaining) + 0.05)
    again = recorder.idle()

    assert wait is not None and 0 < wait <= 0.3, "asked to be called again when the first result has waited"
    assert held == 0 and again is None
    assert recorded == ["koala", "wombat", "quokka"] and len(commits) == 1
    assert row_counts(engine)["crawls"] == 3 and row_counts(engine)["postings"] == 3
    recorder.flush()
    assert len(commits) == 1, "nothing left to record"


def test_results_carrying_many_postings_are_recorded_as_soon_as_nothing_else_waits(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "TOGETHER_WITHIN_S", 30.0)
    board = Board(engine, "koala")
    recorded: list[str] = []

    def then(connection: Connection, record: Any) -> None:
        pass

    recorder = ResultRecorder(engine, {"koala": board.source}, then, lambda r: recorded.append(r.source))
    recorder.add(board.result([posting(n) for n in range(pipeline.AT_ONCE_POSTINGS)]))

    assert recorder.idle() is None and recorded == ["koala"]
    assert row_counts(engine)["postings"] == pipeline.AT_ONCE_POSTINGS


def test_the_batch_is_sent_before_the_configuration_is_stored_and_recorded_after(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storing the configuration (and the notifier's imports) waits until the batch is under
    way, so the worker is not kept waiting for it; no result is recorded before it is done."""
    board = Board(engine, "koala")
    config = parse_config(
        yaml.safe_dump(
            {
                "database": engine.url.render_as_string(hide_password=False),
                "sources": [{"name": "koala", "type": "greenhouse", "board": "koala"}],
            }
        )
    )
    stored_when: dict[str, int] = {}

    def crawl(sources: Any, validators: Any, on_result: Any, **options: Any) -> list[Any]:
        stored_when["sent"] = row_counts(engine)["sources"]
        assert options["on_idle"]() is None  # the worker has not answered yet
        stored_when["idle"] = row_counts(engine)["sources"]
        on_result(board.result([posting(1, source="koala")]))
        return []

    monkeypatch.setattr(pipeline, "crawl_sources", crawl)
    (record,) = crawl_and_record(engine, config, config.resolved_sources())

    assert stored_when == {"sent": 0, "idle": 1}
    assert record.source == "koala" and record.counts["new"] == 1


def test_a_crawl_cannot_be_recorded_before_the_recording_is_set_up(engine: Engine) -> None:
    config = parse_config(yaml.safe_dump({"database": "sqlite://", "sources": []}))
    record = CrawlRecord(1, "koala", CrawlVerdict.COMPLETE, "", {}, (), CrawlStats())
    with engine.connect() as connection, pytest.raises(RuntimeError, match="before the recording was set up"):
        pipeline.RecordingSetup(engine, config).after_record(connection, record)
