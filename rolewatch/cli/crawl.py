"""`rolewatch crawl`: crawl now, store, print what happened and send the alerts.

The crawl worker is started before anything else, so its start-up (Scrapy's imports, the
location tables) runs while this process reads the configuration and opens the database.
A table prints each source's verdict and event counts, and the events themselves when there are
few of them or `--events` asks; machine formats print every event, as `events` does.
"""

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
    started_worker,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from crawler.workers import CrawlWorkers
    from rolewatch.config import Config
    from storage.recording import CrawlRecord

#: A table shows a crawl's events when there are at most this many (a first crawl of a few boards
#: is read whole); beyond it, the per-source summary alone unless `--events` asks for them.
EVENTS_SHOWN_AT_MOST = 50
EVENT_COLUMNS = ("id", "type", "source", "title", "company", "changes")
SUMMARY_COLUMNS = ("source", "verdict", "new", "changed", "closed", "reopened", "note")
_COUNTS = ("new", "changed", "closed", "reopened")


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
@click.option(
    "--events/--no-events",
    "show_events",
    default=None,
    help=f"With the table format: list every event, or none (default: when there are at most "
    f"{EVENTS_SHOWN_AT_MOST}). The other formats always print every event.",
)
@format_option
@click.pass_context
@handle_errors
def crawl(
    ctx: click.Context, sources: tuple[str, ...], no_notify: bool, show_events: bool | None, fmt: str
) -> None:
    """Crawl now (all enabled sources when none are named), store, print the events, send their alerts."""
    with started_worker() as workers:  # its start-up overlaps the configuration and database
        records, config = _crawl(ctx, sources, workers)
    if fmt == "table":
        print_crawl(records, show_events)
    else:
        render_events([event for record in records for event in record.events], fmt)
    if not no_notify and (config.subscriptions or config.operators.notify):
        from rolewatch.cli.notify import deliver_now

        deliver_now(config)
    _fail_on_failed(records)


def _crawl(
    ctx: click.Context, sources: tuple[str, ...], workers: CrawlWorkers
) -> tuple[list[CrawlRecord], Config]:
    config = config_of(ctx)
    chosen = config.resolved_sources(sources)
    if not chosen:
        raise RuntimeFailure("no sources to crawl; add some to the configuration")
    # The stages' imports (half a second) come after the file is known to be good, which says so at once.
    from scheduler.pipeline import crawl_and_record

    engine = open_engine(config, upgrade=True)
    try:
        with _progress(len(chosen), "crawling") as advance:
            records = crawl_and_record(
                engine, config, chosen, on_record=lambda r: advance(_summary(r)), workers=workers
            )
    finally:
        engine.dispose()
    return records, config


def print_crawl(records: Sequence[CrawlRecord], show_events: bool | None = None) -> None:
    """The crawl as a person reads it: the events (when few, or asked for), then one line per
    source with its verdict and event counts, then the totals. Written line by line."""
    from rolewatch.domain import plural
    from rolewatch.output import column_widths, event_record, write_columns

    total = sum(len(record.events) for record in records)
    shown = show_events if show_events is not None else total <= EVENTS_SHOWN_AT_MOST
    if shown and total:
        events = [event for record in records for event in record.events]
        widths = column_widths((event_record(e) for e in events), EVENT_COLUMNS)
        write_columns((event_record(e) for e in events), EVENT_COLUMNS, widths, right=("id",))
        click.echo()
    rows = [_summary_row(record) for record in records]
    write_columns(rows, SUMMARY_COLUMNS, column_widths(rows, SUMMARY_COLUMNS), right=_COUNTS)
    sums = {kind: sum(int(record.counts.get(kind, 0)) for record in records) for kind in _COUNTS}
    failed = sum(record.verdict.value == "failed" for record in records)
    click.echo(
        f"{plural(len(records), 'source')}: "
        + ", ".join(f"{sums[kind]:,} {kind}" for kind in _COUNTS)
        + (f"; {failed} failed" if failed else "")
    )
    if total and not shown:
        click.echo(
            f"{total:,} {'event' if total == 1 else 'events'} not listed: "
            "`rolewatch crawl --events` lists them, `rolewatch events --since 1h` shows them later."
        )


def _summary_row(record: CrawlRecord) -> dict[str, object]:
    return {
        "source": record.source,
        "verdict": record.verdict.value,
        **{kind: int(record.counts.get(kind, 0)) for kind in _COUNTS},
        "note": record.note,
    }


def _fail_on_failed(records: Sequence[CrawlRecord]) -> None:
    from rolewatch.domain import CrawlVerdict, plural

    failed = [r.source for r in records if r.verdict is CrawlVerdict.FAILED]
    if failed:
        raise RuntimeFailure(
            f"{len(failed)} of {plural(len(records), 'source')} failed: {', '.join(failed)} "
            "(see `rolewatch status`)"
        )
