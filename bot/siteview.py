"""The store-backed `SiteSource` the web server shows: home page data, article pages and
filtered feeds. Feeds are built from the store once per change, not once per request.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo

from bot.catalog import Feed, FeedQuery, FeedSite, build_feeds, find_feed
from bot.feeds import FeedFormat, render_query
from bot.pages import HomePage, render_article
from bot.store import Store
from bot.text import to_simplified, to_traditional

_FORMATS: dict[str, FeedFormat] = {"atom": "atom", "rss": "rss", "json": "json"}


class SiteView:
    """Caches the feed catalog until `invalidate` (called after every scan that changed it)."""

    def __init__(
        self,
        store: Store,
        site: FeedSite,
        limit: int,
        timezone: tzinfo,
        clock: Callable[[], datetime],
        latest: int = 30,
        days: int = 28,
    ) -> None:
        self.store = store
        self.site = site
        self.base_url = site.base
        self.limit = limit
        self.timezone = timezone
        self.clock = clock
        self.latest = latest
        self.days = days
        self._feeds: list[Feed] | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._feeds = None

    def feeds(self) -> list[Feed]:
        with self._lock:
            if self._feeds is None:
                self._feeds = build_feeds(self.site, self.store.published_articles())
            return self._feeds

    async def home(self) -> HomePage:
        return await asyncio.to_thread(self._home)

    def _home(self) -> HomePage:
        today = self.clock().astimezone(self.timezone).date()
        since = datetime.combine(
            today - timedelta(days=self.days), datetime.min.time(), self.timezone
        )
        recent = self.store.recent_events(self.latest)
        window = self.store.recent_events(10_000, since=since)
        counts: dict[tuple[date, str], int] = {}
        for stored, stored_event in window:
            day = stored.article.published.astimezone(self.timezone).date()
            key = (day, stored_event.event.type)
            counts[key] = counts.get(key, 0) + 1
        return HomePage(
            title=self.site.title,
            description=self.site.description,
            base_url=self.base_url,
            feeds=tuple((feed.name, feed.title) for feed in self.feeds()),
            events=tuple(recent),
            counts=tuple((day, kind, n) for (day, kind), n in sorted(counts.items())),
            last_day=today,
            days=self.days,
        )

    async def article(self, uid: str | None, stem: str | None) -> str | None:
        stored = await asyncio.to_thread(self.store.find_article, uid=uid, stem=stem)
        if stored is None:
            return None
        return render_article(self.site.title, self.base_url, stored)

    async def query_feed(
        self, name: str, fmt: str, query: FeedQuery, self_url: str
    ) -> bytes | None:
        return await asyncio.to_thread(self._query_feed, name, fmt, query, self_url)

    def _query_feed(self, name: str, fmt: str, query: FeedQuery, self_url: str) -> bytes | None:
        feed = find_feed(self.feeds(), name)
        if feed is None or fmt not in _FORMATS:
            return None
        convert = {"hans": to_simplified, "hant": to_traditional}.get(query.script or "")
        return render_query(self.site, feed, _FORMATS[fmt], query, self.limit, self_url, convert)
