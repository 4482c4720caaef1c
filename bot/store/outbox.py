"""The delivery outbox: one row per (event, chat, topic), the single source of truth for sending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from bot.model import StoredArticle, StoredEvent
from bot.store.base import StoreBase, aware, stored_article, stored_event
from bot.store.schema import articles, events, flags, outbox


@dataclass(frozen=True, slots=True)
class Delivery:
    """Outbox rows bound for one chat (and topic) about one article: sent as one message."""

    ids: tuple[int, ...]
    chat_id: int
    thread_id: int | None
    attempts: int
    article: StoredArticle
    events: tuple[StoredEvent, ...]
    queued: datetime  # when the oldest of the rows was queued (aware)


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    """An outbox row that is not retried by itself, for `eventfeed outbox` and /stats."""

    id: int
    chat_id: int
    thread_id: int | None
    status: str  # failed | gone
    attempts: int
    error: str
    event_uid: str


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


def utc(moment: datetime) -> datetime:
    """SQLite keeps no UTC offset: every time is stored as UTC so comparisons hold."""
    return moment.astimezone(UTC)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff for network failures: 5 s, 10 s, 20 s … capped at 10 minutes."""
    return timedelta(seconds=min(600, 5 * 2 ** min(attempts, 10)))


class OutboxStore(StoreBase):
    def due_deliveries(self, now: datetime, limit: int = 500) -> list[Delivery]:
        """Pending rows whose time has come, grouped one message per (chat, topic, article)."""
        query = (
            select(outbox, events.c.article_id)
            .join(events, events.c.id == outbox.c.event_id)
            .where(outbox.c.status == "pending", outbox.c.next_attempt <= utc(now))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows: list[Any] = list(conn.execute(query).all())
            if not rows:
                return []
            if len(rows) == limit:  # the page may cut a message in two: complete its groups
                rows += self._rest_of_groups(conn, rows, now)
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
                queued=min(aware(r.created) for r in group),
            )
            for (chat_id, thread_id, article_id), group in groups.items()
        ]

    def _rest_of_groups(self, conn: Connection, rows: list[Any], now: datetime) -> list[Any]:
        groups = {(row.chat_id, row.thread_id, row.article_id) for row in rows}
        have = {row.id for row in rows}
        query = (
            select(outbox, events.c.article_id)
            .join(events, events.c.id == outbox.c.event_id)
            .where(
                outbox.c.status == "pending",
                outbox.c.next_attempt <= utc(now),
                outbox.c.chat_id.in_({chat for chat, _, _ in groups}),
                events.c.article_id.in_({article for _, _, article in groups}),
            )
            .order_by(outbox.c.id)
        )
        return [
            row
            for row in conn.execute(query)
            if row.id not in have and (row.chat_id, row.thread_id, row.article_id) in groups
        ]

    def story_messages(self, delivery: Delivery) -> dict[int, int]:
        """Event id → the message that already told this chat (topic) the event's story.

        An event whose story reached the chat through another article's event is not
        alerted again: the earlier message gets an "also reported by" line instead.
        """
        stories = {e.story_id: e.id for e in delivery.events if e.story_id}
        if not stories:
            return {}
        query = (
            select(events.c.story, outbox.c.message_id)
            .join(events, events.c.id == outbox.c.event_id)
            .where(
                events.c.story.in_(stories),
                events.c.id.not_in([e.id for e in delivery.events]),
                outbox.c.chat_id == delivery.chat_id,
                outbox.c.thread_id == (delivery.thread_id or 0),
                outbox.c.status == "sent",
                outbox.c.message_id.is_not(None),
            )
            .order_by(outbox.c.id)
        )
        found: dict[int, int] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                found.setdefault(stories[row.story], int(row.message_id))
        return found

    def message_contents(
        self, chat_id: int, thread_id: int | None, message_id: int
    ) -> tuple[list[tuple[StoredArticle, tuple[StoredEvent, ...]]], list[StoredArticle]]:
        """What a sent message showed (per article), and the articles merged into it since."""
        query = (
            select(outbox.c.status, events, articles.c.id.label("aid"))
            .join(events, events.c.id == outbox.c.event_id)
            .join(articles, articles.c.id == events.c.article_id)
            .where(
                outbox.c.chat_id == chat_id,
                outbox.c.thread_id == (thread_id or 0),
                outbox.c.message_id == message_id,
                outbox.c.status.in_(("sent", "merged")),
            )
            .order_by(outbox.c.id)
        )
        shown: dict[int, list[StoredEvent]] = {}
        merged: list[int] = []
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            for row in rows:
                if row.status == "sent":
                    shown.setdefault(row.aid, []).append(stored_event(row))
                elif row.aid not in merged:
                    merged.append(row.aid)
            wanted = set(shown) | set(merged)
            found = {
                row.id: stored_article(row, ())
                for row in conn.execute(select(articles).where(articles.c.id.in_(wanted)))
            }
        originals = [(found[aid], tuple(evs)) for aid, evs in shown.items()]
        return originals, [found[aid] for aid in merged if aid not in shown]

    def mark_merged(
        self, ids: Sequence[int], message_id: int, now: datetime, note: str | None = None
    ) -> None:
        """Delivered as an "also reported by" edit of an earlier message, not a new alert."""
        self._mark_delivered(ids, "merged", message_id, now, note)

    def mark_sent(
        self, ids: Sequence[int], message_id: int, now: datetime, note: str | None = None
    ) -> None:
        """Success and the Telegram message id, recorded in one statement."""
        self._mark_delivered(ids, "sent", message_id, now, note)

    def _mark_delivered(
        self, ids: Sequence[int], status: str, message_id: int, now: datetime, note: str | None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(status=status, message_id=message_id, sent_at=utc(now), last_error=note)
            )

    def reschedule(self, ids: Sequence[int], when: datetime, error: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(
                    attempts=outbox.c.attempts + 1, next_attempt=utc(when), last_error=error[:1000]
                )
            )

    def hold_chat(
        self, chat_id: int, ids: Sequence[int], until: datetime, error: str | None
    ) -> None:
        """Nothing more to this chat until `until`: its pending rows wait, in their order.

        `ids` are the rows that were tried (their attempt count grows); `error` None means
        they were held on purpose (quiet hours, digest), not because a send failed.
        """
        until = utc(until)
        with self.engine.begin() as conn:
            if error is not None:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id.in_(ids))
                    .values(attempts=outbox.c.attempts + 1, last_error=error[:1000])
                )
            conn.execute(
                update(outbox)
                .where(
                    outbox.c.chat_id == chat_id,
                    outbox.c.status == "pending",
                    outbox.c.next_attempt < until,
                )
                .values(next_attempt=until)
            )

    def defer(self, ids: Sequence[int], until: datetime) -> None:
        """Held on purpose (quiet hours, digest): no attempt used, no error recorded."""
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id.in_(ids)).values(next_attempt=utc(until)))

    def hold_all(self, until: datetime) -> int:
        """Telegram is unreachable: every pending row waits until `until`."""
        until = utc(until)
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    update(outbox)
                    .where(outbox.c.status == "pending", outbox.c.next_attempt < until)
                    .values(next_attempt=until)
                ).rowcount
            )

    def mark_failed(self, ids: Sequence[int], error: str, status: str = "failed") -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(status=status, attempts=outbox.c.attempts + 1, last_error=error[:1000])
            )

    def failed_deliveries(self, limit: int = 100) -> list[FailedDelivery]:
        """Rows that will not be retried by themselves: failed (400) or gone (blocked, kicked)."""
        query = (
            select(
                outbox.c.id,
                outbox.c.chat_id,
                outbox.c.thread_id,
                outbox.c.status,
                outbox.c.attempts,
                outbox.c.last_error,
                events.c.uid,
            )
            .join(events, events.c.id == outbox.c.event_id)
            .where(outbox.c.status.in_(("failed", "gone")))
            .order_by(outbox.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                FailedDelivery(
                    row.id,
                    row.chat_id,
                    row.thread_id or None,
                    row.status,
                    row.attempts,
                    row.last_error or "",
                    row.uid,
                )
                for row in conn.execute(query)
            ]

    def retry_failed(self, now: datetime, ids: Sequence[int] | None = None) -> int:
        """Queue failed rows again (all of them, or those `ids`); gone rows only with `ids`."""
        where = [outbox.c.status == "failed"]
        if ids is not None:
            where = [outbox.c.status.in_(("failed", "gone")), outbox.c.id.in_(ids)]
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    update(outbox)
                    .where(*where)
                    .values(status="pending", next_attempt=utc(now), attempts=0)
                ).rowcount
            )

    def delivery_paused(self) -> bool:
        with self.engine.connect() as conn:
            value = conn.execute(select(flags.c.value).where(flags.c.key == "paused")).scalar()
        return value == "yes"

    def set_delivery_paused(self, paused: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(flags).where(flags.c.key == "paused"))
            if paused:
                conn.execute(insert(flags).values(key="paused", value="yes"))

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
