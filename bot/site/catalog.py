"""The feeds the site publishes: which there are, their URLs, their entries and their pages.

Stored articles become format-neutral entries, grouped into feeds and split into pages; `feeds`
renders them. Pure and deterministic: every date comes from the data, never the clock.

URLs, relative to `<base_url>feeds/` (FORMAT is `atom`, `rss` or `json`):

    articles.FORMAT               every article              events.FORMAT            every event
    events/type/TYPE.FORMAT       events of one type         actor/SLUG.FORMAT        events naming an actor
    category/SLUG.FORMAT          articles in a category     tag/SLUG.FORMAT          articles with a tag
    archive/NAME/N.FORMAT         RFC 5005 archive page N (1 = oldest) of feed NAME

A slug is the name in lower case with every run of characters other than letters, digits and
`_` replaced by one `-`; CJK characters are kept (percent-encoded in URLs). Names that give the
same slug ("Meta", "meta") share one feed.

One module (~500 lines): which feeds there are and which entries are in them are one mapping;
the bytes are rendered in feedxml, jsonfeed and pages.
"""

from __future__ import annotations

import html
import re
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Literal, Protocol
from urllib.parse import quote

from bot.core.config import SiteConfig
from bot.core.membership import (
    article_entry_id,
    article_feeds,
    event_entry_id,
    event_feeds,
    feed_time,
    slugify,
    type_feed,
)
from bot.core.messages import badge_parts
from bot.core.model import Amount, Event, StoredArticle, StoredEvent
from bot.core.text import strip_xml_invalid, xml_valid
from bot.site.markup import absolute_url

FeedFormat = Literal["atom", "rss", "json"]
FORMATS: tuple[FeedFormat, ...] = ("atom", "rss", "json")
MEDIA_TYPES: dict[str, str] = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
}
FORMAT_LABELS = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}
# Kept for callers that name the two main feeds.
FEED_PATHS: dict[str, str] = {
    f"{kind}.{fmt}": f"{kind}.{fmt}" for kind in ("articles", "events") for fmt in FORMATS
}
STYLESHEET = "feed.xsl"  # under the feeds folder; browsers render feeds through it
ICON = "icon.png"

# An empty feed still needs an `updated`; a fixed one keeps it byte-stable, and feed validators
# call a date before 1990 implausible.
EMPTY_FEED_UPDATED = datetime(2000, 1, 1, tzinfo=UTC)
EVENT_TYPE_SCHEME = "urn:eventfeed:event-type"
ACTOR_SCHEME = "urn:eventfeed:actor"

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class FeedSite:
    """The feed-level facts: where the site lives and what it calls itself."""

    base_url: str  # ends with "/"; feeds live at <base_url>feeds/<path>
    title: str
    description: str
    language: str
    icon: str | None = None  # None: the icon.png written beside the feeds
    hub: str | None = None  # WebSub hub declared with rel="hub"
    author: str | None = None  # the feeds' author; None: the title

    @classmethod
    def from_config(cls, site: SiteConfig, hub: str | None = None) -> FeedSite:
        return cls(
            site.base_url, site.title, site.description, site.language, hub=hub, author=site.author
        )

    @property
    def base(self) -> str:
        return self.base_url if self.base_url.endswith("/") else f"{self.base_url}/"

    @property
    def icon_url(self) -> str:
        return self.icon or f"{self.base}feeds/{ICON}"

    def feed_url(self, name: str, fmt: str) -> str:
        return f"{self.base}feeds/{quote(f'{name}.{fmt}')}"

    def topics(self, changed: Iterable[str]) -> list[str]:
        """The URLs of the current feeds among changed paths (what a WebSub hub is told)."""
        found = (path.rpartition(".") for path in changed if not path.startswith("archive/"))
        return [self.feed_url(name, fmt) for name, _, fmt in found if fmt in FORMATS]


