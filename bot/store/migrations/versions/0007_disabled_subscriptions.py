"""A subscription whose filter no longer passes the checks (a /pattern/ RE2 refuses) is kept,
disabled, with the reason: it never runs, and /list shows why.

Revision ID: 0007_disabled_subscriptions
Revises: 0006_broadcasts
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_disabled_subscriptions"
down_revision: str | None = "0006_broadcasts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("disabled", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("disabled")
