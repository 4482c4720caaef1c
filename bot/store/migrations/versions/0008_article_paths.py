"""Article paths compared byte by byte on PostgreSQL too: finding `/articles/PATH.html` (PATH
plus any extension) read every row of `articles`; it now asks the unique index of `path` for a
range, which needs the index in byte order ("C"), as SQLite's already is.

Revision ID: 0008_article_paths
Revises: 0007_disabled_subscriptions
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_article_paths"
down_revision: str | None = "0007_disabled_subscriptions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # SQLite compares text byte by byte
        op.alter_column("articles", "path", type_=sa.Text(collation="C"), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("articles", "path", type_=sa.Text(), existing_nullable=False)
