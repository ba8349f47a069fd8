"""Issue #15, finding 4: a hung channel must not hold up the others, nor make two senders send a row twice.

Real webhooks on 127.0.0.1 (one hangs, one is slow, one is quick), real apprise sends, the outbox on
SQLite and PostgreSQL. Rows are written by recording crawls directly (no crawler), so only the
sender is under test.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from notifier.alerts import Outbox
from notifier.channels import IDEMPOTENCY_HEADER, channel_format, channel_key
from notifier.outbox import DeliveryReport, deliver_due
from rolewatch.config import Config
from rolewatch.resolve import parse_config
from storage.models import DeliveryAttemptRow, OutboxRow
from storage.outbox import PENDING, SENT
from tests.integration.storage_factory import Board, posting
from tests.receivers import Webhook, WebhookRequest

KEY = IDEMPOTENCY_HEADER.lower()


@pytest.fixture
def receivers() -> Iterator[dict[str, Webhook]]:
    made = {"hung": Webhook(), "slow": Webhook(), "quick": Webhook()}
    made["hung"].hang()
    try:
        yield made
    finally:
        for receiver in made.values():
            receiver.close()


def config_for(engine: Engine, urls: list[str], **delivery: Any) -> Config:
    settings = {"first_retry": "1h", "max_retry_delay": "1h", "retry_for": "24h", "send_timeout": "1s"}
    data = {
        "database": engine.url.render_as_string(hide_password=False),
        "subscriptions": [{"name": "all", "notify": urls}],
        "delivery": settings | delivery,
    }
    config = parse_config(yaml.safe_dump(data, sort_keys=False))
    for url in urls:
        channel_format(url)  # apprise loads its plugins once, before anything is timed
    return config


def owe(engine: Engine, config: Config, roles: int) -> None:
    """`roles` new roles recorded, so each channel is owed one alert per role."""
    Board(engine, then=Outbox(config).after_record).crawl([posting(n) for n in range(1, roles + 1)])


def titles(requests: list[WebhookRequest]) -> list[str]:
    return [str(request.json["title"]) for request in requests]


def attempts_to(engine: Engine, channel: str) -> int:
    with Session(engine) as session:
        query = (
            select(func.count())
            .select_from(DeliveryAttemptRow)
            .join(OutboxRow, OutboxRow.id == DeliveryAttemptRow.outbox_id)
            .where(OutboxRow.channel_key == channel)
        )
        return int(session.execute(query).scalar_one())


def rows_of(engine: Engine, channel: str) -> list[OutboxRow]:
    with Session(engine) as session:
        query = select(OutboxRow).where(OutboxRow.channel_key == channel).order_by(OutboxRow.id)
        return list(session.execute(query).scalars())


def all_sent(engine: Engine, urls: list[str]) -> bool:
    return all(row.status == SENT for url in urls for row in rows_of(engine, channel_key(url)))


def test_a_hung_channel_does_not_hold_up_a_healthy_one(engine: Engine, receivers: dict[str, Webhook]) -> None:
    hung, quick = receivers["hung"], receivers["quick"]
    config = config_for(engine, [hung.url, quick.url], send_timeout="4s")
    owe(engine, config, roles=3)
    reports: list[DeliveryReport] = []
    sender = threading.Thread(target=lambda: reports.append(deliver_due(engine, config)))
    started = time.monotonic()
    sender.start()

    # All three reach the healthy channel while the hung one's first send still waits its 4 s.
    assert len(quick.wait_for(3, timeout=3.0)) == 3
    assert time.monotonic() - started < 4.0
    sender.join(30)

    assert not sender.is_alive()
    (report,) = reports
    assert (report.sent, report.failed) == (3, 1)
    assert len(hung.requests) == 1, "a channel that timed out is not tried again in the same round"
    hung_rows = rows_of(engine, channel_key(hung.url))
    assert sorted(row.attempts for row in hung_rows) == [0, 0, 1], "the rest were given back, not failed"
    assert all(row.status == PENDING and row.claimed_by is None for row in hung_rows)
    assert all(row.status == SENT for row in rows_of(engine, channel_key(quick.url)))


def test_two_senders_never_send_a_row_twice_while_a_channel_hangs_longer_than_the_lease(
    engine: Engine, receivers: dict[str, Webhook]
) -> None:
    hung, slow, quick = receivers["hung"], receivers["slow"], receivers["quick"]
    slow.slow(0.3)  # 8 rows take 2.4 s on this channel: longer than the whole lease (2 s)
    config = config_for(engine, [hung.url, slow.url, quick.url], lease="1s", send_timeout="1s", batch=50)
    roles = 8
    owe(engine, config, roles=roles)
    stop = threading.Event()
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            while not stop.is_set():
                reports.append(deliver_due(engine, config))
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    senders = [threading.Thread(target=sender, name=f"sender-{n}") for n in range(2)]
    for thread in senders:
        thread.start()
    try:
        slow.wait_for(roles, timeout=30)
        quick.wait_for(roles, timeout=30)
        deadline = time.monotonic() + 30
        while not all_sent(engine, [slow.url, quick.url]):
            assert time.monotonic() < deadline, "the healthy channels' rows were not all recorded as sent"
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in senders:
            thread.join(30)

    assert not errors
    assert sum(report.sent for report in reports) == 2 * roles
    for receiver in (slow, quick):
        delivered = Counter(request.headers[KEY] for request in receiver.requests)
        assert len(delivered) == roles and set(delivered.values()) == {1}, "each row was sent exactly once"
        assert len(set(titles(receiver.requests))) == roles
    # The hung channel: every request it saw is one recorded attempt of a different row (none retried
    # yet: the first retry is an hour away), so no row went to it twice either.
    hung_keys = Counter(request.headers[KEY] for request in hung.requests)
    assert set(hung_keys.values()) == {1}
    assert attempts_to(engine, channel_key(hung.url)) == len(hung.requests)


def test_the_idempotency_key_is_the_same_on_every_retry_of_a_row_and_differs_between_rows(
    engine: Engine, receivers: dict[str, Webhook]
) -> None:
    quick = receivers["quick"]
    quick.respond_with(500)
    config = config_for(engine, [quick.url], first_retry="1s", max_retry_delay="1s")
    owe(engine, config, roles=2)
    now = datetime.now(UTC)

    for round_ in range(3):
        report = deliver_due(engine, config, now=now + timedelta(seconds=5 * round_))
        assert (report.sent, report.failed) == (0, 2)
    quick.respond_with(200)
    assert deliver_due(engine, config, now=now + timedelta(seconds=20)).sent == 2

    requests = quick.wait_for(8)
    by_role: dict[str, set[str]] = {}
    for request in requests:
        by_role.setdefault(str(request.json["title"]), set()).add(request.headers[KEY])
    assert len(by_role) == 2
    assert all(len(keys) == 1 for keys in by_role.values()), "one key for every send of one row"
    first, second = (keys.pop() for keys in by_role.values())
    assert first != second, "different rows never share a key"
    assert first.startswith("rolewatch-") and len(first) > 20


def test_a_users_own_idempotency_header_is_replaced_by_the_rows_key(
    engine: Engine, receivers: dict[str, Webhook]
) -> None:
    quick = receivers["quick"]
    url = f"{quick.url}?+Idempotency-Key=always-the-same"
    config = config_for(engine, [url])
    owe(engine, config, roles=2)
    assert deliver_due(engine, config).sent == 2
    keys = {request.headers[KEY] for request in quick.wait_for(2)}
    assert len(keys) == 2 and "always-the-same" not in keys
