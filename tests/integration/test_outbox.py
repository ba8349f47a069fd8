"""The outbox in the database: alerts written with their events, once per role episode; claims, retries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from notifier.alerts import Outbox
from notifier.channels import redact
from rolewatch.config import Config
from rolewatch.domain import CrawlVerdict
from rolewatch.resolve import parse_config
from storage.models import DeliveryAttemptRow, OutboxRow
from storage.outbox import (
    DEAD,
    OPERATORS,
    PENDING,
    SENT,
    AttemptOutcome,
    RetryPolicy,
    claim_due,
    list_deliveries,
    record_attempts,
    retry_dead,
)
from tests.integration.storage_factory import T0, Board, posting

WEBHOOK = "json://127.0.0.1:9/hook"
MAIL = "mailto://127.0.0.1:2525?from=rolewatch@example.org&to=me@example.org"


def config(*subscriptions: dict[str, Any], operators: list[str] | None = None) -> Config:
    data: dict[str, Any] = {"subscriptions": list(subscriptions)}
    if operators:
        data["operators"] = {"notify": operators, "after": 2}
    return parse_config(yaml.safe_dump(data))


def rows(engine: Engine) -> list[OutboxRow]:
    with Session(engine) as session:
        return list(session.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars())


def test_alerts_are_written_with_their_events_once_per_matching_channel(engine: Engine) -> None:
    outbox = Outbox(
        config(
            {"name": "interns", "query": "intern", "notify": [WEBHOOK, MAIL]},
            {"name": "none", "query": "chef", "notify": [WEBHOOK]},
        )
    )
    board = Board(engine, then=outbox.after_record)
    record = board.crawl([posting(1), posting(2, title="Head Chef")])
    written = rows(engine)
    assert sorted((row.recipient, row.channel) for row in written) == [
        ("interns", redact(WEBHOOK)),
        ("interns", redact(MAIL)),
        ("none", redact(WEBHOOK)),
    ]
    new_ids = {event.external_id: event.id for event in record.events}
    assert {row.event_id for row in written if row.recipient == "interns"} == {new_ids["1"]}
    assert all(row.status == PENDING and row.due_at <= row.created_at for row in written)


def test_recording_the_same_crawl_again_writes_no_second_alert(engine: Engine) -> None:
    outbox = Outbox(config({"name": "all", "notify": [WEBHOOK]}))
    board = Board(engine, then=outbox.after_record)
    result = board.result([posting(1)])
    from storage.recording import record_crawl

    record_crawl(engine, board.source, result, then=outbox.after_record)
    record_crawl(engine, board.source, result, then=outbox.after_record)
    assert len(rows(engine)) == 1


def test_a_role_that_closes_and_reopens_alerts_again(engine: Engine) -> None:
    outbox = Outbox(config({"name": "all", "notify": [WEBHOOK], "events": ["new", "reopened", "closed"]}))
    board = Board(engine, close_after_misses=1, then=outbox.after_record)
    board.crawl([posting(1), posting(2)])
    board.crawl([posting(2)])
    board.crawl([posting(1), posting(2)])
    keys = sorted(row.dedupe_key for row in rows(engine))
    assert keys == ["acme/1#1:closed", "acme/1#1:open", "acme/1#2:open", "acme/2#1:open"]


def test_a_duplicate_on_another_board_does_not_alert_the_same_subscription_twice(engine: Engine) -> None:
    outbox = Outbox(
        config({"name": "quiet", "notify": [WEBHOOK]}, {"name": "loud", "notify": [WEBHOOK], "reposts": True})
    )
    Board(engine, "acme", then=outbox.after_record).crawl([posting(1, company="Koala")])
    second = Board(engine, "bilby", then=outbox.after_record).crawl(
        [posting(77, source="bilby", company="Koala", title="Data Scientist Intern 1")]
    )
    assert second.events[0].duplicate_of == "acme/1"
    per_recipient = sorted((row.recipient, row.dedupe_key) for row in rows(engine))
    assert per_recipient == [
        ("loud", "acme/1#1:open"),
        ("loud", "bilby/77#1:open"),
        ("quiet", "acme/1#1:open"),
    ]


def test_a_claimed_row_is_not_claimed_again_until_its_lease_runs_out(engine: Engine) -> None:
    outbox = Outbox(config({"name": "all", "notify": [WEBHOOK]}))
    Board(engine, then=outbox.after_record).crawl([posting(1)])
    now = rows(engine)[0].created_at
    first = claim_due(engine, now, timedelta(minutes=5), 10)
    assert [d.alert.posting.title for d in first if d.alert] == ["Data Scientist Intern 1"]
    assert claim_due(engine, now + timedelta(minutes=4), timedelta(minutes=5), 10) == []
    again = claim_due(engine, now + timedelta(minutes=6), timedelta(minutes=5), 10)
    assert [d.id for d in again] == [first[0].id], "a sender that died before sending loses nothing"


def test_failures_back_off_exponentially_then_park_the_row_as_dead(engine: Engine) -> None:
    outbox = Outbox(config({"name": "all", "notify": [WEBHOOK]}))
    Board(engine, then=outbox.after_record).crawl([posting(1)])
    policy = RetryPolicy(timedelta(minutes=1), timedelta(hours=1), timedelta(hours=24))
    at = rows(engine)[0].created_at
    delays = []
    while True:
        (claimed,) = claim_due(engine, at, timedelta(minutes=5), 10)
        (status,) = record_attempts(engine, [AttemptOutcome(claimed.id, False, "HTTP 500", at, 0.1)], policy)
        if status == DEAD:
            break
        due = rows(engine)[0].due_at
        delays.append(due - at)
        at = due
    assert delays[:4] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
    ]
    assert max(delays) == timedelta(hours=1)
    assert sum(delays, timedelta()) >= timedelta(hours=24)
    (row,) = rows(engine)
    assert row.status == DEAD and row.last_error == "HTTP 500" and row.attempts == len(delays) + 1
    with Session(engine) as session:
        attempts = session.execute(select(DeliveryAttemptRow)).scalars().all()
    assert len(attempts) == row.attempts and not any(attempt.ok for attempt in attempts)
    assert [d.status for d in list_deliveries(engine, failed_only=True)] == [DEAD]
    assert retry_dead(engine, at) == 1
    (claimed,) = claim_due(engine, at, timedelta(minutes=5), 10)
    assert record_attempts(engine, [AttemptOutcome(claimed.id, True, "", at, 0.1)], policy) == [SENT]
    assert list_deliveries(engine, failed_only=True) == []


def test_operators_hear_once_when_a_source_fails_and_once_when_it_recovers(engine: Engine) -> None:
    outbox = Outbox(config(operators=[WEBHOOK]))
    board = Board(engine, then=outbox.after_record)
    board.crawl([posting(1)])
    for _ in range(4):
        board.crawl([], CrawlVerdict.FAILED, reason="HTTP 503")
    board.crawl([posting(1)])
    board.crawl([posting(1)])
    notices = [(row.recipient, row.payload["failing"], row.payload["crawls"]) for row in rows(engine)]
    assert notices == [(OPERATORS, True, 2), (OPERATORS, False, 4)]
    assert rows(engine)[0].payload["since"].startswith((T0 + timedelta(minutes=60)).date().isoformat())
