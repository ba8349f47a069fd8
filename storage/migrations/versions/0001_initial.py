"""Initial schema: sources, crawls, postings, posting versions and events.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Spelled out here rather than imported, so this revision keeps meaning what it meant when written.
JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("config", JSON_DOCUMENT, nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.Column("suspect_streak", sa.Integer(), nullable=False),
        sa.Column("validators", JSON_DOCUMENT, nullable=False),
        _timestamp("last_crawl_at", nullable=True),
        _timestamp("next_due_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sources"),
        sa.UniqueConstraint("name", name="uq_sources_name"),
    )
    op.create_table(
        "crawls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(), nullable=False),
        _timestamp("started_at"),
        _timestamp("finished_at"),
        sa.Column("verdict", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("unchanged", sa.Boolean(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("not_modified", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("errors", JSON_DOCUMENT, nullable=False),
        sa.Column("new_events", sa.Integer(), nullable=False),
        sa.Column("changed_events", sa.Integer(), nullable=False),
        sa.Column("closed_events", sa.Integer(), nullable=False),
        sa.Column("reopened_events", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name="fk_crawls_source_id_sources"),
        sa.PrimaryKeyConstraint("id", name="pk_crawls"),
        sa.UniqueConstraint("identity", name="uq_crawls_identity"),
    )
    op.create_index("ix_crawls_source_id_id", "crawls", ["source_id", "id"])
    op.create_table(
        "postings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("role_key", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("company", sa.String(), nullable=True),
        sa.Column("department", sa.String(), nullable=True),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("apply_url", sa.String(), nullable=True),
        sa.Column("locations", JSON_DOCUMENT, nullable=False),
        sa.Column("workplace", sa.String(), nullable=True),
        sa.Column("employment_type", sa.String(), nullable=True),
        sa.Column("salary", JSON_DOCUMENT, nullable=True),
        _timestamp("posted_at", nullable=True),
        _timestamp("deadline", nullable=True),
        sa.Column("work_rights", JSON_DOCUMENT, nullable=True),
        sa.Column("description_text", sa.Text(), nullable=False),
        sa.Column("description_html", sa.Text(), nullable=False),
        sa.Column("extra", JSON_DOCUMENT, nullable=False),
        sa.Column("significant", JSON_DOCUMENT, nullable=False),
        sa.Column("misses", sa.Integer(), nullable=False),
        _timestamp("first_seen_at"),
        _timestamp("last_seen_at"),
        _timestamp("closed_at", nullable=True),
        sa.Column("repost_of_id", sa.Integer(), nullable=True),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name="fk_postings_source_id_sources"),
        sa.ForeignKeyConstraint(["repost_of_id"], ["postings.id"], name="fk_postings_repost_of_id_postings"),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"], ["postings.id"], name="fk_postings_duplicate_of_id_postings"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_postings"),
        sa.UniqueConstraint("source_id", "external_id", name="uq_postings_source_id_external_id"),
    )
    op.create_index("ix_postings_role_key", "postings", ["role_key"])
    op.create_index("ix_postings_source_id_status", "postings", ["source_id", "status"])
    op.create_table(
        "posting_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.Column("crawl_id", sa.Integer(), nullable=False),
        _timestamp("recorded_at"),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("snapshot", JSON_DOCUMENT, nullable=False),
        sa.ForeignKeyConstraint(["crawl_id"], ["crawls.id"], name="fk_posting_versions_crawl_id_crawls"),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["postings.id"], name="fk_posting_versions_posting_id_postings"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_posting_versions"),
    )
    op.create_index("ix_posting_versions_posting_id", "posting_versions", ["posting_id"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.Column("crawl_id", sa.Integer(), nullable=False),
        _timestamp("at"),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("company", sa.String(), nullable=True),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("changes", JSON_DOCUMENT, nullable=False),
        sa.Column("repost_of", sa.String(), nullable=True),
        sa.Column("duplicate_of", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["crawl_id"], ["crawls.id"], name="fk_events_crawl_id_crawls"),
        sa.ForeignKeyConstraint(["posting_id"], ["postings.id"], name="fk_events_posting_id_postings"),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name="fk_events_source_id_sources"),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_at", "events", ["at"])
    op.create_index("ix_events_crawl_id", "events", ["crawl_id"])
    op.create_index("ix_events_posting_id", "events", ["posting_id"])
    op.create_index("ix_events_source_id_at", "events", ["source_id", "at"])


def downgrade() -> None:
    for table in ("events", "posting_versions", "postings", "crawls", "sources"):
        op.drop_table(table)
