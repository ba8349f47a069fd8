"""Drop the two indexes whose columns begin another index of their table: that one serves every
query they served, and each only cost a write of its own entry per row inserted or updated.

- `ix_events_at` (at) begins `ix_events_at_id` (at, id, from 0006): one entry per event;
- `ix_postings_source_id_status` (source_id, status) begins `ix_postings_listed_state` (from
  0005): one entry per posting, rewritten whenever its status changes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_events_at": ("events", ["at"]),
    "ix_postings_source_id_status": ("postings", ["source_id", "status"]),
}


def upgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)
