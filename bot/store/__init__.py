"""All SQL lives here: articles, events, chats, subscriptions and the delivery outbox.

SQLAlchemy Core over SQLite (WAL) by default; nothing here is SQLite-specific beyond the
connection pragmas, so the same statements run on PostgreSQL. Synchronous by design: async
callers use `asyncio.to_thread`, which keeps the event loop free on a slow disk or network.
"""

from __future__ import annotations

from bot.store.articles import ArticleStore, FileState, SaveResult, Targets
from bot.store.backup import BackupError, BackupStore
from bot.store.base import make_engine
from bot.store.chats import ChatStore, Subscription
from bot.store.outbox import Delivery, OutboxStore, retry_delay
from bot.store.reprocess import Reprocessable, ReprocessStore
from bot.store.schema import metadata

__all__ = [
    "BackupError",
    "Delivery",
    "FileState",
    "Reprocessable",
    "SaveResult",
    "Store",
    "Subscription",
    "Targets",
    "retry_delay",
]


class Store(ArticleStore, ChatStore, OutboxStore, BackupStore, ReprocessStore):
    """The database. One instance per process; safe to call from several threads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()
