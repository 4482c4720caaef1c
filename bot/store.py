"""All SQL lives here: articles, events, chats, subscriptions and the delivery outbox.

SQLAlchemy Core over SQLite (WAL) by default; nothing here is SQLite-specific beyond the
connection pragmas, so the same statements run on PostgreSQL. Synchronous by design: async
callers use `asyncio.to_thread`, which keeps the event loop free on a slow disk or network.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, CursorResult, make_url

from bot.codec import article_from_dict, article_to_dict, event_from_dict, event_to_dict
from bot.model import Article, Event, Extraction, StoredArticle, StoredEvent
from bot.schema import articles, chats, events, metadata, outbox, subscriptions


@dataclass(frozen=True, slots=True)
class FileState:
    """What the store remembers of a file, to skip unchanged ones without reading them."""

    path: str
    size: int
    mtime_ns: int
    content_hash: str
    status: str


@dataclass(frozen=True, slots=True)
class Subscription:
    chat_id: int
    thread_id: int | None
    filter: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """Outbox rows bound for one chat (and topic) about one article: sent as one message."""

    ids: tuple[int, ...]
    chat_id: int
    thread_id: int | None
    attempts: int
    article: StoredArticle
    events: tuple[StoredEvent, ...]


@dataclass(frozen=True, slots=True)
class SaveResult:
    article: StoredArticle
    new_events: tuple[StoredEvent, ...]  # events not seen before in this article
    queued: int  # outbox rows added


Targets = Mapping[str, Sequence[tuple[int, int | None]]]  # event key → (chat, thread) to alert


class Store:
    """The database. One instance per process; safe to call from several threads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- articles -----------------------------------------------------------------------

    def file_states(self) -> dict[str, FileState]:
        query = select(
            articles.c.path,
            articles.c.size,
            articles.c.mtime_ns,
            articles.c.content_hash,
            articles.c.status,
        ).where(articles.c.status != "deleted")
        with self.engine.connect() as conn:
            return {row.path: FileState(*row) for row in conn.execute(query)}

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        """Remember new stat data for a file whose content did not change."""
        with self.engine.begin() as conn:
            conn.execute(
                update(articles).where(articles.c.path == path).values(size=size, mtime_ns=mtime_ns)
            )

    def save_article(
        self,
        article: Article,
        extraction: Extraction,
        url: str,
        *,
        size: int,
        mtime_ns: int,
        content_hash: str,
        now: datetime,
        targets: Targets,
    ) -> SaveResult:
        """Store an article and its events, and queue alerts for new events, in one transaction.

        An edited file keeps its uid; a renamed file (same content under a path that vanished)
        too. Events whose key is already known for the article are kept as they are, so an
        edit that leaves an event unchanged alerts nobody again.
        """
        data = {
            "article": article_to_dict(article),
            "summary": extraction.summary,
            "url": url,
        }
        with self.engine.begin() as conn:
            row = conn.execute(
                select(articles.c.id, articles.c.uid, articles.c.first_seen).where(
                    articles.c.path == article.path
                )
            ).first()
            if row is None:
                row = self._renamed_from(conn, content_hash, article.path)
            values = {
                "path": article.path,
                "size": size,
                "mtime_ns": mtime_ns,
                "content_hash": content_hash,
                "status": "ok",
                "error": None,
                "published": article.published,
                "data": data,
                "updated": now,
            }
            if row is None:
                uid = article.feed_id or _article_uid(article)
                uid = self._free_uid(conn, uid)
                article_id = _inserted_id(
                    conn.execute(insert(articles).values(uid=uid, first_seen=now, **values))
                )
                first_seen = now
            else:
                article_id, uid, first_seen = row.id, row.uid, row.first_seen
                conn.execute(update(articles).where(articles.c.id == article_id).values(**values))
            new_events, stored = self._save_events(conn, article_id, uid, extraction.events, now)
            queued = 0
            for stored_event in new_events:
                for chat_id, thread_id in targets.get(stored_event.event.key, ()):
                    queued += self._enqueue(conn, stored_event.id, chat_id, thread_id, now)
        stored_article = StoredArticle(
            id=article_id,
            uid=uid,
            article=article,
            summary=extraction.summary,
            url=url,
            first_seen=_aware(first_seen),
            updated=now,
            events=stored,
        )
        return SaveResult(stored_article, new_events, queued)

    def _renamed_from(self, conn: Connection, content_hash: str, new_path: str) -> Any:
        """An article with the same content whose file is gone: the file was renamed."""
        candidates = conn.execute(
            select(articles.c.id, articles.c.uid, articles.c.first_seen, articles.c.path).where(
                articles.c.content_hash == content_hash, articles.c.status == "deleted"
            )
        ).all()
        return candidates[0] if candidates else None

    def _free_uid(self, conn: Connection, uid: str) -> str:
        """Two files with the same front-matter id still get distinct feed ids."""
        base, n = uid, 1
        while conn.execute(select(articles.c.id).where(articles.c.uid == uid)).first():
            n += 1
            uid = f"{base}-{n}"
        return uid

    def _save_events(
        self,
        conn: Connection,
        article_id: int,
        article_uid: str,
        found: Iterable[Event],
        now: datetime,
    ) -> tuple[tuple[StoredEvent, ...], tuple[StoredEvent, ...]]:
        existing = {
            row.key: row
            for row in conn.execute(
                select(events.c.id, events.c.uid, events.c.key, events.c.created).where(
                    events.c.article_id == article_id
                )
            )
        }
        keep: list[StoredEvent] = []
        new: list[StoredEvent] = []
        for ev in found:
            key = ev.key
            known = existing.pop(key, None)
            if known is None:
                uid = f"{article_uid}.{key[:12]}"
                event_id = _inserted_id(
                    conn.execute(
                        insert(events).values(
                            uid=uid,
                            article_id=article_id,
                            key=key,
                            type=ev.type,
                            active=True,
                            data=event_to_dict(ev),
                            created=now,
                        )
                    )
                )
                stored = StoredEvent(event_id, uid, article_id, ev, now)
                new.append(stored)
            else:
                conn.execute(
                    update(events)
                    .where(events.c.id == known.id)
                    .values(active=True, data=event_to_dict(ev))
                )
                stored = StoredEvent(known.id, known.uid, article_id, ev, _aware(known.created))
            keep.append(stored)
        if existing:  # dropped by an edit: kept in history, out of the feeds
            conn.execute(
                update(events)
                .where(events.c.id.in_([row.id for row in existing.values()]))
                .values(active=False)
            )
        return tuple(new), tuple(keep)

    def record_failure(
        self,
        path: str,
        *,
        status: str,
        error: str,
        size: int,
        mtime_ns: int,
        content_hash: str,
        now: datetime,
    ) -> None:
        """Remember a file that could not be read or parsed, so it is retried only when it changes."""
        with self.engine.begin() as conn:
            values = {
                "size": size,
                "mtime_ns": mtime_ns,
                "content_hash": content_hash,
                "status": status,
                "error": error[:2000],
                "updated": now,
            }
            found = conn.execute(
                update(articles).where(articles.c.path == path).values(**values)
            ).rowcount
            if not found:
                uid = "failed-" + hashlib.sha256(path.encode()).hexdigest()[:16]
                conn.execute(
                    insert(articles).values(
                        uid=self._free_uid(conn, uid), path=path, first_seen=now, **values
                    )
                )

    def mark_deleted(self, paths: Iterable[str], now: datetime) -> int:
        """The files are gone: their entries leave the feeds; their events stay in history."""
        paths = list(paths)
        if not paths:
            return 0
        with self.engine.begin() as conn:
            for path in paths:
                row = conn.execute(
                    select(articles.c.id, articles.c.status).where(articles.c.path == path)
                ).first()
                if row is None:
                    continue
                # Free the path for a new file while keeping the row for rename detection.
                conn.execute(
                    update(articles)
                    .where(articles.c.id == row.id)
                    .values(status="deleted", path=f"\x00deleted/{row.id}/{path}", updated=now)
                )
        return len(paths)

    def published_articles(self, limit: int | None = None) -> list[StoredArticle]:
        """Articles in the feeds, newest first, with their active events."""
        query = (
            select(articles)
            .where(articles.c.status == "ok")
            .order_by(articles.c.published.desc(), articles.c.id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            by_article = self._events_of(conn, [row.id for row in rows])
        return [_stored_article(row, by_article.get(row.id, ())) for row in rows]

    latest_articles = published_articles

    def _events_of(
        self, conn: Connection, article_ids: Sequence[int]
    ) -> dict[int, tuple[StoredEvent, ...]]:
        found: dict[int, list[StoredEvent]] = {}
        for start in range(0, len(article_ids), 500):
            chunk = article_ids[start : start + 500]
            query = (
                select(events)
                .where(events.c.article_id.in_(chunk), events.c.active.is_(True))
                .order_by(events.c.id)
            )
            for row in conn.execute(query):
                found.setdefault(row.article_id, []).append(_stored_event(row))
        return {key: tuple(value) for key, value in found.items()}

    def article_errors(self) -> list[tuple[str, str, str]]:
        query = select(articles.c.path, articles.c.status, articles.c.error).where(
            articles.c.status.in_(("error", "skipped"))
        )
        with self.engine.connect() as conn:
            return [(row.path, row.status, row.error or "") for row in conn.execute(query)]

    # -- chats and subscriptions --------------------------------------------------------

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

    # -- outbox -------------------------------------------------------------------------

    def _enqueue(
        self, conn: Connection, event_id: int, chat_id: int, thread_id: int | None, now: datetime
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
            stored_events = {row.id: _stored_event(row) for row in event_rows}
            stored_articles = {row.id: _stored_article(row, ()) for row in article_rows}
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

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            n_articles = conn.execute(
                select(func.count()).select_from(articles).where(articles.c.status == "ok")
            ).scalar_one()
            n_events = conn.execute(
                select(func.count()).select_from(events).where(events.c.active.is_(True))
            ).scalar_one()
            n_failed = conn.execute(
                select(func.count())
                .select_from(articles)
                .where(articles.c.status.in_(("error", "skipped")))
            ).scalar_one()
        return {"articles": n_articles, "events": n_events, "failed_files": n_failed}

    def next_due(self) -> datetime | None:
        query = select(func.min(outbox.c.next_attempt)).where(outbox.c.status == "pending")
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return None if value is None else _aware(value)

    def pending_for(self, chat_id: int) -> int:
        query = (
            select(func.count())
            .select_from(outbox)
            .where(and_(outbox.c.chat_id == chat_id, outbox.c.status == "pending"))
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff for network failures: 5 s, 10 s, 20 s … capped at 10 minutes."""
    return timedelta(seconds=min(600, 5 * 2 ** min(attempts, 10)))


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _article_uid(article: Article) -> str:
    """Derived once from the first path and date, then kept: renames and edits don't change it."""
    seed = f"{article.path}\x1f{article.published.date().isoformat()}"
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def _inserted_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _stored_event(row: Any) -> StoredEvent:
    return StoredEvent(
        id=row.id,
        uid=row.uid,
        article_id=row.article_id,
        event=event_from_dict(row.data),
        created=_aware(row.created),
    )


def _stored_article(row: Any, stored_events: tuple[StoredEvent, ...]) -> StoredArticle:
    data = row.data if isinstance(row.data, dict) else json.loads(row.data)
    return StoredArticle(
        id=row.id,
        uid=row.uid,
        article=article_from_dict(data["article"]),
        summary=data.get("summary", ""),
        url=data.get("url", ""),
        first_seen=_aware(row.first_seen),
        updated=_aware(row.updated),
        events=stored_events,
    )
