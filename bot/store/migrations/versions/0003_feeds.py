"""The feed index: which entries each feed holds, so that a publish renders only what changed;
an index on articles.published for the newest-first listings (home page, /latest).

Filled by the store on the first scan after the upgrade (from the articles and events).

Revision ID: 0003_feeds
Revises: 0002_instances
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_feeds"
down_revision: str | None = "0002_instances"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_articles_published", "articles", ["published"])
    op.create_table(
        "feed_entries",
        sa.Column("feed", sa.Text, primary_key=True),
        sa.Column(
            "entry",
            sa.Text().with_variant(sa.Text(collation="C"), "postgresql"),
            primary_key=True,
        ),
        sa.Column("sort", sa.BigInteger, nullable=False),
        sa.Column("article_id", sa.Integer, nullable=False),
        sa.Column("event_id", sa.Integer),
        sa.Column("story", sa.String(64)),
        sa.Column("label", sa.Text, nullable=False),
    )
    op.create_index("ix_feed_entries_article_id", "feed_entries", ["article_id"])
    op.create_index("ix_feed_entries_story", "feed_entries", ["story"])
    op.create_index(
        "ix_feed_entries_order", "feed_entries", ["feed", sa.text("sort DESC"), "entry"]
    )
    op.create_table(
        "feeds",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feeds")
    op.drop_table("feed_entries")
    op.drop_index("ix_articles_published", "articles")
