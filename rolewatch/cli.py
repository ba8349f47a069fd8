"""The `rolewatch` command line: thin commands over the pipeline, storage queries and rendering."""

from __future__ import annotations

import functools
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click
from rich.markup import escape

from rolewatch import __version__
from rolewatch.config import Config, ConfigError, config_path, load_config, parse_config, parse_duration
from rolewatch.output import FORMATS, event_record, plain, render

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from rolewatch.domain import CrawlResult
    from storage.history import CrawlRecord
    from storage.queries import PostingHistory

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("rolewatch")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="Output format."
)


class RuntimeFailure(Exception):
    """A problem that is not the user's input: an unreachable database, a failed crawl."""


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the typed errors into a clear message and the exit status SPEC §6 promises."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from sqlalchemy.exc import InterfaceError, OperationalError

        try:
            return command(*args, **kwargs)
        except ConfigError as error:
            click.echo("Configuration is invalid:", err=True)
            for problem in error.problems:
                click.echo(f"  {problem}", err=True)
            sys.exit(EXIT_USAGE)
        except (OperationalError, InterfaceError) as error:
            click.echo(f"error: cannot use the database: {database_reason(error)}", err=True)
            sys.exit(EXIT_FAILURE)
        except RuntimeFailure as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_FAILURE)

    return wrapper


def database_reason(error: Exception) -> str:
    """The driver's own message, one line, with any URL in it masked (it may carry a password)."""
    from rolewatch.logs import redact

    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return redact(lines[0] if lines else type(original).__name__)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="ROLEWATCH_CONFIG",
    help="Configuration file (default: ./rolewatch.yaml).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debugging detail to stderr.")
@click.version_option(__version__, prog_name="rolewatch")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, verbose: bool) -> None:
    """Watch career boards; keep every posting's history; report new, changed, closed and reopened roles."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = config_file


def _config(ctx: click.Context) -> Config:
    return load_config(ctx.obj)


def _engine(config: Config, *, upgrade: bool = False) -> Engine:
    from storage.database import is_up_to_date, make_engine
    from storage.database import upgrade as run_migrations

    engine = make_engine(config.database)
    if upgrade:
        run_migrations(engine)
    elif not is_up_to_date(engine):
        raise RuntimeFailure(
            f"the database at {engine.url.render_as_string(hide_password=True)} is not set up "
            "or is out of date; run `rolewatch db upgrade`"
        )
    return engine


@cli.command()
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
@click.option(
    "--database", default="sqlite:///rolewatch.db", show_default=True, help="Database URL to write."
)
@click.pass_context
@handle_errors
def init(ctx: click.Context, force: bool, database: str) -> None:
    """Write a commented rolewatch.yaml and create the database.

    Both are readable by their owner only (the URL may hold a password), and a failed init leaves
    neither behind: the database is created first, the file written last.
    """
    from rolewatch.example import example_config
    from storage.database import make_engine, upgrade

    path = config_path(ctx.obj)
    if path.exists() and not force:
        raise RuntimeFailure(f"{path} exists; use --force to overwrite it")
    text = example_config(database)
    config = parse_config(text, os.environ, origin=str(path))
    created = _create_private_sqlite(config.database)
    engine = make_engine(config.database)
    try:
        upgrade(engine)
        _write_private(path, text)
    except BaseException:
        engine.dispose()
        _remove_created(created)
        raise
    engine.dispose()
    click.echo(
        f"Wrote {path} ({len(config.sources)} example sources) and created "
        f"{engine.url.render_as_string(hide_password=True)}."
    )
    click.echo("Edit the sources, then run `rolewatch check` and `rolewatch crawl`.")


def _create_private_sqlite(database: str) -> list[Path]:
    """Create a new SQLite file empty with mode 0600 before SQLAlchemy opens it; what was created.

    SQLite gives its `-wal` and `-shm` files the database file's own mode, so they follow. The
    directories made on the way are listed too (parents first), so a failed init can remove them.
    """
    from storage.database import database_url

    url = database_url(database)
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return []
    path = Path(name)
    created = [parent for parent in reversed(path.parents) if not parent.exists()]
    try:
        for directory in created:
            directory.mkdir()
        if path.exists():
            return created
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as error:
        _remove_created(created)
        raise RuntimeFailure(f"cannot create the database file {path}: {error.strerror}") from None
    return [*created, path]


def _remove_created(created: list[Path]) -> None:
    """Remove what init created, the SQLite companions of a created database file with it."""
    for path in reversed(created):
        if path.is_dir():
            with suppress(OSError):
                path.rmdir()
            continue
        for companion in ("", "-wal", "-shm", "-journal"):
            with suppress(FileNotFoundError):
                path.with_name(path.name + companion).unlink()


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600, all at once: a temporary file beside it, then renamed."""
    target = path.resolve()  # through a symlink, as writing to it would
    try:
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:
        raise RuntimeFailure(f"cannot write {path}: {error.strerror}") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@cli.command()
