"""The feed index: which entries each feed holds, in feed order.

It is derived from the articles and events and kept in the same transaction as they are, so a
publish never loads the whole site: it asks which pages a change touched and reads only their
entries. The store also remembers, in memory, what changed since the last publish.

One module (~530 lines): keeping the index in step with a save and reading pages from it share
the rows' layout (feed, sort key, entry id) and the change log between publishes.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import TextClause, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.engine import Connection

from bot.core.codec import article_from_dict, event_from_dict
from bot.core.membership import (
    article_entry_id,
    article_feeds,
    entry_order,
    event_entry_id,
    event_feeds,
    feed_time,
)
from bot.core.model import Article, Event, StoredEvent
from bot.store.base import StoreBase, chunked, first_events
from bot.store.schema import articles, events, feed_entries, feeds

Key = tuple[int, str]  # (sort, entry id): a feed lists entries by sort, ties by id descending
# The `feeds` row that says the index covers every article (no feed has an empty name; a
# row in `flags` would travel with backups to another database).
BUILT = ""
ALWAYS = ("articles", "events")  # feeds that exist even when empty
_CHUNK = 500

# The statements a save's upkeep runs, built once (building one cost more than running it);
# `chunked` lists are bound as one expanding parameter.
_STORIES_OF = select(events.c.uid, events.c.story).where(
    events.c.article_id.in_(bindparam("ids", expanding=True))
)
_ROWS_OF_ARTICLES = select(feed_entries).where(
    feed_entries.c.article_id.in_(bindparam("ids", expanding=True))
)
_ROWS_OF_STORIES = select(feed_entries).where(
    feed_entries.c.story.in_(bindparam("stories", expanding=True))
)
_DELETE_ROWS = delete(feed_entries).where(
    feed_entries.c.feed == bindparam("f"), feed_entries.c.entry == bindparam("e")
)
_INSERT_ROWS = insert(feed_entries)
_FEEDS_NAMED = select(feeds.c.name, feeds.c.size, feeds.c.label).where(
    feeds.c.name.in_(bindparam("names", expanding=True))
)
_DELETE_FEEDS = delete(feeds).where(feeds.c.name.in_(bindparam("names", expanding=True)))
_INSERT_FEED = insert(feeds).values(
    name=bindparam("n"), size=bindparam("size"), label=bindparam("label")
)
_UPDATE_FEED = (
    update(feeds)
    .where(feeds.c.name == bindparam("n"))
    .values(size=bindparam("size"), label=bindparam("label"))
)
_WHOLE_FEEDS = (
    select(feed_entries)
    .where(feed_entries.c.feed.in_(bindparam("names", expanding=True)))
    .order_by(feed_entries.c.feed, feed_entries.c.sort.desc(), feed_entries.c.entry)
)
_ARTICLES_NAMED = select(articles.c.id, articles.c.uid, articles.c.data).where(
    articles.c.id.in_(bindparam("ids", expanding=True)), articles.c.status == "ok"
)
_EVENTS_NAMED = select(
    events.c.id, events.c.uid, events.c.article_id, events.c.data, events.c.story
).where(events.c.id.in_(bindparam("ids", expanding=True)))
_SORTS = select(feed_entries.c.article_id, feed_entries.c.sort).where(
    feed_entries.c.feed == "articles",
    feed_entries.c.article_id.in_(bindparam("ids", expanding=True)),
)
# A story is named by its first event's uid where the event has no story of its own.
_FIRST_OF_UIDS = (
    select(func.min(events.c.id), events.c.uid)
    .join(articles, articles.c.id == events.c.article_id)
    .where(
        events.c.active.is_(True),
        articles.c.status == "ok",
        events.c.story.is_(None),
        events.c.uid.in_(bindparam("uids", expanding=True)),
    )
    .group_by(events.c.uid)
)


def older(a: Key, b: Key) -> bool:
    """Whether `a` comes before `b` in a feed (oldest first)."""
    return a[0] < b[0] or (a[0] == b[0] and a[1] > b[1])


@dataclass(frozen=True, slots=True)
class IndexRow:
    feed: str
    entry: str
    sort: int
    article_id: int
    event_id: int | None  # None: an article entry
    story: str | None
    label: str

    @property
    def key(self) -> Key:
        return self.sort, self.entry


@dataclass
class FeedChange:
    """What happened to one feed since the last publish."""

    old_size: int  # before the first change
    moved: Key | None = None  # the oldest entry added or removed: the pages from it on shift
    touched: set[Key] = field(default_factory=set)  # entries that may read differently

    def merge(self, other: FeedChange) -> None:
        if other.moved is not None and (self.moved is None or older(other.moved, self.moved)):
            self.moved = other.moved
        self.touched |= other.touched


@dataclass
class FeedChanges:
    feeds: dict[str, FeedChange] = field(default_factory=dict)
    catalog: bool = False  # a feed appeared, went or was renamed: the OPML changes

    def merge(self, other: FeedChanges) -> None:
        for name, change in other.feeds.items():
            if name in self.feeds:
                self.feeds[name].merge(change)
            else:
                self.feeds[name] = change
        self.catalog |= other.catalog


class _Pending:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.changes = FeedChanges()


class FeedIndexStore(StoreBase):
    def _pending(self) -> _Pending:
        found = self.__dict__.get("_feed_pending")
        if found is None:
            found = self.__dict__.setdefault("_feed_pending", _Pending())
        assert isinstance(found, _Pending)
        return found

    def _note(self, changes: FeedChanges) -> None:
        """Called once the transaction that made `changes` has committed."""
        pending = self._pending()
        with pending.lock:
            pending.changes.merge(changes)

    def take_feed_changes(self) -> FeedChanges:
        """What changed in the feeds since the last call (made through this store)."""
        pending = self._pending()
        with pending.lock:
            found, pending.changes = pending.changes, FeedChanges()
        return found

    def return_feed_changes(self, changes: FeedChanges) -> None:
        """A publish failed: its changes wait for the next one."""
        self._note(changes)

    # -- keeping the index --------------------------------------------------------------

    def _reindex(
        self,
        conn: Connection,
        article_ids: Sequence[int],
        saved: Mapping[int, tuple[str, Article]] | None = None,
        new_events: Mapping[int, StoredEvent] | None = None,
    ) -> FeedChanges:
        """Derive again the entries of these articles and of every story they report
        (`saved`: id → uid and article of those just saved in the feeds, `new_events` the
        events they just added, by id: not read again).

        A few statements per call whatever the number of articles (a scan calls it once per
        batch): the cost of keeping the index follows the batch, not the feeds it touches."""
        ids = sorted(set(article_ids))
        stories: set[str] = set()
        for chunk in chunked(ids):
            stories |= {row.story or row.uid for row in conn.execute(_STORIES_OF, {"ids": chunk})}
        old: dict[tuple[str, str], IndexRow] = {}
        reads = [(_ROWS_OF_ARTICLES, {"ids": chunk}) for chunk in chunked(ids)]
        reads += [(_ROWS_OF_STORIES, {"stories": chunk}) for chunk in chunked(sorted(stories))]
        for query, params in reads:
            old |= {(r.feed, r.entry): IndexRow(*r) for r in conn.execute(query, params)}
        new_rows = self._article_rows(conn, ids, saved or {})
        sorts = {row.article_id: row.sort for row in new_rows if row.feed == "articles"}
        new_rows += self._story_rows(conn, sorted(stories), sorts, new_events or {}, old, set(ids))
        new = {(r.feed, r.entry): r for r in new_rows}
        changes = FeedChanges()
        gone: list[IndexRow] = []
        added: list[IndexRow] = []
        by_feed = changes.feeds
        for name, entry in old.keys() | new.keys():
            before, after = old.get((name, entry)), new.get((name, entry))
            sizes = by_feed.get(name)
            if sizes is None:  # (not made for every row: a backfill's batch has thousands)
                sizes = by_feed[name] = FeedChange(old_size=0)
            if before == after and after is not None:
                sizes.touched.add(after.key)
                continue
            for row, into in ((before, gone), (after, added)):
                if row is not None:
                    into.append(row)
                    key = row.key  # the oldest moved (as FeedChange.merge keeps it)
                    if sizes.moved is None or older(key, sizes.moved):
                        sizes.moved = key
        if gone:
            conn.execute(_DELETE_ROWS, [{"f": row.feed, "e": row.entry} for row in gone])
        if added:
            conn.execute(_INSERT_ROWS, [_values(row) for row in added])
        delta: dict[str, int] = {}
        for row in gone:
            delta[row.feed] = delta.get(row.feed, 0) - 1
        for row in added:
            delta[row.feed] = delta.get(row.feed, 0) + 1
        self._resize(conn, changes, delta)
        return changes

    def _resize(self, conn: Connection, changes: FeedChanges, delta: dict[str, int]) -> None:
        """Update the rows of the feeds `changes` names (sizes by `delta`, labels), setting
        each change's old size and whether the listing changed."""
        names = sorted(changes.feeds)
        rows: dict[str, Any] = {}
        for chunk in chunked(names):
            rows |= {row.name: row for row in conn.execute(_FEEDS_NAMED, {"names": chunk})}
        labels = _oldest_labels(conn, [n for n in names if changes.feeds[n].moved is not None])
        updates: list[dict[str, Any]] = []
        inserts: list[dict[str, Any]] = []
        deletes: list[str] = []
        for name in names:
            change, row = changes.feeds[name], rows.get(name)
            change.old_size = size = row.size if row is not None else 0
            if change.moved is None:
                continue
            label = labels.get(name)
            if label is None:
                if row is not None:
                    deletes.append(name)
                    changes.catalog = True
                continue
            values = {"n": name, "size": size + delta.get(name, 0), "label": label}
            if row is None:
                inserts.append(values)
                changes.catalog = True
            elif (row.size, row.label) != (values["size"], label):
                updates.append(values)
                changes.catalog |= row.label != label
        if deletes:
            conn.execute(_DELETE_FEEDS, {"names": deletes})
        if inserts:
            conn.execute(_INSERT_FEED, inserts)
        if updates:
            conn.execute(_UPDATE_FEED, updates)

    def _article_rows(
        self, conn: Connection, ids: Sequence[int], saved: Mapping[int, tuple[str, Article]]
    ) -> list[IndexRow]:
        found: list[IndexRow] = []
        for article_id in ids:
            if article_id in saved:
                uid, article = saved[article_id]
                found += _article_entries(article_id, uid, article)
        for chunk in chunked([article_id for article_id in ids if article_id not in saved]):
            rows = conn.execute(_ARTICLES_NAMED, {"ids": chunk})
            found += [row for one in rows for row in _article_index(one)]
        return found

    def _story_rows(
        self,
        conn: Connection,
        stories: Sequence[str],
        sorts: dict[int, int],
        new_events: Mapping[int, StoredEvent],
        old: Mapping[tuple[str, str], IndexRow],
        reindexed: set[int],
    ) -> list[IndexRow]:
        """The entries of stories: each its first report among the articles in the feeds.
        A first report that was one already (`old`: the stories' rows), of an article not
        `reindexed`, keeps its rows: what they are made of (the event, its article's date)
        changes only with its article."""
        first_ids = _first_reports(conn, stories)
        kept: dict[int, list[IndexRow]] = {}
        for row in old.values():
            if row.event_id in first_ids and row.article_id not in reindexed:
                kept.setdefault(row.event_id, []).append(row)
        rows: list[Any] = [
            _EventRow(e.id, e.uid, e.article_id, e.event, e.story_id)
            for event_id in sorted(first_ids & new_events.keys())
            for e in (new_events[event_id],)
        ]
        for chunk in chunked(sorted(first_ids - new_events.keys() - kept.keys())):
            rows += [
                _EventRow(r.id, r.uid, r.article_id, event_from_dict(r.data), r.story)
                for r in conn.execute(_EVENTS_NAMED, {"ids": chunk})
            ]
        missing = sorted({row.article_id for row in rows} - sorts.keys())
        sorts = dict(sorts)
        for chunk in chunked(missing):
            sorts |= {row.article_id: row.sort for row in conn.execute(_SORTS, {"ids": chunk})}
        made = [found for row in rows for found in _event_index(row, sorts[row.article_id])]
        return made + [row for same in kept.values() for row in same]

    def ensure_feed_index(self) -> bool:
        """Build the index if this database has none yet (it predates the index, or was
        restored); True when it was built, and every feed must then be written again."""
        with self.engine.connect() as conn:
            if conn.execute(select(feeds.c.name).where(feeds.c.name == BUILT)).first():
                return False
        self.rebuild_feed_index()
        return True

    def rebuild_feed_index(self) -> None:
        """The whole index from the articles and events, a chunk of rows at a time."""
        with self.engine.begin() as conn:
            conn.execute(delete(feed_entries))
            conn.execute(delete(feeds))
            sizes: dict[str, list[Any]] = {}  # name → [size, oldest key, its label]
            sorts: dict[int, int] = {}
            for chunk in chunked(published_rows(conn)):
                rows = [row for found in chunk for row in _article_index(found)]
                sorts |= {row.article_id: row.sort for row in rows if row.feed == "articles"}
                _insert(conn, rows, sizes)
            story = func.coalesce(events.c.story, events.c.uid)
            firsts = conn.execute(
                select(func.min(events.c.id))
                .join(articles, articles.c.id == events.c.article_id)
                .where(events.c.active.is_(True), articles.c.status == "ok")
                .group_by(story)
            ).scalars()
            for ids in chunked(sorted(firsts)):
                query = select(
                    events.c.id, events.c.uid, events.c.article_id, events.c.data, events.c.story
                ).where(events.c.id.in_(ids))
                rows = [
                    row
                    for r in conn.execute(query)
                    for row in _event_index(
                        _EventRow(r.id, r.uid, r.article_id, event_from_dict(r.data), r.story),
                        sorts[r.article_id],
                    )
                ]
                _insert(conn, rows, sizes)
            if sizes:
                conn.execute(
                    insert(feeds),
                    [{"name": n, "size": s[0], "label": s[2]} for n, s in sizes.items()],
                )
            conn.execute(insert(feeds).values(name=BUILT, size=0, label="the index is built"))
        self.take_feed_changes()  # every feed is written again anyway

    # -- reading it ---------------------------------------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Within the block, this thread's reads of the index and the articles see one state
        of the database, though a scan goes on writing: a publish renders every page from
        the same state, and the next publish renders what changed after it."""
        local = self._local()
        with self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN")  # pysqlite would not begin before a SELECT
            else:
                conn.execution_options(isolation_level="REPEATABLE READ")
            local.conn = conn
            local.versions = {}  # article id → `updated`, as this state has it (see reads)
            local.reports = {}  # story → the articles reporting it, as this state has it
            try:
                yield
            finally:
                local.conn = local.versions = local.reports = None
                conn.rollback()

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """The snapshot's connection, else a new one."""
        found = getattr(self._local(), "conn", None)
        if isinstance(found, Connection):
            yield found
            return
        with self.engine.connect() as conn:
            yield conn

    def _local(self) -> threading.local:
        found = self.__dict__.get("_feed_local")
        if found is None:
            found = self.__dict__.setdefault("_feed_local", threading.local())
        assert isinstance(found, threading.local)
        return found

    def feed_list(self) -> dict[str, tuple[int, str]]:
        """Every feed with entries: name → (size, label of its oldest entry)."""
        with self._reading() as conn:
            found = {
                row.name: (row.size, row.label)
                for row in conn.execute(select(feeds).where(feeds.c.name != BUILT))
            }
        for name in ALWAYS:
            found.setdefault(name, (0, ""))
        return found

    def feed_rows(self, name: str, start: int, count: int, size: int) -> list[IndexRow]:
        """`count` entries from position `start` (0 = the oldest) of a feed of `size`
        entries, newest first."""
        order = feed_entries.c.sort, feed_entries.c.entry
        query = select(feed_entries).where(feed_entries.c.feed == name).limit(count)
        from_newest = size - start - count
        if from_newest <= start:  # page from the cheaper end
            query = query.order_by(order[0].desc(), order[1]).offset(max(from_newest, 0))
            if from_newest < 0:
                query = query.limit(count + from_newest)
            with self._reading() as conn:
                return [IndexRow(*r) for r in conn.execute(query)]
        query = query.order_by(order[0], order[1].desc()).offset(start)
        with self._reading() as conn:
            return [IndexRow(*r) for r in conn.execute(query)][::-1]

    def whole_feeds(self, sizes: Mapping[str, int]) -> dict[str, list[IndexRow]]:
        """Each feed's rows (name → its size), newest first: `feed_rows(name, 0, size, size)`
        of each, one statement for them all (a statement a feed of a page or two was a
        quarter of the reading of a first publish)."""
        found: dict[str, list[IndexRow]] = {name: [] for name in sizes}
        with self._reading() as conn:
            for chunk in chunked(sorted(sizes)):
                for r in conn.execute(_WHOLE_FEEDS, {"names": chunk}):
                    found[r.feed].append(IndexRow(*r))
        return {name: rows[: sizes[name]] for name, rows in found.items()}

    def feed_position(self, name: str, key: Key, size: int) -> int:
        """How many entries of the feed come before `key` (which may be gone)."""
        sort, entry = key
        c = feed_entries.c
        with self._reading() as conn:
            newer = conn.execute(
                select(func.count())
                .select_from(feed_entries)
                .where(
                    c.feed == name,
                    c.sort >= sort,  # a range of the index: cheap for recent entries
                    or_(c.sort > sort, c.entry <= entry),
                )
            ).scalar_one()
        return max(size - newer, 0)

    def newest_first(self, name: str, size: int, chunk: int = 200) -> Iterator[list[IndexRow]]:
        """The feed's rows, newest first, `chunk` at a time (for filtered feeds)."""
        for start in range(0, size, chunk):
            yield self.feed_rows(name, max(size - start - chunk, 0), min(chunk, size - start), size)


