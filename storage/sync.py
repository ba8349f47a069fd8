"""The configuration kept in the database: one row per configured source and per subscription.

A source or subscription dropped from the configuration keeps its row (and its history); storage is
handed plain configuration: subscriptions arrive as documents with their channels already redacted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from storage.database import upsert
from storage.models import SourceRow, SubscriptionRow
from storage.outbox import SUBSCRIPTION_REMOVED, cancel_pending

if TYPE_CHECKING:
    from rolewatch.config import SourceConfig


def sync_sources(engine: Engine, sources: Sequence[SourceConfig]) -> None:
    """One row per configured source; a source dropped from the configuration keeps its history."""
    if not sources:
        return
    now = datetime.now(UTC)
    rows = [
        {
            "name": source.name,
            "type": source.type,
            "config": {**source.model_dump(mode="json"), **source.options.model_dump(mode="json")},
            "created_at": now,
            "updated_at": now,
            "suspect_streak": 0,
            "validators": {},
        }
        for source in sources
    ]
    with engine.begin() as connection:
        statement = upsert(connection, SourceRow)
        statement = statement.on_conflict_do_update(
            index_elements=[SourceRow.name],
            set_={
                "type": statement.excluded.type,
                "config": statement.excluded.config,
                "updated_at": statement.excluded.updated_at,
            },
            where=(SourceRow.type != statement.excluded.type)
            | (SourceRow.config != statement.excluded.config),
        )
        connection.execute(statement, rows)


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
