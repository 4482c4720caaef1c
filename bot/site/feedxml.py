"""Atom 1.0 and RSS 2.0 documents: the one module that wraps feedgen.

feedgen's traps are handled here: it stamps `updated` with the wall clock (set from the data),
rejects naive datetimes, prepends entries by default, and fails the whole feed on one control
character (every string is cleaned). What feedgen cannot write — each entry's language, RFC 5005
archive links and WebSub hubs in RSS, the stylesheet — is added through feedgen's own extension
hooks. Every document passes the W3C Feed Validator with no warning (tests/test_feed_validator):
so only well-known namespaces; an entry's events are its categories (type and actors, each with
its scheme) and its content, and travel as data in JSON Feed's `_eventfeed`.
"""

from __future__ import annotations

import html
import importlib
from collections.abc import Sequence
from typing import Any, Literal

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from bot.core.text import strip_xml_invalid
from bot.site.catalog import (
    EMPTY_FEED_UPDATED,
    EVENT_TYPE_SCHEME,
    MEDIA_TYPES,
    STYLESHEET,
    Entry,
    FeedFormat,
    FeedSite,
    Fragments,
    Page,
    keep_fragment,
    kept_fragment,
    type_label,
)
from bot.site.markup import has_markup

ATOM_NS = "http://www.w3.org/2005/Atom"
HISTORY_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005
DC_NS = "http://purl.org/dc/elements/1.1/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_c = strip_xml_invalid
# feedgen's media extension, as load_extension finds it by name (importing it, as it does,
# needs lxml.etree imported first); it has no module of entry extensions.
_MEDIA = importlib.import_module("feedgen.ext.media")


XmlFormat = Literal["atom", "rss"]


def render(site: FeedSite, page: Page, fmt: XmlFormat) -> bytes:
    return render_both(site, page, (fmt,))[fmt]


def render_both(
    site: FeedSite,
    page: Page,
    formats: tuple[XmlFormat, ...] = ("atom", "rss"),
    fragments: Fragments | None = None,
) -> dict[FeedFormat, bytes]:
    """The page in each of `formats`: feedgen keeps an entry apart from the feed it is in,
    so each entry is built once for all of them (building entries is most of the work).
    With `fragments`, only the entries not in it are built; the others' bytes are spliced in
    (the same bytes: the entries are the last children of the feed, and pretty printing
    gives an element the same text at the same depth whatever its siblings)."""
    entries = page.entries
    kept: list[dict[XmlFormat, bytes | None]] = []
    if fragments is not None:  # entries are keyed by id(): hashing one hashes all its events
        kept = [{fmt: kept_fragment(fragments, fmt, e) for fmt in formats} for e in entries]
        missing = {id(e): e for e, k in zip(entries, kept, strict=True) if None in k.values()}
        entries = tuple(missing.values())
    generators = {fmt: _generator(site, page, fmt) for fmt in formats}
    first, *others = generators.values()
    for entry in entries:
        made = first.add_entry(order="append")
        _fill_entry(made, entry)
        for fg in others:
            fg.add_entry(made, order="append")
    out: dict[FeedFormat, bytes] = {}
    for fmt, fg in generators.items():
        body: bytes = fg.atom_str(pretty=True) if fmt == "atom" else fg.rss_str(pretty=True)
        if fragments is not None:
            body = _splice(body, fmt, entries, page.entries, [k[fmt] for k in kept], fragments)
        out[fmt] = _with_stylesheet(body, page.name_for(page.number))
    return out


_ENTRY_TAGS: dict[XmlFormat, tuple[bytes, bytes, bytes]] = {
    # The entry's opening and closing tags, and what ends the document after the entries
    # (a literal "<" in text or attributes is always escaped, so none of these is content).
    "atom": (b"  <entry", b"</entry>\n", b"</feed>\n"),
    "rss": (b"    <item>", b"</item>\n", b"  </channel>\n</rss>\n"),
}