def _first_reports(conn: Connection, stories: Sequence[str]) -> set[int]:
    """The first active event (of an article in the feeds) of each story, by id."""
    found = first_events(conn, stories, shown=True)
    rest = [story for story in stories if story not in found]  # (see _FIRST_OF_UIDS)
    for chunk in chunked(rest):
        found |= {uid: first for first, uid in conn.execute(_FIRST_OF_UIDS, {"uids": chunk})}
    return set(found.values())


def _oldest_labels(conn: Connection, names: Sequence[str]) -> dict[str, str]:
    """name → the label of the feed's oldest entry, for the feeds that have entries: one
    statement for them all, an indexed lookup each (a batch of a backfill names new feeds
    by the dozen)."""
    found: dict[str, str] = {}
    for chunk in chunked(names):
        # Padded to a multiple of 50 (the last name again): a few statements to compile.
        padded = chunk + chunk[-1:] * (-len(chunk) % 50)
        params = {f"n{i}": name for i, name in enumerate(padded)}
        rows = conn.execute(_oldest_labels_sql(len(padded)), params)
        found |= {name: label for name, label in rows if label is not None}
    return found


@functools.cache
def _oldest_labels_sql(count: int) -> TextClause:
    # Written out, as `base.first_events` is: SQLAlchemy caches no statement built on VALUES.
    rows = ", ".join(f"(:n{i})" for i in range(count))
    return text(
        f"WITH wanted(name) AS (VALUES {rows}) "
        "SELECT wanted.name, (SELECT feed_entries.label FROM feed_entries "
        "WHERE feed_entries.feed = wanted.name "
        "ORDER BY feed_entries.sort, feed_entries.entry DESC LIMIT 1) FROM wanted"
    )


