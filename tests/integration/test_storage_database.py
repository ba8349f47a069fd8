"""Engines: SQLite tuned for one writer and many readers, PostgreSQL always through psycopg 3."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from storage.database import database_url, dumps, insert_rows, make_engine
from storage.models import CrawlRow, SourceRow


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
    assert int(pragma["busy_timeout"] or 0) >= 5000
    assert pragma["synchronous"] == 1  # NORMAL


def test_the_sqlite_file_gets_its_directory(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'deep' / 'er' / 'rolewatch.db'}")
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    engine.dispose()
    assert (tmp_path / "deep" / "er" / "rolewatch.db").exists()


def test_bulk_inserted_rows_are_stored_as_sqlalchemy_stores_them(engine: Engine) -> None:
    """`insert_rows` binds values itself (COPY on PostgreSQL, the driver's executemany on SQLite):
    what it stores must be what SQLAlchemy's own INSERT stores, byte for byte as the driver reads it."""
    now = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    with engine.begin() as connection:
        source_id = connection.execute(
            insert(SourceRow).returning(SourceRow.id),
            {
                "name": "bulk",
                "type": "greenhouse",
                "config": {},
                "created_at": now,
                "updated_at": now,
                "validators": {},
            },
        ).scalar_one()

    def row(identity: str, started: datetime, errors: list[Any]) -> dict[str, Any]:
        return {
            "source_id": source_id,
            "identity": identity,
            "started_at": started,
            "finished_at": now,
            "verdict": "complete",
            "reason": "ok",
            "note": 'Zürich – 東京 "quoted"\n',
            "unchanged": False,
            "requests": 1,
            "responses": 1,
            "bytes": 2**40,
            "pages": 1,
            "items": 3,
            "retries": 0,
            "not_modified": 0,
            "duration_s": 0.1 + 0.2,
            "errors": errors,
            "new_events": 3,
            "changed_events": 0,
            "closed_events": 0,
            "reopened_events": 0,
        }

    cases: list[tuple[datetime, list[Any]]] = [
        (datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))), ["é", {"nested": [1, 2.5, None]}]),
        (datetime(2026, 3, 1, 12, 0), []),  # naive: taken as UTC
        (now, [{"ü": True, "n": -1.5e300}]),
    ]
    with engine.begin() as connection:
        connection.execute(insert(CrawlRow), [row(f"orm-{i}", s, e) for i, (s, e) in enumerate(cases)])
        insert_rows(connection, CrawlRow, [row(f"bulk-{i}", s, e) for i, (s, e) in enumerate(cases)])
    with engine.connect() as connection:
        stored = {
            r[0]: r[1:]
            for r in connection.exec_driver_sql(
                "SELECT identity, started_at, finished_at, note, bytes, duration_s, errors FROM crawls"
            )
        }
        read = connection.execute(select(CrawlRow.identity, CrawlRow.started_at, CrawlRow.errors)).all()
    for i in range(len(cases)):
        assert stored[f"bulk-{i}"] == stored[f"orm-{i}"]
    assert {r.identity: (r.started_at, r.errors) for r in read}["bulk-0"] == (
        datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        ["é", {"nested": [1, 2.5, None]}],
    )


NOW = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _source_id(engine: Engine) -> int:
    with engine.begin() as connection:
        return int(
            connection.execute(
                insert(SourceRow).returning(SourceRow.id),
                {
                    "name": "bulk",
                    "type": "greenhouse",
                    "config": {},
                    "created_at": NOW,
                    "updated_at": NOW,
                    "validators": {},
                },
            ).scalar_one()
        )


def _crawl_row(source_id: int, identity: str, started: datetime, errors: Any) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "identity": identity,
        "started_at": started,
        "finished_at": NOW,
        "verdict": "complete",
        "reason": "ok",
        "note": "",
        "unchanged": False,
        "requests": 1,
        "responses": 1,
        "bytes": 1,
        "pages": 1,
        "items": 0,
        "retries": 0,
        "not_modified": 0,
        "duration_s": 0.5,
        "errors": errors,
        "new_events": 0,
        "changed_events": 0,
        "closed_events": 0,
        "reopened_events": 0,
    }


def _stored(engine: Engine) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as connection:
        return {
            r[0]: r[1:]
            for r in connection.exec_driver_sql(
                "SELECT identity, started_at, finished_at, errors FROM crawls"
            )
        }


def test_documents_the_caller_encoded_are_stored_as_sqlalchemy_stores_the_documents(engine: Engine) -> None:
    """`encoded` columns arrive as `dumps` text (a first crawl encodes each snapshot once for two
    rows): they must be stored exactly as the JSON type stores the documents themselves."""
    source_id = _source_id(engine)
    documents = [[], ["é", {"nested": [1, 2.5, None, True]}], [{"ü": '東京 "q"\n', "n": -1.5e300}]]
    with engine.begin() as connection:
        connection.execute(
            insert(CrawlRow), [_crawl_row(source_id, f"orm-{i}", NOW, d) for i, d in enumerate(documents)]
        )
        insert_rows(
            connection,
            CrawlRow,
            [_crawl_row(source_id, f"bulk-{i}", NOW, dumps(d)) for i, d in enumerate(documents)],
            encoded=("errors",),
        )
    stored = _stored(engine)
    for i in range(len(documents)):
        assert stored[f"bulk-{i}"] == stored[f"orm-{i}"]


def test_equal_timestamps_in_other_zones_are_each_stored_as_sqlalchemy_stores_them(engine: Engine) -> None:
    """Timestamps are bound once per distinct value in a batch; equal instants written in other
    zones, or naive, must not share one binding (SQLite stores the text of each)."""
    source_id = _source_id(engine)
    instants = [
        NOW,
        NOW.astimezone(timezone(timedelta(hours=-4))),
        NOW.astimezone(timezone(timedelta(hours=5, minutes=30))),
        NOW.replace(tzinfo=None),
        NOW.astimezone(timezone(timedelta(hours=-4))).replace(tzinfo=None),
    ]
    with engine.begin() as connection:
        connection.execute(
            insert(CrawlRow), [_crawl_row(source_id, f"orm-{i}", at, []) for i, at in enumerate(instants)]
        )
        insert_rows(
            connection,
            CrawlRow,
            [_crawl_row(source_id, f"bulk-{i}", at, []) for i, at in enumerate(instants)],
        )
    stored = _stored(engine)
    for i in range(len(instants)):
        assert stored[f"bulk-{i}"] == stored[f"orm-{i}"], instants[i]


@pytest.mark.postgres
def test_postgresql_sessions_compress_long_values_with_lz4_where_the_server_has_it(
    postgresql_engine: Engine,
) -> None:
    with postgresql_engine.connect() as connection:
        methods = connection.exec_driver_sql(
            "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
        ).scalar()
        if not methods or "lz4" not in methods:
            pytest.skip("this server has no LZ4")
        assert connection.exec_driver_sql("SHOW default_toast_compression").scalar() == "lz4"


def test_rows_built_as_they_are_written_are_all_stored(engine: Engine) -> None:
    """A first crawl hands its rows over as a generator (PostgreSQL inserts the first while the
    rest are built); an empty one writes nothing."""
    source_id = _source_id(engine)
    with engine.begin() as connection:
        insert_rows(connection, CrawlRow, (_crawl_row(source_id, f"lazy-{i}", NOW, []) for i in range(3)))
        insert_rows(connection, CrawlRow, (_crawl_row(source_id, "never", NOW, []) for _ in range(0)))
    assert sorted(_stored(engine)) == ["lazy-0", "lazy-1", "lazy-2"]
