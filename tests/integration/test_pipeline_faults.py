"""Crawl → store end to end under board faults: no posting is ever closed by a crawl that was not complete."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import func, select

from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlVerdict, EventType
from rolewatch.resolve import parse_config
from scheduler.pipeline import crawl_and_record
from storage.models import PostingRow
from tests.boardserver import BoardRequest, BoardServer, Reply, json_reply
from tests.fixtures.boards import greenhouse_board, greenhouse_job, lever_postings

OPEN_PER_BOARD = 40
GREENHOUSE_FAULTS = ["http500", "timeout", "truncated", "maintenance", "emptied", "throttled"]


def greenhouse_path(name: str) -> str:
    return f"/v1/boards/{name}/jobs"


def healthy_board(name: str) -> dict[str, Any]:
    offset = abs(hash(name)) % 10_000 * 100
    return greenhouse_board(
        [greenhouse_job(offset + n, f"Data Scientist Intern {n}") for n in range(OPEN_PER_BOARD)]
    )


def lever_pages(postings: list[dict[str, Any]], second_page_fails: list[bool]) -> Any:
    def handler(request: BoardRequest) -> Reply:
        skip, limit = int(request.query.get("skip", 0)), int(request.query.get("limit", 100))
        if skip > 0 and second_page_fails[0]:
            return Reply(502, b"bad gateway", {"Content-Type": "text/plain"})
        return json_reply(postings[skip : skip + limit])

    return handler


def configuration(server: BoardServer, database: str) -> Any:
    sources = [
        {"name": name, "type": "greenhouse", "board": name, "base_url": server.url}
        for name in GREENHOUSE_FAULTS
    ]
    sources.append(
        {"name": "lever-paged", "type": "lever", "site": "paged", "page_size": 20, "base_url": server.url}
    )
    text = yaml.safe_dump(
        {
            "database": database,
            "defaults": {
                "close_after_misses": 2,
                "timeout": "20s",
                "politeness": {
                    "delay": "0s",
                    "autothrottle": False,
                    "retries": 1,
                    "request_timeout": "1s",
                    "concurrency_per_host": 8,
                    "conditional_requests": False,
                },
            },
            "sources": sources,
        }
    )
    return parse_config(text)


def open_count(engine: Any) -> int:
    with engine.connect() as connection:
        query = select(func.count()).select_from(PostingRow).where(PostingRow.status == "open")
        return int(connection.execute(query).scalar_one())


def test_faulty_crawls_never_close_postings(
    engine: Any, board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    config = configuration(board_server, engine.url.render_as_string(hide_password=False))
    for name in GREENHOUSE_FAULTS:
        board_server.set_json(greenhouse_path(name), healthy_board(name))
    second_page_fails = [False]
    board_server.route("/v0/postings/paged", lever_pages(lever_postings(OPEN_PER_BOARD), second_page_fails))

    first = crawl_and_record(engine, config, config.resolved_sources(), workers=crawl_workers)
    assert {r.source: r.verdict for r in first} == {s.name: CrawlVerdict.COMPLETE for s in config.sources}
    total_open = OPEN_PER_BOARD * len(config.sources)
    assert open_count(engine) == total_open

    board_server.fail(greenhouse_path("http500"), 500, times=100)
    board_server.hang(greenhouse_path("timeout"), 5)
    board_server.set_raw(
        greenhouse_path("truncated"),
        b'{"jobs": [{"id": 1, "title": "Da',
        headers={"Content-Type": "application/json"},
    )
    board_server.set_raw(
        greenhouse_path("maintenance"),
        b"<html><body>Down for maintenance</body></html>",
        headers={"Content-Type": "text/html"},
    )
    board_server.set_json(greenhouse_path("emptied"), greenhouse_board([]))
    board_server.fail(greenhouse_path("throttled"), 429, times=100, headers={"Retry-After": "1"})
    second_page_fails[0] = True

    expected = {
        "http500": CrawlVerdict.FAILED,
        "timeout": CrawlVerdict.FAILED,
        "truncated": CrawlVerdict.FAILED,
        "maintenance": CrawlVerdict.FAILED,
        "emptied": CrawlVerdict.SUSPECT,
        "throttled": CrawlVerdict.FAILED,
        "lever-paged": CrawlVerdict.PARTIAL,
    }
    for _ in range(config.defaults.close_after_misses):
        records = crawl_and_record(engine, config, config.resolved_sources(), workers=crawl_workers)
        assert {r.source: r.verdict for r in records} == expected, [(r.source, r.note) for r in records]
        closed = [e for r in records for e in r.events if e.type is EventType.CLOSED]
        assert closed == []
        assert open_count(engine) == total_open
