"""Writes the feeds folder: only the files whose bytes changed, and removes the feeds that no
longer exist (an actor or a tag with no entries left), so a static host serves exactly the
current set.

One module (~410 lines): which pages a change touches, how they are read from the feed index,
and where they are rendered (here or in worker processes, by `pagefiles`) are one plan, each
step sized by the one before it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from bot.core.lru import Lru
from bot.core.membership import type_feed
from bot.runtime import heap, pool
from bot.runtime.files import atomic_write
from bot.runtime.pagefiles import PageTask, write_page
from bot.site.catalog import (
    FORMATS,
    Entry,
    Feed,
    FeedSite,
    Fragment,
    FragmentKey,
    Fragments,
    archive_count,
    article_entry,
    event_entry,
    feed_order,
    feed_title,
    with_type_feeds,
)
from bot.site.statics import static_documents
from bot.store import Store
from bot.store.feedindex import ALWAYS, FeedChange, FeedChanges, IndexRow, older
from bot.store.reads import FeedItem

log = logging.getLogger(__name__)

POOL_PAGES = 64  # pages a publish writes before it renders them in worker processes
WHOLE_FEED = 8  # pages of one feed from which a publish reads all the feed's rows at once
# The rows a publish reads at once of the feeds it writes every page of (most feeds of a
# first publish, and the small feeds a drop touches), a few feeds in one statement.
WHOLE_ROWS = 2000
# Entries (and articles) a publish of the whole site keeps in memory at most, some 10-20 kB
# each: every entry is then made once, not once per feed that lists it (a first publish of
# 10,000 articles peaks at about 0.65 GB, not 0.3 GB, and takes half the CPU time).
BIG_PUBLISH = 20_000
# Rendered entries kept between publishes (see `fragment_cache`): the current pages a drop
# touches again (the main feeds, its types and categories) hold some hundreds of entries,
# 1-3 kB each a format. Only those of entries the entry cache keeps alive are any use.
FRAGMENT_BYTES = 8 << 20
# The only suffixes we ever remove: nothing else someone keeps in the folder is touched.
_OURS = (".atom", ".rss", ".json")
# What the documents look like. A folder written by another layout (an upgrade) has every page
# written again at the first publish, archives included: a full archive page is otherwise never
# rewritten. 2: validator-clean (authors, xml:lang, next-archive, no ef: namespace); 3: the
# current page keeps max_entries to 2*max_entries-1 entries, archive pages renumbered.
LAYOUT = "3"
LAYOUT_FILE = ".eventfeed-layout"  # a dot file: never served as a feed, never removed as stale


def _remove_stale(folder: Path, keep: set[str]) -> list[str]:
    if not folder.is_dir():
        return []
    removed: list[str] = []
    _sweep(os.fspath(folder), "", keep, removed)
    return removed


def _sweep(path: str, prefix: str, keep: set[str], removed: list[str]) -> None:
    """Remove from the folder at `path` (`prefix` below the feeds folder), and the folders in
    it, what is neither kept nor someone's own, then the folders left empty. One listing of
    each folder with the types it gives: a whole publish lists thousands of files."""
    try:
        with os.scandir(path) as listing:
            entries = list(listing)
    except OSError:  # vanished or unreadable: nothing in it is listed
        return
    for entry in entries:
        name = entry.name
        if entry.is_dir(follow_symlinks=False):  # symlinks are someone's own: never followed
            _sweep(entry.path, f"{prefix}{name}/", keep, removed)
            with contextlib.suppress(OSError):  # not empty: kept
                os.rmdir(entry.path)
            continue
        if name.startswith(".") and _crash_leftover(Path(entry.path)):
            with contextlib.suppress(FileNotFoundError):  # one writer at a time: none is live
                os.unlink(entry.path)
            continue
        rel = prefix + name
        if not name.endswith(_OURS) or rel in keep or _hidden(rel):
            continue
        if entry.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(rel)


def _hidden(rel: str) -> bool:
    return rel.startswith(".") or "/." in rel


def _remove_leftovers(folder: Path) -> None:
    for path in folder.rglob(".*.tmp") if folder.is_dir() else ():
        if _crash_leftover(path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _crash_leftover(path: Path) -> bool:
    """atomic_write's temp file (".name.XXXX.tmp") for one of our feeds, left by a kill."""
    name = path.name
    if not (name.startswith(".") and name.endswith(".tmp")) or path.is_symlink():
        return False
    target = name[1:].rsplit(".", 2)[0]
    return PurePath(target).suffix in (*_OURS, ".xml", ".xsl", ".opml") and path.is_file()


