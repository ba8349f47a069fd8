"""Shared pytest fixtures; each block is owned by the stage named in its heading."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import OperationalError

if TYPE_CHECKING:
    from crawler.workers import CrawlWorkers

# =================================================================================================
# storage: a migrated database on SQLite and on PostgreSQL (the `engine` fixture runs a test on both)
# =================================================================================================

PG_URL_ENV = "ROLEWATCH_TEST_PG_URL"
DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
#: Taken out of the environment as the suite starts: to rolewatch any ROLEWATCH_* variable is a
#: configuration key, so a test that loads a configuration in process (or starts `rolewatch`) would
#: otherwise be refused with "test_pg_url: extra inputs are not permitted".
#: Handed on under a name outside that namespace to the test processes pytest-xdist starts after the pop.
PG_HANDOFF_ENV = "TEST_PG_ADMIN_URL"
PG_ADMIN_URL = os.environ.pop(PG_URL_ENV, None) or os.environ.get(PG_HANDOFF_ENV) or DEFAULT_PG_ADMIN_URL
os.environ[PG_HANDOFF_ENV] = PG_ADMIN_URL
pytest_plugins = ["tests.receivers"]

#: No per-example deadline: under four test processes on two shared cores an example can wait for a
#: core for longer than hypothesis's 200 ms, and that says nothing about the code under test.
settings.register_profile("rolewatch", deadline=None)
settings.load_profile("rolewatch")

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that drives a browser is end to end (a `rolewatch web` process, Chromium): `slow` too."""
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.slow)


class PostgresServer:
    """The server named by ROLEWATCH_TEST_PG_URL; hands out throwaway databases and drops them."""

    def __init__(self, admin: Engine) -> None:
        self.admin = admin
        self.created: list[str] = []

    def create_database(self) -> URL:
        name = f"rolewatch_test_{secrets.token_hex(6)}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.admin.url.set(database=name)

    def drop_database(self, url: URL) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        self.created.remove(str(url.database))


def _postgres_unavailable(reason: str) -> None:
    """Skip locally, but never in CI: there a missing PostgreSQL must fail the run, not hide half of it."""
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI ({PG_URL_ENV}): {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable ({PG_URL_ENV}): {reason}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    from storage.database import database_url

    url = database_url(PG_ADMIN_URL)
    admin = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect():
            pass
    except OperationalError as error:
        admin.dispose()
        _postgres_unavailable(str(error.orig).strip())
    server = PostgresServer(admin)
    yield server
    for name in list(server.created):
        server.drop_database(admin.url.set(database=name))
    admin.dispose()


@pytest.fixture(scope="session")
def postgresql_engine(postgres_server: PostgresServer) -> Iterator[Engine]:
    """One fresh database per test session, built by the migrations (so they are exercised too)."""
    from storage.database import make_engine, upgrade

    url = postgres_server.create_database()
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()
    postgres_server.drop_database(url)


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    from storage.database import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('storage') / 'rolewatch.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _delete_all_rows(engine: Engine) -> None:
    """Isolation between tests that is far cheaper than a new database each time.

    Foreign keys are not checked while deleting: checking the postings' links to other postings
    (unindexed, as nothing but this ever deletes postings) would scan per row. On PostgreSQL a
    DELETE per table and the sequences set back to 1 cost a few milliseconds where TRUNCATE, which
    replaces every table's files, cost most of a second.
    """
    from storage.models import Base

    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))  # no FK triggers
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
            connection.execute(
                text(
                    "SELECT setval(oid, 1, false) FROM pg_class "
                    "WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace"
                )
            )
            connection.commit()
            return
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        for table in tables:
            connection.execute(text(f"DELETE FROM {table}"))
        connection.commit()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated, empty database on each backend in turn."""
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    _delete_all_rows(engine)
    yield engine
    _delete_all_rows(engine)


@pytest.fixture(params=BACKENDS)
def empty_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A brand-new database with no schema at all, on each backend in turn (for migration tests)."""
    from storage.database import make_engine

    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('empty') / 'empty.db'}")
        yield engine
        engine.dispose()
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    engine = make_engine(url)
    yield engine
    engine.dispose()
    server.drop_database(url)


# ===================================== end of storage fixtures ===================================


# =================================================================================================
# crawler: a real HTTP server on 127.0.0.1 playing job boards (see tests/boardserver.py)
# =================================================================================================

from tests.boardserver import BoardServer  # noqa: E402  (kept inside this block on purpose)


@pytest.fixture
def board_server() -> Iterator[BoardServer]:
    """A fresh board server per test; routes, answers and the request log start empty."""
    with BoardServer() as server:
        yield server


@pytest.fixture(scope="session")
def crawl_workers() -> Iterator[CrawlWorkers]:
    """Warm crawl workers, as the daemon keeps them: a test's crawls skip a worker's start-up (seconds
    of imports on a loaded machine). Tests whose point is a fresh worker (its start, its death, its
    time limit) start their own."""
    from crawler.workers import CrawlWorkers

    pool = CrawlWorkers()
    yield pool
    pool.close()


def _live_crawl_workers() -> set[int]:
    import psutil  # type: ignore[import-untyped]

    live = set()
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.NoSuchProcess):
            if "crawler.child" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                live.add(child.pid)
    return live


@pytest.fixture
def worker_pids() -> Callable[[], set[int]]:
    """The live crawl workers this test started: the idle ones of the session's `crawl_workers`,
    running before the test began, are not its own."""
    before = _live_crawl_workers()
    return lambda: _live_crawl_workers() - before


# ===================================== end of crawler fixtures ===================================
