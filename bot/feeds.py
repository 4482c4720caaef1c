"""Feed rendering: stored articles and their events → Atom and RSS bytes.

The one module that wraps feedgen. Pure and deterministic: every date comes from the data (never
the clock), so an unchanged input renders to byte-identical output and readers see no phantom
updates.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import quote, urljoin, urlsplit

from feedgen.feed import FeedGenerator

from bot.config import SiteConfig
from bot.model import Amount, Event, StoredArticle, StoredEvent

FeedFormat = Literal["atom", "rss"]
FeedKind = Literal["articles", "events"]

# Relative paths under the feeds folder, by feed name; the web server serves them as /feeds/<path>.
FEED_PATHS: dict[str, str] = {
    "articles.atom": "articles.atom",
    "articles.rss": "articles.rss",
    "events.atom": "events.atom",
    "events.rss": "events.rss",
}

# An empty feed still needs an `updated`; a fixed one keeps it byte-stable.
EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)

_MIME = {"atom": "application/atom+xml", "rss": "application/rss+xml"}
_EVENT_TYPE_SCHEME = "urn:eventfeed:event-type"
_ACTOR_SCHEME = "urn:eventfeed:actor"

# What XML 1.0 cannot carry; lxml refuses the whole document if one of these slips through.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class FeedSite:
    """The feed-level facts: where the site lives and what it calls itself."""

    base_url: str  # ends with "/"; feeds live at <base_url>feeds/<path>
    title: str
    description: str
    language: str

    @classmethod
    def from_config(cls, site: SiteConfig) -> FeedSite:
        return cls(site.base_url, site.title, site.description, site.language)


@dataclass(frozen=True)
class _Entry:
    """One feed entry, format-neutral; strings are cleaned when handed to feedgen."""

    id: str
    title: str
    link: str | None
    published: datetime
    updated: datetime
    author: str | None
    categories: tuple[tuple[str, str | None], ...]  # (term, scheme)
    summary: str
    content_html: str
    thumbnail: str | None = None


def render_articles_feed(
    site: FeedSite, articles: Sequence[StoredArticle], fmt: FeedFormat, limit: int
) -> bytes:
    """One entry per article, newest first, at most `limit`."""
    entries = [_article_entry(site, stored) for stored in articles]
    return _render(site, "articles", fmt, _newest(entries, limit))


def render_events_feed(
    site: FeedSite, articles: Sequence[StoredArticle], fmt: FeedFormat, limit: int
) -> bytes:
    """One entry per stored event of the given articles, newest article first, at most `limit`."""
    entries = [_event_entry(site, stored, ev) for stored in articles for ev in stored.events]
    return _render(site, "events", fmt, _newest(entries, limit))


def render_all(site: FeedSite, articles: Sequence[StoredArticle], limit: int) -> dict[str, bytes]:
    """Every feed the daemon publishes, by path relative to the feeds folder."""
    return {
        FEED_PATHS["articles.atom"]: render_articles_feed(site, articles, "atom", limit),
        FEED_PATHS["articles.rss"]: render_articles_feed(site, articles, "rss", limit),
        FEED_PATHS["events.atom"]: render_events_feed(site, articles, "atom", limit),
        FEED_PATHS["events.rss"]: render_events_feed(site, articles, "rss", limit),
    }


def clean_text(text: str) -> str:
    """Drop the characters XML cannot carry, so one bad byte never fails a whole feed."""
    return _NOT_XML.sub("", text)


def safe_link(url: str | None, base_url: str) -> str | None:
    """An absolute http(s) URL (relative ones resolved against the site), or None."""
    if not url:
        return None
    absolute = urljoin(base_url, clean_text(url).strip())
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return absolute


# --- entries -------------------------------------------------------------------------------------


def _article_entry(site: FeedSite, stored: StoredArticle) -> _Entry:
    article = stored.article
    terms = _unique((*article.categories, *article.tags))
    return _Entry(
        id=f"urn:eventfeed:article:{_uri_part(stored.uid)}",
        title=article.title or article.slug or article.path,
        link=safe_link(stored.url, _base(site)),
        published=_aware(article.published),
        updated=_aware(stored.updated),
        author=article.author,
        categories=tuple((term, None) for term in terms),
        summary=stored.summary,
        content_html=_paragraphs_html(article.text) + _events_html(stored.events),
        thumbnail=safe_link(article.thumbnail, _base(site)),
    )


def _event_entry(site: FeedSite, stored: StoredArticle, stored_event: StoredEvent) -> _Entry:
    event = stored_event.event
    link = safe_link(stored.url, _base(site))
    headline = event.summary or event.evidence or stored.article.title
    terms = [(event.type, _EVENT_TYPE_SCHEME)]
    terms += [(actor, _ACTOR_SCHEME) for actor in _unique(event.actors)]
    return _Entry(
        id=f"urn:eventfeed:event:{_uri_part(stored_event.uid)}",
        title=f"[{event.type}] {headline}",
        link=link,
        published=_aware(stored.article.published),
        # `created` is stable: an edit elsewhere in the article does not re-announce the event.
        updated=_aware(stored_event.created),
        author=stored.article.author,
        categories=tuple(terms),
        summary=event.summary,
        content_html=_event_detail_html(event, stored.article.title, link),
    )


def _newest(entries: Iterable[_Entry], limit: int) -> list[_Entry]:
    """Newest published first, ties by id, so the order never depends on the input order."""
    by_id = sorted(entries, key=lambda e: e.id)
    return sorted(by_id, key=lambda e: e.published, reverse=True)[: max(limit, 0)]


# --- HTML content --------------------------------------------------------------------------------


def _paragraphs_html(text: str) -> str:
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    return "".join(f"<p>{_h(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def _events_html(events: Sequence[StoredEvent]) -> str:
    if not events:
        return ""
    items = "".join(
        f"<li><strong>[{_h(s.event.type)}]</strong> {_h(s.event.summary)}"
        f"{_facts_html(s.event)}</li>"
        for s in events
    )
    return f"<h3>Events</h3><ul>{items}</ul>"


def _event_detail_html(event: Event, article_title: str, link: str | None) -> str:
    facts = _facts_html(event, evidence=True)
    title = _h(article_title)
    source = f'<a href="{_h(link)}">{title}</a>' if link else title
    return f"<p>{_h(event.summary)}</p>{facts}<p>Article: {source}</p>"


def _facts_html(event: Event, evidence: bool = False) -> str:
    facts: list[tuple[str, str]] = [("Type", event.type)]
    if event.actors:
        facts.append(("Actors", ", ".join(event.actors)))
    if event.amount is not None:
        facts.append(("Amount", _amount_text(event.amount)))
    if event.date:
        facts.append(("Date", event.date))
    facts.extend((key.capitalize(), value) for key, value in event.extra)
    if evidence and event.evidence:
        facts.append(("Evidence", event.evidence))
    rows = "".join(f"<dt>{_h(key)}</dt><dd>{_h(value)}</dd>" for key, value in facts)
    return f"<dl>{rows}</dl>"


def _amount_text(amount: Amount) -> str:
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


# --- feedgen -------------------------------------------------------------------------------------


def _render(site: FeedSite, kind: FeedKind, fmt: FeedFormat, entries: Sequence[_Entry]) -> bytes:
    base = _base(site)
    c = clean_text
    self_url = f"{base}feeds/{FEED_PATHS[f'{kind}.{fmt}']}"
    title = c(site.title) if kind == "articles" else c(f"{site.title} — events")
    fg = FeedGenerator()
    fg.load_extension("media")
    fg.load_extension("dc", atom=False, rss=True)  # dc:creator: RSS <author> demands an email
    fg.id(c(f"{base}feeds/{kind}.atom"))
    fg.title(title or kind)
    fg.description(c(site.description) or title or kind)
    fg.language(c(site.language))
    fg.generator("eventfeed")
    fg.link(href=c(self_url), rel="self", type=_MIME[fmt])
    fg.link(href=c(base), rel="alternate", type="text/html")  # last: feedgen's RSS <link>
    newest = max((e.updated for e in entries), default=EMPTY_FEED_UPDATED)
    fg.updated(newest)  # also lastBuildDate; feedgen would stamp the wall clock otherwise
    for entry in entries:
        _add_entry(fg, entry)
    rendered: bytes = fg.atom_str(pretty=True) if fmt == "atom" else fg.rss_str(pretty=True)
    return rendered


def _add_entry(fg: FeedGenerator, entry: _Entry) -> None:
    c = clean_text
    fe = fg.add_entry(order="append")
    fe.id(c(entry.id))  # also the RSS guid, isPermaLink="false"
    fe.title(c(entry.title) or c(entry.id))
    if entry.link:
        fe.link(href=c(entry.link), rel="alternate")
    fe.published(entry.published)  # also the RSS pubDate
    fe.updated(entry.updated)
    if entry.author and c(entry.author).strip():
        fe.author(name=c(entry.author).strip())
        fe.dc.dc_creator(c(entry.author).strip())
    terms = [(c(term).strip(), scheme) for term, scheme in entry.categories]
    for term, scheme in dict.fromkeys(t for t in terms if t[0]):
        fe.category({"term": term, "scheme": scheme} if scheme else {"term": term})
    if c(entry.summary).strip():
        fe.summary(c(entry.summary).strip())
    fe.content(c(entry.content_html), type="html")
    if entry.thumbnail:
        fe.media.thumbnail(url=c(entry.thumbnail), group=None)  # no media:group wrapper


# --- small pieces --------------------------------------------------------------------------------


def _base(site: FeedSite) -> str:
    return site.base_url if site.base_url.endswith("/") else f"{site.base_url}/"


def _aware(moment: datetime) -> datetime:
    """feedgen rejects naive datetimes, and RFC 3339 has no seconds in offsets."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    offset = moment.utcoffset()
    if offset is not None and offset.seconds % 60:
        return moment.astimezone(UTC)
    return moment


def _uri_part(uid: str) -> str:
    return quote(clean_text(uid), safe="-._~:@!$&'()*+,;=")


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _h(text: str) -> str:
    return html.escape(text, quote=True)