@click.option(
    "--connect", is_flag=True, help="Also connect to the database (exit 1 when it cannot be reached)."
)
@click.pass_context
@handle_errors
def check(ctx: click.Context, connect: bool) -> None:
    """Validate the configuration (and, with --connect, reach the database)."""
    config = _config(ctx)
    click.echo(
        f"{config_path(ctx.obj)}: valid — {len(config.sources)} sources, "
        f"{len(config.subscriptions)} subscriptions."
    )
    if connect:
        click.echo(_probe_database(config.database))


#: `check --connect` gives up on a PostgreSQL server that does not answer within this long.
CONNECT_TIMEOUT_S = 10


def _probe_database(database: str) -> str:
    """Connect once and read the schema's revision, creating nothing; one line saying what was found."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.pool import NullPool

    from storage.database import current_revision, database_url, head_revision

    url = database_url(database)
    shown = url.render_as_string(hide_password=True)
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        name = url.database
        if name and name != ":memory:" and not name.startswith("file:") and not Path(name).exists():
            return f"database {shown}: no file yet; `rolewatch db upgrade` or `rolewatch run` creates it."
    else:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    try:
        revision = current_revision(engine)
    except DBAPIError as error:
        raise RuntimeFailure(f"cannot connect to the database {shown}: {database_reason(error)}") from None
    finally:
        engine.dispose()
    if revision is None:
        schema = "no schema yet (`rolewatch db upgrade` creates it)"
    elif revision == head_revision():
        schema = "schema up to date"
    else:
        schema = f"schema at {revision}, older than this version's (`rolewatch db upgrade`)"
    return f"database {shown}: connected; {schema}."


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


@cli.command()
@click.argument("sources", nargs=-1)
@click.option("--no-notify", is_flag=True, help="Record the alerts in the outbox but do not send them now.")
@format_option
@click.pass_context
@handle_errors
def crawl(ctx: click.Context, sources: tuple[str, ...], no_notify: bool, fmt: str) -> None:
    """Crawl now (all enabled sources when none are named), store, print the events, send their alerts."""
    from rolewatch.domain import CrawlVerdict
    from rolewatch.pipeline import crawl_and_record

    config = _config(ctx)
    chosen = config.resolved_sources(sources)
    if not chosen:
        raise RuntimeFailure("no sources to crawl; add some to the configuration")
    engine = _engine(config, upgrade=True)
    with _progress(len(chosen), "crawling") as advance:
        records = crawl_and_record(engine, config, chosen, on_record=lambda r: advance(_summary(r)))
    events = [event for record in records for event in record.events]
    _render_events(events, fmt)
    if not no_notify and (config.subscriptions or config.operators.notify):
        from rolewatch.cli_notify import deliver_now

        deliver_now(config)
    failed = [r.source for r in records if r.verdict is CrawlVerdict.FAILED]
    if failed:
        raise RuntimeFailure(
            f"{len(failed)} of {len(records)} sources failed: {', '.join(failed)} (see `rolewatch status`)"
        )


def _render_events(events: Sequence[Any], fmt: str) -> None:
    rows = [event_record(e) for e in events]
    if fmt == "table" and not rows:
        click.echo("No events.")
        return
    render(rows, ["id", "at", "type", "source", "title", "company", "changes"], fmt)


@cli.group()
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
    from rolewatch.domain import CrawlVerdict

    config = _config(ctx)
    (source,) = config.resolved_sources([name])
    (result,) = crawl_sources([source])
    rows = [_posting_row(p) for p in result.postings]
    if fmt == "table":
        render(
            rows[:limit],
            ["external_id", "title", "company", "locations", "employment_type", "salary", "status"],
            fmt,
            title=f"{name}: {len(rows)} postings",
        )
        click.echo(_verdict_line(result))
    else:
        render(rows, [], fmt)
    if result.verdict is CrawlVerdict.FAILED:
        raise RuntimeFailure(f"{name}: the crawl failed: {result.reason}")


def _verdict_line(result: CrawlResult) -> str:
    stats = result.stats
    errors = "".join(f"\n  error: {e}" for e in stats.errors)
    return (
        f"verdict: {result.verdict.value}{' — ' + result.reason if result.reason else ''} "
        f"({stats.requests} requests, {stats.bytes:,} bytes, {stats.duration_s:.1f}s){errors}"
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
    config = _config(ctx)
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


@cli.command()
@format_option
@click.pass_context
@handle_errors
def status(ctx: click.Context, fmt: str) -> None:
    """Per source: last crawl, verdict, open postings and next run; then the outbox depth."""
    from storage.outbox import outbox_depth
    from storage.queries import source_status

    config = _config(ctx)
    engine = _engine(config)
    rows = [vars(s) for s in source_status(engine, config.resolved_sources())]
    render(rows, ["name", "type", "last_crawl_at", "verdict", "open_postings", "next_run_at", "note"], fmt)
    if fmt == "table":
        click.echo(f"Outbox: {outbox_depth(engine)} deliveries owed (see `rolewatch deliveries`).")


@cli.command()
@click.option("--open", "open_only", is_flag=True, help="Only open postings.")
@click.option("--source", help="Only this source.")
@click.option("--query", help="Text to look for in title, company or locations.")
@click.option("--limit", type=int, default=None, help="At most this many rows.")
@format_option
@click.pass_context
@handle_errors
def postings(
    ctx: click.Context, open_only: bool, source: str | None, query: str | None, limit: int | None, fmt: str
) -> None:
    """List stored postings."""
    from storage.queries import list_postings

    config = _config(ctx)
    rows = [
        vars(p)
        for p in list_postings(_engine(config), open_only=open_only, source=source, text=query, limit=limit)
    ]
    render(rows, ["id", "source", "title", "company", "locations", "status", "first_seen_at"], fmt)


@cli.command()
@click.argument("posting")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handle_errors
def show(ctx: click.Context, posting: str, fmt: str) -> None:
    """One posting (its id or SOURCE/EXTERNAL_ID) with its whole history."""
    from storage.queries import posting_history

    config = _config(ctx)
    history = posting_history(_engine(config), posting)
    if history is None:
        hint = "use the id from `rolewatch postings` or SOURCE/EXTERNAL_ID"
        raise RuntimeFailure(f"no posting {posting!r} ({hint})")
    if fmt == "json":
        import dataclasses
        import json

        click.echo(json.dumps(plain(_jsonable(dataclasses.asdict(history))), ensure_ascii=False, indent=2))
        return
    _print_history(history)


def _jsonable(value: Any) -> Any:
    """Enums to their values; everything else as `plain` renders it."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return getattr(value, "value", value) if isinstance(value, Enum) else value


def _print_history(history: PostingHistory) -> None:
    from rich.console import Console

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


@cli.command()
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
    from storage.queries import list_events

    try:
        window = parse_duration(since)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None
    config = _config(ctx)
    found = list_events(_engine(config), since=datetime.now(UTC) - window, type=kind, source=source)
    _render_events(found, fmt)


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.pass_context
@handle_errors
def db_upgrade(ctx: click.Context) -> None:
    """Create the database or bring its schema up to date."""
    from storage.database import current_revision

    config = _config(ctx)
    engine = _engine(config, upgrade=True)
    click.echo(
        f"{engine.url.render_as_string(hide_password=True)} is at revision {current_revision(engine)}."
    )


def _add_command_modules() -> None:
    """The notifier's and the daemon's commands live in their own modules; they join the group here."""
    from rolewatch.cli_daemon import run
    from rolewatch.cli_notify import COMMANDS
    from rolewatch.cli_web import web
    from rolewatch.demo import demo

    for command in (*COMMANDS, run, demo, web):
        cli.add_command(command)


_add_command_modules()


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point; click exits 2 on usage errors by itself."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="rolewatch")


if __name__ == "__main__":
    main()
