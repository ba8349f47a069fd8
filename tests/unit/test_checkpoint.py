"""SQLite's log is checkpointed by a thread soon after commits, not inside a later commit."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

from sqlalchemy import text

from storage.checkpoint import BACKSTOP_BYTES, GATHER_S
from storage.database import SQLITE_PAGE_SIZE, make_engine


def rows_in_database_file_alone(path: Path, copy: Path) -> int | None:
    """The rows of `t` as the database file holds them without its log; None if it has no `t`."""
    shutil.copy(path, copy)  # the file alone: what a checkpoint has copied back, nothing else
    with sqlite3.connect(copy) as connection:
        try:
            return int(connection.execute("SELECT count(*) FROM t").fetchone()[0])
        except sqlite3.OperationalError:
            return None


def test_commits_reach_the_database_file_soon_without_filling_the_log(tmp_path: Path) -> None:
    path = tmp_path / "rolewatch.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (n INTEGER)"))
        for n in range(5):
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        with engine.connect() as connection:
            backstop = connection.execute(text("PRAGMA wal_autocheckpoint")).scalar_one()
        assert (path.parent / "rolewatch.db-wal").exists(), "the writes went to the log first"
        deadline = time.monotonic() + 10
        found = rows_in_database_file_alone(path, tmp_path / "copy.db")
        while found != 5 and time.monotonic() < deadline:
            time.sleep(0.05)
            found = rows_in_database_file_alone(path, tmp_path / "copy.db")
    finally:
        engine.dispose()
    assert found == 5, "a few small commits were checkpointed although the log is far from full"
    assert backstop == BACKSTOP_BYTES // SQLITE_PAGE_SIZE


def test_a_database_deleted_after_its_engine_is_disposed_is_not_made_again(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
    engine.dispose()
    for leftover in tmp_path.glob("gone.db*"):
        leftover.unlink()
    time.sleep(GATHER_S * 3)
    assert list(tmp_path.glob("gone.db*")) == []


def test_disposing_of_an_engine_does_not_wait_for_its_idle_checkpointer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'quick.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
    time.sleep(GATHER_S * 3)  # checkpointed; the thread now waits for the next commit
    started = time.monotonic()
    engine.dispose()
    assert time.monotonic() - started < 1.0


def test_a_new_database_has_large_pages_and_an_existing_one_keeps_its_own(tmp_path: Path) -> None:
    """A posting's row fills most of a 4 KiB page, so a new database takes 16 KiB pages; one made
    before (4 KiB) keeps them, with the log's backstop still at `BACKSTOP_BYTES` in its pages."""
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as connection:
        connection.execute("PRAGMA page_size=4096")
        connection.execute("CREATE TABLE t (n INTEGER)")
    connection.close()
    sizes = {}
    for path in (tmp_path / "new.db", old):
        engine = make_engine(f"sqlite:///{path}")
        try:
            with engine.begin() as connection:
                connection.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))
                connection.execute(text("INSERT INTO t VALUES (1)"))
            with engine.connect() as connection:
                sizes[path.name] = (
                    connection.execute(text("PRAGMA page_size")).scalar_one(),
                    connection.execute(text("PRAGMA wal_autocheckpoint")).scalar_one(),
                    connection.execute(text("PRAGMA journal_mode")).scalar_one(),
                )
        finally:
            engine.dispose()
    assert sizes == {
        "new.db": (SQLITE_PAGE_SIZE, BACKSTOP_BYTES // SQLITE_PAGE_SIZE, "wal"),
        "old.db": (4096, BACKSTOP_BYTES // 4096, "wal"),
    }
    assert SQLITE_PAGE_SIZE == 16384
