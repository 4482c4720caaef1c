"""Alembic's environment, run by `bot.store.migrations` with a connection that holds the migration lock.

A developer's `alembic.command.revision(..., autogenerate=True)` may give `sqlalchemy.url`
instead; then this file opens the engine itself.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from bot.store.base import make_engine
from bot.store.schema import metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: autogenerate writes batch (copy and move) operations.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if isinstance(given, Connection):
    run(given)
else:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            run(conn)
            conn.commit()
    finally:
        engine.dispose()
