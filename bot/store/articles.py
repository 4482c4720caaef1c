"""Saving articles and their events: what the scan stores, in one transaction per batch, with
the alerts it queues. The parts of ArticleStore: filestates (what a scan compares), stories
(the story caches), reads (what the feeds read).

One module (~660 lines): a batch's rows are queued and written together, and every read that
could see a queued row (a uid taken, the same article twice, story candidates, a refinement)
writes the queue first — one piece of state that split across modules would be easy to break.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Insert, Table, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from bot.core.codec import article_from_dict, article_to_dict, event_to_dict
from bot.core.model import Article, Event, Extraction, StoredArticle, StoredEvent
from bot.core.stories import StoryKey, story_day, story_id
from bot.store.base import article_uid, aware, chunked
from bot.store.feedindex import published_rows
from bot.store.filestates import FileStateStore, free_uid
from bot.store.outbox import enqueue_new
from bot.store.reads import ArticleReads, first_reports
from bot.store.schema import articles, events, flags
from bot.store.stories import (
    StoryCandidates,
    StoryKeys,
    StoryStore,
    read_story_keys,
    retold_row,
)


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


# The flag holding the rule the stored links were made by (see `relink`; never backed up:
# `backup.LOCAL_FLAGS`).
_LINKS = "links"

Targets = Mapping[str, Sequence[tuple[int, int | None]]]  # event key → (chat, thread) to alert

# Statements a save runs for every article, built once (building one costs more than running it).
_BY_PATH = select(articles.c.id, articles.c.uid, articles.c.first_seen).where(
    articles.c.path == bindparam("path")
)
_EVENTS_OF = select(
    events.c.id, events.c.uid, events.c.key, events.c.created, events.c.story
).where(events.c.article_id == bindparam("article_id"))
# And those it runs once per batch (`chunked` lists bound as one expanding parameter).
_AT_PATHS = select(articles.c.id, articles.c.uid, articles.c.first_seen, articles.c.path).where(
    articles.c.path.in_(bindparam("paths", expanding=True))
)
_DELETED_WITH = (
    select(articles.c.id, articles.c.uid, articles.c.first_seen, articles.c.content_hash)
    .where(
        articles.c.status != "ok",
        articles.c.status == "deleted",
        articles.c.content_hash.in_(bindparam("hashes", expanding=True)),
    )
    .order_by(articles.c.id)
)
_ANY_DELETED = (  # (on the small index of articles not ok: see `_deleted_with`)
    select(articles.c.id).where(articles.c.status != "ok", articles.c.status == "deleted").limit(1)
)
_TAKEN_UIDS = select(articles.c.uid).where(articles.c.uid.in_(bindparam("uids", expanding=True)))
_EVENTS_OF_ARTICLES = (
    select(
        events.c.id,
        events.c.uid,
        events.c.key,
        events.c.created,
        events.c.story,
        events.c.article_id,
    )
    .where(events.c.article_id.in_(bindparam("ids", expanding=True)))
    .order_by(events.c.id)
)
_DEACTIVATE = (
    update(events).where(events.c.id.in_(bindparam("ids", expanding=True))).values(active=False)
)


class ArticleStore(FileStateStore, ArticleReads, StoryStore):
    """Articles and their events: saved here, read by `ArticleReads`, compared by file state."""

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
        (all of them or none) with one upkeep of the feed index: how a large scan stores.

        Each article is placed first (which row it is, which uid a new one gets: the new
        rows go in together), then the articles' events are written in order. Their rows go
        out a batch at a time (`_Writes`): a statement per row was most of a large scan's
        storing."""
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
                writes = _Writes(conn, self._story_keys(), candidates)
                at_path = self._at_paths(conn, {save.article.path for save in saves})
                placed = [self._place(conn, save, gone, free, at_path, writes) for save in saves]
                writes.flush()
                known = self._events_by_article(conn, [p.row.id for p in placed if not p.new])
                drafts = [self._write(conn, one, candidates, writes, known) for one in placed]
                writes.flush()
                results = _queue(conn, saves, [draft.result(writes) for draft in drafts])
                as_read = _as_read(conn, drafts, results)
                saved = {r.article.id: (r.article.uid, r.article.article) for r in results}
                added = {e.id: e for r in results for e in r.new_events}
                for e in (e for r in results for e in r.article.events if e.id in added):
                    added[e.id] = e  # as the article's last save in the batch left it
                changes = self._reindex(conn, list(saved), saved, added)
        except BaseException:
            # Story keys and candidates read from rows this transaction wrote would name
            # other events (the candidates are dropped: never handed back).
            self._story_keys().clear()
            raise
        self._keep_candidates(candidates)
        self._note(changes)
        self._remember_saved(as_read)
        return results

    def _at_paths(self, conn: Connection, paths: set[str]) -> dict[str, Any]:
        """path → the row of the article at it, for those of `paths` with one."""
        found: dict[str, Any] = {}
        for chunk in chunked(sorted(paths)):
            found |= {row.path: row for row in conn.execute(_AT_PATHS, {"paths": chunk})}
        return found

    def _place(
        self,
        conn: Connection,
        save: ArticleSave,
        gone: _Gone,
        free: set[str],
        at_path: dict[str, Any],
        writes: _Writes,
    ) -> _Placed:
        """Which row the article is (its own, a renamed or restored one) or gets (new, its
        uid chosen): what a save reads of the articles, before the batch writes any event."""
        article, now = save.article, save.now
        row = at_path.get(article.path)
        if isinstance(row, _NewRow) and row.id is None:  # the same file twice in a batch
            writes.flush()
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
            writes.flush()  # what the reads below would find of the batch's articles
            row = self._restored(conn, uid, gone)
        if row is None and not article.feed_id:  # (a declared id says which article it is)
            row = gone.at_path(article.path)
        new = row is None
        if row is None:
            if uid in free:  # no article had it when the batch began, and none since
                free.discard(uid)
            else:
                uid = free_uid(conn, uid)
            row = _NewRow(None, uid, now)
        url = _url(save, row.uid)
        values["data"] = _data(article, extraction=save.extraction, url=url)
        if new:
            writes.add_article({"uid": row.uid, "first_seen": now, **values}, row)
        at_path[article.path] = row
        return _Placed(save, row, url, values, new)

    def _write(
        self,
        conn: Connection,
        placed: _Placed,
        candidates: StoryCandidates,
        writes: _Writes,
        known: dict[int, dict[str, Any]],
    ) -> _Draft:
        """The article's row updated (a new one is in already) and its events written."""
        save, row = placed.save, placed.row
        article_id = row.id
        assert article_id is not None
        if not placed.new:
            writes.update_article(article_id, placed.values)
        if article_id in writes.evented:  # (the same article twice): its rows as now written
            writes.flush()
            existing = {r.key: r for r in conn.execute(_EVENTS_OF, {"article_id": article_id})}
        else:
            existing = known.pop(article_id, {})
        writes.evented.add(article_id)
        # An event stored without a story (before stories were kept): a read tells it apart.
        storyless = any(r.story is None for r in existing.values())
        new_events, stored = self._save_events(
            conn,
            writes,
            article_id,
            row.uid,
            existing,
            save.extraction.events,
            story_day(save.article),
            save.now,
            candidates,
            save.refined,
        )
        return _Draft(
            save, article_id, row.uid, row.first_seen, placed.url, new_events, stored, storyless
        )

    def _deleted_with(self, conn: Connection, hashes: set[str]) -> dict[str, list[Any]]:
        """Articles whose file is gone, by content hash, oldest first: one of them with the
        content of a new file was renamed to it. One query per batch (there is no index on
        the hash: a query per file made a first scan quadratic), over the small index of
        articles not ok (SQLite uses a partial index only when the query repeats its
        condition: without it, every save read all the articles, 0.2 s at 100,000)."""
        found: dict[str, list[Any]] = {}
        for chunk in chunked(sorted(hashes)):
            for row in conn.execute(_DELETED_WITH, {"hashes": chunk}):
                found.setdefault(row.content_hash, []).append(row)
        return found

    def _deleted_at(self, conn: Connection, paths: set[str]) -> dict[str, list[Any]]:
        """Articles whose file is gone, by the path they had ('/deleted/ID/PATH' ends with
        it), newest first: a new file at that path is one of them back. One query per batch,
        over the small index of articles not ok, comparing the end of each path once for
        each length of the batch's paths."""
        c = articles.c
        found: dict[str, list[Any]] = {}
        # No article deleted (a backfill): nothing to find, and no need of the query below,
        # built anew for each batch's paths (a twentieth of a backfill's storing).
        if not paths or conn.execute(_ANY_DELETED).first() is None:
            return found
        for chunk in chunked(sorted(paths)):
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
        if row is None or row.id in gone.taken:  # (taken: its update is not written yet)
            return None
        gone.taken.add(row.id)  # not to be taken again in this batch
        return row

    def _free_uids(self, conn: Connection, uids: set[str]) -> set[str]:
        """Those of `uids` no article has."""
        taken: set[str] = set()
        for chunk in chunked(sorted(uids)):
            taken.update(conn.execute(_TAKEN_UIDS, {"uids": chunk}).scalars())
        return uids - taken

    def _save_events(
        self,
        conn: Connection,
        writes: _Writes,
        article_id: int,
        article_uid: str,
        existing: dict[str, Any],
        found: Iterable[Event],
        published: date | None,
        now: datetime,
        candidates: StoryCandidates,
        refined: bool = False,
    ) -> tuple[list[_NewEvent], list[StoredEvent | _NewEvent]]:
        """The article's events (`existing`: its rows by key) written as `found` says: new
        ones queued with their story, known ones updated, the rest made inactive."""
        # The events a refinement replaces, with their story keys (see `ArticleSave.refined`).
        replaced: Mapping[int, StoryKey] = {}
        if refined:
            writes.flush()
            replaced = read_story_keys(conn, [row.id for row in existing.values() if row.story])
        # Their data or their article's date may change now.
        edited = [row.id for row in existing.values()]
        self._story_keys().forget(edited)
        keep: list[StoredEvent | _NewEvent] = []
        new: list[_NewEvent] = []
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
                earlier = self._story_of(conn, article_id, story_key, candidates, writes.flush)
                first = earlier is None
                retold = retold_row(existing.values(), replaced, story_key) if first else None
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
                pending = writes.add_event(values, story_key)
                candidates.added(pending, story, article_id, story_key)
                made = _NewEvent(pending, uid, article_id, ev, now, story, first)
                new.append(made)
                keep.append(made)
                continue
            writes.update_event(known.id, event_to_dict(ev))
            story = known.story or story_id(known.uid)
            if known.story is None:  # (a story of its own: its first event may be one queued)
                writes.flush()
            first_id = self._first_of(conn, story)
            stored = StoredEvent(
                known.id,
                known.uid,
                article_id,
                ev,
                aware(known.created),
                story,
                first_id in (None, known.id),
            )
            keep.append(stored)
        if existing:  # dropped by an edit: kept in history, out of the feeds
            writes.deactivate(row.id for row in existing.values())
        if edited:  # keys read meanwhile may be those from before the edit
            self._story_keys().forget(edited)
            candidates.reset()
        return new, keep

    def _events_by_article(
        self, conn: Connection, article_ids: Sequence[int]
    ) -> dict[int, dict[str, Any]]:
        """article id → its event rows by key, in id order (as `_EVENTS_OF` reads them)."""
        found: dict[int, dict[str, Any]] = {}
        for chunk in chunked(sorted(set(article_ids))):
            for row in conn.execute(_EVENTS_OF_ARTICLES, {"ids": chunk}):
                found.setdefault(row.article_id, {})[row.key] = row
        return found

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
            self._forget_articles()
        return changed


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


