"""The store-backed `SiteSource` the web server shows: home page data, article pages and
filtered feeds. Everything is read from the store's feed index a page at a time, never the
whole site: a request costs the same with a hundred articles or a hundred thousand.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, tzinfo
from itertools import islice

from bot.core.filters import event_type
from bot.core.text import to_simplified, to_traditional
from bot.extract import RulePack
from bot.runtime.publish import EntryCache, item_entry
from bot.site.catalog import (
    Entry,
    Feed,
    FeedQuery,
    FeedSite,
    feed_order,
    feed_title,
    filtered_page,
    with_type_feeds,
)
from bot.site.pages import HomePage, bar_end, chart_bars, render_article
from bot.site.render import FeedFormat, render_page
from bot.store import Store

_FORMATS: dict[str, FeedFormat] = {"atom": "atom", "rss": "rss", "json": "json"}
# A filtered feed searches this many of its feed's newest entries at most: a `?q=` matching
# nothing read all 3,000 articles (0.3-0.5 s each request). The type and actor feeds hold the
# older ones.
SEARCHED = 1000
_TYPES = "events/type/"


class SiteView:
    """Caches the list of feeds until `invalidate` (called after every publish)."""

    def __init__(
        self,
        store: Store,
        site: FeedSite,
        limit: int,
        timezone: tzinfo,
        clock: Callable[[], datetime],
        latest: int = 30,
        days: int = 28,
        searched: int = SEARCHED,
        pack: Callable[[], RulePack] | None = None,
    ) -> None:
        self.store = store
        self.site = site
        self.base_url = site.base
        self.limit = limit
        self.timezone = timezone
        self.clock = clock
        self.latest = latest
        self.days = days
        self.searched = searched
        # The current rule pack (None: only the types and names the feeds show): its event
        # types each have a feed, and URL filters resolve types and aliases with it as
        # Telegram's filters do.
        self.pack = pack
        self._types: tuple[str, ...] = ()  # those the kept list of feeds was made with
        self._feeds: dict[str, tuple[int, str]] | None = None  # name → (size, title)
        self._lock = threading.Lock()
        self._cache = EntryCache(256)
        # The home page as last made (its day is `last_day`): its counts read half a large state.
        self._home_page: HomePage | None = None
        self._changes = 0  # invalidations so far: a page made across one is not kept

    def invalidate(self) -> None:
        """The store changed (a publish, or another instance's): read it again when asked."""
        with self._lock:
            self._feeds = None
            self._home_page = None
            self._changes += 1

    def feeds(self) -> dict[str, tuple[int, str]]:
        """Every feed: name → (entries, title), in the site's order."""
        types = self._event_types()
        with self._lock:
            if self._feeds is None or types != self._types:
                listing = with_type_feeds(self.store.feed_list(), types)
                self._types = types
                self._feeds = {
                    name: (listing[name][0], feed_title(self.site, name, listing[name][1]))
                    for name in sorted(listing, key=feed_order)
                }
            return self._feeds

    def _event_types(self) -> tuple[str, ...]:
        return () if self.pack is None else tuple(self.pack().event_types)

    def resolve(self, query: FeedQuery) -> FeedQuery | str:
        """The query with its type and actor as the events name them (`?type=Acquisition`,
        `?actor=微软` → Microsoft), or what is wrong: an unknown type is a 400."""
        found = query.type
        if query.type is not None:
            types = self._event_types() or tuple(  # type ids are their own slugs
                name.removeprefix(_TYPES) for name in self.feeds() if name.startswith(_TYPES)
            )
            found = event_type(query.type, types)
            if found is None:
                known = ", ".join(sorted(types))
                return f"unknown event type {query.type!r}; the known ones are: {known}"
        actor = query.actor
        if actor is not None and self.pack is not None:
            actor = self.pack().canonical(actor) or actor
        return replace(query, type=found, actor=actor)

    async def home(self) -> HomePage:
        return await asyncio.to_thread(self._home)

    def _home(self) -> HomePage:
        today = self.clock().astimezone(self.timezone).date()
        with self._lock:
            kept, changes = self._home_page, self._changes
        if kept is not None and kept.last_day == today:
            return kept
        made = self._make_home(today)
        with self._lock:
            if self._changes == changes:
                self._home_page = made
        return made

    def _make_home(self, today: date) -> HomePage:
        recent = self.store.recent_events(self.latest)
        span = self.store.event_span()
        unit, bars = "day", list[date]()
        if span is not None:
            oldest, newest = (moment.astimezone(self.timezone).date() for moment in span)
            unit, bars = chart_bars(oldest, newest, today, self.days)
        bounds = [
            (start, _midnight(start, self.timezone), _midnight(bar_end(start, unit), self.timezone))
            for start in bars
        ]
        listing = self.store.feed_list()
        return HomePage(
            title=self.site.title,
            description=self.site.description,
            base_url=self.base_url,
            feeds=tuple((name, listing.get(name, (0, ""))[1]) for name in self.feeds()),
            events=tuple(recent),
            counts=tuple(self.store.event_counts(bounds)),
            last_day=today,
            days=self.days,
            unit=unit,
            bars=tuple(bars),
            language=self.site.language or "en",
            timezone=self.timezone,
        )

    async def article(self, uid: str | None, stem: str | None) -> str | None:
        stored = await asyncio.to_thread(self.store.find_article, uid=uid, stem=stem)
        if stored is None:
            return None
        return render_article(self.site.title, self.base_url, stored, self.timezone)

    async def query_feed(
        self, name: str, fmt: str, query: FeedQuery, self_url: str
    ) -> bytes | None:
        return await asyncio.to_thread(self._query_feed, name, fmt, query, self_url)

    def _query_feed(self, name: str, fmt: str, query: FeedQuery, self_url: str) -> bytes | None:
        found = self.feeds().get(name)
        if found is None or fmt not in _FORMATS:
            return None
        size, title = found
        convert = {"hans": to_simplified, "hant": to_traditional}.get(query.script or "")
        feed = Feed(name, title, ())
        entries = islice(self._entries(name, size), self.searched)
        page = filtered_page(feed, entries, query, self.limit, self_url, convert)
        return render_page(self.site, page, _FORMATS[fmt])

    def _entries(self, name: str, size: int) -> Iterator[Entry]:
        """The feed's entries newest first, read from the store a chunk at a time."""
        for rows in self.store.newest_first(name, size):
            for item in self.store.feed_items(rows):
                yield item_entry(self.site, item, self._cache)


def _midnight(day: date, timezone: tzinfo) -> datetime:
    """The instant the day starts in the site's time zone, in UTC (as the store keeps dates)."""
    return datetime.combine(day, datetime.min.time(), timezone).astimezone(UTC)
