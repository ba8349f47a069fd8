"""Fixtures for the integration tests: a seeded database on each backend and the web app over it; a
PostgreSQL database set up for the procrastinate engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from rolewatch.config import Config
from rolewatch.resolve import parse_config
from rolewatch.web import create_app
from tests.conftest import PostgresServer
from tests.integration.cluster_support import cluster_database
from tests.integration.web_seed import CONFIG, Seeded, seed


@pytest.fixture
def web_config() -> Config:
    return parse_config(CONFIG)


@pytest.fixture
def web_seeded(engine: Engine) -> Seeded:
    return seed(engine)


@pytest.fixture
def web_client(engine: Engine, web_seeded: Seeded, web_config: Config) -> Iterator[TestClient]:
    with TestClient(create_app(engine, lambda: web_config)) as client:
        yield client


@pytest.fixture
def cluster_db(postgres_server: PostgresServer) -> Iterator[tuple[str, Engine]]:
    """A fresh database migrated for `engine: procrastinate`: its URL and an engine on it."""
    with cluster_database(postgres_server) as database:
        yield database