class _NewRow:
    """A new article's row: its id once inserted."""

    __slots__ = ("first_seen", "id", "uid")

    def __init__(self, article_id: int | None, uid: str, first_seen: datetime) -> None:
        self.id, self.uid, self.first_seen = article_id, uid, first_seen


@dataclass(frozen=True, slots=True)
class _Placed:
    save: ArticleSave
    row: Any  # _NewRow or the article's row (id, uid, first_seen)
    url: str
    values: dict[str, Any]  # the article's columns but uid and first_seen
    new: bool


@dataclass(frozen=True, slots=True)
class _NewEvent:
    """A StoredEvent whose row is queued: `pending` stands for its id until it is in."""

    pending: int
    uid: str
    article_id: int
    event: Event
    created: datetime
    story: str
    first: bool

    def stored(self, writes: _Writes) -> StoredEvent:
        event_id = writes.event_id(self.pending)
        return StoredEvent(
            event_id, self.uid, self.article_id, self.event, self.created, self.story, self.first
        )


@dataclass(frozen=True, slots=True)
class _Draft:
    """A save's result, its new events' ids to come."""

    save: ArticleSave
    article_id: int
    uid: str
    first_seen: datetime
    url: str
    new_events: list[_NewEvent]
    events: list[StoredEvent | _NewEvent]
    storyless: bool  # an event of its has no story of its own (see `_as_read`)

    def result(self, writes: _Writes) -> SaveResult:
        save = self.save
        stored = {id(new): new.stored(writes) for new in self.new_events}
        article = StoredArticle(
            id=self.article_id,
            uid=self.uid,
            article=save.article,
            summary=save.extraction.summary,
            url=self.url,
            first_seen=aware(self.first_seen),
            updated=save.now,
            events=tuple(stored[id(e)] if isinstance(e, _NewEvent) else e for e in self.events),
        )
        return SaveResult(article, tuple(stored[id(new)] for new in self.new_events), 0)


