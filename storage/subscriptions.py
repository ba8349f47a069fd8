"""Subscriptions as configured, kept in the database (channels redacted) so deliveries can be read later."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from storage.history import upsert
from storage.models import SubscriptionRow
from storage.outbox import SUBSCRIPTION_REMOVED, cancel_pending


def sync_subscriptions(engine: Engine, documents: Sequence[Mapping[str, Any]]) -> None:
    """Insert or refresh each configured subscription; one no longer configured is kept, inactive,
    and the alerts it was still owed are cancelled.

    `documents` are the subscriptions with every channel already redacted: no secret is stored.
    """
    now = datetime.now(UTC)
    names = [str(document["name"]) for document in documents]
    with engine.begin() as connection:
        stored = {
            row.name: row
            for row in connection.execute(
                select(SubscriptionRow.name, SubscriptionRow.config, SubscriptionRow.active)
            )
        }
        rows = [
            {"name": str(d["name"]), "config": dict(d), "active": True, "created_at": now, "updated_at": now}
            for d in documents
            if str(d["name"]) not in stored
            or stored[str(d["name"])].config != dict(d)
            or not stored[str(d["name"])].active
        ]
        if rows:
            statement = upsert(connection, SubscriptionRow)
            statement = statement.on_conflict_do_update(
                index_elements=["name"],
                set_={"config": statement.excluded.config, "active": True, "updated_at": now},
            )
            connection.execute(statement, rows)
        gone = [name for name, row in stored.items() if row.active and name not in names]
        if gone:
            connection.execute(
                update(SubscriptionRow)
                .where(SubscriptionRow.name.in_(gone))
                .values(active=False, updated_at=now)
            )
        # Alerts still owed to a subscription that is not configured are withdrawn, not failed.
        unconfigured = [name for name in stored if name not in names]
        cancel_pending(connection, unconfigured, SUBSCRIPTION_REMOVED)
