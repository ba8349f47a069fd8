"""Access control for an exposed dashboard: hashed bearer token or basic credentials; per-feed URL tokens."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from rolewatch.cli import cli
from rolewatch.config import ConfigError
from rolewatch.resolve import parse_config
from rolewatch.web import create_app
from rolewatch.web.auth import feed_token, hash_secret, verify_secret
from tests.integration.web_seed import CONFIG

TOKEN = "correct-horse-battery-staple-token"
PASSWORD = "p@ss word:with colon"
FEED_KEY = "k" * 40


@pytest.fixture(scope="module")
def hashes() -> tuple[str, str]:
    return hash_secret(TOKEN), hash_secret(PASSWORD)


@pytest.fixture
def locked(sqlite_engine: Engine, hashes: tuple[str, str]) -> Iterator[TestClient]:
    token, password = hashes
    config = parse_config(
        CONFIG
        + f"web:\n  auth:\n    token: '{token}'\n    username: alice\n    password: '{password}'\n"
        + f"    feed_key: '{FEED_KEY}'\n"
    )
    with TestClient(create_app(sqlite_engine, lambda: config)) as client:
        yield client


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_without_credentials_everything_but_static_files_is_refused(locked: TestClient) -> None:
    for path in ("/", "/postings", "/api/events", "/feeds/events.atom", "/nope"):
        response = locked.get(path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith("Basic")
        assert "content-security-policy" in response.headers
    assert locked.get("/static/rolewatch.css").status_code == 200


def test_a_bearer_token_or_basic_credentials_let_a_request_in(locked: TestClient) -> None:
    assert locked.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert locked.get("/api/events", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert locked.get("/events", headers=basic("alice", PASSWORD)).status_code == 200
    assert locked.get("/events", headers=basic("alice", "nope")).status_code == 401
    assert locked.get("/events", headers=basic("mallory", PASSWORD)).status_code == 401
    assert locked.get("/events", headers={"Authorization": "Basic !!!"}).status_code == 401


def test_a_feed_token_opens_its_own_feed_and_nothing_else(locked: TestClient) -> None:
    token = feed_token(FEED_KEY, "/feeds/events.atom")
    assert locked.get(f"/feeds/events.atom?token={token}").status_code == 200
    assert locked.get(f"/feeds/events.json?token={token}").status_code == 401
    assert locked.get(f"/api/events?token={token}").status_code == 401
    assert locked.get("/feeds/events.atom?token=" + "0" * 32).status_code == 401
    page = locked.get("/events", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert f"/feeds/events.atom?token={token}" in page


def test_secrets_are_configured_as_hashes_only(hashes: tuple[str, str]) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(f"web:\n  auth:\n    token: '{TOKEN}'\n")
    assert "web.auth.token" in str(refused.value) and TOKEN not in str(refused.value)
    assert verify_secret(TOKEN, hashes[0]) and not verify_secret(TOKEN + "x", hashes[0])
    assert hashes[0] != hash_secret(TOKEN)  # salted


def test_rolewatch_web_hash_prints_a_hash_that_verifies() -> None:
    result = CliRunner().invoke(cli, ["web", "--hash"], input=f"{TOKEN}\n")
    assert result.exit_code == 0, result.output
    assert verify_secret(TOKEN, result.stdout.strip())
    assert CliRunner().invoke(cli, ["web", "--hash"], input="").exit_code == 2