# --- publishing from the store's feed index -------------------------------------------------


def fragment_cache(max_bytes: int = FRAGMENT_BYTES) -> Lru[FragmentKey, Fragment]:
    """Rendered entries, the most recently used first, `max_bytes` of them at most."""
    return Lru(max_bytes // 256, weigh=_fragment_weight, max_weight=max_bytes)


def _fragment_weight(kept: Fragment) -> int:
    return len(kept[1])


class EntryCache:
    """Recently made entries, by what they are made of: an article is in several feeds (its
    categories and tags) and on the current page of each for many publishes."""

    def __init__(self, size: int = 1024) -> None:
        self._entries: Lru[tuple[object, ...], Entry] = Lru(size)

    def holding(self, count: int) -> contextlib.AbstractContextManager[None]:
        """Keep up to `count` entries within the block (see `Lru.holding`)."""
        return self._entries.holding(count)

    def entry(self, site: FeedSite, item: FeedItem) -> Entry:
        key = _entry_key(site, item)
        found = self._entries.get(key)
        if found is None:
            found = _entry(site, item)
            self._entries.put(key, found)
        return found


def _entry_key(site: FeedSite, item: FeedItem) -> tuple[object, ...]:
    # Every save stamps its article's `updated`: ids and stamps name the content, and
    # are far cheaper to hash than the articles themselves.
    stored = item.stored
    return (
        site,
        stored.id,
        stored.updated,
        item.event.id if item.event is not None else None,
        tuple((also.id, also.updated) for also in item.also),
    )


def item_entry(site: FeedSite, item: FeedItem, cache: EntryCache) -> Entry:
    return cache.entry(site, item)


@dataclass
class Publisher:
    """Writes the feeds folder from the store's feed index: on each call only the pages the
    changes since the last call touched, so its cost follows the change, not the site."""

    folder: Path
    site: FeedSite
    store: Store
    limit: int
    cache: EntryCache = field(default_factory=EntryCache)
    # Each entry as each format renders it: a page that gains one entry renders one entry
    # (None: every page rendered whole, as a worker process does; the same bytes).
    fragments: Fragments | None = field(default_factory=lambda: fragment_cache())
    # The known event types (the rule pack's, which a reload may change): each has a feed,
    # written empty until it has entries.
    event_types: Callable[[], Collection[str]] = field(default=lambda: ())
    _type_feeds: frozenset[str] = field(default=frozenset(), init=False, repr=False)
    # The feeds read whole together (see `_plan`), and the rows read last (see `_page`).
    _together: dict[str, dict[str, int]] = field(default_factory=dict, init=False, repr=False)
    _whole: dict[str, list[IndexRow]] = field(default_factory=dict, init=False, repr=False)

    def publish(
        self, changes: FeedChanges, *, check: bool = False, everything: bool = False
    ) -> list[str]:
        """Write what `changes` touched; `check` also writes every feed's current page and the
        statics (a start: files a power loss left wrong are repaired), `everything` every
        page of every feed and removes what is not ours any more. Returns the changed paths."""
        layout = self.folder / LAYOUT_FILE
        if check and not everything:
            try:
                everything = layout.read_text(encoding="utf-8").strip() != LAYOUT
            except OSError:  # a folder from before the layout file, or a new one
                everything = True
        types = tuple(self.event_types())
        type_feeds = frozenset(type_feed(t) for t in types)
        with self.store.snapshot():
            listing = with_type_feeds(self.store.feed_list(), types)
            articles, events = listing["articles"][0], listing["events"][0]
            held = min(articles + events, BIG_PUBLISH)  # what it makes, at most: it shrinks after
            try:
                with self.cache.holding(held), self.store.remembering(min(articles, BIG_PUBLISH)):
                    changed = self._publish(listing, changes, check, everything, type_feeds)
            finally:
                self._together, self._whole = {}, {}
        if everything:
            atomic_write(layout, f"{LAYOUT}\n".encode(), durable=False)
        self._type_feeds = type_feeds
        return changed

    def _publish(
        self,
        listing: Mapping[str, tuple[int, str]],
        changes: FeedChanges,
        check: bool,
        everything: bool,
        type_feeds: frozenset[str],
    ) -> list[str]:
        changed: list[str] = []
        pages: list[PageTask] = []
        names = set(changes.feeds) | (set(listing) if (check or everything) else set())
        retyped = type_feeds != self._type_feeds  # a first publish, or a reload changed them
        names |= type_feeds ^ self._type_feeds
        limit = max(self.limit, 1)
        for name in sorted(names, key=feed_order):
            size, label = listing.get(name, (0, ""))
            change = changes.feeds.get(name)
            count = archive_count(size, limit)
            if size == 0 and name not in ALWAYS and name not in type_feeds:
                old_count = 0 if change is None else archive_count(change.old_size, limit)
                changed += self._remove(name, range(old_count + 1), include_current=True)
                continue
            title = feed_title(self.site, name, label)
            numbers = set(range(1, count + 1)) if everything else self._touched(name, size, change)
            written = [None, *sorted(n for n in numbers if n <= count)]
            pages += [PageTask(name, title, n, size, count, len(written)) for n in written]
            if change is not None:
                old_count = archive_count(change.old_size, limit)
                changed += self._remove(name, range(count + 1, old_count + 1))
        changed += self._write_pages(pages)
        if everything or check or changes.catalog or retyped:
            feeds = [
                Feed(name, feed_title(self.site, name, listing[name][1]), ())
                for name in sorted(listing, key=feed_order)
            ]
            for rel, data in static_documents(self.site, feeds).items():
                if atomic_write(self.folder / rel, data, durable=False):
                    changed.append(rel)
        if everything:
            changed += _remove_stale(self.folder, set(self._every_path(listing)))
        elif check:  # a start: the temp files of writes a kill cut short are nobody's now
            _remove_leftovers(self.folder)
        return sorted(set(changed))

    def _touched(self, name: str, size: int, change: FeedChange | None) -> set[int]:
        """The archive pages (1 = oldest) that hold an entry the change added, removed or
        changed: from the oldest added or removed entry on, every page shifts."""
        if change is None:
            return set()
        limit = max(self.limit, 1)
        # Pages that filled up since: archives now, though no entry of theirs changed; and the
        # page that was or is now the newest archive page: it gains or loses its next-archive.
        old_count, count = archive_count(change.old_size, limit), archive_count(size, limit)
        numbers = set(range(old_count + 1, count + 1))
        if old_count != count and min(old_count, count) > 0:
            numbers.add(min(old_count, count))
        if change.moved is not None:
            start = self.store.feed_position(name, change.moved, size)
            numbers |= set(range(start // limit + 1, size // limit + 2))
        for key in change.touched:
            if change.moved is None or older(key, change.moved):
                numbers.add(self.store.feed_position(name, key, size) // limit + 1)
        return numbers

    def _write_pages(self, pages: Sequence[PageTask]) -> list[str]:
        """Write the pages; many of them are rendered and written by worker processes
        meanwhile (rendering is most of a large publish, and needs no database). Entries are
        made here: they are cached for the next page that lists them, and an event's entry
        is a fraction of its article's size to send. A worker that dies costs nothing but
        time: its pages, and the rest, are written here."""
        self._plan(pages)
        processes = pool.workers()
        if len(pages) < POOL_PAGES or processes < 2:
            return [
                rel
                for task in pages
                for rel in write_page(self.site, self.folder, *self._page(task), self.fragments)
            ]
        changed: list[str] = []
        executor: ProcessPoolExecutor | None = pool.executor(processes, heap.keep_freed_memory)
        window: deque[tuple[PageTask, list[Entry], Future[list[str]]]] = deque()

        def collect(task: PageTask, entries: list[Entry], future: Future[list[str]]) -> list[str]:
            nonlocal executor
            try:
                return future.result()
            except (BrokenProcessPool, CancelledError):  # a worker died: the page is written here
                if executor is not None:
                    _broken(executor)
                    executor = None
                return write_page(self.site, self.folder, task, entries)

        try:
            for wanted in pages:
                task, entries = self._page(wanted)
                if executor is not None:
                    try:
                        future = executor.submit(write_page, self.site, self.folder, task, entries)
                        window.append((task, entries, future))
                    except BrokenProcessPool:
                        _broken(executor)
                        executor = None
                if executor is None:
                    changed += write_page(self.site, self.folder, task, entries)
                while len(window) > 8 * processes:  # pages differ: keep workers busy
                    changed += collect(*window.popleft())
            while window:
                changed += collect(*window.popleft())
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        return changed

    def _plan(self, pages: Sequence[PageTask]) -> None:
        """Which feeds `_page` reads whole: those it writes many pages of (see WHOLE_FEED),
        each alone, and those it writes every page of, a few feeds of WHOLE_ROWS rows in all
        together (a feed's pages are one run of `pages`: each group is read once)."""
        together: dict[str, dict[str, int]] = {}
        group: dict[str, int] = {}
        rows = 0
        for task in pages:
            name, every = task.name, task.written == task.count + 1
            if name in together or not (every or task.written >= WHOLE_FEED):
                continue
            if not every:  # some pages of a long feed
                together[name] = {name: task.size}
                continue
            if rows + task.size > WHOLE_ROWS:
                group, rows = {}, 0
            group[name] = task.size
            together[name] = group
            rows += task.size
        self._together, self._whole = together, {}

    def _page(self, task: PageTask) -> tuple[PageTask, list[Entry]]:
        """The task with its entries, in feed order."""
        limit, size = max(self.limit, 1), task.size
        start = (task.count if task.number is None else task.number - 1) * limit
        count = size - start if task.number is None else min(limit, size - start)
        together = self._together.get(task.name)
        if together is None:
            rows = self.store.feed_rows(task.name, start, count, size)
        else:  # one read for many pages, not a read skipping ever more rows for each
            if task.name not in self._whole:
                self._whole = self.store.whole_feeds(together)
            rows = self._whole[task.name][size - start - count : size - start]  # newest first
        return task, [self.cache.entry(self.site, item) for item in self.store.feed_items(rows)]

    def _remove(self, name: str, numbers: range, include_current: bool = False) -> list[str]:
        names = [f"archive/{name}/{n}" for n in numbers if n > 0]
        if include_current:
            names.append(name)
        removed = []
        for stem in names:
            for fmt in FORMATS:
                with contextlib.suppress(FileNotFoundError):
                    (self.folder / f"{stem}.{fmt}").unlink()
                    removed.append(f"{stem}.{fmt}")
        for stem in names:  # folders left empty go too, as a full write leaves none
            parent = (self.folder / stem).parent
            while parent != self.folder and parent.is_relative_to(self.folder):
                try:
                    parent.rmdir()
                except OSError:  # not empty, or gone already
                    break
                parent = parent.parent
        return removed

    def _every_path(self, listing: Mapping[str, tuple[int, str]]) -> Iterator[str]:
        limit = max(self.limit, 1)
        for name, (size, _label) in listing.items():
            for fmt in FORMATS:
                yield f"{name}.{fmt}"
                for n in range(1, archive_count(size, limit) + 1):
                    yield f"archive/{name}/{n}.{fmt}"


def _broken(executor: ProcessPoolExecutor) -> None:
    log.warning("a worker process died; rendering the rest of the publish in-process")
    executor.shutdown(wait=False, cancel_futures=True)


def _entry(site: FeedSite, item: FeedItem) -> Entry:
    if item.event is None:
        return article_entry(site, item.stored)
    return event_entry(site, item.stored, item.event, item.also)
