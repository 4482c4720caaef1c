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
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from bot.model import Event
from bot.text import to_simplified

_DROP_RE = re.compile(r"[\s\W_]+")
_CJK_RE = re.compile("[\u3400-\u9fff]")


class GoldError(ValueError):
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
