"""Sources remember when a crawl last saw every posting then open; an index covers what each
crawl reads of a source's open postings.

An unchanged re-crawl then writes that one timestamp instead of rewriting each posting's wide
row to bump its `last_seen_at`, and reads its postings' misses and digests from the index
instead of from rows whose descriptions come first.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("all_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_postings_listed_state",
        "postings",
        ["source_id", "status", "external_id", "episode", "misses", "raw_digest", "deadline"],
    )


def downgrade() -> None:
    op.drop_index("ix_postings_listed_state", table_name="postings")
    # Each open posting takes back its true last sighting before the shared one goes.
    op.execute(
        "UPDATE postings SET last_seen_at = "
        "(SELECT all_seen_at FROM sources WHERE sources.id = postings.source_id) "
        "WHERE status = 'open' AND last_seen_at < "
        "(SELECT all_seen_at FROM sources WHERE sources.id = postings.source_id)"
    )
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("all_seen_at")
