"""The delivery outbox: one row per (event, chat, topic), the single source of truth for sending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.engine import Connection

from bot.model import StoredArticle, StoredEvent
from bot.store.base import StoreBase, aware, stored_article, stored_event
from bot.store.schema import articles, events, outbox


@dataclass(frozen=True, slots=True)
class Delivery:
    """Outbox rows bound for one chat (and topic) about one article: sent as one message."""

    ids: tuple[int, ...]
    chat_id: int
    thread_id: int | None
    attempts: int
    article: StoredArticle
    events: tuple[StoredEvent, ...]


def enqueue(
    conn: Connection, event_id: int, chat_id: int, thread_id: int | None, now: datetime
) -> int:
    exists = conn.execute(
        select(outbox.c.id).where(
            outbox.c.event_id == event_id,
            outbox.c.chat_id == chat_id,
            outbox.c.thread_id == (thread_id or 0),
        )
    ).first()
    if exists:
        return 0
    conn.execute(
        insert(outbox).values(
            event_id=event_id,
            chat_id=chat_id,
            thread_id=thread_id or 0,
            status="pending",
            attempts=0,
            next_attempt=now,
            created=now,
        )
    )
    return 1


def story_reached(conn: Connection, story: str, chat_id: int, thread_id: int | None) -> bool:
    """Whether this chat (topic) already has an alert queued or sent for the story."""
    query = (
        select(outbox.c.id)
        .join(events, events.c.id == outbox.c.event_id)
        .where(
            events.c.story == story,
            outbox.c.chat_id == chat_id,
            outbox.c.thread_id == (thread_id or 0),
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff for network failures: 5 s, 10 s, 20 s … capped at 10 minutes."""
    return timedelta(seconds=min(600, 5 * 2 ** min(attempts, 10)))


class OutboxStore(StoreBase):
    def due_deliveries(self, now: datetime, limit: int = 500) -> list[Delivery]:
        """Pending rows whose time has come, grouped one message per (chat, topic, article)."""
        query = (
            select(outbox, events.c.article_id)
            .join(events, events.c.id == outbox.c.event_id)
            .where(outbox.c.status == "pending", outbox.c.next_attempt <= now)
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            if not rows:
                return []
            article_ids = sorted({row.article_id for row in rows})
            article_rows = conn.execute(select(articles).where(articles.c.id.in_(article_ids)))
            event_rows = conn.execute(
                select(events).where(events.c.id.in_({row.event_id for row in rows}))
            )
            stored_events = {row.id: stored_event(row) for row in event_rows}
            stored_articles = {row.id: stored_article(row, ()) for row in article_rows}
        groups: dict[tuple[int, int, int], list[Any]] = {}
        for row in rows:
            groups.setdefault((row.chat_id, row.thread_id, row.article_id), []).append(row)
        return [
            Delivery(
                ids=tuple(r.id for r in group),
                chat_id=chat_id,
                thread_id=thread_id or None,
                attempts=max(r.attempts for r in group),
                article=stored_articles[article_id],
                events=tuple(stored_events[r.event_id] for r in group),
            )
            for (chat_id, thread_id, article_id), group in groups.items()
        ]

    def mark_sent(self, ids: Sequence[int], message_id: int, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(status="sent", message_id=message_id, sent_at=now, last_error=None)
            )

    def reschedule(self, ids: Sequence[int], when: datetime, error: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(attempts=outbox.c.attempts + 1, next_attempt=when, last_error=error[:1000])
            )

    def mark_failed(self, ids: Sequence[int], error: str, status: str = "failed") -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(status=status, attempts=outbox.c.attempts + 1, last_error=error[:1000])
            )

    def outbox_counts(self) -> dict[str, int]:
        query = select(outbox.c.status, func.count()).group_by(outbox.c.status)
        with self.engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(query)}

    def next_due(self) -> datetime | None:
        query = select(func.min(outbox.c.next_attempt)).where(outbox.c.status == "pending")
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return None if value is None else aware(value)

    def pending_for(self, chat_id: int) -> int:
        query = (
            select(func.count())
            .select_from(outbox)
            .where(and_(outbox.c.chat_id == chat_id, outbox.c.status == "pending"))
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