@dataclass(frozen=True)
class Entry:
    """One feed entry, format-neutral. Strings may hold anything; renderers clean them."""

    id: str
    title: str
    link: str | None
    published: datetime
    updated: datetime
    author: str | None
    categories: tuple[tuple[str, str | None], ...]  # (term, scheme)
    summary: str
    content_html: str  # sanitised
    events: tuple[StoredEvent, ...]
    thumbnail: str | None = None
    language: str | None = None
    # Every string above is one XML can carry already (see `clean_strings`): the renderers
    # need not clean it, for each page and format that shows the entry. Not content.
    clean: bool = field(default=False, compare=False, repr=False)


def clean_strings(*texts: str | None) -> bool:
    """Whether each text is one `strip_xml_invalid` leaves as it is: whether they all are
    together (it looks at each character alone), one search instead of one a text."""
    return xml_valid("".join(text for text in texts if text))


# What finds an entry's rendering: its format, id and `updated` (cheap to hash, unlike the
# entry). Beside the bytes, a weak reference to the very entry they render: an entry is
# immutable, so the same object renders the same bytes, and the cache keeps no entry alive
# (the publisher's entry cache decides how long each lives).
FragmentKey = tuple[FeedFormat, str, datetime]
Fragment = tuple[weakref.ref[Entry], bytes]


class Fragments(Protocol):
    """Each entry as a format renders it, kept from one render to the next (`lru.Lru` is
    one): a page that gains an entry renders that entry, not the page's other 98 again."""

    def get(self, key: FragmentKey) -> Fragment | None: ...

    def put(self, key: FragmentKey, value: Fragment) -> None: ...


def kept_fragment(fragments: Fragments, fmt: FeedFormat, entry: Entry) -> bytes | None:
    """The entry's bytes in `fmt` if kept for this very entry."""
    found = fragments.get((fmt, entry.id, entry.updated))
    return found[1] if found is not None and found[0]() is entry else None


def keep_fragment(fragments: Fragments, fmt: FeedFormat, entry: Entry, data: bytes) -> None:
    fragments.put((fmt, entry.id, entry.updated), (weakref.ref(entry), data))


@dataclass(frozen=True)
class Feed:
    """One logical feed, published in every format: its entries, oldest first."""

    name: str  # path under feeds/ without extension, e.g. "events/type/acquisition"
    title: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Page:
    """One document of a feed: the current one (number None) or an archive page."""

    feed: Feed
    entries: tuple[Entry, ...]  # newest first
    number: int | None
    archive_pages: int
    self_url: str | None = None  # None: the feed's own URL for the format

    def url(self, site: FeedSite, fmt: str) -> str:
        if self.self_url is not None and self.number is None:
            return self.self_url
        return site.feed_url(self.name_for(self.number), fmt)

    def name_for(self, number: int | None) -> str:
        return self.feed.name if number is None else f"archive/{self.feed.name}/{number}"


@dataclass(frozen=True)
class FeedQuery:
    """RSSHub-style filters on a feed URL: ?limit=&type=&actor=&q=&script=hans|hant."""

    limit: int | None = None
    type: str | None = None
    actor: str | None = None
    q: str | None = None
    script: Literal["hans", "hant"] | None = None


# --- the catalog ---------------------------------------------------------------------------------


