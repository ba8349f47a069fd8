"""Crawl → events → alerts → apprise, against a real board server, a real SMTP server and a real webhook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from crawler.workers import CrawlWorkers
from notifier.outbox import deliver_due
from rolewatch.config import Config
from rolewatch.resolve import parse_config
from scheduler.pipeline import crawl_and_record
from storage.models import DeliveryAttemptRow, OutboxRow
from storage.outbox import CANCELLED, SENT, claim_due
from tests.boardserver import BoardServer, json_reply
from tests.fixtures.boards import greenhouse_board, greenhouse_job
from tests.receivers import SmtpServer, Webhook

PATH = "/v1/boards/koala/jobs"


def config_for(
    server: BoardServer, engine: Engine, subscriptions: list[dict[str, Any]], **extra: Any
) -> Config:
    data = {
        "database": engine.url.render_as_string(hide_password=False),
        "defaults": {"politeness": {"delay": "0s", "autothrottle": False, "retries": 0}},
        "sources": [{"name": "koala", "type": "greenhouse", "board": "koala", "base_url": server.url}],
        "subscriptions": subscriptions,
        "delivery": {"first_retry": "1s", "max_retry_delay": "2s", "retry_for": "1h", "send_timeout": "2s"},
        **extra,
    }
    return parse_config(yaml.safe_dump(data, sort_keys=False))


def serve(server: BoardServer, jobs: list[dict[str, Any]]) -> None:
    server.route(PATH, lambda request: json_reply(greenhouse_board(jobs)))


def crawl(engine: Engine, config: Config, *, workers: CrawlWorkers) -> None:
    crawl_and_record(engine, config, config.resolved_sources(), workers=workers)


def statuses(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return sorted(session.execute(select(OutboxRow.status)).scalars())


INTERN = greenhouse_job(101, "Data Scientist Intern", location="Sydney, NSW")
CHEF = greenhouse_job(102, "Head Chef", location="Melbourne, VIC")


def test_each_subscription_hears_of_its_roles_once_per_channel(
    engine: Engine,
    board_server: BoardServer,
    smtp_server: SmtpServer,
    webhook: Webhook,
    crawl_workers: CrawlWorkers,
) -> None:
    serve(board_server, [INTERN, CHEF])
    config = config_for(
        board_server,
        engine,
        [
            {
                "name": "interns",
                "query": "intern",
                "locations": ["AU"],
                "notify": [webhook.url, smtp_server.url],
            },
            {"name": "chefs", "query": "chef", "notify": [webhook.url]},
            {"name": "nobody", "query": "astronaut", "notify": [webhook.url]},
        ],
    )
    crawl(engine, config, workers=crawl_workers)
    report = deliver_due(engine, config)
    assert (report.sent, report.failed, report.remaining) == (3, 0, 0)
    titles = sorted(request.json["title"] for request in webhook.wait_for(2))
    assert titles == [
        "New: Data Scientist Intern — Koala Analytics · Sydney, AU",
        "New: Head Chef — Koala Analytics · Melbourne, AU",
    ]
    (mail,) = smtp_server.wait_for(1)
    assert "Data Scientist Intern" in mail["Subject"]
    html = next(part for part in mail.walk() if part.get_content_type() == "text/html").get_content()
    assert "job-boards.greenhouse.io/koala/jobs/101" in html

    crawl(engine, config, workers=crawl_workers)  # the same board again: nothing new, nothing sent again
    assert deliver_due(engine, config).sent == 0
    assert len(webhook.requests) == 2 and len(smtp_server.messages) == 1


def test_a_channel_that_is_down_for_several_rounds_gets_every_alert_once(
    engine: Engine, board_server: BoardServer, webhook: Webhook, crawl_workers: CrawlWorkers
) -> None:
    serve(board_server, [INTERN])
    config = config_for(board_server, engine, [{"name": "all", "notify": [webhook.url]}])
    webhook.respond_with(500)
    crawl(engine, config, workers=crawl_workers)
    clock = datetime.now(UTC)
    for round_ in range(3):
        report = deliver_due(engine, config, now=clock + timedelta(seconds=10 * round_))
        assert (report.sent, report.failed) == (0, 1)
    serve(board_server, [INTERN, CHEF])
    crawl(engine, config, workers=crawl_workers)
    webhook.respond_with(200)
    failing_since = len(webhook.requests)
    report = deliver_due(engine, config, now=clock + timedelta(minutes=5))
    assert (report.sent, report.failed, report.remaining) == (2, 0, 0)
    delivered = [request.json["title"] for request in webhook.requests[failing_since:]]
    assert sorted(delivered) == sorted(set(delivered)) and len(delivered) == 2
    with Session(engine) as session:
        attempts = session.execute(select(func.count()).select_from(DeliveryAttemptRow)).scalar_one()
    assert attempts == 3 + 2, "every attempt is recorded"
    assert statuses(engine) == [SENT, SENT]


def test_a_hanging_or_refusing_channel_fails_in_bounded_time_and_the_other_channel_still_gets_it(
    engine: Engine, board_server: BoardServer, webhook: Webhook, crawl_workers: CrawlWorkers
) -> None:
    serve(board_server, [INTERN])
    hanging, refused = Webhook(), Webhook()
    try:
        hanging.hang()
        refused.close()
        config = config_for(
            board_server, engine, [{"name": "all", "notify": [hanging.url, refused.url, webhook.url]}]
        )
        crawl(engine, config, workers=crawl_workers)
        started = datetime.now(UTC)
        report = deliver_due(engine, config)
        assert (report.sent, report.failed) == (1, 2)
        assert datetime.now(UTC) - started < timedelta(seconds=15)
    finally:
        hanging.close()
    assert len(webhook.wait_for(1)) == 1
    with Session(engine) as session:
        errors = session.execute(select(OutboxRow.last_error).where(OutboxRow.status != SENT)).scalars().all()
    assert len(errors) == 2 and all(errors)


def test_a_sender_that_dies_after_claiming_loses_nothing(
    engine: Engine, board_server: BoardServer, webhook: Webhook, crawl_workers: CrawlWorkers
) -> None:
    serve(board_server, [INTERN])
    config = config_for(board_server, engine, [{"name": "all", "notify": [webhook.url]}])
    crawl(engine, config, workers=crawl_workers)
    now = datetime.now(UTC)
    assert len(claim_due(engine, now, config.delivery.lease, 10)) == 1  # …and the process dies here
    assert deliver_due(engine, config, now=now).sent == 0, "claimed rows wait for their lease"
    assert deliver_due(engine, config, now=now + config.delivery.lease + timedelta(seconds=1)).sent == 1
    assert len(webhook.wait_for(1)) == 1


def test_a_channel_removed_from_the_configuration_is_cancelled_not_retried(
    engine: Engine, board_server: BoardServer, webhook: Webhook, crawl_workers: CrawlWorkers
) -> None:
    serve(board_server, [INTERN])
    crawl(
        engine,
        config_for(board_server, engine, [{"name": "all", "notify": [webhook.url]}]),
        workers=crawl_workers,
    )
    config = config_for(board_server, engine, [{"name": "all", "notify": []}])
    report = deliver_due(engine, config)
    assert (report.sent, report.dead, report.cancelled) == (0, 0, 1)
    assert statuses(engine) == [CANCELLED]


HOSTILE_TITLE = "Intern <script>alert(1)</script> [click](javascript:alert(2)) @everyone \u202eTFEL\u202c 🚀"


def test_hostile_postings_arrive_escaped_and_cut(
    engine: Engine,
    board_server: BoardServer,
    smtp_server: SmtpServer,
    webhook: Webhook,
    crawl_workers: CrawlWorkers,
) -> None:
    huge = "<p>" + ("Lorem ipsum dolor sit amet. " * 40_000) + "</p><script>steal()</script>"
    serve(board_server, [greenhouse_job(103, HOSTILE_TITLE, content_html=huge)])
    discord_like = webhook.url + "?format=markdown"
    config = config_for(board_server, engine, [{"name": "all", "notify": [smtp_server.url, discord_like]}])
    crawl(engine, config, workers=crawl_workers)
    report = deliver_due(engine, config)
    assert report.sent == 2
    (mail,) = smtp_server.wait_for(1)
    html = next(part for part in mail.walk() if part.get_content_type() == "text/html").get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "\u202e" not in mail["Subject"] and "🚀" in mail["Subject"]
    assert len(html) < 40_000, "a 1 MB description is cut to the service's limit"
    assert "job-boards.greenhouse.io/koala/jobs/103" in html, "the link survives the cut"
    (request,) = webhook.wait_for(1)
    body = request.json["message"]
    assert "](javascript:" not in body and "<script>" not in body
    assert "job-boards.greenhouse.io/koala/jobs/103" in body


@pytest.mark.parametrize("zone", ["Australia/Sydney", "America/New_York"])
def test_a_daily_digest_waits_for_its_time_and_sends_one_message_grouped_by_company(
    engine: Engine, board_server: BoardServer, webhook: Webhook, zone: str, crawl_workers: CrawlWorkers
) -> None:
    serve(board_server, [INTERN, CHEF, greenhouse_job(104, "Data Engineer Intern", location="Sydney, NSW")])
    config = config_for(
        board_server,
        engine,
        [{"name": "daily", "notify": [webhook.url], "digest": "daily 08:00", "timezone": zone}],
    )
    crawl(engine, config, workers=crawl_workers)
    assert deliver_due(engine, config).sent == 0, "a digest is not sent before its time"
    with Session(engine) as session:
        due_at = session.execute(select(func.min(OutboxRow.due_at))).scalar_one()
    local = due_at.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute) == (8, 0)
    report = deliver_due(engine, config, now=due_at)
    assert report.sent == 3, "every row of the digest is marked sent"
    (request,) = webhook.wait_for(1)
    assert "3 roles" in request.json["title"]
    assert request.json["message"].count("Koala Analytics") >= 1
