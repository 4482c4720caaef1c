"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1), written with the standard library.

feedgen has no JSON Feed. Dates are RFC 3339, ids are the same strings as in Atom and RSS, the
events travel in the `_eventfeed` extension object, and archive pages chain through `next_url`
(JSON Feed's pagination: older items).
"""

from __future__ import annotations

import json
from typing import Any

from bot.core.membership import event_entry_id
from bot.core.model import StoredEvent
from bot.core.text import strip_xml_invalid
from bot.site.catalog import Entry, FeedSite, Fragments, Page, keep_fragment, kept_fragment

VERSION = "https://jsonfeed.org/version/1.1"


def render(
    site: FeedSite, page: Page, fmt: str = "json", fragments: Fragments | None = None
) -> bytes:
    """The page; with `fragments`, each item's JSON is kept there and reused (the same bytes:
    the items are the document's last member and the compact encoder adds no whitespace)."""
    title = strip_xml_invalid(page.feed.title).strip() or page.feed.name
    doc: dict[str, Any] = {
        "version": VERSION,
        "title": title,
        "home_page_url": site.base,
        "feed_url": strip_xml_invalid(page.url(site, "json")),
        "description": strip_xml_invalid(site.description),
        "icon": strip_xml_invalid(site.icon_url),
        "favicon": strip_xml_invalid(site.icon_url),
        "language": strip_xml_invalid(site.language),
        # As in Atom: the feed's author stands in for items whose article names none.
        "authors": [{"name": strip_xml_invalid(site.author or site.title).strip() or title}],
    }
    older = _older_page(page)
    if older is not None:
        doc["next_url"] = site.feed_url(page.name_for(older), "json")
    if site.hub:
        doc["hubs"] = [{"type": "WebSub", "url": strip_xml_invalid(site.hub)}]
    if page.number is not None:
        doc["_eventfeed"] = {"archive": True, "current": site.feed_url(page.feed.name, "json")}
    if fragments is None:
        doc["items"] = [_item(entry) for entry in page.entries]
        return (_dumps(doc) + "\n").encode("utf-8")
    items: list[bytes] = []
    for entry in page.entries:
        found = kept_fragment(fragments, "json", entry)
        if found is None:
            found = _dumps(_item(entry)).encode("utf-8")
            keep_fragment(fragments, "json", entry, found)
        items.append(found)
    head = _dumps(doc).encode("utf-8")  # `items` comes last: it is spliced in before the "}"
    return head[:-1] + b',"items":[' + b",".join(items) + b"]}\n"


def _dumps(value: object) -> str:
    # Compact: the C encoder is an order of magnitude faster than the indenting one.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _older_page(page: Page) -> int | None:
    if page.number is None:
        return page.archive_pages or None
    return page.number - 1 or None


def _item(entry: Entry) -> dict[str, Any]:
    c = _same if entry.clean else strip_xml_invalid  # a clean entry's text: as it is
    item: dict[str, Any] = {"id": c(entry.id)}
    if entry.link:
        item["url"] = c(entry.link)
    item["title"] = c(entry.title).strip() or c(entry.id)
    item["content_html"] = c(entry.content_html)
    summary = c(entry.summary).strip()
    if summary:
        item["summary"] = summary
    if entry.thumbnail:
        item["image"] = c(entry.thumbnail)
    item["date_published"] = entry.published.isoformat()
    item["date_modified"] = entry.updated.isoformat()
    author = c(entry.author or "").strip()
    if author:
        item["authors"] = [{"name": author}]
    tags = list(dict.fromkeys(c(term).strip() for term, _ in entry.categories if c(term).strip()))
    if tags:
        item["tags"] = tags
    if entry.language:
        item["language"] = c(entry.language)
    if entry.events:
        item["_eventfeed"] = {"events": [_event(stored) for stored in entry.events]}
    return item


def _same(text: str) -> str:
    return text


def _event(stored: StoredEvent) -> dict[str, Any]:
    c = strip_xml_invalid
    event = stored.event
    out: dict[str, Any] = {
        "id": c(event_entry_id(stored.uid)),
        "type": c(event.type),
        "summary": c(event.summary),
        "actors": [c(a) for a in dict.fromkeys(event.actors)],
    }
    if event.date:
        out["date"] = c(event.date)
    if event.amount is not None:
        out["amount"] = {
            "text": c(event.amount.text),
            "value": event.amount.value,
            "currency": c(event.amount.currency),
            "usd": event.amount.usd,
        }
    return out
