"""Alerts that are no longer owed are cancelled with their reason — not "given up", not retried."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from notifier.alerts import Outbox
from notifier.outbox import deliver_due
from notifier.sync import subscription_document
from rolewatch.config import Config
from rolewatch.resolve import parse_config
from storage.models import DeliveryAttemptRow, OutboxRow
from storage.outbox import (
    CANCELLED,
    PENDING,
    SUBSCRIPTION_REMOVED,
    OutboxEntry,
    enqueue,
    list_deliveries,
    outbox_depth,
    retry_dead,
)
from storage.stats import database_figures
from storage.sync import sync_subscriptions
from tests.integration.daemon_http import daemon_state, scrape
from tests.integration.storage_factory import Board, posting

WEBHOOK = "json://127.0.0.1:9/hook"


def config(*names: str) -> Config:
    subscriptions = [{"name": name, "notify": [WEBHOOK]} for name in names]
    return parse_config(yaml.safe_dump({"subscriptions": subscriptions}))


def sync(engine: Engine, current: Config) -> None:
    sync_subscriptions(engine, [subscription_document(s) for s in current.subscriptions])


def statuses(engine: Engine) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    with Session(engine) as session:
        for row in session.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars():
            found.setdefault(row.recipient, []).append((row.status, row.last_error))
    return found


def test_removing_a_subscription_cancels_its_pending_alerts_with_the_reason(engine: Engine) -> None:
    before = config("kept", "gone")
    sync(engine, before)
    Board(engine, then=Outbox(before).after_record).crawl([posting(1), posting(2)])

    sync(engine, config("kept"))

    assert statuses(engine) == {
        "kept": [(PENDING, "")] * 2,
        "gone": [(CANCELLED, SUBSCRIPTION_REMOVED)] * 2,
    }
    shown = [(d.recipient, d.status, d.last_error) for d in list_deliveries(engine)]
    assert sorted(shown) == sorted(
        [("gone", "cancelled", SUBSCRIPTION_REMOVED)] * 2 + [("kept", "pending", "")] * 2
    )
    assert list_deliveries(engine, failed_only=True) == [], "a cancelled alert did not fail"
    assert retry_dead(engine, datetime.now(UTC)) == 0, "`deliveries retry` leaves it alone"
    assert [status for status, _ in statuses(engine)["gone"]] == [CANCELLED] * 2
    assert outbox_depth(engine) == 2
    figures = database_figures(engine).deliveries
    assert (figures["dead"], figures["cancelled"], figures["pending"]) == (0, 2, 2)
    metrics = scrape(daemon_state(), engine)["rolewatch_deliveries"]
    assert metrics[(("status", "dead"),)] == 0 and metrics[(("status", "cancelled"),)] == 2


def test_the_sender_cancels_an_alert_whose_subscription_is_gone_without_an_attempt(engine: Engine) -> None:
    before = config("gone")
    Board(engine, then=Outbox(before).after_record).crawl([posting(1)])

    report = deliver_due(engine, config("other"))

    assert (report.sent, report.failed, report.dead, report.cancelled) == (0, 0, 0, 1)
    [(status, reason)] = statuses(engine)["gone"]
    assert status == CANCELLED and reason.startswith(SUBSCRIPTION_REMOVED)
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(DeliveryAttemptRow)).scalar_one() == 0
    assert deliver_due(engine, config("other")).cancelled == 0, "cancelled once, never picked up again"


def test_deliveries_show_channels_stored_by_older_versions_masked(engine: Engine) -> None:
    now = datetime.now(UTC)
    entry: dict[str, Any] = {"recipient": "old", "channel_key": "k", "dedupe_key": "d", "due_at": now}
    with engine.begin() as connection:
        enqueue(connection, [OutboxEntry(channel="discord://1...0/a...J/", **entry)], now)
    [shown] = list_deliveries(engine)
    assert shown.channel == "discord://****/****/"
