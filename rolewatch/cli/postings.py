"""What has been recorded: `rolewatch postings`, `show` and `events`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from rolewatch.cli.common import (
    RuntimeFailure,
    config_of,
    format_option,
    handle_errors,
    known_source,
    open_engine,
    render_events,
)
from rolewatch.output import jsonable, plain, posting_fields, posting_record, render

if TYPE_CHECKING:
    from storage.queries import PostingHistory


@click.command()
@click.option("--open", "open_only", is_flag=True, help="Only open postings.")
@click.option("--source", help="Only this source.")
@click.option(
    "--query", help="A subscription query: 'title:(data OR ml) AND NOT senior', words, \"phrases\"."
)
@click.option("--location", "locations", multiple=True, help="City, region, country or Remote (repeatable).")
@click.option(
    "--employment-type", "employment_types", multiple=True, help="intern, graduate, … (repeatable)."
)
@click.option("--company", "companies", multiple=True, help="Only this company, any case (repeatable).")
@click.option("--workplace", multiple=True, help="onsite, hybrid or remote (repeatable).")
@click.option("--min-salary", help="AMOUNT:CURRENCY[:PER], as a subscription's min_salary (40:USD:hour).")
@click.option(
    "--description", is_flag=True, help="Add the description (text and HTML) to json, jsonl and csv."
)
@click.option("--limit", type=int, default=None, help="At most this many rows.")
@format_option
@click.pass_context
@handle_errors
def postings(
    ctx: click.Context,
    open_only: bool,
    source: str | None,
    query: str | None,
    locations: tuple[str, ...],
    employment_types: tuple[str, ...],
    companies: tuple[str, ...],
    workplace: tuple[str, ...],
    min_salary: str | None,
    description: bool,
    limit: int | None,
    fmt: str,
) -> None:
    """List stored postings, oldest first, matched as a subscription with the same filters matches."""
    from rolewatch.search import (
        QuerySyntaxError,
        SearchError,
        compile_search,
        matching_details,
        parse_min_salary,
        search_subscription,
    )

    config = config_of(ctx)
    try:
        subscription = search_subscription(
            query,
            locations=locations,
            employment_types=employment_types,
            companies=companies,
            workplace=workplace,
            min_salary=parse_min_salary(min_salary) if min_salary else None,
        )
    except QuerySyntaxError as error:
        raise click.BadParameter(str(error), param_hint="--query") from None
    except SearchError as error:
        raise click.UsageError(f"not a valid search: {error}") from None
    engine = open_engine(config)
    search = compile_search(
        subscription,
        config.salary_conversions,
        open_only=open_only,
        source=known_source(engine, config, source),
    )
    rows = [posting_record(detail, description) for detail in matching_details(engine, search, limit)]
    columns = ["id", "source", "title", "company", "locations", "status", "first_seen_at"]
    render(rows, columns, fmt, fields=posting_fields(description))


@click.command()
@click.argument("posting")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handle_errors
def show(ctx: click.Context, posting: str, fmt: str) -> None:
    """One posting (its id or SOURCE/EXTERNAL_ID) with its whole history."""
    from storage.queries import posting_history

    config = config_of(ctx)
    history = posting_history(open_engine(config), posting)
    if history is None:
        hint = "use the id from `rolewatch postings` or SOURCE/EXTERNAL_ID"
        raise RuntimeFailure(f"no posting {posting!r} ({hint})")
    if fmt == "json":
        import dataclasses
        import json

        click.echo(json.dumps(plain(jsonable(dataclasses.asdict(history))), ensure_ascii=False, indent=2))
        return
    _print_history(history)


def _print_history(history: PostingHistory) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    current = history.posting
    console.print(f"[bold]{escape(current.title)}[/bold] — {escape(current.company or '')}")
    facts = {
        "posting": f"{current.source}/{current.external_id} (id {current.id})",
        "status": f"{current.status.value}, episode {current.episode}",
        "locations": "; ".join(loc.label() for loc in current.locations),
        "type": current.employment_type,
        "workplace": current.workplace,
        "salary": current.salary.label() if current.salary else None,
        "work rights": current.work_rights.label() if current.work_rights else None,
        "posted": current.posted_at,
        "deadline": current.deadline,
        "url": current.url,
        "first seen": current.first_seen_at,
        "last seen": current.last_seen_at,
        "closed": current.closed_at,
        "repost of": current.repost_of,
        "duplicate of": current.duplicate_of,
    }
    for label, value in facts.items():
        if value:
            console.print(f"  {label}: {plain(value)}", markup=False)
    console.print("\n[bold]Events[/bold]")
    for event in history.events:
        console.print(f"  {plain(event.at)}  {event.type.value} (episode {event.episode})", markup=False)
        for name, (old, new) in event.changes.items():
            console.print(f"      {name}: {old} → {new}", markup=False)
    console.print(f"\n[bold]Versions[/bold] ({len(history.versions)})")
    for version in history.versions:
        changed = ", ".join(version.changes) or "first version"
        console.print(f"  {plain(version.recorded_at)}  {version.fingerprint[:12]}  {changed}", markup=False)


@click.command()
@click.option("--since", default="24h", show_default=True, help="How far back: 90m, 24h, 7d.")
@click.option(
    "--type", "kind", type=click.Choice(["new", "changed", "closed", "reopened"]), help="Only this type."
)
@click.option("--source", help="Only this source.")
@format_option
@click.pass_context
@handle_errors
def events(ctx: click.Context, since: str, kind: str | None, source: str | None, fmt: str) -> None:
    """Events recorded recently."""
    from rolewatch.config import parse_duration
    from storage.queries import list_events

    try:
        window = parse_duration(since)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None
    config = config_of(ctx)
    engine = open_engine(config)
    found = list_events(
        engine, since=datetime.now(UTC) - window, type=kind, source=known_source(engine, config, source)
    )
    render_events(found, fmt)
