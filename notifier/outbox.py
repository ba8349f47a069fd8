"""The outbox sender: claim due deliveries, send each through its channel, record every attempt.

Each row is claimed before it is sent and recorded right after, one channel at a time, so the
only way a message can go out twice is a crash between a send and its record; a sender that
dies before sending loses nothing, since its claim simply runs out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from notifier.channels import channel_format, channel_key, channel_limits, redact, send
from notifier.messages import Alert, Message, render_alert, render_digest, render_health
from rolewatch.config import Config
from storage.outbox import (
    DEAD,
    SENT,
    AttemptOutcome,
    ClaimedDelivery,
    RetryPolicy,
    claim_due,
    outbox_depth,
    record_attempts,
)

logger = logging.getLogger(__name__)
OPERATORS = "@operators"


@dataclass(frozen=True)
class DeliveryReport:
    """One round of the sender: what went out, what will be retried, what was given up on."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    remaining: int = 0


class Undeliverable(Exception):
    """The row can never be sent: its channel left the configuration, or its event is gone."""


def retry_policy(config: Config) -> RetryPolicy:
    delivery = config.delivery
    return RetryPolicy(delivery.first_retry, delivery.max_retry_delay, delivery.retry_for)


def deliver_due(
    engine: Engine, config: Config, *, now: datetime | None = None, worker: str | None = None
) -> DeliveryReport:
    """Send every delivery that is due now, a claimed batch at a time, until none is left due."""
    policy = retry_policy(config)
    counts = {"sent": 0, "failed": 0, "dead": 0}
    while True:
        moment = now or datetime.now(UTC)
        claimed = claim_due(engine, moment, config.delivery.lease, config.delivery.batch)
        for group in _groups(claimed):
            outcomes = _send_group(group, config)
            for status in record_attempts(engine, outcomes, policy):
                counts["sent" if status == SENT else "dead" if status == DEAD else "failed"] += 1
        if len(claimed) < config.delivery.batch:
            break
    return DeliveryReport(**counts, remaining=outbox_depth(engine))


def _groups(claimed: Sequence[ClaimedDelivery]) -> Iterator[list[ClaimedDelivery]]:
    """Digest rows of one subscription and channel travel together; every other row alone."""
    digests: dict[tuple[str, str], list[ClaimedDelivery]] = {}
    for delivery in claimed:
        if delivery.digest:
            digests.setdefault((delivery.recipient, delivery.channel_key), []).append(delivery)
        else:
            yield [delivery]
    yield from digests.values()


def _send_group(group: list[ClaimedDelivery], config: Config) -> list[AttemptOutcome]:
    started = time.monotonic()
    at = datetime.now(UTC)
    first = group[0]
    try:
        url = channel_url(config, first.recipient, first.channel_key)
        messages = _messages(group, url, config)
    except Undeliverable as gone:
        return [_outcome(d, False, str(gone), at, started, give_up=True) for d in group]
    except Exception as error:  # a posting that breaks a template must not stop the sender
        logger.exception("could not render delivery %s for %s", first.id, first.recipient)
        return [_outcome(d, False, f"could not render the message: {error}", at, started) for d in group]
    ok, details = True, []
    for message in messages:
        result = send(url, message, timeout_s=config.delivery.send_timeout.total_seconds())
        ok = ok and result.ok
        if result.detail:
            details.append(result.detail)
        if not result.ok:
            break
    detail = "; ".join(details)
    if not ok:
        logger.warning("delivery to %s via %s failed: %s", first.recipient, redact(url), detail)
    return [_outcome(d, ok, detail, at, started) for d in group]


def _outcome(
    delivery: ClaimedDelivery, ok: bool, detail: str, at: datetime, started: float, *, give_up: bool = False
) -> AttemptOutcome:
    duration = round(time.monotonic() - started, 3)
    return AttemptOutcome(delivery.id, ok, detail, at, duration, give_up=give_up)


def channel_url(config: Config, recipient: str, key: str) -> str:
    """The configured apprise URL behind a row's channel key (the database keeps only the key)."""
    if recipient == OPERATORS:
        urls = config.operators.notify
    else:
        subscription = next((s for s in config.subscriptions if s.name == recipient), None)
        if subscription is None:
            raise Undeliverable(f"subscription {recipient!r} is no longer configured")
        urls = subscription.notify
    for url in urls:
        if channel_key(url) == key:
            return url
    raise Undeliverable(f"this channel is no longer configured for {recipient!r}")


def _messages(group: list[ClaimedDelivery], url: str, config: Config) -> list[Message]:
    first = group[0]
    templates = Path(config.delivery.templates) if config.delivery.templates else None
    fmt, limits = channel_format(url), channel_limits(url)
    if first.recipient == OPERATORS:
        payload = first.payload
        return [
            render_health(
                str(payload["source"]),
                failing=bool(payload["failing"]),
                crawls=int(payload["crawls"]),
                reason=str(payload.get("reason") or ""),
                since=datetime.fromisoformat(str(payload["since"])),
                format=fmt,
                timezone=ZoneInfo(config.operators.timezone),
                limits=limits,
                templates=templates,
            )
        ]
    subscription = config.subscription(first.recipient)
    timezone = ZoneInfo(subscription.timezone)
    alerts = [_alert_of(delivery) for delivery in group]
    if first.digest:
        return render_digest(
            alerts,
            subscription=subscription.name,
            format=fmt,
            timezone=timezone,
            limits=limits,
            templates=templates,
        )
    return [render_alert(alerts[0], format=fmt, timezone=timezone, limits=limits, templates=templates)]


def _alert_of(delivery: ClaimedDelivery) -> Alert:
    stored = delivery.alert
    if stored is None:
        raise Undeliverable(f"the event of delivery {delivery.id} no longer exists")
    return Alert(event=stored.event, posting=stored.posting, opened_at=stored.opened_at)
