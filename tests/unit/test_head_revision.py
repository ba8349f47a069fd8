"""The newest revision `storage.database` knows without Alembic is the migration scripts' own head."""

from __future__ import annotations

from storage.database import HEAD_REVISION, head_revision


def test_the_head_revision_constant_is_the_newest_migration() -> None:
    assert head_revision() == HEAD_REVISION, "a new migration: set storage.database.HEAD_REVISION to it"
