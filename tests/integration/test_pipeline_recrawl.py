"""Re-crawls of a board without ETags: unchanged records are only sighted, changed ones normalised."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import func, select

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import EventType
from rolewatch.resolve import parse_config
from scheduler.pipeline import crawl_and_record
from storage.models import PostingVersionRow
from storage.state import load_known_digests
from tests.boardserver import BoardServer, json_reply
from tests.fixtures.boards import greenhouse_board, greenhouse_job

PATH = "/v1/boards/koala/jobs"


def config_for(server: BoardServer, engine: Any) -> Any:
    return parse_config(
        yaml.safe_dump(
            {
                "database": engine.url.render_as_string(hide_password=False),
                "defaults": {
                    "politeness": {"delay": "0s", "autothrottle": False, "conditional_requests": False}
                },
                "sources": [
                    {"name": "koala", "type": "greenhouse", "board": "koala", "base_url": server.url}
                ],
            }
        )
    )


def serve(server: BoardServer, jobs: list[dict[str, Any]]) -> None:
    server.route(PATH, lambda request: json_reply(greenhouse_board(jobs)))  # no ETag: a full body each time


def versions(engine: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(PostingVersionRow)).scalar_one())


def test_edit_bump_remove_reorder_and_readd_through_the_pipeline(
    engine: Any, board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    config = config_for(board_server, engine)
    jobs = [greenhouse_job(n, f"Data Scientist Intern {n}") for n in range(30)]
    serve(board_server, jobs)
    (first,) = crawl_and_record(engine, config, config.resolved_sources(), workers=crawl_workers)
    assert first.counts["new"] == 30 and versions(engine) == 30

    bumped = [{**job, "updated_at": "2026-11-20T10:00:00-04:00"} for job in jobs]
    bumped[3] = greenhouse_job(3, "Data Scientist Intern 3 (Sydney)")
    serve(board_server, bumped)
    (second,) = crawl_and_record(engine, config, config.resolved_sources(), workers=crawl_workers)
    assert [(e.type, e.external_id) for e in second.events] == [(EventType.CHANGED, "3")]
    assert second.stats.items == 30 and versions(engine) == 31

    (third,) = crawl_and_record(engine, config, config.resolved_sources(), workers=crawl_workers)
    assert third.events == () and third.verdict.value == "complete" and versions(engine) == 31
    (sighted,) = crawl_sources(
        config.resolved_sources(), known=load_known_digests(engine, ["koala"]), workers=crawl_workers
    )
    assert len(sighted.sightings) == 30 and sighted.postings == ()

    serve(board_server, bumped[:29])
    crawl_and_record(engine, config, config.resolved_sources(), workers=crawl_workers)
    (closing,) = crawl_and_record(engine, config, config.resolved_sources(), workers=crawl_workers)
    assert [(e.type, e.external_id) for e in closing.events] == [(EventType.CLOSED, "29")]

    reordered = list(reversed(bumped))
    serve(board_server, reordered)
    (readded,) = crawl_and_record(engine, config, config.resolved_sources(), workers=crawl_workers)
    assert [(e.type, e.external_id, e.episode) for e in readded.events] == [(EventType.REOPENED, "29", 2)]
    (still,) = crawl_and_record(engine, config, config.resolved_sources(), workers=crawl_workers)
    assert still.events == ()
