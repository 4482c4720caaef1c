"""Feed rendering: the site's feeds (see `catalog`) → Atom, RSS and JSON Feed bytes.

The entry point the pipeline and the web server use. Pure and deterministic: an unchanged input
renders to byte-identical output, so readers see no phantom updates and files are not rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from bot.core.model import StoredArticle
from bot.site import feedxml, jsonfeed
from bot.site.catalog import (
    EMPTY_FEED_UPDATED,
    FEED_PATHS,
    FORMATS,
    MEDIA_TYPES,
    Entry,
    Feed,
    FeedFormat,
    FeedQuery,
    FeedSite,
    Fragments,
    Page,
    article_entry,
    build_feeds,
    find_feed,
    pages,
    query_page,
    safe_link,
)

__all__ = [
    "EMPTY_FEED_UPDATED",
    "FEED_PATHS",
    "FORMATS",
    "MEDIA_TYPES",
    "Entry",
    "Feed",
    "FeedFormat",
    "FeedQuery",
    "FeedSite",
    "Fragments",
    "Page",
    "RenderCache",
    "build_feeds",
    "find_feed",
    "render_all",
    "render_articles_feed",
    "render_documents",
    "render_events_feed",
    "render_page",
    "render_query",
    "safe_link",
]


def render_page(site: FeedSite, page: Page, fmt: FeedFormat) -> bytes:
    """One document in one format."""
    if fmt == "json":
        return jsonfeed.render(site, page)
    return feedxml.render(site, page, fmt)


def render_documents(
    site: FeedSite, page: Page, fragments: Fragments | None = None
) -> dict[FeedFormat, bytes]:
    """The page in every format, each entry built once for Atom and RSS; with `fragments`,
    only the entries not rendered before (the same bytes either way)."""
    return {
        **feedxml.render_both(site, page, fragments=fragments),
        "json": jsonfeed.render(site, page, fragments=fragments),
    }


class RenderCache:
    """What the previous `render_all` made, so the next one renders only what changed: an
    unchanged article is not sanitised again, an unchanged page (a full archive page, the feed
    of an actor the edit did not touch) is not rendered again. Entries unused by a call are
    dropped, so it never outgrows the site."""

    def __init__(self) -> None:
        self.entries: dict[tuple[FeedSite, StoredArticle], Entry] = {}
        self.documents: dict[tuple[object, ...], bytes] = {}
        self._entries: dict[tuple[FeedSite, StoredArticle], Entry] = {}
        self._documents: dict[tuple[object, ...], bytes] = {}

    def entry(self, site: FeedSite, stored: StoredArticle) -> Entry:
        key = (site, stored)
        found = self.entries.get(key) or article_entry(site, stored)
        self._entries[key] = found
        return found

    def document(self, site: FeedSite, page: Page, fmt: FeedFormat) -> bytes:
        feed = page.feed
        key = (site, fmt, feed.name, feed.title, page.number, page.archive_pages, page.entries)
        found = self.documents.get(key) or render_page(site, page, fmt)
        self._documents[key] = found
        return found

    def rotate(self) -> None:
        self.entries, self._entries = self._entries, {}
        self.documents, self._documents = self._documents, {}


def render_all(
    site: FeedSite,
    articles: Sequence[StoredArticle],
    limit: int,
    cache: RenderCache | None = None,
    event_types: Iterable[str] = (),
) -> dict[str, bytes]:
    """Every document the site publishes (current pages and archives, every format), by path
    relative to the feeds folder; `event_types` have feeds even when empty."""
    cache = cache or RenderCache()
    out: dict[str, bytes] = {}
    for feed in build_feeds(site, articles, cache.entry, event_types):
        for page in pages(feed, limit):
            for fmt in FORMATS:
                out[f"{page.name_for(page.number)}.{fmt}"] = cache.document(site, page, fmt)
    cache.rotate()
    return out


def render_articles_feed(
    site: FeedSite, articles: Sequence[StoredArticle], fmt: FeedFormat, limit: int
) -> bytes:
    """The current page of the articles feed."""
    return render_page(site, pages(build_feeds(site, articles)[0], limit)[0], fmt)


def render_events_feed(
    site: FeedSite, articles: Sequence[StoredArticle], fmt: FeedFormat, limit: int
) -> bytes:
    """The current page of the events feed."""
    return render_page(site, pages(build_feeds(site, articles)[1], limit)[0], fmt)


def render_query(
    site: FeedSite,
    feed: Feed,
    fmt: FeedFormat,
    query: FeedQuery,
    limit: int,
    self_url: str,
    convert: Callable[[str], str] | None = None,
) -> bytes:
    """The feed filtered by an RSSHub-style query, served at `self_url`."""
    return render_page(site, query_page(feed, query, limit, self_url, convert), fmt)
