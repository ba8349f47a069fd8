"""The outbox tables: write owed messages, claim the due ones, record each attempt, list and re-queue.

Rows are written in the transaction that records the events they are about, so an event
never exists without its alerts. A sender claims rows for a lease before sending, renews the
lease of what it still holds while it works, and re-takes each row just before sending it, which
succeeds only while the row is still its own; a sender that dies mid-send leaves rows whose lease
runs out and that the next round picks up again.

A row is `pending`, `sent`, `dead` (given up after its retry window, or by the sender) or
`cancelled` (no longer owed: its subscription or channel left the configuration, its event is
gone); a cancelled row keeps the reason in `last_error`, and is never retried. A subscription with
no channel still has its alerts written, as `feed` rows on the `FEED_CHANNEL`: never sent, they are
what its web feed holds and what keeps it quiet about a repost of a role it has heard of.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from rolewatch.domain import Event, EventType, Posting
from rolewatch.redaction import mask_elided
from storage.database import chunks, upsert
from storage.models import DeliveryAttemptRow, EventRow, OutboxRow, PostingRow, SourceRow
from storage.snapshot import posting_from_row

PENDING, SENT, DEAD, CANCELLED, FEED = "pending", "sent", "dead", "cancelled", "feed"
#: The channel of a `feed` row: an alert of a subscription that has no channel to send it to.
FEED_CHANNEL = "feed"

SUBSCRIPTION_REMOVED = "subscription removed from the configuration"

OPERATORS = "@operators"
"""The recipient of the operators' source-health notices, where other rows name their subscription."""


@dataclass(frozen=True)
class OutboxEntry:
    """One message owed to one channel, before it is written."""

    recipient: str
    channel_key: str
    channel: str
    dedupe_key: str
    due_at: datetime
    event_id: int | None = None
    role_key: str | None = None
    digest: bool = False
    payload: Mapping[str, Any] | None = None
    status: str = PENDING


@dataclass(frozen=True)
class StoredAlert:
    """An event with its posting as stored now, the posting's role key and when its episode opened."""

    event: Event
    posting: Posting
    role_key: str
    opened_at: datetime | None = None


@dataclass(frozen=True)
class ClaimedDelivery:
    """A claimed row with what rendering it needs: for an alert, the event and the posting."""

    id: int
    recipient: str
    channel_key: str
    channel: str
    digest: bool
    payload: Mapping[str, Any]
    attempts: int
    first_attempt_at: datetime | None
    alert: StoredAlert | None
    dedupe_key: str = ""
    claimed_by: str = ""


