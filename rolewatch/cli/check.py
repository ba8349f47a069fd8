"""`rolewatch check`: validate the configuration and, on request, reach the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rolewatch.cli.common import RuntimeFailure, config_of, database_reason, handle_errors
from rolewatch.config import config_path


@click.command()
@click.option(
    "--connect", is_flag=True, help="Also connect to the database (exit 1 when it cannot be reached)."
)
@click.pass_context
@handle_errors
def check(ctx: click.Context, connect: bool) -> None:
    """Validate the configuration (and, with --connect, reach the database)."""
    config = config_of(ctx)
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
