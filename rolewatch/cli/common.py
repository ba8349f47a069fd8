"""What the commands share: reading the configuration, opening the database, typed errors, output options."""

from __future__ import annotations

import functools
import sys
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

from rolewatch.output import EVENT_FIELDS, FORMATS, event_record, render

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from crawler.workers import CrawlWorkers
    from rolewatch.config import Config

P = ParamSpec("P")
R = TypeVar("R")

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
        try:
            return command(*args, **kwargs)
        except RuntimeFailure as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_FAILURE)
        except Exception as error:
            if _is_error(error, "rolewatch.config", "ConfigError"):
                click.echo("Configuration is invalid:", err=True)
                for problem in getattr(error, "problems", ()):
                    click.echo(f"  {problem}", err=True)
                sys.exit(EXIT_USAGE)
            if _is_error(error, "sqlalchemy.exc", "OperationalError", "InterfaceError"):
                click.echo(f"error: cannot use the database: {database_reason(error)}", err=True)
                sys.exit(EXIT_FAILURE)
            raise

    return wrapper


def _is_error(error: Exception, module: str, *names: str) -> bool:
    """Whether `error` is one of `module`'s exception classes `names`, without importing `module`:
    an error of a module never imported cannot have been raised, and importing SQLAlchemy (or the
    configuration's models) just to catch its errors would cost every command that never uses it."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(error, tuple(getattr(loaded, name) for name in names))


def database_reason(error: Exception) -> str:
    """The driver's own message, one line, with any URL in it masked (it may carry a password)."""
    from rolewatch.logs import redact

    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return redact(lines[0] if lines else type(original).__name__)


def config_of(ctx: click.Context) -> Config:
    """The configuration the group's `--config` names, resolved (ConfigError lists every problem)."""
    from rolewatch.resolve import load_config

    return load_config(ctx.obj)


#: The engines `open_engine` handed out, so the console script can close those a command left open.
_OPENED: weakref.WeakSet[Engine] = weakref.WeakSet()


def open_engine(config: Config, *, upgrade: bool = False) -> Engine:
    """The configured database, migrated first with `upgrade`, else refused unless it is up to date."""
    from storage.database import is_up_to_date, make_engine
    from storage.database import upgrade as run_migrations

    engine = make_engine(config.database)
    _OPENED.add(engine)
    if upgrade:
        run_migrations(engine)
    elif not is_up_to_date(engine):
        raise RuntimeFailure(
            f"the database at {engine.url.render_as_string(hide_password=True)} is not set up "
            "or is out of date; run `rolewatch db upgrade`"
        )
    return engine


def close_engines() -> None:
    """Dispose of every engine `open_engine` opened that is still open: its connections close."""
    for engine in list(_OPENED):
        engine.dispose()


@contextmanager
def started_worker() -> Iterator[CrawlWorkers]:
    """A crawl worker started at once, for a command that crawls: its start-up (Scrapy's imports)
    runs in its own process while this one reads the configuration and opens the database.
    Stopped when the command is done, whether it crawled or not.

    Not a warm one: the batch comes as soon as the database is open, and it loads the location
    tables only if it parses (a cold `rolewatch crawl` of boards that answer 304 never does).
    """
    from crawler.workers import CrawlWorkers

    workers = CrawlWorkers()
    workers.prestart(warm=False)
    try:
        yield workers
    finally:
        workers.close()


def parse_address(value: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 in brackets) for `--http`; a usage error otherwise."""
    host, _, port = value.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:8787)", param_hint="--http")
    return host, int(port)


def render_events(events: Sequence[Any], fmt: str) -> None:
    """Events as `crawl` and `events` print them."""
    rows = [event_record(e) for e in events]
    if fmt == "table" and not rows:
        click.echo("No events.")
        return
    render(rows, ["id", "at", "type", "source", "title", "company", "changes"], fmt, fields=EVENT_FIELDS)


def known_source(engine: Engine, config: Config, name: str | None) -> str | None:
    """`name` when a source of that name is configured or stored; a usage error listing them otherwise."""
    from rolewatch.search import SearchError, check_source

    try:
        return check_source(engine, (source.name for source in config.sources), name)
    except SearchError as error:
        raise click.BadParameter(str(error), param_hint="--source") from None