def published_rows(conn: Connection) -> Iterator[Any]:
    """(id, uid, data) of every article in the feeds, a chunk at a time."""
    last = 0
    while True:
        rows = conn.execute(
            select(articles.c.id, articles.c.uid, articles.c.data)
            .where(articles.c.status == "ok", articles.c.id > last)
            .order_by(articles.c.id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def _article_index(row: Any) -> Iterator[IndexRow]:
    return _article_entries(row.id, row.uid, article_from_dict(row.data["article"]))


def _article_entries(article_id: int, uid: str, article: Article) -> Iterator[IndexRow]:
    sort, entry = entry_order(feed_time(article.published), article_entry_id(uid))
    for name, label in article_feeds(article):
        yield IndexRow(name, entry, sort, article_id, None, None, label)


@dataclass(frozen=True, slots=True)
class _EventRow:
    id: int
    uid: str
    article_id: int
    event: Event
    story: str | None


def _event_index(row: _EventRow, sort: int) -> Iterator[IndexRow]:
    event = row.event
    entry = event_entry_id(row.uid)
    for name, label in event_feeds(event):
        yield IndexRow(name, entry, sort, row.article_id, row.id, row.story or row.uid, label)


def _values(row: IndexRow) -> dict[str, Any]:
    return {
        "feed": row.feed,
        "entry": row.entry,
        "sort": row.sort,
        "article_id": row.article_id,
        "event_id": row.event_id,
        "story": row.story,
        "label": row.label,
    }


def _insert(conn: Connection, rows: list[IndexRow], sizes: dict[str, list[Any]]) -> None:
    if rows:
        conn.execute(insert(feed_entries), [_values(row) for row in rows])
    for row in rows:
        found = sizes.get(row.feed)
        if found is None:
            sizes[row.feed] = [1, row.key, row.label]
            continue
        found[0] += 1
        if older(row.key, found[1]):
            found[1], found[2] = row.key, row.label
