"""The database URL check `rolewatch check` makes: a plain SQLite URL is taken without SQLAlchemy, and
that shortcut accepts exactly what `storage.database.check_database_url` accepts."""

from __future__ import annotations

import pytest

from rolewatch.resolve import _PLAIN_SQLITE, stage_resolvers
from storage.database import check_database_url

URLS = [
    "sqlite:///rolewatch.db",
    "sqlite:////var/lib/rolewatch/rolewatch.db",
    "sqlite+pysqlite:///data/rolewatch.db",
    "sqlite:///:memory:",
    "sqlite:///a path with spaces/and@signs#and:colons.db",
    "sqlite:///",
    "sqlite://",
    "sqlite:///rolewatch.db?timeout=5",
    "sqlite+aiosqlite:///rolewatch.db",
    "sqlite:///rolewatch.db?mode=ro&uri=true",
    "postgresql+psycopg://rolewatch@localhost/rolewatch",
    "postgresql://rolewatch@localhost:99999/rolewatch",
    "mysql://root@localhost/rolewatch",
    "rolewatch.db",
]


def outcome(check: object, url: str) -> str:
    try:
        check(url)  # type: ignore[operator]
    except ValueError as error:
        return f"refused: {error}"
    return "accepted"


@pytest.mark.parametrize("url", URLS)
def test_the_resolver_judges_a_url_as_storage_does(url: str) -> None:
    assert outcome(stage_resolvers().database, url) == outcome(check_database_url, url)


@pytest.mark.parametrize("url", [url for url in URLS if _PLAIN_SQLITE.match(url)])
def test_only_urls_storage_accepts_take_the_shortcut(url: str) -> None:
    assert outcome(check_database_url, url) == "accepted"
