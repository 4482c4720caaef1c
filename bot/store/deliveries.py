"""What a delivery pass reads from the outbox: the due rows, claimed chat by chat when several
instances share the database, grouped one message per (chat, topic, article); and what the
messages sent before told each chat."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.core.model import StoredArticle, StoredEvent
from bot.store.base import StoreBase, aware, stored_article, stored_event, utc
from bot.store.schema import articles, chats, events, outbox


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


CLAIM_PAGES = 4  # pages of due rows a claim looks through before giving up for now
UNCLAIMED: dict[str, Any] = {"claimed_by": None, "claimed_until": None}  # a mark ends a claim


def _add_missing_chats(conn: Connection, ids: Sequence[int], now: datetime) -> None:
    """A chat's row is its claim lock: a queued row whose chat has none gets a minimal one
    (as `add_subscription` makes), so no row is left that nobody can claim."""
    known = set(conn.execute(select(chats.c.id).where(chats.c.id.in_(ids))).scalars())
    missing = sorted(set(ids) - known)  # in key order: two instances adding never deadlock
    if not missing:
        return
    rows = [
        {"id": i, "kind": "group" if i < 0 else "private", "active": True, "created": now}
        for i in missing
    ]
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(postgresql.insert(chats).on_conflict_do_nothing(), rows)
    elif dialect == "sqlite":
        conn.execute(sqlite.insert(chats).on_conflict_do_nothing(), rows)
    else:
        conn.execute(insert(chats), rows)


class DeliveryReads(StoreBase):
    """The due rows (claimed or not) and what earlier messages told."""

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
            return self._grouped(conn, rows)

    def claim_deliveries(
        self,
        now: datetime,
        instance: str,
        lease: timedelta,
        limit: int = 500,
        *,
        exclude: Collection[int] = (),
    ) -> list[Delivery]:
        """Claim whole chats' due rows for `instance` until `now + lease`, grouped as above.

        Instances sharing the database call this at once: each chat goes to one of them with
        all its due rows, so no two send to one chat (its order and its limits hold) and no
        row is sent by two. A chat's `chats` row is its lock (SELECT … FOR UPDATE SKIP LOCKED:
        a chat being claimed elsewhere is skipped, never waited for; a no-op on SQLite, whose
        writers take turns), and a chat stays another instance's until its claim expires.
        Marking a row (sent, failed, held…) or `release_claims` ends its claim. The chats in
        `exclude` (backing off in this instance) are left alone.
        """
        now = utc(now)
        due = and_(outbox.c.status == "pending", outbox.c.next_attempt <= now)
        theirs = (
            select(outbox.c.chat_id)
            .where(
                outbox.c.status == "pending",
                outbox.c.claimed_until >= now,
                outbox.c.claimed_by != instance,
            )
            .distinct()
        )
        free = or_(
            outbox.c.claimed_until.is_(None),
            outbox.c.claimed_until < now,
            outbox.c.claimed_by == instance,
        )
        with self.engine.begin() as conn:
            mine: set[int] = set()
            skipped: set[int] = set(exclude)
            for _ in range(CLAIM_PAGES):  # a page all being claimed elsewhere: try the next
                wanted = list(
                    dict.fromkeys(  # oldest first
                        conn.execute(
                            select(outbox.c.chat_id)
                            .where(due, free, outbox.c.chat_id.not_in(theirs))
                            .where(outbox.c.chat_id.not_in(skipped))
                            .order_by(outbox.c.id)
                            .limit(limit)
                        ).scalars()
                    )
                )
                if not wanted:
                    return []
                _add_missing_chats(conn, wanted, now)
                locked = conn.execute(
                    select(chats.c.id)
                    .where(chats.c.id.in_(wanted))
                    .with_for_update(skip_locked=True, key_share=True)
                ).scalars()
                # Locked now: any claim on these chats made before is committed and seen here.
                busy = conn.execute(theirs.where(outbox.c.chat_id.in_(wanted))).scalars()
                mine = set(locked) - set(busy)
                if mine:
                    break
                skipped.update(wanted)
            if not mine:
                return []
            conn.execute(
                update(outbox)
                .where(due, free, outbox.c.chat_id.in_(mine))
                .values(claimed_by=instance, claimed_until=now + lease)
            )
            rows: list[Any] = list(
                conn.execute(
                    select(outbox, events.c.article_id)
                    .join(events, events.c.id == outbox.c.event_id)
                    .where(due, outbox.c.claimed_by == instance, outbox.c.chat_id.in_(mine))
                    .order_by(outbox.c.id)
                ).all()
            )
            return self._grouped(conn, rows)

    def renew_claims(self, instance: str, until: datetime) -> int:
        """A long pass keeps its chats: extend every claim `instance` still holds."""
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    update(outbox)
                    .where(outbox.c.claimed_by == instance, outbox.c.status == "pending")
                    .values(claimed_until=utc(until))
                ).rowcount
            )

    def release_claims(self, instance: str | None = None) -> int:
        """End `instance`'s claims (None: everybody's, for a lone instance starting up)."""
        mine = outbox.c.claimed_by == instance
        where = outbox.c.claimed_by.is_not(None) if instance is None else mine
        with self.engine.begin() as conn:
            return int(conn.execute(update(outbox).where(where).values(**UNCLAIMED)).rowcount)

    def _grouped(self, conn: Connection, rows: list[Any]) -> list[Delivery]:
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

    def told_stories(
        self, deliveries: Sequence[Delivery]
    ) -> dict[tuple[int, int | None], dict[str, int]]:
        """(chat, topic) → story → the first sent message that told it, for a whole round:
        `story_messages` in one query. Rows of `deliveries` are pending, so never counted."""
        pairs = {(d.chat_id, d.thread_id) for d in deliveries}
        stories = {e.story_id for d in deliveries for e in d.events if e.story_id}
        if not stories:
            return {}
        query = (
            select(outbox.c.chat_id, outbox.c.thread_id, events.c.story, outbox.c.message_id)
            .join(events, events.c.id == outbox.c.event_id)
            .where(
                events.c.story.in_(stories),
                outbox.c.chat_id.in_({chat for chat, _ in pairs}),
                outbox.c.status == "sent",
                outbox.c.message_id.is_not(None),
            )
            .order_by(outbox.c.id)
        )
        found: dict[tuple[int, int | None], dict[str, int]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                pair = (row.chat_id, row.thread_id or None)
                if pair in pairs:
                    found.setdefault(pair, {}).setdefault(row.story, int(row.message_id))
        return found

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

    def next_due(self, exclude: Collection[int] = ()) -> datetime | None:
        """When the next pending row may be sent. A chat another instance has claimed is not
        ours before that claim ends (a dead instance's chats go to the others then), so its
        rows count from then: the others wait for it instead of polling. The chats in
        `exclude` (backing off in this instance) are not counted."""
        claims = (
            select(outbox.c.chat_id, func.max(outbox.c.claimed_until).label("until"))
            .where(outbox.c.status == "pending", outbox.c.claimed_until.is_not(None))
            .group_by(outbox.c.chat_id)
            .subquery()
        )
        later = claims.c.until > outbox.c.next_attempt  # NULL (no claim): false
        when = case((later, claims.c.until), else_=outbox.c.next_attempt)
        query = (
            select(func.min(when))
            .select_from(outbox.outerjoin(claims, claims.c.chat_id == outbox.c.chat_id))
            .where(outbox.c.status == "pending")
        )
        if exclude:
            query = query.where(outbox.c.chat_id.not_in(exclude))
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return None if value is None else aware(value)
