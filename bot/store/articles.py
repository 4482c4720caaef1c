"""Articles and their events: what the scan stores and what the feeds read."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from bot.codec import article_to_dict, event_from_dict, event_to_dict
from bot.model import Article, Event, Extraction, StoredArticle, StoredEvent
from bot.store.base import article_uid, aware, inserted_id, stored_article, stored_event
from bot.store.feedindex import FeedChanges, FeedIndexStore, IndexRow
from bot.store.outbox import enqueue_all
from bot.store.schema import articles, events
from bot.stories import StoryKey, same_story, story_id


@dataclass(frozen=True, slots=True)
class FileState:
    """What the store remembers of a file, to skip unchanged ones without reading them."""

    path: str
    size: int
    mtime_ns: int
    content_hash: str
    status: str


@dataclass(frozen=True, slots=True)
class SaveResult:
    article: StoredArticle
    new_events: tuple[StoredEvent, ...]  # events not seen before in this article
    queued: int  # outbox rows added


@dataclass(frozen=True, slots=True)
class FeedItem:
    """What one feed entry is made of (see `catalog.article_entry` and `event_entry`)."""

    stored: StoredArticle
    event: StoredEvent | None  # None: the article's own entry
    also: tuple[StoredArticle, ...]  # an event entry: the story's later reports


STORY_CANDIDATES = 500  # recent events of the same type compared with a new one

Targets = Mapping[str, Sequence[tuple[int, int | None]]]  # event key → (chat, thread) to alert


class ArticleStore(FeedIndexStore):
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

    def file_stats(self) -> dict[str, tuple[int, int]]:
        """path → (size, mtime_ns) of every file the store knows: all a rescan compares."""
        query = select(articles.c.path, articles.c.size, articles.c.mtime_ns).where(
            articles.c.status != "deleted"
        )
        with self.engine.connect() as conn:
            return {path: (size, mtime_ns) for path, size, mtime_ns in conn.execute(query)}

    def file_state(self, path: str) -> FileState | None:
        query = select(
            articles.c.path,
            articles.c.size,
            articles.c.mtime_ns,
            articles.c.content_hash,
            articles.c.status,
        ).where(articles.c.path == path, articles.c.status != "deleted")
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else FileState(*row)

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
                "published": article.published.astimezone(UTC),  # SQLite keeps no offset
                "data": data,
                "updated": now,
            }
            if row is None:
                uid = article.feed_id or article_uid(article)
                uid = self._free_uid(conn, uid)
                article_id = inserted_id(
                    conn.execute(insert(articles).values(uid=uid, first_seen=now, **values))
                )
                first_seen = now
            else:
                article_id, uid, first_seen = row.id, row.uid, row.first_seen
                conn.execute(update(articles).where(articles.c.id == article_id).values(**values))
            new_events, stored = self._save_events(
                conn, article_id, uid, extraction.events, _day(article), now
            )
            queued = 0
            # Later reports of a story are queued too: delivery turns them into an
            # "also reported by" edit of the chat's first alert, not a second alert.
            for stored_event in new_events:
                found = targets.get(stored_event.event.key, ())
                queued += enqueue_all(conn, stored_event.id, found, now)
            changes = self._reindex(conn, [article_id])
        self._note(changes)
        stored_article = StoredArticle(
            id=article_id,
            uid=uid,
            article=article,
            summary=extraction.summary,
            url=url,
            first_seen=aware(first_seen),
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
        published: date | None,
        now: datetime,
    ) -> tuple[tuple[StoredEvent, ...], tuple[StoredEvent, ...]]:
        existing = {
            row.key: row
            for row in conn.execute(
                select(
                    events.c.id, events.c.uid, events.c.key, events.c.created, events.c.story
                ).where(events.c.article_id == article_id)
            )
        }
        # Their data or their article's date may change now.
        self._story_keys().forget(row.id for row in existing.values())
        keep: list[StoredEvent] = []
        new: list[StoredEvent] = []
        seen: set[str] = set()
        for ev in found:
            key = ev.key
            if key in seen:  # the same fact twice (a repeated passage): one event
                continue
            seen.add(key)
            known = existing.pop(key, None)
            if known is None:
                uid = f"{article_uid}.{key[:12]}"
                earlier = self._story_of(conn, article_id, StoryKey.of(ev, published))
                story = earlier or story_id(uid)
                event_id = inserted_id(
                    conn.execute(
                        insert(events).values(
                            uid=uid,
                            article_id=article_id,
                            key=key,
                            type=ev.type,
                            active=True,
                            story=story,
                            data=event_to_dict(ev),
                            created=now,
                        )
                    )
                )
                stored = StoredEvent(event_id, uid, article_id, ev, now, story, earlier is None)
                new.append(stored)
            else:
                conn.execute(
                    update(events)
                    .where(events.c.id == known.id)
                    .values(active=True, data=event_to_dict(ev))
                )
                story = known.story or story_id(known.uid)
                stored = StoredEvent(
                    known.id,
                    known.uid,
                    article_id,
                    ev,
                    aware(known.created),
                    story,
                    self._first_of(conn, story) in (None, known.id),
                )
            keep.append(stored)
        if existing:  # dropped by an edit: kept in history, out of the feeds
            conn.execute(
                update(events)
                .where(events.c.id.in_([row.id for row in existing.values()]))
                .values(active=False)
            )
        return tuple(new), tuple(keep)

    def _story_of(self, conn: Connection, article_id: int, key: StoryKey) -> str | None:
        """The story an earlier article's event of this kind already opened, if any."""
        query = (
            select(events.c.id, events.c.story)
            .where(
                events.c.type == key.type,
                events.c.article_id != article_id,
                events.c.story.is_not(None),
            )
            .order_by(events.c.id.desc())
            .limit(STORY_CANDIDATES)
        )
        candidates = conn.execute(query).all()
        keys = self._story_keys()
        missing = [row.id for row in candidates if row.id not in keys]
        for chunk in _chunked(missing):
            article = articles.c.data["article"]
            found = conn.execute(
                select(
                    events.c.id,
                    events.c.data,
                    article["published"].as_string().label("published"),
                    article["undated"].as_boolean().label("undated"),
                )
                .join(articles, articles.c.id == events.c.article_id)
                .where(events.c.id.in_(chunk))
            )
            for row in found:
                day = (
                    None
                    if row.undated or not row.published
                    else date.fromisoformat(row.published[:10])
                )
                keys.put(row.id, StoryKey.of(event_from_dict(row.data), day))
        for row in candidates:
            candidate = keys.get(row.id)
            if candidate is not None and same_story(candidate, key):
                return str(row.story)
        return None

    def _story_keys(self) -> _StoryKeys:
        """Story keys of stored events, kept between saves: comparing a new event with the
        recent ones of its type then reads no article JSON (see `_save_events` for upkeep)."""
        found = self.__dict__.get("_story_key_memo")
        if found is None:
            found = self.__dict__.setdefault("_story_key_memo", _StoryKeys())
        assert isinstance(found, _StoryKeys)
        return found

    def _first_of(self, conn: Connection, story: str) -> int | None:
        return conn.execute(select(func.min(events.c.id)).where(events.c.story == story)).scalar()

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
                select(articles.c.id).where(articles.c.path == path)
            ).scalar_one_or_none()
            changes = FeedChanges()
            if found is not None:
                conn.execute(update(articles).where(articles.c.id == found).values(**values))
                changes = self._reindex(conn, [found])  # a published article that now fails
            else:
                uid = "failed-" + hashlib.sha256(path.encode()).hexdigest()[:16]
                conn.execute(
                    insert(articles).values(
                        uid=self._free_uid(conn, uid), path=path, first_seen=now, **values
                    )
                )
        self._note(changes)

    def mark_deleted(self, paths: Iterable[str], now: datetime) -> int:
        """The files are gone: their entries leave the feeds; their events stay in history."""
        paths = list(paths)
        if not paths:
            return 0
        deleted: list[int] = []
        with self.engine.begin() as conn:
            for path in paths:
                row = conn.execute(
                    select(articles.c.id, articles.c.status).where(articles.c.path == path)
                ).first()
                if row is None:
                    continue
                # Free the path for a new file while keeping the row for rename detection;
                # a relative path never starts with "/" (PostgreSQL text cannot hold a NUL).
                conn.execute(
                    update(articles)
                    .where(articles.c.id == row.id)
                    .values(status="deleted", path=f"/deleted/{row.id}/{path}", updated=now)
                )
                deleted.append(row.id)
            changes = self._reindex(conn, deleted) if deleted else FeedChanges()
        self._note(changes)
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
        return [stored_article(row, by_article.get(row.id, ())) for row in rows]

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
            rows = conn.execute(query).all()
            stories = {row.story for row in rows if row.story}
            first = dict(
                conn.execute(
                    select(events.c.story, func.min(events.c.id))
                    .where(events.c.story.in_(stories))
                    .group_by(events.c.story)
                ).all()
            )
            for row in rows:
                is_first = first.get(row.story, row.id) == row.id
                found.setdefault(row.article_id, []).append(stored_event(row, is_first))
        return {key: tuple(value) for key, value in found.items()}

    def feed_items(self, rows: Sequence[IndexRow]) -> list[FeedItem]:
        """What the entries of index rows are made of: the article, the event for an event
        entry, and the other articles that reported its story."""
        stories = {row.story for row in rows if row.event_id is not None and row.story}
        reports: dict[str, list[int]] = {}
        with self._reading() as conn:
            for chunk in _chunked(sorted(stories)):
                query = (
                    select(events.c.story, events.c.article_id)
                    .join(articles, articles.c.id == events.c.article_id)
                    .where(
                        events.c.story.in_(chunk),
                        events.c.active.is_(True),
                        articles.c.status == "ok",
                    )
                    .order_by(events.c.id)
                )
                for story, article_id in conn.execute(query):
                    reports.setdefault(story, []).append(article_id)
            wanted = {row.article_id for row in rows} | {a for ids in reports.values() for a in ids}
            loaded = self._articles_by_id(conn, sorted(wanted))
        items = []
        for row in rows:
            stored = loaded[row.article_id]
            if row.event_id is None:
                items.append(FeedItem(stored, None, ()))
                continue
            [stored_event] = [e for e in stored.events if e.id == row.event_id]
            others = reports.get(row.story or "", [])
            also = dict.fromkeys(a for a in others if a != row.article_id)
            items.append(FeedItem(stored, stored_event, tuple(loaded[a] for a in also)))
        return items

    def _articles_by_id(self, conn: Connection, ids: Sequence[int]) -> dict[int, StoredArticle]:
        """Articles with their events; those unchanged since the last call (same `updated`:
        every save sets it) come from memory, as the current pages of the feeds show the
        same articles publish after publish."""
        memo = self._article_memo()
        loaded: dict[int, StoredArticle] = {}
        for chunk in _chunked(ids):
            versions = dict(
                conn.execute(
                    select(articles.c.id, articles.c.updated).where(articles.c.id.in_(chunk))
                ).all()
            )
            for article_id, version in versions.items():
                found = memo.get(article_id, version)
                if found is not None:
                    loaded[article_id] = found
            missing = [article_id for article_id in versions if article_id not in loaded]
            if not missing:
                continue
            rows = conn.execute(select(articles).where(articles.c.id.in_(missing))).all()
            by_article = self._events_of(conn, missing)
            for row in rows:
                loaded[row.id] = stored_article(row, by_article.get(row.id, ()))
                memo.put(row.id, row.updated, loaded[row.id])
        return loaded

    def _article_memo(self) -> _ArticleMemo:
        found = self.__dict__.get("_article_memo_instance")
        if found is None:
            found = self.__dict__.setdefault("_article_memo_instance", _ArticleMemo())
        assert isinstance(found, _ArticleMemo)
        return found

    def recent_events(
        self, limit: int, since: datetime | None = None
    ) -> list[tuple[StoredArticle, StoredEvent]]:
        """The newest active events with their articles, newest article first: an indexed
        query over events, for the home page and the charts (no scan of every article)."""
        query = (
            select(events, articles.c.data.label("article_data"), articles.c.uid.label("a_uid"))
            .join(articles, articles.c.id == events.c.article_id)
            .where(articles.c.status == "ok", events.c.active.is_(True))
            .order_by(articles.c.published.desc(), events.c.id.desc())
            .limit(limit)
        )
        if since is not None:
            query = query.where(articles.c.published >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        found: list[tuple[StoredArticle, StoredEvent]] = []
        for row in rows:
            article = _article_stub(row.article_id, row.a_uid, row.article_data, row.created)
            found.append((article, stored_event(row)))
        return found

    def event_counts(
        self, days: Sequence[tuple[date, datetime, datetime]]
    ) -> list[tuple[date, str, int]]:
        """(day, event type, active events) for each (day, start, end) given: what the home
        page's chart shows, counted by the database on the articles.published index."""
        found: list[tuple[date, str, int]] = []
        with self.engine.connect() as conn:
            for day, start, end in days:
                query = (
                    select(events.c.type, func.count())
                    .join(articles, articles.c.id == events.c.article_id)
                    .where(
                        articles.c.status == "ok",
                        events.c.active.is_(True),
                        articles.c.published >= start,
                        articles.c.published < end,
                    )
                    .group_by(events.c.type)
                )
                found += [(day, kind, n) for kind, n in conn.execute(query)]
        return sorted(found)

    def find_article(
        self, *, uid: str | None = None, stem: str | None = None
    ) -> StoredArticle | None:
        """A published article by uid, or by its path without extension (the daemon's own
        article pages use that path)."""
        query = select(articles).where(articles.c.status == "ok")
        if uid is not None:
            query = query.where(articles.c.uid == uid)
        elif stem is not None:
            like = stem.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(
                (articles.c.path == stem) | articles.c.path.like(f"{like}.%", escape="\\")
            )
        else:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(articles.c.id).limit(1)).first()
            if row is None:
                return None
            by_article = self._events_of(conn, [row.id])
        return stored_article(row, by_article.get(row.id, ()))

    def article_errors(self) -> list[tuple[str, str, str]]:
        query = select(articles.c.path, articles.c.status, articles.c.error).where(
            articles.c.status.in_(("error", "skipped"))
        )
        with self.engine.connect() as conn:
            return [(row.path, row.status, row.error or "") for row in conn.execute(query)]

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


