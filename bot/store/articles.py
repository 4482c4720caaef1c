"""Articles and their events: what the scan stores and what the feeds read."""

from __future__ import annotations

import hashlib
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from bot.core.codec import article_from_dict, article_to_dict, event_from_dict, event_to_dict
from bot.core.lru import Lru
from bot.core.model import Article, Event, Extraction, StoredArticle, StoredEvent
from bot.core.stories import StoryKey, same_story, story_id
from bot.store.base import article_uid, aware, inserted_id, stored_article, stored_event
from bot.store.feedindex import FeedChanges, FeedIndexStore, IndexRow, published_rows
from bot.store.outbox import enqueue_all
from bot.store.schema import articles, events, flags


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
class ArticleSave:
    """One article to store, with what `save_article` takes beside it."""

    article: Article
    extraction: Extraction
    url: str | Callable[[str], str]  # or made from the uid the article gets (its own page)
    size: int
    mtime_ns: int
    content_hash: str
    now: datetime
    targets: Targets
    # The extraction model's events replacing the rules' (see `Pipeline.apply_refined`): a
    # new event that tells what one it replaces told keeps its story, so that delivery edits
    # the alert already sent instead of sending another.
    refined: bool = False


@dataclass(frozen=True, slots=True)
class FeedItem:
    """What one feed entry is made of (see `catalog.article_entry` and `event_entry`)."""

    stored: StoredArticle
    event: StoredEvent | None  # None: the article's own entry
    also: tuple[StoredArticle, ...]  # an event entry: the story's later reports


# The flag holding the rule the stored links were made by (see `relink`; never backed up:
# `backup.LOCAL_FLAGS`).
_LINKS = "links"
STORY_CANDIDATES = 500  # recent events of the same type compared with a new one

Targets = Mapping[str, Sequence[tuple[int, int | None]]]  # event key → (chat, thread) to alert

# Statements a save runs for every article, built once (building one costs more than running it).
_BY_PATH = select(articles.c.id, articles.c.uid, articles.c.first_seen).where(
    articles.c.path == bindparam("path")
)
_EVENTS_OF = select(
    events.c.id, events.c.uid, events.c.key, events.c.created, events.c.story
).where(events.c.article_id == bindparam("article_id"))


def _file_states() -> Select[Any]:
    """The columns of a FileState, in its order."""
    c = articles.c
    return select(c.path, c.size, c.mtime_ns, c.content_hash, c.status)


