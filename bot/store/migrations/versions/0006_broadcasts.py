"""An operator's /broadcast kept in the database, one row per chat it goes to: a restart
resumes it where it stopped.

Revision ID: 0006_broadcasts
Revises: 0005_health_counts
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_broadcasts"
down_revision: str | None = "0005_health_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("from_chat", sa.BigInteger, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "broadcast_chats",
        sa.Column("broadcast_id", sa.Integer, sa.ForeignKey("broadcasts.id"), primary_key=True),
        sa.Column("chat_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("status", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("broadcast_chats")
    op.drop_table("broadcasts")
