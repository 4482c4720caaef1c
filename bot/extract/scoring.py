"""Scoring extracted events against hand-labelled gold events (`eventfeed eval`).

The gold format is the shared corpus's (`gold.yaml`): `articles:` (and `seeds:`), each with
`file`, optional `batch` and `lang`, and `events` of `type`, optional `alt_types`, `actors`
('|' separates accepted spellings of one actor) and `amount_usd`. A plain mapping of file name
to events is read too. The rules are those of `score_events.py`, so that both give the same
figures: a predicted event matches a gold one of its article when the type is the gold type
(or an alternative) and it names at least half of the gold actors (at least one), one-to-one,
gold events in order taking the first free prediction that matches. Names compare after NFKC,
lower case, punctuation and spaces dropped and traditional→simplified folding (OpenCC); one
name containing the other counts (3+ Latin or 2+ Chinese characters). An amount is right
within 5% of the gold USD figure. Pure: the gold document and the events come in as data.

One module (~400 lines): the matching rules and the report lines built on them must stay in
step with score_events.py, so they read side by side.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from bot.core.errors import EventfeedError
from bot.core.model import Event
from bot.core.text import to_simplified

_DROP_RE = re.compile(r"[\s\W_]+")
_CJK_RE = re.compile("[\u3400-\u9fff]")


class GoldError(EventfeedError, ValueError):
    """A gold document that is not in the expected shape; the message says where."""


@dataclass(frozen=True, slots=True)
class GoldEvent:
    type: str
    alt_types: tuple[str, ...]
    actors: tuple[tuple[str, ...], ...]  # per actor, its accepted spellings
    amount_usd: float | None


@dataclass(frozen=True, slots=True)
class GoldArticle:
    file: str  # as written in the gold file (relative to an articles folder)
    name: str  # its file name: what predictions are matched by
    batch: str
    lang: str
    seed: bool  # listed under `seeds:`
    events: tuple[GoldEvent, ...]


def read_gold(data: Any, batch: str | None = None) -> list[GoldArticle]:
    """The gold articles of a parsed gold document (only those of `batch`, when given)."""
    if not isinstance(data, Mapping):
        raise GoldError("a gold file is a mapping (articles: [...], or file name: events)")
    entries: list[tuple[Mapping[str, Any], bool]]
    if "articles" not in data and "seeds" not in data:
        entries = [({"file": name, "events": events}, False) for name, events in data.items()]
    else:
        entries = [(e, True) for e in _entries(data, "seeds")]
        entries += [(e, False) for e in _entries(data, "articles")]
    out: list[GoldArticle] = []
    for entry, seed in entries:
        if not entry.get("file"):
            continue  # a seed without its text
        if batch is not None and str(entry.get("batch", 1)) != str(batch):
            continue
        file = str(entry["file"])
        events = entry.get("events") or []
        if not isinstance(events, list):
            raise GoldError(f"{file}: events is not a list")
        out.append(
            GoldArticle(
                file=file,
                name=file.replace("\\", "/").rsplit("/", 1)[-1],
                batch=str(entry.get("batch", 1)),
                lang=str(entry.get("lang") or "?").split()[0],
                seed=seed,
                events=tuple(_gold_event(file, e) for e in events),
            )
        )
    return out


def _entries(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    entries = data.get(key) or []
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise GoldError(f"{key}: a list of mappings (file, events, …)")
    return entries


def _gold_event(file: str, event: Any) -> GoldEvent:
    if not isinstance(event, Mapping):
        raise GoldError(f"{file}: an event is a mapping (type, actors, amount_usd)")
    amount = event.get("amount_usd")
    try:
        usd = None if amount is None else float(amount)
    except (TypeError, ValueError):
        raise GoldError(f"{file}: amount_usd {amount!r} is not a number") from None
    return GoldEvent(
        type=str(event.get("type")),
        alt_types=tuple(str(t) for t in event.get("alt_types") or ()),
        actors=tuple(tuple(str(actor).split("|")) for actor in event.get("actors") or ()),
        amount_usd=usd,
    )


@cache
def fold_name(name: str) -> str:
    """A name as compared: NFKC, lower case, simplified script, no spaces or punctuation."""
    return _DROP_RE.sub("", to_simplified(unicodedata.normalize("NFKC", name).lower()))


def same_actor(spellings: Sequence[str], predicted: str) -> bool:
    p = fold_name(predicted)
    if not p:
        return False
    for spelling in spellings:
        g = fold_name(spelling)
        if not g:
            continue
        if g == p:
            return True
        short, long = (g, p) if len(g) <= len(p) else (p, g)
        if len(short) >= (2 if _CJK_RE.search(short) else 3) and short in long:
            return True
    return False


def matches(gold: GoldEvent, event: Event) -> bool:
    """Same type (or an accepted one), and at least half the gold actors named."""
    if event.type != gold.type and event.type not in gold.alt_types:
        return False
    need = max(1, math.ceil(len(gold.actors) / 2)) if gold.actors else 0
    named = sum(
        1 for spellings in gold.actors if any(same_actor(spellings, a) for a in event.actors)
    )
    return named >= need


def amount_right(gold: GoldEvent, event: Event) -> bool:
    if gold.amount_usd is None:
        return True
    usd = None if event.amount is None else event.amount.usd
    return usd is not None and abs(usd - gold.amount_usd) <= 0.05 * abs(gold.amount_usd)


def pair(golds: Sequence[GoldEvent], events: Sequence[Event]) -> list[tuple[GoldEvent, Event]]:
    """One-to-one, greedily: each gold event in order takes the first free match."""
    pairs: list[tuple[GoldEvent, Event]] = []
    used: set[int] = set()
    for gold in golds:
        for i, event in enumerate(events):
            if i not in used and matches(gold, event):
                used.add(i)
                pairs.append((gold, event))
                break
    return pairs


@dataclass(slots=True)
class Tally:
    gold: int = 0
    predicted: int = 0
    matched: int = 0
    amounts: int = 0  # matched events whose gold has an amount
    amounts_right: int = 0

    def add(self, golds: Sequence[GoldEvent], events: Sequence[Event]) -> list[GoldEvent]:
        """Counts one article; returns its gold events left unmatched."""
        pairs = pair(golds, events)
        self.gold += len(golds)
        self.predicted += len(events)
        self.matched += len(pairs)
        for gold, event in pairs:
            if gold.amount_usd is not None:
                self.amounts += 1
                self.amounts_right += amount_right(gold, event)
        found = {id(g) for g, _ in pairs}
        return [g for g in golds if id(g) not in found]

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def amount_accuracy(self) -> float:
        return self.amounts_right / self.amounts if self.amounts else 1.0

    def figures(self) -> str:
        return (
            f"P={self.precision:.3f} R={self.recall:.3f} F1={self.f1:.3f} "
            f"amount_acc={self.amount_accuracy:.3f}"
        )


@dataclass(slots=True)
class Report:
    articles: int = 0
    total: Tally = field(default_factory=Tally)
    by_lang: dict[str, Tally] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # gold articles with no prediction
    misses: list[tuple[str, int, int, int, list[GoldEvent]]] = field(default_factory=list)

    def lines(self, by_lang: bool = False, verbose: bool = False) -> list[str]:
        """As `score_events.py` prints it; the last line is the summary."""
        out: list[str] = []
        if verbose:
            for name, gold, predicted, matched, missed in self.misses:
                out.append(f"{name}: gold {gold} predicted {predicted} matched {matched}")
                out += [f"  missed {g.type} {_actors_text(g)}" for g in missed]
        if self.missing:
            shown = ", ".join(self.missing[:10])
            out.append(f"no prediction for {len(self.missing)} article(s): {shown}")
        if by_lang:
            for lang, t in sorted(self.by_lang.items()):
                out.append(f"  {lang}: {t.figures()} (gold={t.gold} predicted={t.predicted})")
        t = self.total
        out.append(
            f"{t.figures()} (articles={self.articles} gold={t.gold} "
            f"predicted={t.predicted} matched={t.matched})"
        )
        return out


def _actors_text(gold: GoldEvent) -> str:
    return "[" + ", ".join(repr("|".join(spellings)) for spellings in gold.actors) + "]"


def score(gold: Sequence[GoldArticle], predicted: Mapping[str, Sequence[Event]]) -> Report:
    """Scores the events predicted per file name (an article missing from `predicted` had
    none). A file name listed twice in the gold counts once, its last entry (as the script)."""
    by_name = {g.name: g for g in gold}
    report = Report(articles=len(by_name))
    for name, article in by_name.items():
        if name not in predicted:
            report.missing.append(name)
        events = predicted.get(name, ())
        missed = report.total.add(article.events, events)
        report.by_lang.setdefault(article.lang, Tally()).add(article.events, events)
        matched = len(article.events) - len(missed)
        report.misses.append((name, len(article.events), len(events), matched, missed))
    return report


# --- errors by class (`eventfeed eval --errors`) ---------------------------------------------
# Each unmatched gold event is missed for one reason, each unmatched prediction is a false
# alarm for one, each matched event with a gold amount not within 5% has an amount error of
# one kind: so the counts add up to what the figures above lose, and show what to work on.

ERROR_CLASSES: tuple[str, ...] = (
    "missed, type",  # a prediction names at least half its actors, with another type
    "missed, actors",  # a prediction of its type names fewer than half its actors
    "missed, selection",  # no prediction of its type or naming its actors
    "false alarm, type",  # names at least half a gold event's actors, with another type
    "false alarm, actors",  # a gold event's type, fewer than half its actors
    "false alarm, duplicate",  # matches a gold event another prediction already took
    "false alarm, extra",  # neither a gold type nor gold actors: a non-headline or invented event
    "amount, none",
    "amount, ×10ⁿ",  # a unit word misread (万/亿, mn/bn)
    "amount, currency",  # the figure as written is the gold USD: converted when it was USD
    "amount, per-unit",  # below a thousandth of it: a per-share or unit price
    "amount, other figure",  # another number of the article
)
EXAMPLES = 3  # kept per class


def names_enough(gold: GoldEvent, actors: Sequence[str]) -> bool:
    """At least half the gold actors (at least one) among `actors`."""
    if not gold.actors:
        return False
    named = sum(1 for spellings in gold.actors if any(same_actor(spellings, a) for a in actors))
    return named >= max(1, math.ceil(len(gold.actors) / 2))


def _typed(gold: GoldEvent, type_: str) -> bool:
    return type_ == gold.type or type_ in gold.alt_types


def missed_class(gold: GoldEvent, events: Sequence[Event]) -> str:
    """Why a gold event no prediction matched was missed."""
    if any(not _typed(gold, e.type) and names_enough(gold, e.actors) for e in events):
        return "missed, type"
    if any(_typed(gold, e.type) for e in events):
        return "missed, actors"
    return "missed, selection"


def false_alarm_class(event: Event, golds: Sequence[GoldEvent]) -> str:
    """Why a prediction no gold event took is wrong."""
    if any(matches(g, event) for g in golds):
        return "false alarm, duplicate"
    if any(not _typed(g, event.type) and names_enough(g, event.actors) for g in golds):
        return "false alarm, type"
    if any(_typed(g, event.type) for g in golds):
        return "false alarm, actors"
    return "false alarm, extra"


def amount_class(gold_usd: float, usd: float | None, value: float | None = None) -> str | None:
    """The kind of a wrong amount (None when it is right): judged by the ratio to the gold,
    as a benchmark's predictions give the USD figure alone. `value` is the figure as written
    (in its own currency), when known."""
    if usd is None:
        return "amount, none"
    if abs(usd - gold_usd) <= 0.05 * abs(gold_usd):
        return None
    if value is not None and abs(value - gold_usd) <= 0.05 * abs(gold_usd):
        return "amount, currency"
    ratio = usd / gold_usd
    if ratio > 0:
        exponent = math.log10(ratio)
        if abs(exponent - round(exponent)) <= math.log10(1.05):
            return "amount, ×10ⁿ"
        if ratio < 1e-3:
            return "amount, per-unit"
    return "amount, other figure"


def _event_text(type_: str, actors: Sequence[str]) -> str:
    return f"{type_} {list(actors)}"


@dataclass(slots=True)
class Errors:
    """Error counts by class, a few examples each, and the predicted events' dates (the gold
    has none to compare with)."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    dated: int = 0
    undated: int = 0

    def note(self, cls: str, example: str) -> None:
        self.counts[cls] = self.counts.get(cls, 0) + 1
        shown = self.examples.setdefault(cls, [])
        if len(shown) < EXAMPLES:
            shown.append(example)

    def add(self, name: str, golds: Sequence[GoldEvent], events: Sequence[Event]) -> None:
        """Classifies one article's errors."""
        pairs = pair(golds, events)
        taken_gold = {id(g) for g, _ in pairs}
        taken_event = {id(e) for _, e in pairs}
        for gold in golds:
            if id(gold) not in taken_gold:
                cls = missed_class(gold, events)
                self.note(cls, f"{name}: {_event_text(gold.type, _first_spellings(gold))}")
        for event in events:
            if id(event) not in taken_event:
                cls = false_alarm_class(event, golds)
                self.note(cls, f"{name}: {_event_text(event.type, event.actors)}")
            if event.date:
                self.dated += 1
            else:
                self.undated += 1
        for gold, event in pairs:
            if gold.amount_usd is None:
                continue
            amount = event.amount
            usd = None if amount is None else amount.usd
            kind = amount_class(gold.amount_usd, usd, None if amount is None else amount.value)
            if kind is not None:
                said = "none" if amount is None else f"{amount.text!r} = {usd}"
                self.note(kind, f"{name}: {gold.type} gold {gold.amount_usd:,.0f}, got {said}")