def _splice(
    body: bytes,
    fmt: XmlFormat,
    made: Sequence[Entry],
    entries: Sequence[Entry],
    kept: Sequence[bytes | None],
    fragments: Fragments,
) -> bytes:
    """`body` (the feed with the `made` entries) with every entry of the page in order: the
    made ones cut out of it and kept in `fragments`, the others' `kept` bytes."""
    opening, closing, end = _ENTRY_TAGS[fmt]
    start = body.index(b"\n" + opening) + 1 if made else body.rindex(end)
    stop = body.rindex(closing) + len(closing) if made else start
    parts = body[start:stop].split(closing)
    if (
        len(parts) != len(made) + 1
        or parts[-1]
        or not all(p.startswith(opening) for p in parts[:-1])
    ):
        raise ValueError(f"feedgen wrote a {fmt} document of an unexpected shape")
    new: dict[int, bytes] = {}
    for entry, part in zip(made, parts, strict=False):
        new[id(entry)] = fragment = part + closing
        keep_fragment(fragments, fmt, entry, fragment)
    pieces = [new.get(id(e)) or k for e, k in zip(entries, kept, strict=True)]
    if None in pieces:  # cannot happen: each entry is kept or made
        raise ValueError("an entry went missing")
    return body[:start] + b"".join(p for p in pieces if p is not None) + body[stop:]


def _generator(site: FeedSite, page: Page, fmt: XmlFormat) -> FeedGenerator:
    """The feed without its entries."""
    base = site.base
    self_url = page.url(site, fmt)
    fg = FeedGenerator()
    # What load_extension registers, without its imports: the failed one of an entry module
    # is not cached (it searched sys.path for every page).
    fg.register_extension("media", _MEDIA.MediaExtension, _MEDIA.MediaEntryExtension)
    # dc:creator: RSS <author> demands an email
    fg.register_extension("dc", _DublinCore, _DublinCoreEntry, atom=False, rss=True)
    fg.register_extension("eventfeed", _FeedLinks, _AtomEntry)
    fg.id(_c(site.feed_url(page.feed.name, "atom")))
    title = _c(page.feed.title).strip() or page.feed.name
    fg.title(title)
    fg.description(_c(site.description).strip() or title)
    fg.language(_c(site.language))
    fg.generator("eventfeed")
    # Atom requires an author on every entry: the feed's stands in where an article has none.
    fg.author(name=_c(site.author or site.title).strip() or title)
    fg.icon(_c(site.icon_url))
    fg.logo(_c(site.icon_url))  # also the RSS <image>
    fg.link(href=_c(self_url), rel="self", type=MEDIA_TYPES[fmt])
    links: list[tuple[str, str]] = []
    if site.hub:
        links.append(("hub", _c(site.hub)))
    if page.number is None and page.archive_pages:
        links.append(("prev-archive", site.feed_url(page.name_for(page.archive_pages), fmt)))
    if page.number is not None:
        links.append(("current", site.feed_url(page.feed.name, fmt)))
        if page.number > 1:
            links.append(("prev-archive", site.feed_url(page.name_for(page.number - 1), fmt)))
        # The documents chain from the oldest to the current one, which follows the newest
        # archive page (a lone archive page has a neighbour, or validators call it incomplete).
        # A page gains its next page's link when that one fills; its entries never change.
        after = page.number + 1 if page.number < page.archive_pages else None
        links.append(("next-archive", site.feed_url(page.name_for(after), fmt)))
    extension: _FeedLinks = fg.eventfeed
    extension.links = links
    extension.archive = page.number is not None
    if fmt == "atom":
        for rel, href in links:
            fg.link(href=href, rel=rel)
    fg.link(href=_c(base), rel="alternate", type="text/html")  # last: feedgen's RSS <link>
    newest = max((e.updated for e in page.entries), default=EMPTY_FEED_UPDATED)
    fg.updated(newest)  # also lastBuildDate; feedgen would stamp the wall clock otherwise
    return fg


