"""One active scheduler per database: a PostgreSQL advisory lock, or a lock file beside a SQLite database.

Both locks die with their holder (the operating system drops a dead process's `flock`, PostgreSQL
a dead session's advisory lock), so a standby takes over without anyone cleaning up after a crash.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

#: The advisory lock key: the first 8 bytes of SHA-256("rolewatch") as a signed bigint, the same for every
#: rolewatch version, so any two schedulers on one PostgreSQL database exclude each other.
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"rolewatch").digest()[:8], "big", signed=True)

# pg_locks shows a bigint advisory key as two 32-bit halves.
_KEY_HIGH, _KEY_LOW = (ADVISORY_KEY >> 32) & 0xFFFFFFFF, ADVISORY_KEY & 0xFFFFFFFF
_HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() "
    "AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"
)

# The lock's connection must notice a dead server or network within seconds, not TCP's minutes.
_PG_CONNECT_ARGS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
    "application_name": "rolewatch scheduler lock",
}


class SchedulerLock(Protocol):
    """Held by the active scheduler for as long as it schedules."""

    #: Where the lock lives, for log messages (no secrets).
    description: str

    def acquire(self) -> bool:
        """Take the lock if it is free; False if another scheduler holds it."""

    def held(self) -> bool:
        """Whether this instance still holds the lock (checked periodically)."""

    def release(self) -> None:
        """Give the lock up (idempotent)."""


def scheduler_lock(engine: Engine) -> SchedulerLock:
    """The lock for `engine`'s database: advisory on PostgreSQL, a `<db>.lock` file on SQLite."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return NoLock(f"{database or 'an in-memory database'} (private to this process)")
    # Named after the file itself, not the path given: two daemons reaching one database through a
    # symlink (or by two relative paths) must meet at one lock file.
    resolved = Path(database).expanduser().resolve()
    return FileLock(resolved.with_name(resolved.name + ".lock"))


class NoLock:
    """An in-memory SQLite database cannot be shared, so there is nothing to exclude."""

    def __init__(self, description: str) -> None:
        self.description = description

    def acquire(self) -> bool:
        return True

    def held(self) -> bool:
        return True

    def release(self) -> None:
        pass


class FileLock:
    """`flock(LOCK_EX | LOCK_NB)` on a file beside the SQLite database.

    The descriptor is not inherited by the crawl processes (Python opens files non-inheritable),
    so an orphaned crawl never keeps a dead daemon's lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"lock file {path}"
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def held(self) -> bool:
        """Still ours, and still the file at that path: a deleted lock file would let a second daemon in."""
        if self._fd is None:
            return False
        try:
            return os.fstat(self._fd).st_ino == os.stat(self.path).st_ino
        except OSError:
            return False

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.close(fd)  # closing the only descriptor drops the flock


class AdvisoryLock:
    """`pg_try_advisory_lock` on a dedicated session held for the daemon's life.

    The session is its own (not the pool's), with TCP keep-alives, so a lost connection is seen
    within seconds by `held()`; PostgreSQL frees the lock when the session ends.
    """

    def __init__(self, engine: Engine) -> None:
        url = engine.url
        self.description = f"advisory lock {ADVISORY_KEY} on {url.render_as_string(hide_password=True)}"
        self._engine = create_engine(url, poolclass=NullPool, connect_args=_PG_CONNECT_ARGS)
        self._connection: Connection | None = None

    def acquire(self) -> bool:
        if self._connection is not None:
            return True
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY})
            if taken.scalar_one():
                self._connection = connection
                return True
        except BaseException:
            connection.close()
            raise
        connection.close()
        return False

    def held(self) -> bool:
        if self._connection is None:
            return False
        try:
            found = self._connection.execute(_HELD, {"high": _KEY_HIGH, "low": _KEY_LOW}).scalar_one()
            return bool(found)
        except DBAPIError as error:
            logger.warning("the scheduler lock's connection failed: %s", error.orig)
            self._drop()
            return False

    def release(self) -> None:
        if self._connection is None:
            return
        with contextlib.suppress(DBAPIError):  # a dead session has dropped the lock already
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
        self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(DBAPIError):
                connection.close()
        self._engine.dispose()