def build_feeds(
    site: FeedSite,
    articles: Sequence[StoredArticle],
    entry_of: Callable[[FeedSite, StoredArticle], Entry] | None = None,
    event_types: Iterable[str] = (),
) -> list[Feed]:
    """Every feed of the site, in a stable order; feeds without entries are left out
    (except the articles and events feeds and those of `event_types`, which always exist).
    `entry_of` may memoise
    `article_entry`, which sanitises the whole article. The whole site in memory: the daemon
    publishes from the store's feed index instead (see `publish`), with the same result."""
    make = entry_of or article_entry
    members: dict[str, dict[str, tuple[Entry, str]]] = {"articles": {}, "events": {}}
    for stored in articles:
        entry = make(site, stored)
        for name, label in article_feeds(stored.article):
            members.setdefault(name, {})[entry.id] = (entry, label)
    for stored, stored_event, also in _story_firsts(articles):
        entry = event_entry(site, stored, stored_event, also)
        for name, label in event_feeds(stored_event.event):
            members.setdefault(name, {})[entry.id] = (entry, label)
    empty = {name: label for name, (_size, label) in with_type_feeds({}, event_types).items()}
    for name in empty:
        members.setdefault(name, {})
    feeds = []
    for name in sorted(members, key=feed_order):
        labels = {entry.id: label for entry, label in members[name].values()}
        entries = _ordered(entry for entry, _ in members[name].values())
        label = labels[entries[0].id] if entries else empty.get(name, "")
        feeds.append(Feed(name, feed_title(site, name, label), entries))
    return feeds


def with_type_feeds(
    listing: Mapping[str, tuple[int, str]], event_types: Iterable[str]
) -> dict[str, tuple[int, str]]:
    """`listing` (name → (size, label)) with a feed for every known event type, empty until
    it has entries: a reader can subscribe to `/feeds/events/type/acquisition.atom` before
    the first acquisition."""
    found = dict(listing)
    for event_type in event_types:
        if slugify(event_type):
            found.setdefault(type_feed(event_type), (0, event_type))
    return found


def feed_title(site: FeedSite, name: str, label: str) -> str:
    """A feed's title; `label` is the name its oldest entry gives the actor, type or tag,
    so that appending entries never changes the title of a full archive page."""
    if name == "articles":
        return site.title or "articles"
    if name == "events":
        return f"{site.title} — events"
    if name.startswith("events/type/"):
        label = type_label(label, site.language)
    return f"{site.title} — {label}"


def type_label(event_type: str, language: str | None) -> str:
    """An event type as people read it ("Talent move", "人才流动"), as Telegram shows it."""
    return badge_parts(event_type, language or "en")[1]


_FEED_GROUPS = ("articles", "events", "events/type/", "actor/", "category/", "tag/")


def feed_order(name: str) -> tuple[int, str]:
    """The articles and events feeds, then types, actors, categories and tags by slug."""
    for index, prefix in enumerate(_FEED_GROUPS):
        if name == prefix or (prefix.endswith("/") and name.startswith(prefix)):
            return index, name
    return len(_FEED_GROUPS), name


def pages(feed: Feed, limit: int) -> list[Page]:
    """The current page (the newest entries) and the complete archive pages.

    Archive page N holds entries (N-1)*limit … N*limit-1 counted from the oldest, so a full page
    never changes while entries are only added; the current page holds the `limit` to
    2*limit-1 entries after them (all of them while there are fewer), so every entry is on
    exactly one page (RFC 5005) and a reader that never looks at archives (most do not) still
    sees the newest `limit` entries: one that polls less often than `limit` arrivals misses none.
    """
    limit = max(limit, 1)
    total = len(feed.entries)
    count = archive_count(total, limit)
    current = Page(feed, _newest_first(feed.entries[count * limit :]), None, count)
    archives = [
        Page(feed, _newest_first(feed.entries[(n - 1) * limit : n * limit]), n, count)
        for n in range(1, count + 1)
    ]
    return [current, *archives]