def _first_spellings(gold: GoldEvent) -> list[str]:
    return [spellings[0] for spellings in gold.actors]


def errors(
    gold: Sequence[GoldArticle], predicted: Mapping[str, Sequence[Event]]
) -> dict[str, Errors]:
    """Errors by class per article language, and over all under "all" (the articles as
    `score` takes them: a file name listed twice counts once, its last entry)."""
    by_name = {g.name: g for g in gold}
    out: dict[str, Errors] = {"all": Errors()}
    for name, article in by_name.items():
        events = predicted.get(name, ())
        out["all"].add(name, article.events, events)
        out.setdefault(article.lang, Errors()).add(name, article.events, events)
    return out


def error_lines(by_lang: Mapping[str, Errors], langs: bool = False) -> list[str]:
    """A table of the classes (a column per language when `langs`), then examples."""
    columns = ["all", *sorted(k for k in by_lang if k != "all")] if langs else ["all"]
    width = max(len(c) for c in ERROR_CLASSES)
    out = [f"{'errors by class':<{width + 2}} " + " ".join(f"{c:>8}" for c in columns)]
    for cls in ERROR_CLASSES:
        counts = " ".join(f"{by_lang[c].counts.get(cls, 0):>8}" for c in columns)
        out.append(f"  {cls:<{width}} {counts}")
    for label, attr in (("events with a date", "dated"), ("events without", "undated")):
        counts = " ".join(f"{getattr(by_lang[c], attr):>8}" for c in columns)
        out.append(f"  {label:<{width}} {counts}")
    out.append("  (dates: the gold has none, so they are counted, not scored)")
    total = by_lang["all"]
    for cls in ERROR_CLASSES:
        if total.examples.get(cls):
            out.append(f"{cls}, e.g.:")
            out += [f"  {example}" for example in total.examples[cls]]
    return out
