"""Engines: SQLite tuned for one writer and many readers, PostgreSQL always through psycopg 3."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from storage.database import database_url, make_engine


@pytest.mark.parametrize(
    "url",
    [
        "postgres://u:p@db.example/rolewatch",
        "postgresql://u:p@db.example/rolewatch",
        "postgresql+psycopg://u:p@db.example/rolewatch",
    ],
)
def test_postgresql_urls_use_psycopg_3(url: str) -> None:
    assert database_url(url).drivername == "postgresql+psycopg"
    engine = make_engine(url)
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        pragma = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert pragma["journal_mode"] == "wal"
    assert pragma["foreign_keys"] == 1
    assert int(pragma["busy_timeout"]) >= 5000
    assert pragma["synchronous"] == 1  # NORMAL


def test_the_sqlite_file_gets_its_directory(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'deep' / 'er' / 'rolewatch.db'}")
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    engine.dispose()
    assert (tmp_path / "deep" / "er" / "rolewatch.db").exists()