# The batch's updates, one statement each for all their rows (the columns: the rows' keys).
_UPDATE_ARTICLE = update(articles).where(articles.c.id == bindparam("_id"))
_UPDATE_EVENT = update(events).where(events.c.id == bindparam("_id"))


class _Writes:
    """A batch's rows, written a batch at a time: as many statements per batch as a save of
    one article ran (a statement costs far more than its row). Whatever reads what they
    change (a save placing an article, the story candidates reading events) flushes them
    first, so that every read sees what it would after saving the articles one by one; the
    rows go in in the same order, so they get the same ids. A new event's id, until its row
    is in, is a negative placeholder (see `event_id`)."""

    def __init__(self, conn: Connection, keys: StoryKeys, candidates: StoryCandidates) -> None:
        self.conn = conn
        self.keys = keys
        self.candidates = candidates
        self.evented: set[int] = set()  # articles whose events this batch wrote
        self._articles: list[tuple[dict[str, Any], _NewRow]] = []
        self._updates: list[dict[str, Any]] = []
        self._events: list[tuple[dict[str, Any], StoryKey]] = []
        self._event_updates: list[dict[str, Any]] = []
        self._inactive: list[int] = []
        self._ids: list[int] = []  # the batch's new event ids, by placeholder

    def add_article(self, values: dict[str, Any], row: _NewRow) -> None:
        self._articles.append((values, row))

    def update_article(self, article_id: int, values: dict[str, Any]) -> None:
        self._updates.append({"_id": article_id, **values})

    def add_event(self, values: dict[str, Any], key: StoryKey) -> int:
        """Queue a new event's row; returns its placeholder id."""
        self._events.append((values, key))
        return -(len(self._ids) + len(self._events))

    def update_event(self, event_id: int, data: dict[str, Any]) -> None:
        self._event_updates.append({"_id": event_id, "active": True, "data": data})

    def deactivate(self, event_ids: Iterable[int]) -> None:
        self._inactive.extend(event_ids)

    def event_id(self, pending: int) -> int:
        """The id of the event queued as `pending`, once flushed."""
        return self._ids[-pending - 1]

    def flush(self) -> None:
        conn = self.conn
        if self._articles:
            ids = _insert_ids(conn, articles, [values for values, _row in self._articles])
            for (_values, row), article_id in zip(self._articles, ids, strict=True):
                row.id = article_id
            self._articles = []
        if self._updates:
            conn.execute(_UPDATE_ARTICLE, self._updates)
            self._updates = []
        if self._event_updates:
            conn.execute(_UPDATE_EVENT, self._event_updates)
            self._event_updates = []
        if self._inactive:
            for chunk in chunked(self._inactive):
                conn.execute(_DEACTIVATE, {"ids": chunk})
            self._inactive = []
        if self._events:
            ids = _insert_ids(conn, events, [values for values, _key in self._events])
            for event_id, (_values, key) in zip(ids, self._events, strict=True):
                # What `_story_of` would read back from the row (see test_pipeline_pool).
                self.keys.put(event_id, key)
            self._ids += ids
            self._events = []
            self.candidates.renumber(self.event_id)


