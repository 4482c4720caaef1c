"""The story caches of a save: the story keys of stored events, and the recent events of each
type a new event is compared with (so saving an article reads no article JSON again)."""

from __future__ import annotations

import functools
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.engine import Connection

from bot.core.codec import event_from_dict
from bot.core.stories import StoryKey, same_story
from bot.store.base import StoreBase, chunked
from bot.store.schema import articles, events

STORY_CANDIDATES = 500  # recent events of the same type compared with a new one


class StoryStore(StoreBase):
    """The story caches a save keeps between transactions, held by the store itself."""

    def _take_candidates(self) -> StoryCandidates:
        """The candidates the last transaction left (each type checked again before use), or
        new ones: a large scan stores a batch per transaction, and reading the newest events
        of each type again for every batch was a fifth of its storing."""
        with self._story_keys().lock:
            kept = self.__dict__.pop("_candidates_kept", None)
        if not isinstance(kept, StoryCandidates):
            return StoryCandidates(self._story_keys())
        kept.begin()
        return kept

    def _keep_candidates(self, candidates: StoryCandidates) -> None:
        with self._story_keys().lock:
            self.__dict__["_candidates_kept"] = candidates

    def warm_story_candidates(self, kinds: Iterable[str]) -> None:
        """Read the recent events of these types now (a daemon's first scan), not when the
        first new article of each type after a start is saved: reading and decoding a type's
        newest events took 50-100 ms at 100,000 articles, which that article's alert and
        feed waited for."""
        candidates = self._take_candidates()
        with self.engine.connect() as conn:
            candidates.warm(conn, kinds)
        self._keep_candidates(candidates)

    def _story_of(
        self,
        conn: Connection,
        article_id: int,
        key: StoryKey,
        candidates: StoryCandidates,
        flush: Callable[[], object] = lambda: None,
    ) -> str | None:
        """The story an earlier article's event of this kind already opened, if any
        (`flush`: writes the rows queued for the events table before a read of it)."""
        return candidates.match(conn, article_id, key, flush)

    def stored_story_keys(self, event_ids: Sequence[int]) -> dict[int, StoryKey]:
        """The story keys of stored events as read back from their rows."""
        with self.engine.connect() as conn:
            return read_story_keys(conn, event_ids)

    def _story_keys(self) -> StoryKeys:
        """Story keys of stored events, kept between saves: comparing a new event with the
        recent ones of its type then reads no article JSON (see `_save_events` for upkeep)."""
        found = self.__dict__.get("_story_key_memo")
        if found is None:
            found = self.__dict__.setdefault("_story_key_memo", StoryKeys())
        assert isinstance(found, StoryKeys)
        return found

    def _first_of(self, conn: Connection, story: str) -> int | None:
        return conn.execute(select(func.min(events.c.id)).where(events.c.story == story)).scalar()


class StoryKeys:
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


class StoryCandidates:
    """The recent events of each type, for one transaction: read once (with their story keys,
    from the store's memo), then kept up to date with the events it inserts, and indexed by
    actor, since events share a story only when they share an actor. A batch of articles
    then asks the database once per type, and compares a new event only with the recent
    ones that name one of its actors."""

    _SPARE = 64  # rows read beyond STORY_CANDIDATES: an edited article's own events

    def __init__(self, keys: StoryKeys) -> None:
        self._keys = keys
        self._types: dict[str, _TypeRows] = {}
        self._checked = False  # the types kept are known current in this transaction

    def begin(self) -> None:
        """A new transaction: rows read in an earlier one are checked before they are used."""
        self._checked = False

    def match(
        self,
        conn: Connection,
        article_id: int,
        key: StoryKey,
        flush: Callable[[], object] = lambda: None,
    ) -> str | None:
        """The story of the newest of the STORY_CANDIDATES newest events of this type (with a
        story, of other articles) that is the same story as `key`, if any. `flush` is called
        before the events table is read (rows queued for it go in first)."""
        if not self._checked:
            self._check(conn)
        found = self._types.get(key.type)
        if found is None:
            flush()
            found = self._types[key.type] = self._read(conn, key.type)
        rows = found.rows
        end = len(rows)
        while end and rows[end - 1][2] == article_id:  # its own events, just inserted
            end -= 1
        start = end - STORY_CANDIDATES
        if found.owned.get(article_id, 0) != len(rows) - end or (start < 0 and not found.complete):
            flush()
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

    def warm(self, conn: Connection, kinds: Iterable[str]) -> None:
        """Read the types not kept yet (the kept ones are checked first)."""
        if not self._checked:
            self._check(conn)
        for kind in kinds:
            if kind not in self._types:
                self._types[kind] = self._read(conn, kind)

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

    def renumber(self, real: Callable[[int], int]) -> None:
        """Put the ids of events added with a placeholder (a negative id: their rows were
        queued) now that they are in."""
        for found in self._types.values():
            rows = found.rows
            position = len(rows) - 1
            while position >= 0 and rows[position][0] < 0:  # (added last)
                event_id, story, article_id, key = rows[position]
                rows[position] = (real(event_id), story, article_id, key)
                position -= 1
            if found.newest is not None and found.newest < 0:
                found.newest = real(found.newest)

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

    def _check(self, conn: Connection) -> None:
        """Drop the types whose rows no longer end with the newest event of their type (one
        statement for them all): events are only ever added (an edit that changes them resets
        the candidates). Run at a transaction's first match, before it queues any event."""
        self._checked = True
        kinds = sorted(self._types)
        if not kinds:
            return
        params = {f"k{i}": kind for i, kind in enumerate(kinds)}
        found = conn.execute(_newest_of_types(len(kinds)), params).one()
        for kind, event_id in zip(kinds, found, strict=True):
            if event_id != self._types[kind].newest:
                del self._types[kind]

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
        for event_id, found in read_story_keys(conn, missing).items():
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


@functools.cache
def _newest_of_types(count: int) -> Select[Any]:
    """The newest event id (with a story) of each of `count` types bound as k0, k1, …: built
    once per count (building it cost more than running it)."""
    return select(
        *(
            select(events.c.id)
            .where(events.c.type == bindparam(f"k{i}"), events.c.story.is_not(None))
            .order_by(events.c.id.desc())
            .limit(1)
            .scalar_subquery()
            for i in range(count)
        )
    )


def read_story_keys(conn: Connection, event_ids: Sequence[int]) -> dict[int, StoryKey]:
    found: dict[int, StoryKey] = {}
    if not event_ids:
        return found
    article = articles.c.data["article"]
    for chunk in chunked(event_ids):
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


def retold_row(rows: Iterable[Any], keys: Mapping[int, StoryKey], new: StoryKey) -> Any:
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
