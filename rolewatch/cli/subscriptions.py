"""`rolewatch subscriptions test`: what a subscription would have alerted on, sending nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from rolewatch.cli.common import config_of, format_option, handle_errors, open_engine
from rolewatch.output import render


@click.group()
def subscriptions() -> None:
    """Try subscriptions against what has been recorded."""


@subscriptions.command("test")
@click.argument("name")
@click.option("--since", default="7d", show_default=True, help="How far back: 24h, 7d, 30d.")
@click.option("--query", help="Try this query instead of the subscription's own (its other filters stay).")
@format_option
@click.pass_context
@handle_errors
def subscriptions_test(ctx: click.Context, name: str, since: str, query: str | None, fmt: str) -> None:
    """The recorded events NAME would have alerted on (nothing is sent)."""
    from notifier.matching import SubscriptionBook
    from notifier.query import QuerySyntaxError, compile_query
    from rolewatch.domain import plural
    from storage.outbox import recent_alerts

    window = _window(since)
    config = config_of(ctx)
    subscription = config.subscription(name)
    if query is not None:
        text = query.strip() or None
        try:
            if text:
                compile_query(text)
        except QuerySyntaxError as error:
            raise click.BadParameter(str(error), param_hint="--query") from None
        tried = subscription.model_copy(update={"query": text})
        subscriptions = [tried if s.name == name else s for s in config.subscriptions]
        config = config.model_copy(update={"subscriptions": subscriptions})
    book = SubscriptionBook(config)
    alerts = recent_alerts(open_engine(config), since=datetime.now(UTC) - window)
    rows = [
        {
            "at": alert.event.at,
            "type": alert.event.type.value,
            "source": alert.event.source,
            "title": alert.posting.title,
            "company": alert.posting.company,
            "locations": alert.posting.location_labels(),
            "url": alert.posting.url,
        }
        for alert in alerts
        if name in book.matching(alert.event, alert.posting)
    ]
    if fmt == "table":
        click.echo(
            f"{name}: {len(rows)} of {plural(len(alerts), 'event')} since {since} ago would have alerted."
        )
        if not rows:
            return
    render(rows, ["at", "type", "source", "title", "company", "locations", "url"], fmt)


def _window(since: str) -> timedelta:
    from rolewatch.config import parse_duration

    try:
        return parse_duration(since)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None
