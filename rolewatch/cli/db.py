"""`rolewatch db upgrade`: create the database or bring its schema up to date."""

from __future__ import annotations

import click

from rolewatch.cli.common import config_of, handle_errors, open_engine


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.pass_context
@handle_errors
def db_upgrade(ctx: click.Context) -> None:
    """Create the database or bring its schema up to date."""
    from storage.database import current_revision

    config = config_of(ctx)
    engine = open_engine(config, upgrade=True)
    click.echo(
        f"{engine.url.render_as_string(hide_password=True)} is at revision {current_revision(engine)}."
    )
