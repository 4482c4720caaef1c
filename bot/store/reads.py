"""What the feeds, pages and commands read of the articles and their events."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from bot.core.lru import Lru
from bot.core.model import StoredArticle, StoredEvent
from bot.store.base import aware, chunked, first_events, stored_article, stored_event
from bot.store.feedindex import FeedIndexStore, IndexRow
from bot.store.schema import articles, events


@dataclass(frozen=True, slots=True)
class FeedItem:
    """What one feed entry is made of (see `catalog.article_entry` and `event_entry`)."""

    stored: StoredArticle
    event: StoredEvent | None  # None: the article's own entry
    also: tuple[StoredArticle, ...]  # an event entry: the story's later reports


class ArticleReads(FeedIndexStore):
    """The reads, with the articles the feed pages loaded last kept in memory."""

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
            first = first_reports(conn, {row.story for row in rows if row.story})
            for row in rows:
                is_first = first.get(row.story, row.id) == row.id
                found.setdefault(row.article_id, []).append(stored_event(row, is_first))
        return {key: tuple(value) for key, value in found.items()}

    def feed_items(self, rows: Sequence[IndexRow]) -> list[FeedItem]:
        """What the entries of index rows are made of: the article, the event for an event
        entry, and the other articles that reported its story."""
        stories = {row.story for row in rows if row.event_id is not None and row.story}
        # Within a snapshot a story's reports read once hold: an event is in several feeds
        # (events, its type, each actor), and a whole publish asked again for every page.
        known: dict[str, list[int]] | None = getattr(self._local(), "reports", None)
        reports = {s: known[s] for s in stories if s in known} if known is not None else {}
        with self._reading() as conn:
            for chunk in chunked(sorted(stories - reports.keys())):
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
                found: dict[str, list[int]] = {story: [] for story in chunk}
                for story, article_id in conn.execute(query):
                    found[story].append(article_id)
                reports |= found
                if known is not None:
                    known |= found
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
        # Within a snapshot a version read once holds: a publish of every page asks once.
        seen: dict[int, Any] | None = getattr(self._local(), "versions", None)
        for start in range(0, len(ids), 500):  # (slices: `chunked` appends one by one)
            chunk = ids[start : start + 500]
            versions = {i: seen[i] for i in chunk if i in seen} if seen is not None else {}
            ask = [i for i in chunk if i not in versions]
            if ask:
                query = select(articles.c.id, articles.c.updated).where(articles.c.id.in_(ask))
                versions |= dict(conn.execute(query).all())
            if seen is not None:
                seen.update(versions)
            loaded |= memo.of_versions(versions)
            missing = [article_id for article_id in versions if article_id not in loaded]
            if not missing:
                continue
            rows = conn.execute(select(articles).where(articles.c.id.in_(missing))).all()
            by_article = self._events_of(conn, missing)
            for row in rows:
                loaded[row.id] = stored_article(row, by_article.get(row.id, ()))
                memo.put(row.id, (row.updated, loaded[row.id]))
        return loaded

    @contextmanager
    def remembering(self, count: int) -> Iterator[None]:
        """Within the block, `feed_items` keeps up to `count` articles in memory (then shrinks
        back): a publish of every page reads each article for several feeds."""
        with self._article_memo().holding(count):
            yield

    def _forget_articles(self) -> None:
        """Drop the articles kept in memory: their stored data changed beneath them."""
        self.__dict__.pop("_article_memo_instance", None)

    def _remember_saved(self, saved: Sequence[tuple[Any, StoredArticle]]) -> None:
        """Keep articles just saved (with their version: `updated` as the database hands it
        back), each as a read would make it, for the publish that shows them next: read back
        and decoded, they were a third of a large first publish's time in the scanning
        process."""
        self._article_memo().keep_saved(saved)

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

    def event_span(self) -> tuple[datetime, datetime] | None:
        """The dates of the oldest and the newest article with active events: the range of
        the home page's chart. Two index walks on articles.published."""
        query = (
            select(articles.c.published)
            .join(events, articles.c.id == events.c.article_id)
            .where(articles.c.status == "ok", events.c.active.is_(True))
            .limit(1)
        )
        with self.engine.connect() as conn:
            oldest = conn.execute(query.order_by(articles.c.published)).scalar()
            newest = conn.execute(query.order_by(articles.c.published.desc())).scalar()
        if oldest is None or newest is None:
            return None
        return aware(oldest), aware(newest)

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
        key = uid if uid is not None else stem
        if key is None or not _storable(key):  # from a URL: no stored path or uid is like it
            return None
        query = select(articles).where(articles.c.status == "ok").order_by(articles.c.id).limit(1)
        if uid is not None:
            lookups = [query.where(articles.c.uid == uid)]
        else:
            assert stem is not None
            # The path itself, else PATH.anything: the paths from "PATH." up to "PATH/" ('/'
            # follows '.'), a range of the unique index, in byte order on both backends.
            lookups = [
                query.where(articles.c.path == stem),
                query.where(articles.c.path >= f"{stem}.", articles.c.path < f"{stem}/"),
            ]
        with self.engine.connect() as conn:
            row = next((r for q in lookups if (r := conn.execute(q).first()) is not None), None)
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
        """Articles in the feeds, active events and failed files: each total less what the
        small partial indexes hold (see schema.py), never a read of every row."""
        not_ok = articles.c.status != "ok"
        with self.engine.connect() as conn:
            n_articles, n_events, n_not_ok, n_failed, n_inactive = (
                conn.execute(query).scalar_one()
                for query in (
                    select(func.count()).select_from(articles),
                    select(func.count()).select_from(events),
                    select(func.count()).select_from(articles).where(not_ok),
                    select(func.count())
                    .select_from(articles)
                    .where(not_ok, articles.c.status.in_(("error", "skipped"))),
                    select(func.count()).select_from(events).where(events.c.active.is_(False)),
                )
            )
        return {
            "articles": n_articles - n_not_ok,
            "events": n_events - n_inactive,
            "failed_files": n_failed,
        }