class _ArticleMemo:
    """The last `size` articles loaded for feed pages, by id and `updated`."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._found: OrderedDict[int, tuple[Any, StoredArticle]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, article_id: int, version: Any) -> StoredArticle | None:
        with self._lock:
            found = self._found.get(article_id)
            if found is None or found[0] != version:
                return None
            self._found.move_to_end(article_id)
            return found[1]

    def put(self, article_id: int, version: Any, stored: StoredArticle) -> None:
        with self._lock:
            self._found[article_id] = (version, stored)
            self._found.move_to_end(article_id)
            while len(self._found) > self.size:
                self._found.popitem(last=False)


class _StoryKeys:
    """event id → StoryKey, the most recent `size` of them."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._keys: dict[int, StoryKey] = {}
        self._lock = threading.Lock()

    def __contains__(self, event_id: int) -> bool:
        return event_id in self._keys

    def get(self, event_id: int) -> StoryKey | None:
        return self._keys.get(event_id)

    def put(self, event_id: int, key: StoryKey) -> None:
        with self._lock:
            self._keys[event_id] = key
            while len(self._keys) > self.size:
                del self._keys[next(iter(self._keys))]  # the oldest put

    def forget(self, event_ids: Iterable[int]) -> None:
        with self._lock:
            for event_id in event_ids:
                self._keys.pop(event_id, None)


def _chunked(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    return (items[start : start + size] for start in range(0, len(items), size))


def _day(article: Article) -> date | None:
    """The article's day for story matching; unknown when it is only the file's mtime."""
    return None if article.undated else article.published.date()


def _article_stub(article_id: int, uid: str, data: Any, created: datetime) -> StoredArticle:
    """An article from its stored JSON, without its other events (for event listings)."""
    row = _Row(article_id, uid, data, created, created)
    return stored_article(row, ())


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    uid: str
    data: Any
    first_seen: datetime
    updated: datetime
