"""Chats and their subscriptions."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update

from bot.core.alertroutes import Route
from bot.store.base import StoreError
from bot.store.chatsettings import ChatSettingsStore
from bot.store.schema import chat_settings, chats, flags, outbox, subscriptions


@dataclass(frozen=True, slots=True)
class Subscription:
    chat_id: int
    thread_id: int | None
    filter: str


class TooManySubscriptions(StoreError):
    """The chat has as many subscriptions as it may."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a chat may have at most {limit} subscriptions")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class DisabledSubscription:
    chat_id: int
    thread_id: int | None
    filter: str
    reason: str


class ChatStore(ChatSettingsStore):
    """Chats, their subscriptions, and what follows a chat that moves or leaves."""

    def upsert_chat(self, chat_id: int, kind: str, title: str | None, language: str | None) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            values = {"kind": kind, "title": title, "active": True}
            if language:  # keep what we knew when this user has none
                values["language"] = language
            changed = conn.execute(
                update(chats).where(chats.c.id == chat_id).values(**values)
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

    def add_subscription(
        self, chat_id: int, thread_id: int | None, filter_text: str, limit: int | None = None
    ) -> bool:
        """False: already subscribed. Raises TooManySubscriptions when the chat (its topics
        together) already has `limit`."""
        now = self.clock()
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
            if limit is not None:
                count = conn.execute(
                    select(func.count())
                    .select_from(subscriptions)
                    .where(subscriptions.c.chat_id == chat_id)
                ).scalar_one()
                if count >= limit:
                    raise TooManySubscriptions(limit)
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

    def subscription_rows(self, chat_id: int, thread_id: int | None) -> list[tuple[int, str]]:
        """(id, filter) of this chat's (topic's) subscriptions, oldest first: for buttons."""
        query = (
            select(subscriptions.c.id, subscriptions.c.filter)
            .where(
                subscriptions.c.chat_id == chat_id,
                subscriptions.c.thread_id == (thread_id or 0),
            )
            .order_by(subscriptions.c.id)
        )
        with self.engine.connect() as conn:
            return [(int(row.id), str(row.filter)) for row in conn.execute(query)]

    def remove_subscription_id(
        self, chat_id: int, thread_id: int | None, subscription_id: int
    ) -> str | None:
        """Remove one subscription by id, only from this chat (topic); its filter, if found."""
        where = (
            subscriptions.c.id == subscription_id,
            subscriptions.c.chat_id == chat_id,
            subscriptions.c.thread_id == (thread_id or 0),
        )
        with self.engine.begin() as conn:
            found = conn.execute(select(subscriptions.c.filter).where(*where)).scalar()
            if found is None:
                return None
            conn.execute(delete(subscriptions).where(*where))
            return str(found)

    def active_subscriptions(self) -> list[Subscription]:
        query = (
            select(subscriptions.c.chat_id, subscriptions.c.thread_id, subscriptions.c.filter)
            .join(chats, chats.c.id == subscriptions.c.chat_id)
            .where(chats.c.active.is_(True), subscriptions.c.disabled.is_(None))
            .order_by(subscriptions.c.id)
        )
        with self.engine.connect() as conn:
            return [
                Subscription(row.chat_id, row.thread_id or None, row.filter)
                for row in conn.execute(query)
            ]

    def recheck_filters(self, problem: Callable[[str], str | None]) -> list[DisabledSubscription]:
        """Check every stored filter again (`problem` says what is wrong, or None): a failing
        one is disabled with its reason, a disabled one that passes again runs again.
        Returns the subscriptions disabled now, not those disabled before."""
        newly: list[DisabledSubscription] = []
        with self.engine.begin() as conn:
            texts = conn.execute(select(subscriptions.c.filter).distinct()).scalars().all()
            for text in texts:
                reason = problem(text)
                if reason is None:  # a later version accepts it again
                    conn.execute(
                        update(subscriptions)
                        .where(
                            subscriptions.c.filter == text, subscriptions.c.disabled.is_not(None)
                        )
                        .values(disabled=None)
                    )
                    continue
                where = (subscriptions.c.filter == text, subscriptions.c.disabled.is_(None))
                rows = conn.execute(
                    select(subscriptions.c.chat_id, subscriptions.c.thread_id).where(*where)
                ).all()
                if rows:
                    conn.execute(update(subscriptions).where(*where).values(disabled=reason))
                newly.extend(
                    DisabledSubscription(row.chat_id, row.thread_id or None, text, reason)
                    for row in rows
                )
        return newly

    def disabled_filters(self, chat_id: int, thread_id: int | None) -> dict[str, str]:
        """This chat's (topic's) disabled filters and why, for /list."""
        query = select(subscriptions.c.filter, subscriptions.c.disabled).where(
            subscriptions.c.chat_id == chat_id,
            subscriptions.c.thread_id == (thread_id or 0),
            subscriptions.c.disabled.is_not(None),
        )
        with self.engine.connect() as conn:
            return {str(row.filter): str(row.disabled) for row in conn.execute(query)}

    def deactivate_chat(self, chat_id: int, reason: str = "chat deactivated") -> None:
        """Blocked or kicked: the chat and its subscriptions are kept; its queue is given up.

        A later /start (upsert_chat) makes it active again.
        """
        with self.engine.begin() as conn:
            conn.execute(update(chats).where(chats.c.id == chat_id).values(active=False))
            conn.execute(
                update(outbox)
                .where(outbox.c.chat_id == chat_id, outbox.c.status == "pending")
                .values(status="gone", last_error=reason[:1000])
            )

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: its subscriptions and queued messages follow it."""
        if old_id == new_id:  # nothing moves: "migrating" onto itself would delete it all
            return
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
                        created=self.clock(),
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
            for row in conn.execute(
                select(outbox.c.id, outbox.c.event_id, outbox.c.thread_id).where(
                    outbox.c.chat_id == old_id, outbox.c.status == "pending"
                )
            ).all():
                clash = conn.execute(
                    select(outbox.c.id).where(
                        outbox.c.event_id == row.event_id,
                        outbox.c.chat_id == new_id,
                        outbox.c.thread_id == row.thread_id,
                    )
                ).first()
                if clash:  # already queued for the new id: this copy would be a repeat
                    conn.execute(
                        update(outbox)
                        .where(outbox.c.id == row.id)
                        .values(status="gone", last_error=f"migrated to {new_id}")
                    )
                else:
                    conn.execute(update(outbox).where(outbox.c.id == row.id).values(chat_id=new_id))
            for row in conn.execute(
                select(chat_settings).where(chat_settings.c.chat_id == old_id)
            ).all():
                conn.execute(delete(chat_settings).where(chat_settings.c.chat_id == new_id,
                             chat_settings.c.thread_id == row.thread_id))  # fmt: skip
                conn.execute(
                    update(chat_settings)
                    .where(
                        chat_settings.c.chat_id == old_id,
                        chat_settings.c.thread_id == row.thread_id,
                    )
                    .values(chat_id=new_id)
                )
            conn.execute(update(chats).where(chats.c.id == old_id).values(active=False))

    def chat_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            active = conn.execute(
                select(func.count()).select_from(chats).where(chats.c.active.is_(True))
            ).scalar_one()
            inactive = conn.execute(
                select(func.count()).select_from(chats).where(chats.c.active.is_(False))
            ).scalar_one()
            subs = conn.execute(select(func.count()).select_from(subscriptions)).scalar_one()
        return {"active_chats": int(active), "inactive_chats": int(inactive),
                "subscriptions": int(subs)}  # fmt: skip

    def active_chat_ids(self) -> list[int]:
        query = select(chats.c.id).where(chats.c.active.is_(True)).order_by(chats.c.id)
        with self.engine.connect() as conn:
            return [int(row.id) for row in conn.execute(query)]

    def sync_routes(self, routes: Sequence[Route]) -> tuple[int, int]:
        """Make the config's routes the subscriptions they stand for; (added, removed).

        The routes applied last time are remembered, so a route taken out of the config
        stops, while subscriptions made by commands in the same chats are left alone.
        """
        now = self.clock()
        wanted = {(r.chat_id, r.thread_id or 0, r.filter) for r in routes}
        added = removed = 0
        with self.engine.begin() as conn:
            raw = conn.execute(select(flags.c.value).where(flags.c.key == "routes")).scalar()
            before = {(int(c), int(t), str(f)) for c, t, f in json.loads(raw or "[]")}
            for chat_id, thread_id, filter_text in sorted(before - wanted):
                removed += conn.execute(
                    delete(subscriptions).where(
                        subscriptions.c.chat_id == chat_id,
                        subscriptions.c.thread_id == thread_id,
                        subscriptions.c.filter == filter_text,
                    )
                ).rowcount
            for route in routes:
                key = (chat_settings.c.chat_id == route.chat_id,
                       chat_settings.c.thread_id == (route.thread_id or 0))  # fmt: skip
                if conn.execute(select(chats.c.id).where(chats.c.id == route.chat_id)).first():
                    conn.execute(
                        update(chats).where(chats.c.id == route.chat_id).values(active=True)
                    )
                else:
                    kind = "channel" if route.chat_id < 0 else "private"
                    conn.execute(
                        insert(chats).values(id=route.chat_id, kind=kind, active=True, created=now)
                    )
                exists = conn.execute(
                    select(subscriptions.c.id).where(
                        subscriptions.c.chat_id == route.chat_id,
                        subscriptions.c.thread_id == (route.thread_id or 0),
                        subscriptions.c.filter == route.filter,
                    )
                ).first()
                if not exists:
                    conn.execute(
                        insert(subscriptions).values(
                            chat_id=route.chat_id,
                            thread_id=route.thread_id or 0,
                            filter=route.filter,
                            created=now,
                        )
                    )
                    added += 1
                if route.template is not None:
                    if conn.execute(select(chat_settings.c.chat_id).where(*key)).first() is None:
                        conn.execute(
                            insert(chat_settings).values(
                                chat_id=route.chat_id, thread_id=route.thread_id or 0
                            )
                        )
                    conn.execute(update(chat_settings).where(*key).values(template=route.template))
            conn.execute(delete(flags).where(flags.c.key == "routes"))
            conn.execute(insert(flags).values(key="routes", value=json.dumps(sorted(wanted))))
        return added, removed
