"""Indexes for the web's keyset pages: the event timeline in (at, id) order, whole or by type or
company; the posting list newest first or by title; postings by closing time for the charts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_events_at_id": ("events", ["at", "id"]),
    "ix_events_type_at_id": ("events", ["type", "at", "id"]),
    "ix_events_company_at_id": ("events", ["company", "at", "id"]),
    "ix_postings_status_id": ("postings", ["status", "id"]),
    "ix_postings_status_title_id": ("postings", ["status", "title", "id"]),
    "ix_postings_title_id": ("postings", ["title", "id"]),
    "ix_postings_closed_at": ("postings", ["closed_at"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
