"""One happening, many articles: when two events are the same story.

Two events are one story when they have the same type, share canonical actors, their
amounts agree (or one has none) and their dates fall within a window. A shared exact
amount is strong evidence, so one shared actor is then enough; without it, most of the
smaller actor list must be shared. The same sentence reporting the same type is one story
too (a repost, or the article in the other Chinese script). Names and sentences are compared
with simplified and traditional folded together: an actor no alias names ("太極實業") and the
sentence of a traditional twin meet their simplified forms.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

from bot.core.model import Article, Event
from bot.core.text import to_simplified

WINDOW = timedelta(days=45)
AMOUNT_TOLERANCE = 0.05


@dataclass(frozen=True, slots=True)
class StoryKey:
    """What story matching looks at, for an event in the store or in a batch."""

    type: str
    actors: frozenset[str]  # folded (see `folded`)
    usd: float | None
    day: date | None  # the event's own date, else its article's; None: unknown
    sentence: str = ""  # the evidence, folded; "": not compared

    @classmethod
    def of(cls, event: Event, published: date | None) -> StoryKey:
        usd = event.amount.usd if event.amount is not None else None
        day = _event_day(event.date) or published
        actors = frozenset(_folded_name(actor) for actor in event.actors)
        return cls(event.type, actors, usd, day, folded(event.evidence))


def folded(text: str) -> str:
    """Simplified, lower case, single spaces: one form for both scripts and any case."""
    return " ".join(to_simplified(text).casefold().split())


@functools.lru_cache(maxsize=4096)
def _folded_name(name: str) -> str:
    """`folded`, kept for names: an actor recurs from article to article (a sentence does not),
    and folding them again was over half of making a story key."""
    return folded(name)


def same_story(a: StoryKey, b: StoryKey) -> bool:
    if a.type != b.type:
        return False
    if a.day is not None and b.day is not None and abs(a.day - b.day) > WINDOW:
        return False
    if a.sentence and a.sentence == b.sentence and a.usd == b.usd:  # told twice
        return True
    shared = len(a.actors & b.actors)
    if not shared:
        return False
    if a.usd is not None and b.usd is not None:  # the same sum and kind, and a shared actor
        return abs(a.usd - b.usd) <= AMOUNT_TOLERANCE * max(abs(a.usd), abs(b.usd))
    # Without a sum to agree on, one shared actor ("Meta") is too weak: ask for most of them.
    return shared >= 2 and shared * 2 >= min(len(a.actors), len(b.actors))


def story_id(seed: str) -> str:
    """A stable id made from the first report's own stable id."""
    return "story-" + hashlib.sha256(seed.encode()).hexdigest()[:12]


class Linker:
    """Links a stream of events to stories in memory: each joins the first earlier match."""

    def __init__(self) -> None:
        self._seen: list[tuple[StoryKey, str]] = []

    def assign(self, seed: str, key: StoryKey) -> str:
        found = next((sid for earlier, sid in self._seen if same_story(earlier, key)), None)
        sid = found or story_id(seed)
        self._seen.append((key, sid))
        return sid


def _event_day(value: str | None) -> date | None:
    """'2025-06-17' → that day; '2025-07' → mid-month; a bare year is too vague to use."""
    if not value:
        return None
    parts = value.split("-")
    try:
        if len(parts) == 3:
            return date(int(parts[0]), int(parts[1]), int(parts[2]))
        if len(parts) == 2:
            return date(int(parts[0]), int(parts[1]), 15)
    except ValueError:
        return None
    return None


def story_day(article: Article) -> date | None:
    """The article's day for story matching; unknown when it is only the file's mtime."""
    return None if article.undated else article.published.date()
