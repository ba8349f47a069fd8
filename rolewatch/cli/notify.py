"""Alerts: test a subscription's channels, send the outbox, look into deliveries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from rolewatch.cli.common import RuntimeFailure, config_of, format_option, handle_errors, open_engine
from rolewatch.output import render

if TYPE_CHECKING:
    from notifier.outbox import DeliveryReport
    from rolewatch.config import Config


@click.group()
def notify() -> None:
    """Check channels."""


@notify.command("test")
@click.argument("name")
@click.pass_context
@handle_errors
def notify_test(ctx: click.Context, name: str) -> None:
    """Send a test message to every channel of subscription NAME (`operators` for the operators' channels)."""
    from zoneinfo import ZoneInfo

    from notifier.channels import channel_format, channel_limits, redact, send
    from notifier.messages import Message

    config = config_of(ctx)
    if name == "operators":
        urls, zone = config.operators.notify, config.operators.timezone
    else:
        subscription = config.subscription(name)
        urls, zone = subscription.notify, subscription.timezone
    if not urls:
        raise RuntimeFailure(f"{name} has no channels to test (add apprise URLs under `notify`)")
    now = datetime.now(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")
    failures = 0
    for url in urls:
        title_max, _ = channel_limits(url)
        message = Message(
            title=f"rolewatch test for {name}"[: title_max or None],
            body=f"This is a test message from rolewatch for {name}, sent {now}.",
            format=channel_format(url),
        )
        result = send(url, message, timeout_s=config.delivery.send_timeout.total_seconds())
        failures += not result.ok
        status = "ok" if result.ok else "FAILED"
        click.echo(f"{status:6} {redact(url)}" + (f" — {result.detail}" if result.detail else ""))
    if failures:
        raise RuntimeFailure(f"{failures} of {len(urls)} channels failed")


@click.command()
@click.pass_context
@handle_errors
def deliver(ctx: click.Context) -> None:
    """Send whatever is due in the outbox now."""
    config = config_of(ctx)
    report = deliver_now(config)
    if report.failed or report.dead:
        raise RuntimeFailure("some deliveries failed (see `rolewatch deliveries --failed`)")


def deliver_now(config: Config) -> DeliveryReport:
    """Run one sender round and say what it did on stderr; shared by `deliver` and `crawl`."""
    from notifier.outbox import deliver_due

    engine = open_engine(config, upgrade=True)
    try:
        report = deliver_due(engine, config)
    finally:
        engine.dispose()
    click.echo(
        f"alerts: {report.sent} sent, {report.failed} failed (will be retried), "
        f"{report.dead} given up, {report.remaining} still owed"
        + (f", {report.cancelled} cancelled (no longer owed)" if report.cancelled else ""),
        err=True,
    )
    return report


@click.group(invoke_without_command=True)
@click.option("--failed", "failed_only", is_flag=True, help="Only dead rows and rows waiting to retry.")
@click.option("--limit", type=int, default=100, show_default=True, help="At most this many rows.")
@format_option
@click.pass_context
@handle_errors
def deliveries(ctx: click.Context, failed_only: bool, limit: int, fmt: str) -> None:
    """The outbox, newest first: what was sent, what waits to be retried, what was given up on."""
    if ctx.invoked_subcommand is not None:
        return
    from storage.outbox import list_deliveries

    config = config_of(ctx)
    rows = [vars(row) for row in list_deliveries(open_engine(config), failed_only=failed_only, limit=limit)]
    if fmt == "table" and not rows:
        click.echo("No deliveries." if not failed_only else "No failed deliveries.")
        return
    columns = ["id", "status", "recipient", "channel", "title", "attempts", "due_at", "sent_at", "last_error"]
    render(rows, columns, fmt)


@deliveries.command("retry")
@click.pass_context
@handle_errors
def deliveries_retry(ctx: click.Context) -> None:
    """Queue every dead delivery again, due now, with a fresh retry window."""
    from storage.outbox import retry_dead

    config = config_of(ctx)
    count = retry_dead(open_engine(config), datetime.now(UTC))
    click.echo(f"{count} dead deliveries queued again; `rolewatch deliver` sends them now.")