@dataclass(frozen=True)
class AttemptOutcome:
    """One send of one row; `give_up` parks it as dead at once; `cancel` withdraws it without a send
    (it is no longer owed), `detail` saying why."""

    outbox_id: int
    ok: bool
    detail: str
    at: datetime
    duration_s: float
    give_up: bool = False
    cancel: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off from `first_retry` up to `max_delay`, for `retry_for`, then dead."""

    first_retry: timedelta
    max_delay: timedelta
    retry_for: timedelta

    def delay(self, failures: int) -> timedelta:
        seconds = self.first_retry.total_seconds() * 2 ** max(failures - 1, 0)
        return min(timedelta(seconds=seconds), self.max_delay)


@dataclass(frozen=True)
class DeliverySummary:
    """One outbox row for `rolewatch deliveries`; the channel is already redacted."""

    id: int
    recipient: str
    channel: str
    status: str
    attempts: int
    due_at: datetime
    created_at: datetime
    sent_at: datetime | None
    last_error: str
    event_id: int | None
    title: str


def enqueue(connection: Connection, entries: Sequence[OutboxEntry], now: datetime) -> int:
    """Write `entries`, skipping any whose (recipient, channel, dedupe key) is already owed or sent."""
    if not entries:
        return 0
    rows = [
        {
            "recipient": entry.recipient,
            "channel_key": entry.channel_key,
            "channel": entry.channel,
            "dedupe_key": entry.dedupe_key,
            "event_id": entry.event_id,
            "role_key": entry.role_key,
            "digest": entry.digest,
            "payload": dict(entry.payload or {}),
            "status": entry.status,
            "created_at": now,
            "due_at": entry.due_at,
            "claimed_until": None,
            "claimed_by": None,
            "attempts": 0,
            "first_attempt_at": None,
            "last_attempt_at": None,
            "last_error": "",
            "sent_at": None,
        }
        for entry in entries
    ]
    before = _count(connection)
    statement = upsert(connection, OutboxRow).on_conflict_do_nothing(
        index_elements=["recipient", "channel_key", "dedupe_key"]
    )
    connection.execute(statement, rows)
    return _count(connection) - before


def _count(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(OutboxRow)).scalar_one())


def alerted_roles(connection: Connection, role_keys: Sequence[str]) -> set[tuple[str, str]]:
    """(recipient, role key) pairs already alerted or owed: a duplicate on another board stays quiet."""
    found: set[tuple[str, str]] = set()
    for chunk in chunks(sorted(set(role_keys))):
        query = select(OutboxRow.recipient, OutboxRow.role_key).where(OutboxRow.role_key.in_(chunk))
        query = query.distinct()
        found.update((row.recipient, row.role_key) for row in connection.execute(query))
    return found


def claim_due(
    engine: Engine, now: datetime, lease: timedelta, limit: int, *, skip_channels: Collection[str] = ()
) -> list[ClaimedDelivery]:
    """Claim up to `limit` due rows for `lease`; a row claimed by a live sender is never claimed twice.

    Rows of the channels in `skip_channels` (channel keys) are left alone.
    """
    token = uuid.uuid4().hex
    due = and_(
        OutboxRow.status == PENDING,
        OutboxRow.due_at <= now,
        or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until <= now),
    )
    if skip_channels:
        due = and_(due, OutboxRow.channel_key.not_in(sorted(skip_channels)))
    with engine.begin() as connection:
        candidates = select(OutboxRow.id).where(due).order_by(OutboxRow.due_at, OutboxRow.id).limit(limit)
        if connection.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        ids = list(connection.execute(candidates).scalars())
        if not ids:
            return []
        connection.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(ids), due)
            .values(claimed_by=token, claimed_until=now + lease)
        )
        query = select(OutboxRow).where(OutboxRow.claimed_by == token)
        rows = Session(connection).execute(query).scalars().all()
        return _with_alerts(connection, list(rows))


def _with_alerts(connection: Connection, rows: list[OutboxRow]) -> list[ClaimedDelivery]:
    event_ids = sorted({row.event_id for row in rows if row.event_id is not None})
    alerts = load_alerts(connection, event_ids)
    claimed = []
    for row in sorted(rows, key=lambda r: (r.due_at, r.id)):
        claimed.append(
            ClaimedDelivery(
                id=row.id,
                recipient=row.recipient,
                channel_key=row.channel_key,
                channel=row.channel,
                digest=row.digest,
                payload=row.payload or {},
                attempts=row.attempts,
                first_attempt_at=row.first_attempt_at,
                alert=alerts.get(row.event_id) if row.event_id is not None else None,
                dedupe_key=row.dedupe_key,
                claimed_by=row.claimed_by or "",
            )
        )
    return claimed


def take_claimed(engine: Engine, ids: Sequence[int], token: str, now: datetime, lease: timedelta) -> set[int]:
    """Of `ids`, those still claimed by `token` (and pending), held again for a whole `lease` from
    `now`: what the sender may send. A row whose lease ran out and that another sender claimed is
    not among them, so it is never sent twice."""
    if not ids:
        return set()
    held = and_(OutboxRow.id.in_(list(ids)), OutboxRow.claimed_by == token, OutboxRow.status == PENDING)
    with engine.begin() as connection:
        connection.execute(update(OutboxRow).where(held).values(claimed_until=now + lease))
        return set(connection.execute(select(OutboxRow.id).where(held)).scalars())


def renew_claims(engine: Engine, token: str, now: datetime, lease: timedelta) -> int:
    """Hold every row still claimed by `token` for another `lease` from `now`: a sender that is alive
    and working keeps what it claimed. Returns how many rows it holds."""
    with engine.begin() as connection:
        result = connection.execute(
            update(OutboxRow)
            .where(OutboxRow.claimed_by == token, OutboxRow.status == PENDING)
            .values(claimed_until=now + lease)
        )
        return int(result.rowcount or 0)


def release_claims(engine: Engine, ids: Sequence[int], token: str) -> None:
    """Give back rows claimed by `token` without an attempt: they are due as before, free to claim."""
    if not ids:
        return
    with engine.begin() as connection:
        connection.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(list(ids)), OutboxRow.claimed_by == token, OutboxRow.status == PENDING)
            .values(claimed_by=None, claimed_until=None)
        )


def cancel_pending(connection: Connection, recipients: Sequence[str], reason: str) -> int:
    """Withdraw every pending row owed to `recipients`: cancelled with `reason`, never retried."""
    if not recipients:
        return 0
    result = connection.execute(
        update(OutboxRow)
        .where(OutboxRow.recipient.in_(list(recipients)), OutboxRow.status == PENDING)
        .values(status=CANCELLED, last_error=reason, claimed_by=None, claimed_until=None)
    )
    return int(result.rowcount or 0)


def load_alerts(connection: Connection, event_ids: Sequence[int]) -> dict[int, StoredAlert]:
    """Each event with its posting as stored now and, for a closure, when the posting's episode opened."""
    found: dict[int, StoredAlert] = {}
    for chunk in chunks(list(event_ids)):
        query = (
            select(EventRow, PostingRow, SourceRow.name)
            .join(PostingRow, PostingRow.id == EventRow.posting_id)
            .join(SourceRow, SourceRow.id == EventRow.source_id)
            .where(EventRow.id.in_(chunk))
        )
        for event_row, posting_row, source in Session(connection).execute(query):
            event = Event(
                type=EventType(event_row.type),
                source=source,
                external_id=posting_row.external_id,
                title=event_row.title,
                company=event_row.company,
                url=event_row.url,
                at=event_row.at,
                episode=event_row.episode,
                changes={name: (old, new) for name, (old, new) in (event_row.changes or {}).items()},
                repost_of=event_row.repost_of,
                duplicate_of=event_row.duplicate_of,
                id=event_row.id,
            )
            found[event_row.id] = StoredAlert(
                event, posting_from_row(posting_row, source), posting_row.role_key
            )
    _add_opening_times(connection, found)
    return found


