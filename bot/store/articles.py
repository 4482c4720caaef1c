"""Saving articles and their events: what the scan stores, in one transaction per batch, with
the alerts it queues. The parts of ArticleStore: filestates (what a scan compares), stories
(the story caches), reads (what the feeds read)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from bot.core.codec import article_from_dict, article_to_dict, event_to_dict
from bot.core.model import Article, Event, Extraction, StoredArticle, StoredEvent
from bot.core.stories import StoryKey, story_day, story_id
from bot.store.base import article_uid, aware, chunked, inserted_id
from bot.store.feedindex import published_rows
from bot.store.filestates import FileStateStore, free_uid
from bot.store.outbox import enqueue_all
from bot.store.reads import ArticleReads
from bot.store.schema import articles, events, flags
from bot.store.stories import StoryCandidates, StoryStore, read_story_keys, retold_row


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

    def _save_one(
        self,
        conn: Connection,
        save: ArticleSave,
        candidates: StoryCandidates,
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
                uid = free_uid(conn, uid)
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
            conn,
            article_id,
            uid,
            extraction.events,
            story_day(article),
            now,
            candidates,
            save.refined,
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
        for chunk in chunked(sorted(hashes)):
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
        if row is not None:  # not to be taken again in this batch
            gone.taken.add(row.id)
        return row

    def _free_uids(self, conn: Connection, uids: set[str]) -> set[str]:
        """Those of `uids` no article has."""
        taken: set[str] = set()
        for chunk in chunked(sorted(uids)):
            query = select(articles.c.uid).where(articles.c.uid.in_(chunk))
            taken.update(conn.execute(query).scalars())
        return uids - taken

    def _save_events(
        self,
        conn: Connection,
        article_id: int,
        article_uid: str,
        found: Iterable[Event],
        published: date | None,
        now: datetime,
        candidates: StoryCandidates,
        refined: bool = False,
    ) -> tuple[tuple[StoredEvent, ...], tuple[StoredEvent, ...]]:
        existing = {row.key: row for row in conn.execute(_EVENTS_OF, {"article_id": article_id})}
        # The events a refinement replaces, with their story keys (see `ArticleSave.refined`).
        replaced = (
            read_story_keys(conn, [row.id for row in existing.values() if row.story])
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


def _url(save: ArticleSave, uid: str) -> str:
    return save.url if isinstance(save.url, str) else save.url(uid)


def _data(article: Article, extraction: Extraction, url: str) -> dict[str, Any]:
    return {"article": article_to_dict(article), "summary": extraction.summary, "url": url}


def _base_uid(article: Article) -> str:
    return article.feed_id or article_uid(article)
