"""A board that answers an empty 200 (or drops most postings) for one crawl proves nothing about any posting.

The hostile board here was held out of the farm the diff was built against: between two healthy
listings it serves one empty listing, then drops a single posting for real. The empty crawl must not
count as that posting's first miss, or the next complete crawl (one real miss) closes it.
"""

from __future__ import annotations

from typing import Any

import yaml

from crawler.workers import CrawlWorkers
from rolewatch.config import Config
from rolewatch.domain import CrawlVerdict, EventType
from rolewatch.resolve import parse_config
from scheduler.pipeline import crawl_and_record
from tests.boardserver import BoardServer
from tests.fixtures.boards import greenhouse_board, greenhouse_job

PATH = "/v1/boards/held-out/jobs"


def configuration(server: BoardServer, engine: Any) -> Config:
    text = yaml.safe_dump(
        {
            "database": engine.url.render_as_string(hide_password=False),
            "defaults": {
                "close_after_misses": 2,
                "timeout": "20s",
                "politeness": {
                    "delay": "0s",
                    "autothrottle": False,
                    "retries": 0,
                    "conditional_requests": False,
                },
            },
            "sources": [
                {"name": "held-out", "type": "greenhouse", "board": "held-out", "base_url": server.url}
            ],
        }
    )
    return parse_config(text)


def serve(server: BoardServer, ids: range | list[int]) -> None:
    server.set_json(PATH, greenhouse_board([greenhouse_job(n, f"Graduate Analyst {n}") for n in ids]))


def crawl(engine: Any, config: Config, workers: CrawlWorkers) -> tuple[CrawlVerdict, list[str]]:
    (record,) = crawl_and_record(engine, config, config.resolved_sources(), workers=workers)
    closed = sorted(e.external_id for e in record.events if e.type is EventType.CLOSED)
    return record.verdict, closed


def test_an_empty_200_is_not_a_miss(
    engine: Any, board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    config = configuration(board_server, engine)
    serve(board_server, range(10))
    assert crawl(engine, config, crawl_workers) == (CrawlVerdict.COMPLETE, [])

    serve(board_server, [])
    assert crawl(engine, config, crawl_workers) == (CrawlVerdict.SUSPECT, [])

    serve(board_server, range(9))  # posting 9 is gone for real: its first miss, not its second
    assert crawl(engine, config, crawl_workers) == (CrawlVerdict.COMPLETE, [])

    assert crawl(engine, config, crawl_workers) == (
        CrawlVerdict.COMPLETE,
        ["9"],
    )  # the second real miss closes it


def test_a_held_loss_seen_close_after_misses_plus_one_times_is_accepted(
    engine: Any, board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    config = configuration(board_server, engine)
    serve(board_server, range(10))
    crawl(engine, config, crawl_workers)

    serve(board_server, [0])
    verdicts = [crawl(engine, config, crawl_workers) for _ in range(3)]
    assert verdicts == [
        (CrawlVerdict.SUSPECT, []),
        (CrawlVerdict.SUSPECT, []),
        (CrawlVerdict.COMPLETE, [str(n) for n in sorted(range(1, 10), key=str)]),
    ]
