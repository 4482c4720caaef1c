"""An index on events (type, id): a new event is compared with the newest events of its type
(bot/core/stories.py), which without it read the whole events table for a rare type.

Revision ID: 0004_events_by_type
Revises: 0003_feeds
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004_events_by_type"
down_revision: str | None = "0003_feeds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_events_type_id", "events", ["type", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_type_id", table_name="events")