def _add_opening_times(connection: Connection, found: dict[int, StoredAlert]) -> None:
    """A closed event says how long the role was open: from its episode's new or reopened event."""
    closed = {
        event_id: alert.event for event_id, alert in found.items() if alert.event.type is EventType.CLOSED
    }
    if not closed:
        return
    openings = select(EventRow.posting_id, EventRow.episode, func.min(EventRow.at).label("at")).where(
        EventRow.type.in_([EventType.NEW.value, EventType.REOPENED.value]),
        EventRow.posting_id.in_(select(EventRow.posting_id).where(EventRow.id.in_(list(closed)))),
    )
    opened = {
        (row.posting_id, row.episode): row.at
        for row in connection.execute(openings.group_by(EventRow.posting_id, EventRow.episode))
    }
    query = select(EventRow.id, EventRow.posting_id).where(EventRow.id.in_(list(closed)))
    posting_of = {row[0]: row[1] for row in connection.execute(query)}
    for event_id, event in closed.items():
        opened_at = opened.get((posting_of[event_id], event.episode))
        found[event_id] = replace(found[event_id], opened_at=opened_at)


def recent_alerts(engine: Engine, since: datetime) -> list[StoredAlert]:
    """Every event recorded since `since`, oldest first, with its posting: for trying a subscription."""
    with engine.connect() as connection:
        query = select(EventRow.id).where(EventRow.at >= since).order_by(EventRow.at, EventRow.id)
        ids = list(connection.execute(query).scalars())
        found = load_alerts(connection, ids)
    return [found[event_id] for event_id in ids if event_id in found]


