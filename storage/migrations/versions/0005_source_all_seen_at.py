"""Sources remember when a crawl last saw every posting then open.

An unchanged re-crawl then writes that one timestamp instead of rewriting each posting's wide
row to bump its `last_seen_at`.

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


def downgrade() -> None:
    # Each open posting takes back its true last sighting before the shared one goes.
    op.execute(
        "UPDATE postings SET last_seen_at = "
        "(SELECT all_seen_at FROM sources WHERE sources.id = postings.source_id) "
        "WHERE status = 'open' AND last_seen_at < "
        "(SELECT all_seen_at FROM sources WHERE sources.id = postings.source_id)"
    )
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("all_seen_at")