def _storable(text: str) -> bool:
    """Text a database takes: UTF-8 without NUL (PostgreSQL refuses NUL in text)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, as a URL's invalid UTF-8 decodes to
        return False
    return "\x00" not in text


class _ArticleMemo(Lru[int, tuple[Any, StoredArticle]]):
    """The last `size` articles loaded for feed pages, by id and `updated`; and the articles
    saved since the last publish, up to `saved_max` of them (as many as a backfill's
    publish holds anyway: `publish.BIG_PUBLISH`), until a publish has shown them."""

    def __init__(self, size: int = 1024, saved_max: int = 20_000) -> None:
        super().__init__(size)
        self.base = size
        self.saved_max = saved_max

    def get_version(self, article_id: int, version: Any) -> StoredArticle | None:
        return self.of_versions({article_id: version}).get(article_id)

    def of_versions(self, versions: Mapping[int, Any]) -> dict[int, StoredArticle]:
        """`get_version` of each (id → version), those kept, by id: under one lock (a page's
        entries name hundreds of articles, an event's other reports)."""
        found: dict[int, StoredArticle] = {}
        items = self._items
        with self._lock:
            for article_id, version in versions.items():
                kept = items.get(article_id)
                if kept is None:
                    continue
                items.move_to_end(article_id)  # used: as `get` would
                if kept[0] == version:
                    found[article_id] = kept[1]
        return found

    def keep_saved(self, saved: Sequence[tuple[Any, StoredArticle]]) -> None:
        with self._lock:  # room for them beside the others, up to saved_max in all
            wanted = min(len(self) + len(saved), max(self.saved_max, self.base))
            self.size = max(self.size, wanted)
        for version, stored in saved:
            self.put(stored.id, (version, stored))

    @contextmanager
    def holding(self, count: int) -> Iterator[None]:
        try:
            with super().holding(count):
                yield
        finally:
            with self._lock:  # the saved ones kept beyond `base` have been shown
                self.size = self.base
                self._trim(self.base)


def first_reports(conn: Connection, stories: Iterable[str]) -> dict[str, int]:
    """story → the id of its first event (active or not): an event is its story's first
    report when it is that one."""
    return first_events(conn, stories, shown=False)


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