def record_attempts(engine: Engine, outcomes: Sequence[AttemptOutcome], policy: RetryPolicy) -> list[str]:
    """Each attempt is kept; a success is sent, a failure waits its back-off or, past `retry_for`, is dead;
    a cancellation is no attempt: the row is cancelled with its reason.

    Returns each row's status afterwards, in the order of `outcomes`.
    """
    statuses: list[str] = []
    if not outcomes:
        return statuses
    attempts = [o for o in outcomes if not o.cancel]
    with engine.begin() as connection:
        if attempts:
            connection.execute(
                insert(DeliveryAttemptRow),
                [
                    {"outbox_id": o.outbox_id, "at": o.at, "ok": o.ok, "detail": o.detail}
                    | {"duration_s": o.duration_s}
                    for o in attempts
                ],
            )
        rows = {
            row.id: row
            for row in connection.execute(
                select(OutboxRow.id, OutboxRow.attempts, OutboxRow.first_attempt_at).where(
                    OutboxRow.id.in_([o.outbox_id for o in outcomes])
                )
            )
        }
        for outcome in outcomes:
            row = rows.get(outcome.outbox_id)
            if row is None:
                statuses.append(DEAD)
                continue
            values = _after_attempt(outcome, row.attempts, row.first_attempt_at, policy)
            connection.execute(update(OutboxRow).where(OutboxRow.id == outcome.outbox_id).values(**values))
            statuses.append(values.get("status", PENDING))
    return statuses


def _after_attempt(
    outcome: AttemptOutcome, attempts: int, first_attempt_at: datetime | None, policy: RetryPolicy
) -> dict[str, Any]:
    if outcome.cancel:
        return {"status": CANCELLED, "last_error": outcome.detail, "claimed_by": None, "claimed_until": None}
    first = first_attempt_at or outcome.at
    values: dict[str, Any] = {
        "attempts": attempts + 1,
        "first_attempt_at": first,
        "last_attempt_at": outcome.at,
        "claimed_by": None,
        "claimed_until": None,
    }
    if outcome.ok:
        return {**values, "status": SENT, "sent_at": outcome.at, "last_error": ""}
    values["last_error"] = outcome.detail
    if outcome.give_up or outcome.at - first >= policy.retry_for:
        return {**values, "status": DEAD}
    return {**values, "due_at": outcome.at + policy.delay(attempts + 1)}


def list_deliveries(
    engine: Engine, *, failed_only: bool = False, limit: int | None = 100
) -> list[DeliverySummary]:
    """The newest outbox rows first; `failed_only` keeps the dead ones and those waiting to retry.

    `feed` rows are left out: nothing is delivered for them.
    """
    query = (
        select(OutboxRow, EventRow.title)
        .outerjoin(EventRow, EventRow.id == OutboxRow.event_id)
        .where(OutboxRow.status != FEED)
        .order_by(OutboxRow.id.desc())
        .limit(limit)
    )
    if failed_only:
        retrying = and_(OutboxRow.status == PENDING, OutboxRow.attempts > 0)
        query = query.where(or_(OutboxRow.status == DEAD, retrying))
    with engine.connect() as connection:
        return [
            DeliverySummary(
                id=row.id,
                recipient=row.recipient,
                channel=mask_elided(row.channel),
                status=row.status,
                attempts=row.attempts,
                due_at=row.due_at,
                created_at=row.created_at,
                sent_at=row.sent_at,
                last_error=row.last_error,
                event_id=row.event_id,
                title=title or str((row.payload or {}).get("title") or ""),
            )
            for row, title in Session(connection).execute(query)
        ]


def retry_dead(engine: Engine, now: datetime) -> int:
    """Put every dead row back in the queue, due now, with a fresh retry window."""
    with engine.begin() as connection:
        result = connection.execute(
            update(OutboxRow)
            .where(OutboxRow.status == DEAD)
            .values(status=PENDING, due_at=now, first_attempt_at=None, claimed_by=None, claimed_until=None)
        )
        return int(result.rowcount or 0)


def outbox_depth(engine: Engine) -> int:
    """Rows still owed (pending, due or not)."""
    with engine.connect() as connection:
        query = select(func.count()).select_from(OutboxRow).where(OutboxRow.status == PENDING)
        return int(connection.execute(query).scalar_one())
