"""The outbox sender: claim due deliveries, send them channel by channel, record every attempt.

How a round keeps what it holds, and why a hung channel holds up nothing:

- A batch of due rows is claimed for a lease (`delivery.lease`, and never less than twice
  `delivery.send_timeout`, so one send always fits in it).
- Each channel's rows go out in order on a worker of their own, channels side by side (at most
  `CHANNELS_AT_ONCE`), so a channel that hangs delays only its own rows.
- While the workers run, the round renews the lease of every row it still holds each third of the
  lease: a live sender keeps what it claimed, however long a slow channel keeps it.
- Just before each send the round takes the rows again for a whole lease, which succeeds only while
  they are still its own (`take_claimed`): should a lease ever run out (a stalled process), a row
  another sender claimed meanwhile is left to that sender and never sent twice.
- A channel whose send failed after most of the send time-out is taken as hung: its other rows are
  given back (due as before, no attempt counted) and the channel is left out of the rest of the
  round, so it costs one time-out per round rather than one per row.
- Each outcome is recorded as soon as it is known, so a crash repeats at most the sends in flight;
  a webhook receiver can drop such a repeat by its `Idempotency-Key` header, which is the same on
  every send of one row (`idempotency_key`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from notifier.channels import channel_format, channel_key, channel_limits, redact, send
from notifier.messages import Alert, Message, render_alert, render_digest, render_health
from rolewatch.config import Config
from storage.outbox import (
    CANCELLED,
    DEAD,
    OPERATORS,
    SENT,
    SUBSCRIPTION_REMOVED,
    AttemptOutcome,
    ClaimedDelivery,
    RetryPolicy,
    claim_due,
    outbox_depth,
    record_attempts,
    release_claims,
    renew_claims,
    take_claimed,
)

logger = logging.getLogger(__name__)

CHANNELS_AT_ONCE = 8
"""How many channels one sender sends to at the same time."""

HUNG_FRACTION = 0.5
"""A failed send that took at least this share of the send time-out counts as a hung channel."""


@dataclass(frozen=True)
class DeliveryReport:
    """One round of the sender: what went out, what will be retried, what was given up on, and
    what was withdrawn because it is no longer owed."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    remaining: int = 0
    cancelled: int = 0


class Undeliverable(Exception):
    """The row is no longer owed: its subscription or channel left the configuration, or its event is gone."""


def retry_policy(config: Config) -> RetryPolicy:
    delivery = config.delivery
    return RetryPolicy(delivery.first_retry, delivery.max_retry_delay, delivery.retry_for)


def deliver_due(
    engine: Engine, config: Config, *, now: datetime | None = None, worker: str | None = None
) -> DeliveryReport:
    """Send every delivery that is due now, a claimed batch at a time, until none is left due.

    `now` pins the round's clock (tests travel in time with it); it still advances as the round runs.
    """
    round_ = _Round(engine, config, _clock(now))
    while True:
        claimed = claim_due(
            engine, round_.clock(), round_.lease, config.delivery.batch, skip_channels=round_.hung
        )
        round_.deliver(claimed)
        if len(claimed) < config.delivery.batch:
            break
    counts = round_.counts
    return DeliveryReport(
        sent=counts[SENT],
        failed=counts["failed"],
        dead=counts[DEAD],
        cancelled=counts[CANCELLED],
        remaining=outbox_depth(engine),
    )


def _clock(now: datetime | None) -> Callable[[], datetime]:
    if now is None:
        return lambda: datetime.now(UTC)
    started = time.monotonic()
    return lambda: now + timedelta(seconds=time.monotonic() - started)


def idempotency_key(group: Sequence[ClaimedDelivery], part: int = 1, parts: int = 1) -> str:
    """The `Idempotency-Key` of one message: a hash of what its rows are (recipient, channel, dedupe
    key), so every retry of the same rows carries the same key and different rows never share one;
    `(part/parts)` tells the messages of one digest apart."""
    identity = "\n".join(sorted(f"{d.recipient}|{d.channel_key}|{d.dedupe_key or d.id}" for d in group))
    digest = hashlib.blake2b(identity.encode("utf-8"), digest_size=16, person=b"rolewatch-idem").hexdigest()
    return f"rolewatch-{digest}" + (f"-{part}of{parts}" if parts > 1 else "")


