"""Alembic environment: runs migrations on the connection (or URL) `storage.database.upgrade` hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from storage.models import Base


def _run(connection: Connection) -> None:
    # Batch mode lets SQLite alter tables (it has no ALTER for constraints or types).
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    from storage.database import make_engine

    url = context.config.attributes.get("url") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: set config.attributes['connection'] or ['url']")
    engine = make_engine(str(url))
    try:
        with engine.connect() as fresh:
            _run(fresh)
            fresh.commit()
    finally:
        engine.dispose()


def _run_offline() -> None:
    url = context.config.attributes.get("url") or context.config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
