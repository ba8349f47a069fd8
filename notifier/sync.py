"""The configuration written to the database: its sources, and its subscriptions with every channel redacted.

It is the notifier's to write because only the notifier knows (through apprise) which parts of a
channel URL are secret; storage is handed the subscriptions as plain documents with no secret left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from notifier.channels import redact
from storage.sync import sync_sources, sync_subscriptions

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from rolewatch.config import Config, Subscription


def sync_config(engine: Engine, config: Config) -> None:
    """Store the configured sources and subscriptions, so status and alerts see a change at once."""
    sync_sources(engine, config.sources)
    sync_subscriptions(engine, [subscription_document(s) for s in config.subscriptions])


def subscription_document(subscription: Subscription) -> dict[str, object]:
    """The subscription as stored in the database: its channels redacted, so no secret is kept there."""
    document = subscription.model_dump(mode="json", by_alias=True)
    document["notify"] = [redact(url) for url in subscription.notify]
    return document
