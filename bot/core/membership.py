"""Which feeds an entry is in, its id and its place there.

Shared by the site, which renders the feeds, and the store, whose feed index keeps the same
membership in SQL: one definition, so the two never disagree on what a feed holds.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from bot.core.model import Article, Event
from bot.core.text import strip_xml_invalid, to_simplified

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # entry_order's origin: the store's feed index keeps it
_SLUG_BREAK = re.compile(r"[\W]+")


def slugify(name: str) -> str:
    """A stable, URL-safe (once percent-encoded) file name for an actor, category or tag.
    Chinese is folded to simplified first: 分類資訊 and 分类资讯 are one feed (its label
    stays as the entry wrote it)."""
    folded = to_simplified(unicodedata.normalize("NFKC", strip_xml_invalid(name))).casefold()
    return _SLUG_BREAK.sub("-", folded).strip("-")[:80].strip("-")


def article_feeds(article: Article) -> list[tuple[str, str]]:
    """The feeds an article entry is in, each with the name it is known by there."""
    found = {"articles": ""}
    for prefix, names in (("category", article.categories), ("tag", article.tags)):
        for name in names:
            slug = slugify(name)
            if slug:
                found.setdefault(f"{prefix}/{slug}", name)
    return list(found.items())


def type_feed(event_type: str) -> str:
    """The name of an event type's feed."""
    return f"events/type/{slugify(event_type)}"


def event_feeds(event: Event) -> list[tuple[str, str]]:
    """The feeds the entry of a story's first event is in, each with the name it is known by."""
    found = {"events": ""}
    if slugify(event.type):
        found[type_feed(event.type)] = event.type
    for actor in event.actors:
        slug = slugify(actor)
        if slug:
            found.setdefault(f"actor/{slug}", actor)
    return list(found.items())


def entry_order(published: datetime, entry_id: str) -> tuple[int, str]:
    """(microseconds since the epoch, id): feeds list entries oldest first by the first,
    ties by the second descending. The store's feed index keeps both."""
    return (published - _EPOCH) // timedelta(microseconds=1), entry_id


def feed_time(moment: datetime) -> datetime:
    """`moment` as a feed can carry it: feedgen rejects naive datetimes, and RFC 3339 has no
    seconds in offsets. (The store's `aware` only labels its naive UTC values.)"""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    offset = moment.utcoffset()
    if offset is not None and offset.seconds % 60:
        return moment.astimezone(UTC)
    return moment.replace(microsecond=0)


def article_entry_id(uid: str) -> str:
    """The entry id of an article: a URN of its stable uid, the same in every feed."""
    return f"urn:eventfeed:article:{_uri_part(uid)}"


def event_entry_id(uid: str) -> str:
    return f"urn:eventfeed:event:{_uri_part(uid)}"


def _uri_part(uid: str) -> str:
    return quote(strip_xml_invalid(uid), safe="-._~:@!$&'()*+,;=")