def _fill_entry(fe: Any, entry: Entry) -> None:
    c = _same if entry.clean else strip_xml_invalid  # a clean entry's text: as it is
    fe.id(c(entry.id))  # also the RSS guid, isPermaLink="false"
    fe.title(c(entry.title).strip() or c(entry.id))
    if entry.link:
        fe.link(href=c(entry.link), rel="alternate", type="text/html")
    fe.published(entry.published)  # also the RSS pubDate
    fe.updated(entry.updated)
    author = c(entry.author or "").strip()
    if author:
        fe.author(name=author)
    dublin_core: _DublinCoreEntry = fe.dc
    dublin_core.creator = author
    terms = [(c(term).strip(), scheme) for term, scheme in entry.categories]
    for term, scheme in dict.fromkeys(t for t in terms if t[0]):
        fe.category({"term": term, "scheme": scheme} if scheme else {"term": term})
    summary = c(entry.summary).strip()
    if summary:
        fe.summary(summary, type="html" if has_markup(summary) else "text")
    fe.content(c(entry.content_html), type="html")  # content:encoded in RSS
    if entry.thumbnail:
        fe.media.thumbnail(url=c(entry.thumbnail), group=None)  # no media:group wrapper
    atom: _AtomEntry = fe.eventfeed
    atom.language = c(entry.language or "")
    if entry.language:  # RSS; Atom gets xml:lang (see _AtomEntry)
        dublin_core.language = c(entry.language)


def _same(text: str) -> str:
    return text


def _with_stylesheet(body: bytes, name: str) -> bytes:
    """Browsers show the feed through feed.xsl; the href is relative, so it works on any host."""
    cut = body.find(b"\n") + 1  # after the declaration
    depth = name.count("/")
    href = html.escape("../" * depth + STYLESHEET, quote=True)
    instruction = f'<?xml-stylesheet type="text/xsl" href="{href}"?>'.encode()
    if not cut:  # one line
        return body + instruction + b"\n"
    view = memoryview(body)  # one copy of the document, not three (a page is up to ~0.5 MB)
    return b"".join((view[:cut], instruction, b"\n", view[cut:]))


class _FeedLinks(BaseExtension):  # type: ignore[misc]
    """RFC 5005 links and the WebSub hub for RSS (feedgen writes only rel=self there);
    `<fh:archive/>` on archive pages of both formats."""

    def __init__(self) -> None:
        self.links: list[tuple[str, str]] = []
        self.archive = False

    def extend_ns(self) -> dict[str, str]:
        return {"fh": HISTORY_NS}

    def extend_atom(self, feed: Any) -> Any:
        if self.archive:
            etree.SubElement(feed, f"{{{HISTORY_NS}}}archive")
        return feed

    def extend_rss(self, feed: Any) -> Any:
        channel = feed[0]
        for rel, href in self.links:
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", href=href, rel=rel)
        if self.archive:
            etree.SubElement(channel, f"{{{HISTORY_NS}}}archive")
        return feed


class _DublinCore(BaseExtension):  # type: ignore[misc]
    """What feedgen's dc extension writes for our feeds, and no more: the `dc` prefix, and an
    RSS item's dc:creator and dc:language (see `_DublinCoreEntry`). feedgen's looks up fifteen
    elements for every item of every page."""

    def extend_ns(self) -> dict[str, str]:
        return {"dc": DC_NS}

    def extend_atom(self, feed: Any) -> Any:
        return feed

    def extend_rss(self, feed: Any) -> Any:
        return feed


class _DublinCoreEntry(_DublinCore):
    """An RSS item's dc:creator (RSS <author> demands an email) and dc:language, in the order
    feedgen's dc extension writes them."""

    def __init__(self) -> None:
        self.creator = ""
        self.language = ""

    def extend_rss(self, item: Any) -> Any:
        for name, value in (("creator", self.creator), ("language", self.language)):
            if value:
                etree.SubElement(item, f"{{{DC_NS}}}{name}").text = value
        return item


class _AtomEntry(BaseEntryExtension):  # type: ignore[misc]
    """What only Atom can say of an entry (feedgen would write a category label into RSS's
    category text, where the type id must stay): its own `xml:lang` — readers pick CJK
    glyphs by it, and an English or traditional-Chinese entry must not inherit the feed's —
    and the event type's label, the type as people read it."""

    def __init__(self) -> None:
        self.language = ""

    def extend_atom(self, entry: Any) -> Any:
        if self.language:
            entry.set(XML_LANG, self.language)
        # feedgen makes its elements without a namespace; the feed's default one applies.
        for category in entry.iterfind(f"category[@scheme='{EVENT_TYPE_SCHEME}']"):
            category.set("label", _c(type_label(category.get("term", ""), self.language or None)))
        return entry
