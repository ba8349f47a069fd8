"""Index posting versions by crawl, so deleting old crawls (daily maintenance) is not a scan per crawl.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_posting_versions_crawl_id", "posting_versions", ["crawl_id"])


def downgrade() -> None:
    op.drop_index("ix_posting_versions_crawl_id", table_name="posting_versions")