@dataclass
class _Round:
    """One `deliver_due` call: its clock, its lease, what it has counted and which channels hung."""

    engine: Engine
    config: Config
    clock: Callable[[], datetime]
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys((SENT, "failed", DEAD, CANCELLED), 0)
    )
    hung: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def send_timeout_s(self) -> float:
        return self.config.delivery.send_timeout.total_seconds()

    @property
    def lease(self) -> timedelta:
        return max(self.config.delivery.lease, 2 * self.config.delivery.send_timeout)

    def deliver(self, claimed: Sequence[ClaimedDelivery]) -> None:
        """Send a claimed batch, each channel on its own worker, renewing the lease until all are done."""
        by_channel: dict[str, list[list[ClaimedDelivery]]] = {}
        for group in _groups(claimed):
            by_channel.setdefault(group[0].channel_key, []).append(group)
        if not by_channel:
            return
        tokens = {d.claimed_by for d in claimed}
        renew_every = self.lease.total_seconds() / 3
        workers = min(len(by_channel), CHANNELS_AT_ONCE)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rolewatch-send") as pool:
            pending: set[Future[None]] = {
                pool.submit(self._send_channel, groups) for groups in by_channel.values()
            }
            while pending:
                done, pending = wait(pending, timeout=renew_every, return_when=FIRST_EXCEPTION)
                for future in done:
                    future.result()
                with self._lock:
                    for token in tokens:
                        renew_claims(self.engine, token, self.clock(), self.lease)

    def _send_channel(self, groups: list[list[ClaimedDelivery]]) -> None:
        """One channel's rows in order; after a hung send the rest are given back for a later round."""
        for index, group in enumerate(groups):
            if not self._take(group):
                continue
            started = time.monotonic()
            outcomes = _send_group(group, self.config)
            elapsed = time.monotonic() - started
            self._record(outcomes)
            hung = (
                not any(o.ok or o.cancel for o in outcomes) and elapsed >= self.send_timeout_s * HUNG_FRACTION
            )
            if hung:
                rest = [d for later in groups[index + 1 :] for d in later]
                self._give_back(group[0].channel_key, rest)
                return

    def _take(self, group: list[ClaimedDelivery]) -> bool:
        ids = [d.id for d in group]
        token = group[0].claimed_by
        with self._lock:
            held = take_claimed(self.engine, ids, token, self.clock(), self.lease)
            if len(held) == len(ids):
                return True
            release_claims(self.engine, sorted(held), token)
        logger.warning("deliveries %s were claimed by another sender meanwhile; left to it", ids)
        return False

    def _give_back(self, key: str, rest: list[ClaimedDelivery]) -> None:
        with self._lock:
            self.hung.add(key)
            for token in {d.claimed_by for d in rest}:
                release_claims(self.engine, [d.id for d in rest if d.claimed_by == token], token)

    def _record(self, outcomes: list[AttemptOutcome]) -> None:
        policy = retry_policy(self.config)
        with self._lock:
            statuses = record_attempts(self.engine, outcomes, policy)
            for status in statuses:
                self.counts[status if status in (SENT, DEAD, CANCELLED) else "failed"] += 1


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
        return [_outcome(d, False, str(gone), at, started, cancel=True) for d in group]
    except Exception as error:  # a posting that breaks a template must not stop the sender
        logger.exception("could not render delivery %s for %s", first.id, first.recipient)
        return [_outcome(d, False, f"could not render the message: {error}", at, started) for d in group]
    ok, details = True, []
    timeout_s = config.delivery.send_timeout.total_seconds()
    for part, message in enumerate(messages, start=1):
        key = idempotency_key(group, part, len(messages))
        result = send(url, message, timeout_s=timeout_s, idempotency_key=key)
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
    delivery: ClaimedDelivery, ok: bool, detail: str, at: datetime, started: float, *, cancel: bool = False
) -> AttemptOutcome:
    duration = round(time.monotonic() - started, 3)
    return AttemptOutcome(delivery.id, ok, detail, at, duration, cancel=cancel)


def channel_url(config: Config, recipient: str, key: str) -> str:
    """The configured apprise URL behind a row's channel key (the database keeps only the key)."""
    if recipient == OPERATORS:
        urls = config.operators.notify
    else:
        subscription = next((s for s in config.subscriptions if s.name == recipient), None)
        if subscription is None:
            raise Undeliverable(f"{SUBSCRIPTION_REMOVED} ({recipient!r})")
        urls = subscription.notify
    for url in urls:
        if channel_key(url) == key:
            return url
    raise Undeliverable(f"channel removed from the configuration of {recipient!r}")


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
    message = render_alert(alerts[0], format=fmt, timezone=timezone, limits=limits, templates=templates)
    data = first.payload.get("data")
    return [replace(message, data=data) if isinstance(data, dict) else message]


def _alert_of(delivery: ClaimedDelivery) -> Alert:
    stored = delivery.alert
    if stored is None:
        raise Undeliverable(
            f"the event of delivery {delivery.id} no longer exists (removed from the database)"
        )
    return Alert(event=stored.event, posting=stored.posting, opened_at=stored.opened_at)
