"""One active scheduler per database: the lock excludes a second holder and dies with its holder."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from scheduler.lock import ADVISORY_KEY, AdvisoryLock, FileLock, NoLock, scheduler_lock
from storage.database import make_engine

HOLD_LOCK = """
import sys, time
from scheduler.lock import scheduler_lock
from storage.database import make_engine
lock = scheduler_lock(make_engine(sys.argv[1]))
assert lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_a_second_scheduler_is_kept_out_until_the_first_lets_go(engine: Engine) -> None:
    first, second = scheduler_lock(engine), scheduler_lock(engine)
    try:
        assert first.acquire() and first.held()
        assert not second.acquire() and not second.held()
        first.release()
        assert not first.held()
        assert second.acquire() and second.held()
    finally:
        first.release()
        second.release()


@pytest.mark.slow  # the holder is a Python process of its own, killed
def test_the_lock_of_a_killed_scheduler_is_free_at_once(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    lock = scheduler_lock(engine)
    command = [sys.executable, "-c", HOLD_LOCK, url]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            assert not lock.acquire()
        finally:
            holder.kill()
    try:
        deadline = time.monotonic() + 10
        while not lock.acquire():
            assert time.monotonic() < deadline, "the dead holder's lock was never released"
            time.sleep(0.1)
        assert lock.held()
    finally:
        lock.release()


def test_the_lock_is_a_postgresql_advisory_lock_or_a_file_beside_the_sqlite_database(engine: Engine) -> None:
    lock = scheduler_lock(engine)
    if engine.dialect.name == "postgresql":
        assert isinstance(lock, AdvisoryLock) and str(ADVISORY_KEY) in lock.description
    else:
        assert isinstance(lock, FileLock)
        assert lock.path == Path(str(engine.url.database)).resolve().with_suffix(".db.lock")
    assert "password" not in lock.description


def test_a_terminated_postgresql_session_is_a_lost_lock(postgresql_engine: Engine) -> None:
    lock, rival = AdvisoryLock(postgresql_engine), AdvisoryLock(postgresql_engine)
    try:
        assert lock.acquire()
        with postgresql_engine.connect() as connection:
            killed = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'rolewatch scheduler lock'"
                )
            ).all()
        assert killed
        assert not lock.held()
        assert rival.acquire()
    finally:
        lock.release()
        rival.release()


def test_a_deleted_lock_file_is_a_lost_lock(tmp_path: Path) -> None:
    lock = scheduler_lock(make_engine(f"sqlite:///{tmp_path / 'rolewatch.db'}"))
    assert isinstance(lock, FileLock)
    try:
        assert lock.acquire() and lock.held()
        lock.path.unlink()
        assert not lock.held()
    finally:
        lock.release()


def test_an_in_memory_database_needs_no_lock() -> None:
    assert isinstance(scheduler_lock(make_engine("sqlite://")), NoLock)
