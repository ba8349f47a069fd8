"""From recorded events to owed messages: which subscriptions and channels hear of which events.

Runs inside the transaction that records a crawl, so the outbox rows commit with their events
or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from notifier.channels import carries_data, channel_key, redact
from notifier.digest import parse_digest
from notifier.matching import SubscriptionBook
from notifier.messages import Alert, alert_data
from rolewatch.config import Config, Subscription
from rolewatch.domain import Event, EventType
from storage.health import HealthTurn, note_crawl_health
from storage.outbox import (
    FEED,
    FEED_CHANNEL,
    OPERATORS,
    OutboxEntry,
    StoredAlert,
    alerted_roles,
    enqueue,
    load_alerts,
)
from storage.recording import CrawlRecord

OPENINGS = (EventType.NEW, EventType.REOPENED)


def dedupe_key(event: Event) -> str:
    """What one alert is about: a role's opening or closing in one episode, or one particular change.

    The episode is part of the key, so a role that closes and reopens alerts again; re-recording
    the same crawl, or a sender writing the same row twice, does not.
    """
    role = f"{event.source}/{event.external_id}#{event.episode}"
    if event.type in OPENINGS:
        return f"{role}:open"
    if event.type is EventType.CLOSED:
        return f"{role}:closed"
    return f"{role}:changed:{event.id}"


def plan_alerts(
    book: SubscriptionBook,
    alerts: Sequence[StoredAlert],
    already: set[tuple[str, str]],
    now: datetime,
) -> list[OutboxEntry]:
    """One entry per (event, matching subscription, channel); quiet for a role the subscription has heard of.

    A subscription with no channel gets one `feed` entry per alert instead, never sent.

    A posting that duplicates one on another board, or reposts a closed one, carries a reference
    to it; unless the subscription opted in to reposts, it does not alert a subscription that
    already has that role (same role key) in its outbox. `already` grows as entries are planned.
    """
    entries: list[OutboxEntry] = []
    for alert in alerts:
        event = alert.event
        for name in book.matching(event, alert.posting):
            subscription = book.subscriptions[name]
            is_repeat = event.type in OPENINGS and bool(event.duplicate_of or event.repost_of)
            if is_repeat and not subscription.reposts and (name, alert.role_key) in already:
                continue
            already.add((name, alert.role_key))
            entries.extend(_entries_for(subscription, alert, now))
    return entries


def _entries_for(subscription: Subscription, alert: StoredAlert, now: datetime) -> Iterable[OutboxEntry]:
    """One entry per channel; a subscription with none keeps its alert as a `feed` row (its web feed)."""
    if not subscription.notify:
        yield OutboxEntry(
            recipient=subscription.name,
            channel_key=FEED_CHANNEL,
            channel=FEED_CHANNEL,
            dedupe_key=dedupe_key(alert.event),
            due_at=now,
            event_id=alert.event.id,
            role_key=alert.role_key,
            status=FEED,
        )
        return
    rule = parse_digest(subscription.digest)
    due_at = now if rule is None else rule.next_due(now, ZoneInfo(subscription.timezone))
    data: dict[str, object] | None = None
    for url in subscription.notify:
        if data is None and carries_data(url):  # the row keeps it, so a retry sends what the first try did
            data = alert_data(Alert(alert.event, alert.posting, alert.opened_at))
        yield OutboxEntry(
            recipient=subscription.name,
            channel_key=channel_key(url),
            channel=redact(url),
            dedupe_key=dedupe_key(alert.event),
            due_at=due_at,
            event_id=alert.event.id,
            role_key=alert.role_key,
            digest=rule is not None,
            payload={"data": data} if carries_data(url) else None,
        )


def health_entries(config: Config, turn: HealthTurn, now: datetime) -> list[OutboxEntry]:
    """One notice per operator channel when a source starts failing or recovers."""
    state = "failing" if turn.failing else "recovered"
    payload = {
        "kind": "health",
        "source": turn.source,
        "failing": turn.failing,
        "crawls": turn.crawls,
        "reason": turn.reason,
        "since": turn.since.isoformat(),
        "title": f"{turn.source} {state}",
    }
    return [
        OutboxEntry(
            recipient=OPERATORS,
            channel_key=channel_key(url),
            channel=redact(url),
            dedupe_key=f"health:{turn.source}:{state}:{turn.since.isoformat()}",
            due_at=now,
            payload=payload,
        )
        for url in config.operators.notify
    ]


class Outbox:
    """The notifier's part of recording a crawl: health turns and alerts, written with the events."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.book = SubscriptionBook(config)

    def after_record(self, connection: Connection, record: CrawlRecord) -> None:
        now = datetime.now(UTC)
        entries: list[OutboxEntry] = []
        reason = record.note or "; ".join(record.stats.errors[:3])
        crawled_at = record.at or now
        turn = note_crawl_health(
            connection, record.source, record.verdict, reason, crawled_at, self.config.operators.after
        )
        if turn is not None:
            entries.extend(health_entries(self.config, turn, now))
        event_ids = [event.id for event in record.events if event.id is not None]
        if event_ids and self.config.subscriptions:
            alerts = list(load_alerts(connection, event_ids).values())
            already = alerted_roles(connection, [alert.role_key for alert in alerts])
            entries.extend(plan_alerts(self.book, alerts, already, now))
        enqueue(connection, entries, now)