def _insert_ids(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the rows, a few statements for them all, and return their ids in row order.
    Both backends number rows in the order they go in, which is the order of the rows in
    the statement (PostgreSQL is told to keep it); the ids are those of one insert per row."""
    statement = _inserting(table, conn.dialect.name == "postgresql")
    return sorted(conn.execute(statement, rows).scalars())


@functools.cache
def _inserting(table: Table, ordered: bool) -> Insert:
    """The insert `_insert_ids` runs, built once per table and backend."""
    return insert(table).returning(table.c.id, sort_by_parameter_order=ordered)


def _queue(
    conn: Connection, saves: Sequence[ArticleSave], results: list[SaveResult]
) -> list[SaveResult]:
    """The results with the outbox rows their new events queued. Later reports of a story
    are queued too: delivery turns them into an "also reported by" edit of the chat's first
    alert, not a second alert."""
    wanted = [
        (new.id, save.targets.get(new.event.key, ()), save.now)
        for save, result in zip(saves, results, strict=True)
        for new in result.new_events
    ]
    counts = iter(enqueue_new(conn, wanted))
    return [  # (not dataclasses.replace: a tenth of the cost, for every article of a scan)
        SaveResult(result.article, result.new_events, sum(next(counts) for _ in result.new_events))
        for result in results
    ]


def _as_read(
    conn: Connection, drafts: Sequence[_Draft], results: Sequence[SaveResult]
) -> list[tuple[datetime, StoredArticle]]:
    """The saved articles as `ArticleReads` would read them back now, with their version,
    for the next publish (see `_remember_saved`); an article saved twice as its last save
    left it. Only where a read gives exactly these objects: SQLite hands back times as they
    were given (naive: UTC is kept here), and an event stored without a story reads
    differently (its story is its own uid)."""
    if conn.dialect.name != "sqlite":  # PostgreSQL's times come in its session's time zone
        return []
    last = {
        result.article.id: (draft, result) for draft, result in zip(drafts, results, strict=True)
    }
    firsts = first_reports(conn, {e.story_id for _d, r in last.values() for e in r.article.events})
    found: list[tuple[datetime, StoredArticle]] = []
    for draft, result in last.values():
        stored = result.article
        times = [stored.updated, stored.first_seen, *(e.created for e in stored.events)]
        if draft.storyless or any(t.utcoffset() != timedelta(0) for t in times):
            continue
        events = sorted(stored.events, key=lambda e: e.id)  # as read: in id order
        as_read = StoredArticle(  # (not dataclasses.replace: a tenth of the cost)
            stored.id,
            stored.uid,
            stored.article,
            stored.summary,
            stored.url,
            stored.first_seen.astimezone(UTC),
            stored.updated.astimezone(UTC),
            tuple(
                StoredEvent(
                    e.id,
                    e.uid,
                    e.article_id,
                    e.event,
                    e.created.astimezone(UTC),
                    e.story_id,
                    firsts.get(e.story_id, e.id) == e.id,
                )
                for e in events
            ),
        )
        found.append((as_read.updated.replace(tzinfo=None), as_read))  # as SQLite gives it
    return found


def _url(save: ArticleSave, uid: str) -> str:
    return save.url if isinstance(save.url, str) else save.url(uid)


def _data(article: Article, extraction: Extraction, url: str) -> dict[str, Any]:
    return {"article": article_to_dict(article), "summary": extraction.summary, "url": url}


def _base_uid(article: Article) -> str:
    return article.feed_id or article_uid(article)
