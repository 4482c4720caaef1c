"""The data that flows one way through eventfeed: file → Article → Event → feed entry | message.

Every type here is a frozen dataclass with no behaviour that touches the outside world.
"""

from __future__ import annotations

import dataclasses
import hashlib
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

EVENT_TYPES: tuple[str, ...] = (
    "talent_move",
    "compensation",
    "acquisition",
    "funding",
    "product_launch",
    "market_move",
    "legal_regulatory",
    "partnership",
    "other",
)


def fields_reduce(obj: Any) -> tuple[Any, tuple[Any, ...]]:
    """How pickle remakes a frozen dataclass (pool.py sends articles, extractions and the rule
    pack between processes): its class called with its fields. Compiled by mypyc, the default
    way sets the attributes one by one, which a frozen class refuses."""
    cls = type(obj)
    values = _FIELD_VALUES.get(cls)
    if values is None:
        values = _FIELD_VALUES[cls] = _field_values(cls)
    return cls, values(obj)


# A dataclass's field values as a tuple, by class: `dataclasses.fields` builds its list anew on
# every call (2-4 us an object, for every article, extraction and feed entry a pool sends).
# One entry per class that is ever pickled, so it stays tiny; a class defined again (a reload)
# is another key.
_FIELD_VALUES: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def _field_values(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    names = [f.name for f in dataclasses.fields(cls)]
    if len(names) >= 2:  # attrgetter of several names gives the tuple itself
        return operator.attrgetter(*names)
    return lambda obj: tuple(getattr(obj, name) for name in names)


@dataclass(frozen=True, slots=True)
class Article:
    """One file of the watched folder, parsed: text cleaned of boilerplate, time zone aware."""

    path: str  # relative to the watched folder, POSIX separators
    title: str
    text: str  # body text, paragraphs separated by a blank line, boilerplate removed
    lang: str  # "zh-Hans", "zh-Hant", "en" or another BCP 47 tag
    published: datetime  # always aware
    format: str  # "jekyll", "text" or "html"
    slug: str  # from the file name, date prefix removed
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    author: str | None = None
    thumbnail: str | None = None
    permalink: str | None = None  # front-matter permalink, if any
    feed_id: str | None = None  # front-matter id / uuid / feed_id, if any
    encoding: str = "utf-8"
    undated: bool = False  # no date in the file or its name: `published` is the file's mtime
    description: str | None = None  # front-matter description / summary: the author's deck

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return fields_reduce(self)


@dataclass(frozen=True, slots=True)
class Amount:
    """A sum of money as written, with its value in USD when a rate is known."""

    value: float  # in `currency` units
    currency: str  # ISO 4217 code
    usd: float | None
    text: str  # as written in the article
    approximate: bool = False  # "上億", "more than", "约"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return fields_reduce(self)


@dataclass(frozen=True, slots=True)
class Event:
    """A headline event: who did what to whom, for how much, when."""

    type: str  # one of the rule pack's types (EVENT_TYPES by default)
    actors: tuple[str, ...]  # canonical names, most important first
    summary: str  # one sentence in the article's language
    evidence: str  # the sentence it was found in
    amount: Amount | None = None
    date: str | None = None  # ISO 8601 date ("2025-06-17" or "2025-07")
    score: float = 0.0  # ranking weight; higher is more headline-like
    extra: tuple[tuple[str, str], ...] = ()  # e.g. (("stake", "49%"), ("round", "Series A"))

    @property
    def key(self) -> str:
        """Identity of the event within its article: unchanged facts give an unchanged key."""
        usd = "" if self.amount is None or self.amount.usd is None else f"{self.amount.usd:.0f}"
        raw = "\x1f".join((self.type, *sorted(self.actors), usd))
        return hashlib.sha256(raw.encode()).hexdigest()[:20]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return fields_reduce(self)


@dataclass(frozen=True, slots=True)
class Extraction:
    """What the extractor makes of one article."""

    summary: str  # 2–3 sentences for the feed and the message
    events: tuple[Event, ...]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return fields_reduce(self)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the store keeps it: with the stable id feeds and the outbox use."""

    id: int
    uid: str  # stable, used as the feed entry id
    article_id: int
    event: Event
    created: datetime  # first stored (aware, UTC)
    story_id: str = ""  # shared by the events of every article reporting the same happening
    first_report: bool = True  # False: an earlier article already reported this story

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return fields_reduce(self)


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """An article as the store keeps it, with its current events."""

    id: int
    uid: str  # stable, never changes once published
    article: Article
    summary: str
    url: str
    first_seen: datetime  # aware, UTC
    updated: datetime  # aware, UTC: when its content last changed
    events: tuple[StoredEvent, ...] = field(default=())

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return fields_reduce(self)
