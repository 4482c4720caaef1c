"""The delivery outbox: one row per (event, chat, topic), the single source of truth for sending."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from bot.store.base import utc
from bot.store.deliveries import UNCLAIMED, DeliveryReads
from bot.store.schema import events, flags, outbox

HELD = "held: "  # the note of a row held by its chat's settings, not by a failure


@dataclass(frozen=True, slots=True)
class SentMark:
    """Telegram accepted the message for outbox rows `ids`: it is `message_id`, sent `at`."""

    ids: tuple[int, ...]
    message_id: int
    at: datetime
    note: str | None = None


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


def enqueue_new(
    conn: Connection, wanted: Sequence[tuple[int, Iterable[tuple[int, int | None]], datetime]]
) -> list[int]:
    """`enqueue` for each (event, chats, now) of events inserted in this transaction, in one
    statement for them all (a batch of a scan, thousands of chats): no outbox row can name
    such an event yet, so none is looked for. Returns how many rows each event got."""
    rows = []
    counts = []
    for event_id, targets, now in wanted:
        chats = dict.fromkeys((chat, thread or 0) for chat, thread in targets)  # in order, once
        rows += [
            {
                "event_id": event_id,
                "chat_id": chat,
                "thread_id": thread,
                "status": "pending",
                "attempts": 0,
                "next_attempt": now,
                "created": now,
            }
            for chat, thread in chats
        ]
        counts.append(len(chats))
    if rows:
        conn.execute(insert(outbox), rows)
    return counts


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff for network failures: 5 s, 10 s, 20 s … capped at 10 minutes."""
    return timedelta(seconds=min(600, 5 * 2 ** min(attempts, 10)))


class OutboxStore(DeliveryReads):
    """The outbox: what each send gave (sent, held, rescheduled, failed), and its switches."""

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

    def mark_sent_many(self, marks: Sequence[SentMark]) -> None:
        """Several successes in one transaction: a fan-out commits once per batch, not per
        message. Each mark still only names rows Telegram has answered for."""
        rows = [
            {"row": i, "mid": m.message_id, "at": utc(m.at), "note": m.note}
            for m in marks
            for i in m.ids
        ]
        if not rows:
            return
        statement = (
            update(outbox)
            .where(outbox.c.id == bindparam("row"))
            .values(
                status="sent",
                message_id=bindparam("mid"),
                sent_at=bindparam("at"),
                last_error=bindparam("note"),
                **UNCLAIMED,
            )
        )
        with self.engine.begin() as conn:
            conn.execute(statement, rows)

    def _mark_delivered(
        self, ids: Sequence[int], status: str, message_id: int, now: datetime, note: str | None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(
                    status=status,
                    message_id=message_id,
                    sent_at=utc(now),
                    last_error=note,
                    **UNCLAIMED,
                )
            )

    def reschedule(self, ids: Sequence[int], when: datetime, error: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(
                    attempts=outbox.c.attempts + 1,
                    next_attempt=utc(when),
                    last_error=error[:1000],
                    **UNCLAIMED,
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
            conn.execute(  # the chat is ours (claim_deliveries): all of it waits, unclaimed
                update(outbox)
                .where(outbox.c.chat_id == chat_id, outbox.c.status == "pending")
                .values(**UNCLAIMED)
            )

    def defer(self, ids: Sequence[int], until: datetime, why: str = "") -> None:
        """Held on purpose (quiet hours, digest): no attempt used. The note, marked `HELD`,
        is what lets a settings change find these rows again (`release_held`); a failure
        afterwards overwrites it, and such a row keeps its backoff."""
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(next_attempt=utc(until), last_error=(HELD + why)[:1000], **UNCLAIMED)
            )

    def release_held(self, chat_id: int, thread_id: int | None) -> int:
        """The chat (topic) changed its mode, quiet hours or zone: what its old settings held
        is due again (from when it was queued), and the next pass holds it anew or sends it."""
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    update(outbox)
                    .where(
                        outbox.c.chat_id == chat_id,
                        outbox.c.thread_id == (thread_id or 0),
                        outbox.c.status == "pending",
                        outbox.c.last_error.startswith(HELD, autoescape=True),
                    )
                    .values(next_attempt=outbox.c.created, last_error=None)
                ).rowcount
            )

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
                .values(
                    status=status,
                    attempts=outbox.c.attempts + 1,
                    last_error=error[:1000],
                    **UNCLAIMED,
                )
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
                    .values(status="pending", next_attempt=utc(now), attempts=0, **UNCLAIMED)
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
