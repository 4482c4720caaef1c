"""Chats and their subscriptions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update

from bot.store.base import StoreBase
from bot.store.schema import chats, outbox, subscriptions


@dataclass(frozen=True, slots=True)
class Subscription:
    chat_id: int
    thread_id: int | None
    filter: str


class ChatStore(StoreBase):
    def upsert_chat(self, chat_id: int, kind: str, title: str | None, language: str | None) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(chats)
                .where(chats.c.id == chat_id)
                .values(kind=kind, title=title, language=language, active=True)
            ).rowcount
            if not changed:
                conn.execute(
                    insert(chats).values(
                        id=chat_id,
                        kind=kind,
                        title=title,
                        language=language,
                        active=True,
                        created=now,
                    )
                )

    def add_subscription(self, chat_id: int, thread_id: int | None, filter_text: str) -> bool:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if conn.execute(select(chats.c.id).where(chats.c.id == chat_id)).first() is None:
                conn.execute(
                    insert(chats).values(id=chat_id, kind="private", active=True, created=now)
                )
            exists = conn.execute(
                select(subscriptions.c.id).where(
                    subscriptions.c.chat_id == chat_id,
                    subscriptions.c.thread_id == (thread_id or 0),
                    subscriptions.c.filter == filter_text,
                )
            ).first()
            if exists:
                return False
            conn.execute(
                insert(subscriptions).values(
                    chat_id=chat_id, thread_id=thread_id or 0, filter=filter_text, created=now
                )
            )
            return True

    def remove_subscription(
        self, chat_id: int, thread_id: int | None, filter_text: str | None
    ) -> int:
        where = [subscriptions.c.chat_id == chat_id, subscriptions.c.thread_id == (thread_id or 0)]
        if filter_text is not None:
            where.append(subscriptions.c.filter == filter_text)
        with self.engine.begin() as conn:
            return int(conn.execute(delete(subscriptions).where(*where)).rowcount)

    def subscriptions(self, chat_id: int, thread_id: int | None) -> list[str]:
        query = (
            select(subscriptions.c.filter)
            .where(
                subscriptions.c.chat_id == chat_id,
                subscriptions.c.thread_id == (thread_id or 0),
            )
            .order_by(subscriptions.c.id)
        )
        with self.engine.connect() as conn:
            return [row.filter for row in conn.execute(query)]

    def active_subscriptions(self) -> list[Subscription]:
        query = (
            select(subscriptions.c.chat_id, subscriptions.c.thread_id, subscriptions.c.filter)
            .join(chats, chats.c.id == subscriptions.c.chat_id)
            .where(chats.c.active.is_(True))
            .order_by(subscriptions.c.id)
        )
        with self.engine.connect() as conn:
            return [
                Subscription(row.chat_id, row.thread_id or None, row.filter)
                for row in conn.execute(query)
            ]

    def deactivate_chat(self, chat_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(chats).where(chats.c.id == chat_id).values(active=False))

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: its subscriptions and queued messages follow it."""
        with self.engine.begin() as conn:
            old = conn.execute(select(chats).where(chats.c.id == old_id)).first()
            if conn.execute(select(chats.c.id).where(chats.c.id == new_id)).first() is None:
                conn.execute(
                    insert(chats).values(
                        id=new_id,
                        kind="supergroup",
                        title=old.title if old else None,
                        language=old.language if old else None,
                        active=True,
                        created=datetime.now(UTC),
                    )
                )
            for row in conn.execute(
                select(subscriptions).where(subscriptions.c.chat_id == old_id)
            ).all():
                clash = conn.execute(
                    select(subscriptions.c.id).where(
                        subscriptions.c.chat_id == new_id,
                        subscriptions.c.thread_id == row.thread_id,
                        subscriptions.c.filter == row.filter,
                    )
                ).first()
                if clash:
                    conn.execute(delete(subscriptions).where(subscriptions.c.id == row.id))
                else:
                    conn.execute(
                        update(subscriptions)
                        .where(subscriptions.c.id == row.id)
                        .values(chat_id=new_id)
                    )
            conn.execute(
                update(outbox)
                .where(outbox.c.chat_id == old_id, outbox.c.status == "pending")
                .values(chat_id=new_id)
            )
            conn.execute(update(chats).where(chats.c.id == old_id).values(active=False))
