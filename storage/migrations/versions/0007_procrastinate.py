"""procrastinate's job queue for `engine: procrastinate`, in a PostgreSQL schema of its own, with the
cluster's two tables beside it: which job recorded which crawl, and when each host may next be asked.

On SQLite this revision does nothing: the procrastinate engine needs PostgreSQL. The queue's tables
live in the `procrastinate` schema so that they never mix with rolewatch's own (whose models the
other revisions mirror); procrastinate's connections put that schema on their `search_path`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "procrastinate"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    op.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    search_path = bind.exec_driver_sql("SHOW search_path").scalar_one()
    bind.exec_driver_sql(f"SET LOCAL search_path TO {SCHEMA}")
    # procrastinate's own DDL, as `procrastinate schema --apply` would run it: many statements and
    # `$$` bodies, sent without parameters so that nothing in it is read as a placeholder.
    with bind.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(SchemaManager.get_schema())
    bind.exec_driver_sql("SELECT set_config('search_path', %(path)s, true)", {"path": search_path})
    op.create_table(
        "crawl_jobs",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("crawl_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name="pk_crawl_jobs"),
        schema=SCHEMA,
    )
    op.create_table(
        "host_turns",
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("free_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("host", name="pk_host_turns"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
