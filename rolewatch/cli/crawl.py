"""`rolewatch crawl`: crawl now, store, print the events and send their alerts."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from rolewatch.cli.common import (
    RuntimeFailure,
    config_of,
    format_option,
    handle_errors,
    open_engine,
    render_events,
)

if TYPE_CHECKING:
    from storage.recording import CrawlRecord


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[str], None]]:
    """A progress bar on a terminal, one plain line per step anywhere else."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task(label, total=total)

            def advance(line: str) -> None:
                bar.console.print(line, highlight=False)
                bar.advance(task)

            yield advance
        return
    done = 0

    def print_line(line: str) -> None:
        nonlocal done
        done += 1
        click.echo(f"[{done}/{total}] {line}", err=True)

    yield print_line


def _summary(record: CrawlRecord) -> str:
    counts = ", ".join(f"{n} {kind}" for kind, n in record.counts.items() if n)
    note = f" — {record.note}" if record.note else ""
    return f"{record.source}: {record.verdict.value}{', ' + counts if counts else ''}{note}"


@click.command()
@click.argument("sources", nargs=-1)
@click.option("--no-notify", is_flag=True, help="Record the alerts in the outbox but do not send them now.")
@format_option
@click.pass_context
@handle_errors
def crawl(ctx: click.Context, sources: tuple[str, ...], no_notify: bool, fmt: str) -> None:
    """Crawl now (all enabled sources when none are named), store, print the events, send their alerts."""
    from rolewatch.domain import CrawlVerdict, plural
    from scheduler.pipeline import crawl_and_record

    config = config_of(ctx)
    chosen = config.resolved_sources(sources)
    if not chosen:
        raise RuntimeFailure("no sources to crawl; add some to the configuration")
    engine = open_engine(config, upgrade=True)
    with _progress(len(chosen), "crawling") as advance:
        records = crawl_and_record(engine, config, chosen, on_record=lambda r: advance(_summary(r)))
    events = [event for record in records for event in record.events]
    render_events(events, fmt)
    if not no_notify and (config.subscriptions or config.operators.notify):
        from rolewatch.cli.notify import deliver_now

        deliver_now(config)
    failed = [r.source for r in records if r.verdict is CrawlVerdict.FAILED]
    if failed:
        raise RuntimeFailure(
            f"{len(failed)} of {plural(len(records), 'source')} failed: {', '.join(failed)} "
            "(see `rolewatch status`)"
        )