class ArticleStore(FeedIndexStore):
    def file_states(self) -> dict[str, FileState]:
        query = _file_states().where(articles.c.status != "deleted")
        with self.engine.connect() as conn:
            return {row.path: FileState(*row) for row in conn.execute(query)}

    def file_stats(self) -> dict[str, tuple[int, int]]:
        """path → (size, mtime_ns) of every file the store knows: all a rescan compares."""
        query = select(articles.c.path, articles.c.size, articles.c.mtime_ns).where(
            articles.c.status != "deleted"
        )
        with self.engine.connect() as conn:
            return {path: (size, mtime_ns) for path, size, mtime_ns in conn.execute(query)}

    def file_states_of(self, paths: Sequence[str]) -> dict[str, FileState]:
        """path → what the store remembers of it, for those of `paths` it knows."""
        found: dict[str, FileState] = {}
        with self.engine.connect() as conn:
            for chunk in _chunked(paths):
                query = _file_states().where(
                    articles.c.path.in_(chunk), articles.c.status != "deleted"
                )
                found |= {row.path: FileState(*row) for row in conn.execute(query)}
        return found

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
        save = ArticleSave(article, extraction, url, size, mtime_ns, content_hash, now, targets)
        [result] = self.save_articles([save])
        return result

    def save_articles(self, saves: Sequence[ArticleSave]) -> list[SaveResult]:
        """Store articles as `save_article` would one after the other, but in one transaction
        (all of them or none) with one upkeep of the feed index: how a large scan stores."""
        candidates = self._take_candidates()
        try:
            with self.engine.begin() as conn:
                gone = _Gone(
                    self._deleted_with(conn, {save.content_hash for save in saves}),
                    self._deleted_at(
                        conn, {s.article.path for s in saves if not s.article.feed_id}
                    ),
                )
                free = self._free_uids(conn, {_base_uid(save.article) for save in saves})
                results = [self._save_one(conn, save, candidates, gone, free) for save in saves]
                changes = self._reindex(conn, [result.article.id for result in results])
        except BaseException:
            # Story keys and candidates read from rows this transaction wrote would name
            # other events (the candidates are dropped: never handed back).
            self._story_keys().clear()
            raise
        self._keep_candidates(candidates)
        self._note(changes)
        return results

    def _take_candidates(self) -> _StoryCandidates:
        """The candidates the last transaction left (each type checked again before use), or
        new ones: a large scan stores a batch per transaction, and reading the newest events
        of each type again for every batch was a fifth of its storing."""
        with self._story_keys().lock:
            kept = self.__dict__.pop("_candidates_kept", None)
        if not isinstance(kept, _StoryCandidates):
            return _StoryCandidates(self._story_keys())
        kept.begin()
        return kept

    def _keep_candidates(self, candidates: _StoryCandidates) -> None:
        with self._story_keys().lock:
            self.__dict__["_candidates_kept"] = candidates

    def _save_one(
        self,
        conn: Connection,
        save: ArticleSave,
        candidates: _StoryCandidates,
        gone: _Gone,
        free: set[str],
    ) -> SaveResult:
        article, extraction = save.article, save.extraction
        now = save.now
        row = conn.execute(_BY_PATH, {"path": article.path}).first()
        if row is None:  # a renamed file: the same content under a path that vanished
            row = gone.renamed(save.content_hash)
        values = {
            "path": article.path,
            "size": save.size,
            "mtime_ns": save.mtime_ns,
            "content_hash": save.content_hash,
            "status": "ok",
            "error": None,
            "published": article.published.astimezone(UTC),  # SQLite keeps no offset
            "updated": now,
        }
        uid = _base_uid(article)
        # A deleted article back, edited or not: by the uid it would get, else by its path.
        if row is None and uid not in free:
            row = self._restored(conn, uid, gone)
        if row is None and not article.feed_id:  # (a declared id says which article it is)
            row = gone.at_path(article.path)
        if row is None:
            if uid in free:  # no article had it when the batch began, and none since
                free.discard(uid)
            else:
                uid = self._free_uid(conn, uid)
            url = _url(save, uid)
            values["data"] = _data(article, extraction, url)
            article_id = inserted_id(
                conn.execute(insert(articles), {"uid": uid, "first_seen": now, **values})
            )
            first_seen = now
        else:
            article_id, uid, first_seen = row.id, row.uid, row.first_seen
            url = _url(save, uid)
            values["data"] = _data(article, extraction, url)
            conn.execute(update(articles).where(articles.c.id == article_id).values(**values))
        new_events, stored = self._save_events(
            conn, article_id, uid, extraction.events, _day(article), now, candidates, save.refined
        )
        queued = 0
        # Later reports of a story are queued too: delivery turns them into an
        # "also reported by" edit of the chat's first alert, not a second alert.
        for new_event in new_events:
            found = save.targets.get(new_event.event.key, ())
            queued += enqueue_all(conn, new_event.id, found, now)
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

    def _deleted_with(self, conn: Connection, hashes: set[str]) -> dict[str, list[Any]]:
        """Articles whose file is gone, by content hash, oldest first: one of them with the
        content of a new file was renamed to it. One query per batch (there is no index on
        the hash: a query per file made a first scan quadratic), over the small index of
        articles not ok (SQLite uses a partial index only when the query repeats its
        condition: without it, every save read all the articles, 0.2 s at 100,000)."""
        found: dict[str, list[Any]] = {}
        c = articles.c
        for chunk in _chunked(sorted(hashes)):
            query = (
                select(c.id, c.uid, c.first_seen, c.content_hash)
                .where(c.status != "ok", c.status == "deleted", c.content_hash.in_(chunk))
                .order_by(articles.c.id)
            )
            for row in conn.execute(query):
                found.setdefault(row.content_hash, []).append(row)
        return found

    def _deleted_at(self, conn: Connection, paths: set[str]) -> dict[str, list[Any]]:
        """Articles whose file is gone, by the path they had ('/deleted/ID/PATH' ends with
        it), newest first: a new file at that path is one of them back. One query per batch,
        over the small index of articles not ok, comparing the end of each path once for
        each length of the batch's paths."""
        c = articles.c
        found: dict[str, list[Any]] = {}
        for chunk in _chunked(sorted(paths)):
            ends: dict[int, list[str]] = {}
            for path in chunk:
                ends.setdefault(len(path) + 1, []).append("/" + path)
            tails = [
                func.substr(c.path, func.length(c.path) - size + 1).in_(wanted)
                for size, wanted in ends.items()
            ]
            query = (
                select(c.id, c.uid, c.first_seen, c.content_hash, c.path)
                .where(c.status != "ok", c.status == "deleted", or_(*tails))
                .order_by(c.id.desc())
            )
            for row in conn.execute(query):
                had = row.path.removeprefix("/deleted/").partition("/")[2]
                if had in paths:  # not just a path that ends the same
                    found.setdefault(had, []).append(row)
        return found

    def _restored(self, conn: Connection, uid: str, gone: _Gone) -> Any:
        """The deleted article whose uid a new file would get (same first path and date, or
        the same front-matter id): the file is back, and keeps its ids and events. Without
        this it got '…-2' and its events were 'also reported by' its deleted self."""
        c = articles.c
        row = conn.execute(
            select(c.id, c.uid, c.first_seen).where(c.uid == uid, c.status == "deleted")
        ).first()
        if row is not None:  # not to be taken again in this batch
            gone.taken.add(row.id)
        return row

    def _free_uids(self, conn: Connection, uids: set[str]) -> set[str]:
        """Those of `uids` no article has."""
        taken: set[str] = set()
        for chunk in _chunked(sorted(uids)):
            query = select(articles.c.uid).where(articles.c.uid.in_(chunk))
            taken.update(conn.execute(query).scalars())
        return uids - taken

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
        candidates: _StoryCandidates,
        refined: bool = False,
    ) -> tuple[tuple[StoredEvent, ...], tuple[StoredEvent, ...]]:
        existing = {row.key: row for row in conn.execute(_EVENTS_OF, {"article_id": article_id})}
        # The events a refinement replaces, with their story keys (see `ArticleSave.refined`).
        replaced = (
            _read_story_keys(conn, [row.id for row in existing.values() if row.story])
            if refined
            else {}
        )
        # Their data or their article's date may change now.
        edited = [row.id for row in existing.values()]
        self._story_keys().forget(edited)
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
                story_key = StoryKey.of(ev, published)
                earlier = self._story_of(conn, article_id, story_key, candidates)
                first = earlier is None
                retold = _retold(existing.values(), replaced, story_key) if first else None
                if retold is not None:  # (its first report stays the retold one: see _events_of)
                    earlier, first = retold.story, False
                story = earlier or story_id(uid)
                values = {
                    "uid": uid,
                    "article_id": article_id,
                    "key": key,
                    "type": ev.type,
                    "active": True,
                    "story": story,
                    "data": event_to_dict(ev),
                    "created": now,
                }
                event_id = inserted_id(conn.execute(insert(events), values))
                # What `_story_of` would read back from the row (see test_pipeline_pool).
                self._story_keys().put(event_id, story_key)
                candidates.added(event_id, story, article_id, story_key)
                stored = StoredEvent(event_id, uid, article_id, ev, now, story, first)
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
        if edited:  # keys read meanwhile may be those from before the edit
            self._story_keys().forget(edited)
            candidates.reset()
        return tuple(new), tuple(keep)

    def _story_of(
        self, conn: Connection, article_id: int, key: StoryKey, candidates: _StoryCandidates
    ) -> str | None:
        """The story an earlier article's event of this kind already opened, if any."""
        return candidates.match(conn, article_id, key)

    def stored_story_keys(self, event_ids: Sequence[int]) -> dict[int, StoryKey]:
        """The story keys of stored events as read back from their rows."""
        with self.engine.connect() as conn:
            return _read_story_keys(conn, event_ids)

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

    def relink(self, rule: str, url_of: Callable[[str, Article], str]) -> int:
        """Give every article the link `url_of(uid, article)` makes, once per `rule` (what the
        links are made from): a new base URL or permalink pattern reaches the articles stored
        before it, not only the files that change. Returns how many links changed."""
        with self.engine.begin() as conn:
            if conn.execute(select(flags.c.value).where(flags.c.key == _LINKS)).scalar() == rule:
                return 0
            changed = 0
            for row in published_rows(conn):
                url = url_of(row.uid, article_from_dict(row.data["article"]))
                if row.data.get("url") != url:
                    data = {**row.data, "url": url}
                    conn.execute(update(articles).where(articles.c.id == row.id).values(data=data))
                    changed += 1
            conn.execute(delete(flags).where(flags.c.key == _LINKS))
            conn.execute(insert(flags).values(key=_LINKS, value=rule))
        if changed:  # the articles kept in memory hold the old links
            self.__dict__.pop("_article_memo_instance", None)
        return changed

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
                found = memo.get_version(article_id, version)
                if found is not None:
                    loaded[article_id] = found
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