def archive_count(total: int, limit: int) -> int:
    """The archive pages of a feed of `total` entries: the full pages before the newest
    `limit` entries."""
    limit = max(limit, 1)
    return max(0, (total - limit) // limit)


MAX_QUERY_LIMIT = 1000


def query_page(
    feed: Feed,
    query: FeedQuery,
    limit: int,
    self_url: str,
    convert: Callable[[str], str] | None = None,
) -> Page:
    """A filtered current page: the newest entries matching the query, `query.limit` of them
    (default `limit`, at most MAX_QUERY_LIMIT). Archives are not linked: they are unfiltered."""
    return filtered_page(feed, reversed(feed.entries), query, limit, self_url, convert)


def filtered_page(
    feed: Feed,
    newest_first: Iterable[Entry],
    query: FeedQuery,
    limit: int,
    self_url: str,
    convert: Callable[[str], str] | None = None,
) -> Page:
    """`query_page` over entries given newest first, read only until the page is full."""
    size = limit if query.limit is None else max(1, min(query.limit, MAX_QUERY_LIMIT))
    chosen = list(islice((e for e in newest_first if _matches(e, query)), size))
    title = feed.title
    if convert is not None:
        script = {"hans": "zh-Hans", "hant": "zh-Hant"}.get(query.script or "")
        chosen = [_converted(e, convert, script) for e in chosen]
        title = convert(title)
    return Page(replace(feed, title=title), tuple(chosen), None, 0, self_url=self_url)


def find_feed(feeds: Iterable[Feed], name: str) -> Feed | None:
    return next((feed for feed in feeds if feed.name == name), None)


# --- entries -------------------------------------------------------------------------------------


def article_entry(site: FeedSite, stored: StoredArticle) -> Entry:
    article = stored.article
    link = safe_link(stored.url, site.base)
    terms = _unique((*article.categories, *article.tags))
    # Made only of escaped text and a few plain tags: already what the sanitiser would give
    # (test_feed_catalog holds them equal), and parsing it again was half a publish's work.
    content = _paragraphs_html(article.text) + _events_html(stored.events, article.lang)
    published = feed_time(article.published)
    entry_id = article_entry_id(stored.uid)
    title = article.title or article.slug or article.path
    thumbnail = safe_link(article.thumbnail, link or site.base)
    language = article.lang or None
    return Entry(
        id=entry_id,
        title=title,
        link=link,
        published=published,
        updated=article_updated(stored),
        author=article.author,
        categories=tuple((term, None) for term in terms),
        summary=stored.summary,
        content_html=content,
        events=stored.events,
        thumbnail=thumbnail,
        language=language,
        # The content is made of cleaned text (see `_paragraphs_html`, `_events_html`).
        clean=clean_strings(
            entry_id, title, link, article.author, *terms, stored.summary, thumbnail, language
        ),
    )


def _story_firsts(
    articles: Sequence[StoredArticle],
) -> list[tuple[StoredArticle, StoredEvent, tuple[StoredArticle, ...]]]:
    """One entry per story: its earliest report, with the other articles that reported it."""
    reports: dict[str, list[tuple[StoredArticle, StoredEvent]]] = {}
    for stored in articles:
        for stored_event in stored.events:
            story = stored_event.story_id or stored_event.uid
            reports.setdefault(story, []).append((stored, stored_event))
    firsts = []
    for found in reports.values():
        found.sort(key=lambda pair: pair[1].id)
        (stored, stored_event), later = found[0], found[1:]
        others = tuple(dict.fromkeys(s for s, _ in later if s.uid != stored.uid))
        firsts.append((stored, stored_event, others))
    return firsts


def event_entry(
    site: FeedSite,
    stored: StoredArticle,
    stored_event: StoredEvent,
    also: Sequence[StoredArticle] = (),
) -> Entry:
    event = stored_event.event
    link = safe_link(stored.url, site.base)
    headline = event.summary or event.evidence or stored.article.title
    terms = [(event.type, EVENT_TYPE_SCHEME)]
    terms += [(actor, ACTOR_SCHEME) for actor in _unique(event.actors)]
    published = feed_time(stored.article.published)
    # The article's own time, not the scan's (one scan stores many events at one instant); the
    # events of one article a second apart in their order, so that no two entries share it.
    order = next((n for n, s in enumerate(stored.events) if s.uid == stored_event.uid), 0)
    entry_id = event_entry_id(stored_event.uid)
    title = f"[{type_label(event.type, stored.article.lang)}] {headline}"
    # Built here from escaped text only, so there is nothing to sanitise.
    content = _event_detail_html(event, stored.article.lang, stored.article.title, link)
    content += _also_reported_html(site, also)
    language = stored.article.lang or None
    return Entry(
        id=entry_id,
        title=title,
        link=link,
        published=published,
        updated=published + timedelta(seconds=order),
        author=stored.article.author,
        categories=tuple(terms),
        summary=event.summary,
        content_html=content,
        events=(stored_event,),
        language=language,
        clean=clean_strings(
            entry_id,
            title,
            link,
            stored.article.author,
            *(term for term, _scheme in terms),
            event.summary,
            content,
            language,
        ),
    )


def article_updated(stored: StoredArticle) -> datetime:
    """When the article last changed as its readers see it: its own date, or the time an edit
    was found after it was first seen (never the time of the scan that first stored it)."""
    published = feed_time(stored.article.published)
    if stored.updated == stored.first_seen:
        return published
    return max(published, feed_time(stored.updated))


def _ordered(entries: Iterable[Entry]) -> tuple[Entry, ...]:
    """Oldest first by published: independent of the input order, stable for archives."""
    unique = {entry.id: entry for entry in entries}
    # Ties on `published` end up by ascending id once the page is reversed (newest first).
    by_id = sorted(unique.values(), key=lambda e: e.id, reverse=True)
    return tuple(sorted(by_id, key=lambda e: e.published))


def _newest_first(entries: Sequence[Entry]) -> tuple[Entry, ...]:
    return tuple(reversed(entries))


def _matches(entry: Entry, query: FeedQuery) -> bool:
    events = [s.event for s in entry.events]
    if query.type and not any(ev.type == query.type for ev in events):
        return False
    if query.actor:
        wanted = slugify(query.actor)
        if not any(slugify(actor) == wanted for ev in events for actor in ev.actors):
            return False
    if query.q:
        haystack = " ".join(
            (entry.title, entry.summary, entry.content_html, *(t for t, _ in entry.categories))
        ).casefold()
        if not all(word.casefold() in haystack for word in query.q.split()):
            return False
    return True


def _converted(entry: Entry, convert: Callable[[str], str], script: str | None) -> Entry:
    """The entry in the other Chinese script; its language says so (readers pick glyphs by it)."""
    chinese = (entry.language or "").startswith("zh")
    return replace(
        entry,
        language=script if script and chinese else entry.language,
        title=convert(entry.title),
        summary=convert(entry.summary),
        content_html=convert(entry.content_html),
        categories=tuple(
            (convert(t), s) if s != ACTOR_SCHEME else (t, s) for t, s in entry.categories
        ),
        author=convert(entry.author) if entry.author else entry.author,
        clean=False,  # converted: cleaned when rendered
    )


# --- HTML content --------------------------------------------------------------------------------


def _paragraphs_html(text: str) -> str:
    if xml_valid(text):
        # Escaping the whole text first is the same (it neither makes nor removes the
        # whitespace paragraphs are cut at and stripped of), and a tenth of the work.
        paragraphs = [q for p in _PARAGRAPH_BREAK.split(_h_text(text)) if (q := p.strip())]
        return f"<p>{'</p><p>'.join(paragraphs)}</p>".replace("\n", "<br>") if paragraphs else ""
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    return "".join(f"<p>{_text_html(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def _events_html(events: Sequence[StoredEvent], language: str) -> str:
    if not events:
        return ""
    # Every text of every event escaped in one pass (`_texts_html`): a few dozen short texts,
    # each a call or three when escaped alone, were a third of making an article's entry.
    facts = [_facts(s.event, language) for s in events]
    texts: list[str] = []
    for stored, found in zip(events, facts, strict=True):  # in the order they are written
        texts.append(stored.event.summary)
        texts.extend(text for fact in found for text in fact)
    escaped = iter(_texts_html(texts))
    items = []
    for found in facts:
        summary = next(escaped)
        pairs = [(next(escaped), next(escaped)) for _fact in found]
        label = pairs[0][1]  # the first fact is the type's
        rows = "".join(f"<dt>{key}</dt><dd>{value}</dd>" for key, value in pairs)
        items.append(f"<li><strong>[{label}]</strong> {summary}<dl>{rows}</dl></li>")
    return f"<h3>Events</h3><ul>{''.join(items)}</ul>"


def _event_detail_html(event: Event, language: str, article_title: str, link: str | None) -> str:
    facts = _facts_html(event, language, evidence=True)
    title = _h(article_title)
    source = f'<a href="{_h(link)}">{title}</a>' if link else title
    return f"<p>{_h(event.summary)}</p>{facts}<p>Article: {source}</p>"


def _also_reported_html(site: FeedSite, also: Sequence[StoredArticle]) -> str:
    if not also:
        return ""
    links = []
    for stored in also:
        link = safe_link(stored.url, site.base)
        title = _h(stored.article.title)
        links.append(f'<a href="{_h(link)}">{title}</a>' if link else title)
    return f"<p>Also reported by: {', '.join(links)}</p>"


def _facts_html(event: Event, language: str, evidence: bool = False) -> str:
    rows = "".join(
        f"<dt>{_h(key)}</dt><dd>{_h(value)}</dd>"
        for key, value in _facts(event, language, evidence)
    )
    return f"<dl>{rows}</dl>"


def _facts(event: Event, language: str, evidence: bool = False) -> list[tuple[str, str]]:
    """An event's facts as (name, value), its type first."""
    facts: list[tuple[str, str]] = [("Type", type_label(event.type, language))]
    if event.actors:
        facts.append(("Actors", ", ".join(event.actors)))
    if event.amount is not None:
        facts.append(("Amount", amount_text(event.amount)))
    if event.date:
        facts.append(("Date", event.date))
    facts.extend((key.capitalize(), value) for key, value in event.extra)
    if evidence and event.evidence:
        facts.append(("Evidence", event.evidence))
    return facts


def amount_text(amount: Amount) -> str:
    """The amount as written, with its USD value when known: '1亿美元 (US$100 million)'."""
    if amount.usd is None:
        return amount.text
    about = "≈ " if amount.approximate or amount.currency != "USD" else ""
    return f"{amount.text} ({about}{_usd(amount.usd)})"


def _usd(value: float) -> str:
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(value) >= size:
            number = f"{value / size:,.2f}".rstrip("0").rstrip(".")
            return f"US${number} {word}"
    return f"US${value:,.0f}"


# --- small pieces --------------------------------------------------------------------------------


def safe_link(url: str | None, base_url: str) -> str | None:
    """An absolute http(s) URL (relative ones resolved against `base_url`), or None."""
    if not url:
        return None
    found = absolute_url(url, base_url)
    return found if found and found.startswith(("http://", "https://")) else None


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _h_text(text: str) -> str:
    return html.escape(text, quote=False)


def _text_html(text: str) -> str:
    """Text as the tests' HTML sanitiser leaves it: characters XML forbids dropped, quotes
    as they are."""
    return html.escape(strip_xml_invalid(text), quote=False)


# Joins the texts `_texts_html` escapes together: a character XML carries and escaping keeps
# (a noncharacter: no text should hold one; one that does is escaped alone).
_TEXTS_JOINT = "\ufdd0"


def _texts_html(texts: Sequence[str]) -> list[str]:
    """`[_text_html(text) for text in texts]` in one pass over them all. Both of its steps
    change each character alone, never the joint, and make none: so the joined texts
    escaped are the escaped texts joined, unless a text held the joint (then more parts)."""
    parts = _text_html(_TEXTS_JOINT.join(texts)).split(_TEXTS_JOINT)
    if len(parts) != len(texts):
        return [_text_html(text) for text in texts]
    return parts
