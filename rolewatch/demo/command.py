"""The `rolewatch demo` command: its options, checked, and one demo run under the CLI's error handling."""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from pathlib import Path

import click

#: Scripted rounds may be followed by quiet ones, up to this many in all.
MAX_ROUNDS = 8


def _check_channels(_ctx: click.Context, _param: click.Parameter, urls: tuple[str, ...]) -> tuple[str, ...]:
    from notifier.channels import validate_channel

    for url in urls:
        try:
            validate_channel(url)
        except ValueError as error:
            raise click.BadParameter(str(error)) from None
    return urls


def _check_interval(_ctx: click.Context, _param: click.Parameter, value: str) -> timedelta:
    from rolewatch.config import parse_duration

    try:
        interval = parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    if not timedelta(seconds=1) <= interval <= timedelta(minutes=1):
        raise click.BadParameter("use an interval from 1s to 1m")
    return interval


@click.command("demo")
@click.option(
    "--notify",
    "channels",
    multiple=True,
    metavar="URL",
    callback=_check_channels,
    help="Also send the alerts to this apprise URL (repeatable), e.g. json://127.0.0.1:8080/hook.",
)
@click.option(
    "--rounds",
    type=click.IntRange(1, MAX_ROUNDS),
    default=3,
    show_default=True,
    help="Rounds of board changes to watch (after the fourth, nothing changes).",
)
@click.option(
    "--interval",
    default="2s",
    show_default=True,
    callback=_check_interval,
    help="How often the daemon crawls each sample board (1s to 1m).",
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the database (and a rolewatch.yaml to explore it with) in this directory.",
)
@click.pass_context
def demo(
    ctx: click.Context, channels: tuple[str, ...], rounds: int, interval: timedelta, keep: Path | None
) -> None:
    """Watch rolewatch work, with no network: sample boards on 127.0.0.1, the real daemon, its alerts.

    The daemon crawls three bundled sample boards while they change between rounds, and every
    event it records is shown with the alert a subscription to internships and graduate roles
    receives. Nothing is written outside a temporary directory unless --keep is given.
    """
    from rolewatch.cli.common import handle_errors

    handle_errors(_demo)(ctx, list(channels), rounds, interval, keep)


def _demo(
    ctx: click.Context, channels: list[str], rounds: int, interval: timedelta, keep: Path | None
) -> None:
    from rolewatch.demo.run import run_demo

    if not ctx.find_root().params.get("verbose"):
        # The demo reports each delivery itself; apprise's and the sender's warnings would repeat it.
        for chatty in ("apprise", "notifier.outbox"):
            logging.getLogger(chatty).setLevel(logging.ERROR)
    tally = run_demo(channels, rounds, interval, keep)
    if tally.interrupted:
        sys.exit(130)