class _Gone:
    """The deleted articles a batch's new files may be: by content (renamed) and by the path
    they had (restored); each taken once."""

    def __init__(self, by_content: dict[str, list[Any]], by_path: dict[str, list[Any]]) -> None:
        self.by_content = by_content
        self.by_path = by_path
        self.taken: set[int] = set()

    def renamed(self, content_hash: str) -> Any:
        return self._take(self.by_content.get(content_hash, ()))

    def at_path(self, path: str) -> Any:
        return self._take(self.by_path.get(path, ()))

    def _take(self, rows: Iterable[Any]) -> Any:
        for row in rows:
            if row.id not in self.taken:
                self.taken.add(row.id)
                return row
        return None


class _ArticleMemo(Lru[int, tuple[Any, StoredArticle]]):
    """The last `size` articles loaded for feed pages, by id and `updated`."""

    def __init__(self, size: int = 1024) -> None:
        super().__init__(size)

    def get_version(self, article_id: int, version: Any) -> StoredArticle | None:
        found = self.get(article_id)
        return None if found is None or found[0] != version else found[1]


class _StoryKeys:
    """event id → StoryKey, the most recent `size` of them."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._keys: dict[int, StoryKey] = {}
        self.lock = threading.Lock()

    def __contains__(self, event_id: int) -> bool:
        return event_id in self._keys

    def get(self, event_id: int) -> StoryKey | None:
        return self._keys.get(event_id)

    def put(self, event_id: int, key: StoryKey) -> None:
        with self.lock:
            self._keys[event_id] = key
            while len(self._keys) > self.size:
                del self._keys[next(iter(self._keys))]  # the oldest put

    def missing(self, event_ids: Iterable[int]) -> list[int]:
        """Those of the ids whose key is not kept."""
        keys = self._keys
        return [event_id for event_id in event_ids if event_id not in keys]

    def known(self, event_ids: Iterable[int]) -> dict[int, StoryKey]:
        keys = self._keys
        return {event_id: keys[event_id] for event_id in event_ids if event_id in keys}

    def first_match(self, recent: Iterable[tuple[int, str]], key: StoryKey) -> str | None:
        """The story of the first of `recent` (id, story) whose event is the same story."""
        keys = self._keys
        for event_id, story in recent:
            candidate = keys.get(event_id)
            if candidate is not None and same_story(candidate, key):
                return story
        return None

    def forget(self, event_ids: Iterable[int]) -> None:
        with self.lock:
            for event_id in event_ids:
                self._keys.pop(event_id, None)

    def clear(self) -> None:
        with self.lock:
            self._keys.clear()


class _StoryCandidates:
    """The recent events of each type, for one transaction: read once (with their story keys,
    from the store's memo), then kept up to date with the events it inserts, and indexed by
    actor, since events share a story only when they share an actor. A batch of articles
    then asks the database once per type, and compares a new event only with the recent
    ones that name one of its actors."""

    _SPARE = 64  # rows read beyond STORY_CANDIDATES: an edited article's own events

    def __init__(self, keys: _StoryKeys) -> None:
        self._keys = keys
        self._types: dict[str, _TypeRows] = {}
        self._checked: set[str] = set()  # types known current in this transaction

    def begin(self) -> None:
        """A new transaction: rows read in an earlier one are checked before they are used."""
        self._checked.clear()

    def match(self, conn: Connection, article_id: int, key: StoryKey) -> str | None:
        """The story of the newest of the STORY_CANDIDATES newest events of this type (with a
        story, of other articles) that is the same story as `key`, if any."""
        found = self._types.get(key.type)
        if found is None or (key.type not in self._checked and not self._current(conn, found)):
            found = self._types[key.type] = self._read(conn, key.type)
        self._checked.add(key.type)
        rows = found.rows
        end = len(rows)
        while end and rows[end - 1][2] == article_id:  # its own events, just inserted
            end -= 1
        start = end - STORY_CANDIDATES
        if found.owned.get(article_id, 0) != len(rows) - end or (start < 0 and not found.complete):
            return self._ask(conn, article_id, key)  # its own events elsewhere, or too few read
        near: set[int] = set()
        for actor in key.actors:
            positions = found.by_actor.get(actor, [])  # ascending
            near.update(positions[bisect_left(positions, start) : bisect_left(positions, end)])
        for position in sorted(near, reverse=True):
            _id, story, _owner, candidate = rows[position]
            if same_story(candidate, key):
                return story
        return None

    def reset(self) -> None:
        """Read everything again: stored events changed."""
        self._types.clear()

    def added(self, event_id: int, story: str, article_id: int, key: StoryKey) -> None:
        found = self._types.get(key.type)
        if found is None:  # not read yet: reading it will find this row
            return
        found.append((event_id, story, article_id, key))
        found.newest = event_id
        if len(found.rows) > 4 * STORY_CANDIDATES:  # only the newest are ever compared
            found.rows = found.rows[-(STORY_CANDIDATES + self._SPARE) :]
            found.complete = False
            found.index()

    def _read(self, conn: Connection, kind: str) -> _TypeRows:
        limit = STORY_CANDIDATES + self._SPARE
        query = (
            select(events.c.id, events.c.story, events.c.article_id)
            .where(events.c.type == kind, events.c.story.is_not(None))
            .order_by(events.c.id.desc())
            .limit(limit)
        )
        rows = conn.execute(query).all()[::-1]
        keys = self._known_keys(conn, [row.id for row in rows])
        found = _TypeRows([(r.id, r.story, r.article_id, keys[r.id]) for r in rows if r.id in keys])
        found.type = kind
        found.newest = rows[-1].id if rows else None
        found.complete = len(rows) < limit
        found.index()
        return found

    @staticmethod
    def _current(conn: Connection, found: _TypeRows) -> bool:
        """Whether the rows read earlier still end with the newest event of their type: events
        are only ever added (an edit that changes them resets the candidates)."""
        query = (
            select(events.c.id)
            .where(events.c.type == found.type, events.c.story.is_not(None))
            .order_by(events.c.id.desc())
            .limit(1)
        )
        return conn.execute(query).scalar() == found.newest

    def _ask(self, conn: Connection, article_id: int, key: StoryKey) -> str | None:
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
        recent = [(row.id, row.story) for row in conn.execute(query)]
        self._known_keys(conn, [event_id for event_id, _story in recent])
        return self._keys.first_match(recent, key)

    def _known_keys(self, conn: Connection, event_ids: Sequence[int]) -> dict[int, StoryKey]:
        """Their story keys, from the memo, else from their rows (then kept in the memo)."""
        missing = self._keys.missing(event_ids)
        for event_id, found in _read_story_keys(conn, missing).items():
            self._keys.put(event_id, found)
        return self._keys.known(event_ids)


class _TypeRows:
    """Recent events of one type, oldest first: (id, story, article id, story key)."""

    def __init__(self, rows: list[tuple[int, str, int, StoryKey]]) -> None:
        self.rows = rows
        self.type = ""
        self.newest: int | None = None  # the newest event id of the type when last seen
        self.complete = False  # the database holds no older ones
        self.by_actor: dict[str, list[int]] = {}  # actor → positions in rows
        self.owned: dict[int, int] = {}  # article id → rows

    def index(self) -> None:
        self.by_actor, self.owned = {}, {}
        for position, row in enumerate(self.rows):
            self._note(position, row)

    def append(self, row: tuple[int, str, int, StoryKey]) -> None:
        self.rows.append(row)
        self._note(len(self.rows) - 1, row)

    def _note(self, position: int, row: tuple[int, str, int, StoryKey]) -> None:
        self.owned[row[2]] = self.owned.get(row[2], 0) + 1
        for actor in row[3].actors:
            self.by_actor.setdefault(actor, []).append(position)


def _read_story_keys(conn: Connection, event_ids: Sequence[int]) -> dict[int, StoryKey]:
    found: dict[int, StoryKey] = {}
    if not event_ids:
        return found
    article = articles.c.data["article"]
    for chunk in _chunked(event_ids):
        rows = conn.execute(
            select(
                events.c.id,
                events.c.data,
                article["published"].as_string().label("published"),
                article["undated"].as_boolean().label("undated"),
            )
            .join(articles, articles.c.id == events.c.article_id)
            .where(events.c.id.in_(chunk))
        )
        for row in rows:
            day = (
                None if row.undated or not row.published else date.fromisoformat(row.published[:10])
            )
            found[row.id] = StoryKey.of(event_from_dict(row.data), day)
    return found


def _retold(rows: Iterable[Any], keys: Mapping[int, StoryKey], new: StoryKey) -> Any:
    """The article's own earlier event (its row) that `new` retells: the same type and a
    shared actor or the same sum (a model names and counts more loosely than `same_story`
    asks of two articles, but within one article that is the same happening)."""
    for row in rows:
        old = keys.get(row.id)
        if old is None or old.type != new.type:
            continue
        same_sum = (
            old.usd is not None
            and new.usd is not None
            and abs(old.usd - new.usd) <= (0.05 * max(abs(old.usd), abs(new.usd)))
        )
        if old.actors & new.actors or same_sum:
            return row
    return None


def _chunked(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    return (items[start : start + size] for start in range(0, len(items), size))


def _url(save: ArticleSave, uid: str) -> str:
    return save.url if isinstance(save.url, str) else save.url(uid)


def _data(article: Article, extraction: Extraction, url: str) -> dict[str, Any]:
    return {"article": article_to_dict(article), "summary": extraction.summary, "url": url}


def _base_uid(article: Article) -> str:
    return article.feed_id or article_uid(article)


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
