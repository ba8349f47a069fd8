"""A json:// webhook receives each alert's event and posting as fields, through apprise and the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from crawler.workers import CrawlWorkers
from notifier.outbox import deliver_due
from storage.models import OutboxRow
from tests.boardserver import BoardServer
from tests.integration.test_delivery import INTERN, config_for, crawl, serve
from tests.receivers import Webhook


def test_a_json_webhook_gets_the_event_and_the_posting_and_a_retry_sends_the_same(
    engine: Engine, board_server: BoardServer, webhook: Webhook, crawl_workers: CrawlWorkers
) -> None:
    serve(board_server, [INTERN])
    config = config_for(
        board_server, engine, [{"name": "interns", "query": "intern", "notify": [webhook.url]}]
    )
    webhook.respond_with(500)
    crawl(engine, config, workers=crawl_workers)
    clock = datetime.now(UTC)
    assert deliver_due(engine, config, now=clock).failed == 1
    with Session(engine) as session:
        (stored,) = session.execute(select(OutboxRow.payload)).scalars()
    assert stored["data"]["event"]["type"] == "new", "the row carries the data a retry sends"
    webhook.respond_with(200)
    assert deliver_due(engine, config, now=clock + timedelta(minutes=5)).sent == 1

    failed, sent = (request.json for request in webhook.requests)
    assert failed == sent, "the retry sends exactly what the first try did"
    assert sent["title"] == "New: Data Scientist Intern — Koala Analytics · Sydney, AU" and sent["message"]
    event, posting = sent["event"], sent["posting"]
    assert event["type"] == "new" and event["source"] == "koala" and event["external_id"] == "101"
    assert event["title"] == "Data Scientist Intern" and event["company"] == "Koala Analytics"
    assert isinstance(event["id"], int) and datetime.fromisoformat(event["at"]).tzinfo is not None
    assert set(event) >= {"url", "changes", "episode", "repost_of", "duplicate_of"}
    assert posting["title"] == "Data Scientist Intern" and posting["company"] == "Koala Analytics"
    assert posting["locations"][0]["city"] == "Sydney" and posting["locations"][0]["country"] == "AU"
    assert set(posting) >= {"workplace", "employment_type", "salary", "posted_at", "deadline", "work_rights"}
    assert posting["url"] and "job-boards.greenhouse.io/koala/jobs/101" in posting["url"]


def test_the_readme_names_every_posting_field_a_webhook_gets() -> None:
    from pathlib import Path

    from notifier.messages import WEBHOOK_POSTING_FIELDS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    webhooks = readme.split("- **Webhooks.**")[1].split("\n- **")[0]
    assert all(f"`{name}`" in webhooks for name in WEBHOOK_POSTING_FIELDS)
