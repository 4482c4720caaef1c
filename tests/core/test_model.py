"""The data types cross process boundaries (bot/runtime/pool.py pickles articles and
extractions back from its workers): every field must come back, compiled or not."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.model import (
    Amount,
    Article,
    Event,
    Extraction,
    StoredArticle,
    StoredEvent,
    fields_reduce,
)


def _article() -> Article:
    return Article(
        path="notes/2031-04-01-harbour.md",
        title="Lantern Harbour Ltd buys Quillfeather Mills",
        text="Lantern Harbour Ltd said it would buy Quillfeather Mills.\n\nMore text.",
        lang="en",
        published=datetime(2031, 4, 1, 9, 30, tzinfo=UTC),
        format="jekyll",
        slug="harbour",
        categories=("Deals",),
        tags=("mills",),
        author="A. Writer",
        thumbnail="/img/mill.png",
        permalink="/deals/harbour/",
        feed_id="harbour-1",
        encoding="utf-16",
        undated=True,
        description="A mill changes hands.",
    )


def _event() -> Event:
    return Event(
        type="acquisition",
        actors=("Lantern Harbour Ltd", "Quillfeather Mills"),
        summary="Lantern Harbour Ltd buys Quillfeather Mills.",
        evidence="Lantern Harbour Ltd said it would buy Quillfeather Mills for $12 million.",
        amount=Amount(12e6, "USD", 12e6, "$12 million", approximate=True),
        date="2031-04",
        score=2.5,
        extra=(("stake", "100%"),),
    )


def test_the_data_types_survive_pickling() -> None:
    stored = StoredEvent(7, "uid-7", 3, _event(), datetime(2031, 4, 2, tzinfo=UTC), "s1", False)
    values = [
        _article(),
        Extraction("Two sentences. Of summary.", (_event(),)),
        StoredArticle(
            3,
            "uid-3",
            _article(),
            "sum",
            "https://example.org/a",
            stored.created,
            stored.created,
            (stored,),
        ),
    ]
    for value in values:
        assert pickle.loads(pickle.dumps(value)) == value


@dataclass(frozen=True, slots=True)
class _One:
    value: str

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return fields_reduce(self)


@dataclass(frozen=True, slots=True)
class _Empty:
    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return fields_reduce(self)


def test_fields_reduce_gives_each_class_its_own_fields() -> None:
    """The field names are kept per class: each class reduces to its own fields in order,
    however many (one and none included), whichever class was reduced before."""
    event = _event()
    for _ in range(2):  # the second time from what the first kept
        assert fields_reduce(_One("x")) == (_One, ("x",))
        assert fields_reduce(_Empty()) == (_Empty, ())
        assert fields_reduce(event.amount) == (Amount, (12e6, "USD", 12e6, "$12 million", True))
        assert fields_reduce(Extraction("s", (event,))) == (Extraction, ("s", (event,)))
    for value in (_One("y"), _Empty()):
        assert pickle.loads(pickle.dumps(value)) == value
