"""The answers of the optional extraction model (extract.backend llm, llm+rules), kept by the
hash of what was asked: a restart, a rescan or a second instance never asks twice.

Revision ID: 0009_llm_answers
Revises: 0008_article_paths
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_llm_answers"
down_revision: str | None = "0008_article_paths"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "llm_answers",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("llm_answers")
