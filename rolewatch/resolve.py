"""The configuration as the application reads it: parsed by `rolewatch.config`, resolved by the stages.

A source's type and its own keys are the crawler's to judge; channel URLs, queries and digest
rhythms the notifier's; the database URL storage's; cron expressions the scheduler's. Every
command, the daemon's reload and the demo read their configuration here, so every problem is
reported at once, by its path, in the order of the file, with exit status 2.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rolewatch import config
from rolewatch.config import RESOLVERS, Config, Resolvers

if TYPE_CHECKING:
    from rolewatch.config import SourceOptions


def load_config(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Read the file (`--config`, ROLEWATCH_CONFIG or ./rolewatch.yaml), overlay the environment,
    validate and resolve; raise ConfigError listing every problem."""
    text, origin = config.read_config_file(path)
    return parse_config(text, environ if environ is not None else os.environ, origin=origin)


def parse_config(text: str, environ: Mapping[str, str] | None = None, origin: str = "<config>") -> Config:
    """YAML text as a resolved configuration; raise ConfigError listing every problem."""
    return config.parse_config(text, environ, origin, resolvers=stage_resolvers())


def validation_context() -> dict[str, Any]:
    """The context under which a part of the configuration (a search's subscription) is validated."""
    return {RESOLVERS: stage_resolvers()}


@functools.cache
def stage_resolvers() -> Resolvers:
    """The stages' checks; each stage is imported at its first check, so a command loads only what it uses."""
    return Resolvers(
        source_options=_source_options,
        channel=_channel,
        query=_query,
        digest=_digest,
        database=_database,
        cron=_cron,
    )


def _source_options(source_type: str) -> type[SourceOptions]:
    from crawler.registry import options_model

    return options_model(source_type)


def _channel(url: str) -> None:
    from notifier.channels import validate_channel

    validate_channel(url)


def _query(text: str) -> object:
    from notifier.query import compile_query

    return compile_query(text)


def _digest(text: str) -> object:
    from notifier.digest import parse_digest

    return parse_digest(text)


#: SQLite URLs SQLAlchemy reads one way only: the path is all that follows `:///` (there is no query
#: to parse), and the driver is the standard library's.
_PLAIN_SQLITE = re.compile(r"^sqlite(\+pysqlite)?:///[^?]*$")


def _database(url: str) -> str:
    """`storage.database.check_database_url`, but a plain SQLite URL (the default, and what most
    files give) is taken as it stands: checking it the long way imports SQLAlchemy, a tenth of a
    second that `rolewatch check` without `--connect` has no other use for."""
    if _PLAIN_SQLITE.match(url) and _has_sqlite_driver():
        return url
    from storage.database import check_database_url

    return check_database_url(url)


@functools.cache
def _has_sqlite_driver() -> bool:
    from importlib.util import find_spec

    return find_spec("_sqlite3") is not None


def _cron(expression: str) -> object:
    from scheduler.schedule import crontab_trigger

    return crontab_trigger(expression)
