"""The sources: `rolewatch sources test|list` and `rolewatch status`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from rolewatch.cli.common import (
    RuntimeFailure,
    config_of,
    format_option,
    handle_errors,
    open_engine,
    started_worker,
)
from rolewatch.output import render

if TYPE_CHECKING:
    from rolewatch.domain import CrawlResult


@click.group()
def sources() -> None:
    """Inspect the configured sources."""


@sources.command("test")
@click.argument("name")
@click.option("--limit", default=50, show_default=True, help="Postings to show (table format).")
@format_option
@click.pass_context
@handle_errors
def sources_test(ctx: click.Context, name: str, limit: int, fmt: str) -> None:
    """Crawl one source without storing anything; show its postings and the verdict."""
    from crawler.run import crawl_sources
    from rolewatch.domain import CrawlVerdict, plural

    with started_worker() as workers:
        config = config_of(ctx)
        (source,) = config.resolved_sources([name])
        (result,) = crawl_sources([source], workers=workers)
    rows = [_posting_row(p) for p in result.postings]
    if fmt == "table":
        render(
            rows[:limit],
            ["external_id", "title", "company", "locations", "employment_type", "salary", "status"],
            fmt,
            title=f"{name}: {plural(len(rows), 'posting')}",
        )
        click.echo(_verdict_line(result))
    else:
        render(rows, [], fmt)
    if result.verdict is CrawlVerdict.FAILED:
        raise RuntimeFailure(f"{name}: the crawl failed: {result.reason}")


def _verdict_line(result: CrawlResult) -> str:
    from rolewatch.domain import plural

    stats = result.stats
    errors = "".join(f"\n  error: {e}" for e in stats.errors)
    return (
        f"verdict: {result.verdict.value}{' — ' + result.reason if result.reason else ''} "
        f"({plural(stats.requests, 'request')}, {stats.bytes:,} bytes, {stats.duration_s:.1f}s){errors}"
    )


def _posting_row(posting: Any) -> dict[str, Any]:
    return {
        "external_id": posting.external_id,
        "title": posting.title,
        "company": posting.company,
        "locations": posting.location_labels(),
        "employment_type": posting.employment_type,
        "workplace": posting.workplace,
        "salary": posting.salary.label() if posting.salary else None,
        "posted_at": posting.posted_at,
        "deadline": posting.deadline,
        "url": posting.url,
        "status": "closed" if posting.closed else "open",
    }


@sources.command("list")
@format_option
@click.pass_context
@handle_errors
def sources_list(ctx: click.Context, fmt: str) -> None:
    """The configured sources with their effective schedule."""
    config = config_of(ctx)
    rows = [
        {
            "name": s.name,
            "type": s.type,
            "interval": str(s.interval),
            "enabled": s.name in {e.name for e in config.resolved_sources()},
        }
        for s in config.resolved_sources([c.name for c in config.sources])
    ]
    render(rows, ["name", "type", "interval", "enabled"], fmt)


@click.command()
@format_option
@click.pass_context
@handle_errors
def status(ctx: click.Context, fmt: str) -> None:
    """Per source: last crawl, verdict, open postings and next run; then the outbox depth."""
    from rolewatch.cli.cluster import show_cluster
    from rolewatch.domain import plural
    from scheduler.schedule import next_cron_fire
    from storage.outbox import outbox_depth
    from storage.queries import source_status

    config = config_of(ctx)
    engine = open_engine(config)
    rows = [vars(s) for s in source_status(engine, config.resolved_sources(), next_cron_fire)]
    render(rows, ["name", "type", "last_crawl_at", "verdict", "open_postings", "next_run_at", "note"], fmt)
    if fmt == "table":
        click.echo(
            f"Outbox: {plural(outbox_depth(engine), 'delivery', 'deliveries')} owed "
            "(see `rolewatch deliveries`)."
        )
    show_cluster(config, engine, fmt)
