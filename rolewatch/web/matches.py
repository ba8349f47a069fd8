"""What a subscription matched recently, newest first and paged: the `subscriptions test` result for
the subscription page. (Its feeds hold what it alerts on instead: `storage.browse.alerted_events`.)"""

from __future__ import annotations

import time
from datetime import datetime

from rolewatch.web.context import WebContext
from storage.browse import SCAN_BUDGET_S, EventFilter, Page, scan_events
from storage.outbox import StoredAlert, load_alerts


def subscription_matches(
    context: WebContext,
    name: str,
    since: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> Page[StoredAlert]:
    """The events `name` would alert on (the subscription book's own verdict), newest first.

    Events are read in batches from the cursor and matched in Python, as the notifier does; a
    page stops at `limit` matches or after `SCAN_BUDGET_S`, with a cursor to read on.
    """
    book = context.book()
    found: list[StoredAlert] = []
    deadline = time.monotonic() + SCAN_BUDGET_S
    for ids, batch_cursor, last in scan_events(context.engine, EventFilter(since=since), after):
        with context.engine.connect() as connection:
            alerts = load_alerts(connection, ids)
        for event_id in ids:
            alert = alerts.get(event_id)
            if alert is not None and name in book.matching(alert.event, alert.posting):
                found.append(alert)
                if len(found) == limit:
                    return Page(tuple(found), (alert.event.at, event_id))
        if not last and time.monotonic() >= deadline:
            return Page(tuple(found), batch_cursor, scanned_out=True)
    return Page(tuple(found), None)
