"""`rolewatch check`: validate the configuration and, on request, reach the database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rolewatch.cli.common import RuntimeFailure, config_of, database_reason, handle_errors

if TYPE_CHECKING:
    from rolewatch.config import Config


@click.command()
@click.option(
    "--connect", is_flag=True, help="Also connect to the database (exit 1 when it cannot be reached)."
)
@click.pass_context
@handle_errors
def check(ctx: click.Context, connect: bool) -> None:
    """Validate the configuration (and, with --connect, reach the database)."""
    from rolewatch.config import config_path
    from rolewatch.domain import plural

    config = config_of(ctx)
    click.echo(
        f"{config_path(ctx.obj)}: valid — {plural(len(config.sources), 'source')}, "
        f"{plural(len(config.subscriptions), 'subscription')}."
    )
    named = any(subscription.companies for subscription in config.subscriptions)
    found = config_warnings(config, _companies_seen(config.database, connect) if named else None)
    if found:
        click.echo(f"{plural(len(found), 'warning')} (what would silently match nothing):")
        for warning in found:
            click.echo(f"  {warning}")
    if connect:
        click.echo(_probe_database(config.database))


def config_warnings(config: Config, companies_seen: set[str] | None = None) -> list[str]:
    """What is valid but will match nothing, in the order of the file: a subscription's `sources`
    naming no source, a location no gazetteer knows, a currency that is not ISO 4217, and (when the
    database has postings) a company no source has seen."""
    warnings: list[str] = []
    sources = {source.name for source in config.sources}
    for index, subscription in enumerate(config.subscriptions):
        where = f"subscriptions[{index}] ({subscription.name})"
        for name in subscription.sources:
            if name not in sources:
                known = ", ".join(sorted(sources)) or "none configured"
                warnings.append(f"{where}.sources: no source is named {name!r} (sources: {known})")
        for place in subscription.locations:
            from crawler.normalize.locations import parse_locations

            found = parse_locations(place)
            if not any(loc.city or loc.region or loc.country or loc.remote for loc in found):
                warnings.append(
                    f"{where}.locations: no gazetteer knows {place!r} (a city, region, country or Remote)"
                )
        if subscription.min_salary is not None and not _is_currency(subscription.min_salary.currency):
            warnings.append(
                f"{where}.min_salary.currency: {subscription.min_salary.currency!r} is not an ISO 4217 code"
            )
        if companies_seen:
            from notifier.query import fold

            for company in subscription.companies:
                if fold(company) not in companies_seen:
                    warnings.append(f"{where}.companies: no source has seen a posting from {company!r}")
    for index, conversion in enumerate(config.salary_conversions):
        for side, unit in (("from", conversion.from_), ("to", conversion.to)):
            if not _is_currency(unit.currency):
                warnings.append(
                    f"salary_conversions[{index}].{side}.currency: {unit.currency!r} is not an ISO 4217 code"
                )
    return warnings


def _is_currency(code: str) -> bool:
    import pycountry  # only a file that names a currency pays for its tables

    return pycountry.currencies.get(alpha_3=code) is not None


def _companies_seen(database: str, connect: bool) -> set[str] | None:
    """Every company the database holds postings from, folded; None when there is no database or no
    posting yet (a PostgreSQL server is asked only with --connect). Never fails: it only adds warnings."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from notifier.query import fold
    from storage.database import database_url, make_engine
    from storage.models import PostingRow

    try:
        url = database_url(database)
    except ValueError:
        return None
    if url.get_backend_name() == "sqlite":
        name = url.database
        if not name or name == ":memory:" or name.startswith("file:") or not Path(name).is_file():
            return None
    elif not connect:
        return None
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            companies = connection.execute(select(PostingRow.company).distinct()).scalars().all()
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    return {fold(company) for company in companies if company} or None


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
