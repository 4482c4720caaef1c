"""All SQL lives here: articles, events, chats, subscriptions and the delivery outbox.

SQLAlchemy Core over SQLite (WAL) by default; nothing here is SQLite-specific beyond the
connection pragmas, so the same statements run on PostgreSQL. The schema is Alembic's
(bot/migrations), upgraded when the store opens. Synchronous by design: async callers use
`asyncio.to_thread`, which keeps the event loop free on a slow disk or network.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.core.config import StateConfig
from bot.store.articles import ArticleStore, SaveResult, Targets
from bot.store.backup import BackupError, BackupStore
from bot.store.base import DatabaseFailure, DataRefused, StoreError, make_engine, utc_now
from bot.store.broadcasts import Broadcast, BroadcastLog
from bot.store.chats import ChatStore, Subscription
from bot.store.deliveries import Delivery
from bot.store.filestates import FileState
from bot.store.leases import LeaseStore
from bot.store.llmcache import LlmCacheStore
from bot.store.migrations import SchemaError, require_head, upgrade
from bot.store.outbox import OutboxStore, retry_delay
from bot.store.reprocess import Reprocessable, ReprocessStore

__all__ = [
    "BackupError",
    "Broadcast",
    "DataRefused",
    "DatabaseFailure",
    "Delivery",
    "FileState",
    "Reprocessable",
    "SaveResult",
    "SchemaError",
    "Store",
    "StoreError",
    "Subscription",
    "Targets",
    "retry_delay",
]


class Store(
    ArticleStore,
    ChatStore,
    OutboxStore,
    BackupStore,
    ReprocessStore,
    LeaseStore,
    BroadcastLog,
    LlmCacheStore,
):
    """The database. One instance per process; safe to call from several threads."""

    def __init__(
        self,
        url: str,
        *,
        migrate: bool = True,
        pool_size: int = 5,
        max_overflow: int = 5,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """Opens the database and upgrades its schema (`migrate`), or refuses it if behind."""
        self.url = url
        self.clock = clock
        self.engine = make_engine(url, pool_size, max_overflow)
        try:
            if migrate:
                upgrade(self.engine)
            else:
                require_head(self.engine)
        except BaseException:
            self.engine.dispose()
            raise

    @classmethod
    def open(cls, state: StateConfig, clock: Callable[[], datetime] = utc_now) -> Store:
        """The store the `state` section describes."""
        return cls(
            state.url,
            migrate=state.migrate,
            pool_size=state.pool_size,
            max_overflow=state.max_overflow,
            clock=clock,
        )

    def close(self) -> None:
        self.engine.dispose()
