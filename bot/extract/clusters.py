"""Clusters and the headline events of one article.

Candidates of one type that share actors, or that refer back to a fact already told ("the
deal", 此次挖角), are one fact: a cluster whose weight grows with every retelling. The
heaviest clusters are the headline events; a second one of a type must be another fact.
Pure.

One module (~400 lines): grouping candidates and choosing the headline events share the
clusters' weights.
"""

from __future__ import annotations

import dataclasses
import math
import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.core.model import Amount, Article, Event
from bot.extract.dates import FoundDate
from bot.extract.entities import ORG, PERSON
from bot.extract.events import (
    Analysed,
    Candidate,
    analyse,
    attach_amounts,
    candidates,
    news_date,
    own_date,
    principal_actors,
)
from bot.extract.parties import investors
from bot.extract.rules import RulePack
from bot.extract.sentences import LOST, Sentence, join
from bot.extract.summary import event_summary, names_a_company, stands_alone

_STAKE_RE = re.compile(r"(\d+(?:\.\d+)?)\s?%\s?(?:的)?(?:股份|股权|stake|of the shares|的股)")
_STAKE_BEFORE_RE = re.compile(r"(?:股份|股权|stake|holding)[^%]{0,12}?(\d+(?:\.\d+)?)\s?%")
_ROUND_RE = re.compile(
    r"\b(?:series|round) ?([a-f])\b|(?<![a-z])([a-f]) ?(?:轮|系列)|(天使轮|种子轮|pre-a轮|seed round)"
)
# Clustering compares candidates pairwise: the heaviest this many are clustered (a long
# article has a few dozen; a hostile one of 1,500 triggered sentences would cost seconds).
MAX_CANDIDATES = 100


@dataclass(slots=True)
class Cluster:
    type: str
    members: list[Candidate] = field(default_factory=list)
    names: dict[str, None] = field(default_factory=dict)  # the members' actors, in order

    @classmethod
    def of(cls, first: Candidate) -> Cluster:
        return cls(first.type, [first], dict.fromkeys(first.actors))

    def add(self, members: Sequence[Candidate]) -> None:
        scores = [m.score for m in members]
        tail = self.members[-1].score if self.members else math.inf
        self.members.extend(members)
        # In order already (as `cluster` adds them): no re-sort, the names follow. A cluster
        # of n members then costs n, not n².
        if all(a >= b for a, b in zip([tail, *scores], scores, strict=False)):
            for member in members:
                self.names.update(dict.fromkeys(member.actors))
            return
        self.members.sort(key=lambda c: -c.score)
        self.names = {}
        for member in self.members:
            self.names.update(dict.fromkeys(member.actors))

    @property
    def best(self) -> Candidate:
        return self.members[0]

    def score(self, repeat: float) -> float:
        """Its best mention, plus a share of up to three more: each retelling counts."""
        others = sorted((max(c.score, 0.4) for c in self.members[1:]), reverse=True)[:3]
        return self.best.score + repeat * sum(others)

    def actors(self) -> list[str]:
        return list(self.names)


def cluster(cands: Sequence[Candidate], kinds: dict[str, str], repeat: float) -> list[Cluster]:
    """Same type and shared actors, or a reference back: one fact."""
    clusters: list[Cluster] = []
    for c in sorted(cands, key=lambda c: -c.score):
        same_type = [cl for cl in clusters if cl.type == c.type]
        home = None
        if c.anaphoric and same_type and _amounts_agree(same_type[0].members, c):
            home = same_type[0]
        elif not c.separate:
            home = next((cl for cl in same_type if _same_fact(cl, c, kinds)), None)
        if home is None:
            clusters.append(Cluster.of(c))
        else:
            home.add([c])
    return _merge_linked(clusters, kinds, repeat)


def _merge_linked(clusters: list[Cluster], kinds: dict[str, str], repeat: float) -> list[Cluster]:
    """Two clusters a later mention tied together are one."""
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(clusters):
            for b in clusters[i + 1 :]:
                if a.type == b.type and not b.best.separate and _linked(a, b, kinds):
                    a.add(b.members)
                    clusters.remove(b)
                    merged = True
                    break
            if merged:
                break
    return sorted(clusters, key=lambda cl: -cl.score(repeat))


def _linked(a: Cluster, b: Cluster, kinds: dict[str, str]) -> bool:
    if not all(_amounts_agree(a.members, m) for m in b.members):
        return False
    return _overlap_ok(a.names.keys(), b.names.keys(), kinds)


def _same_fact(cl: Cluster, c: Candidate, kinds: dict[str, str]) -> bool:
    if not _amounts_agree(cl.members, c):
        return False
    if not c.actors or not cl.names:
        return True
    return _overlap_ok(cl.names.keys(), set(c.actors), kinds)


def _overlap_ok(mine: AbstractSet[str], theirs: AbstractSet[str], kinds: dict[str, str]) -> bool:
    shared = mine & theirs
    if not shared:
        return False
    if len(shared) >= 2:
        return True
    # One shared company, two different people: two moves ("Meta hires A", "Meta hires B").
    ours = {a for a in mine if kinds.get(a) == PERSON}
    others = {a for a in theirs if kinds.get(a) == PERSON}
    return not (ours and others and not ours & others)


def _amounts_agree(members: Sequence[Candidate], c: Candidate) -> bool:
    """The same figure (within 5 %), or one's new money and the other's running total after
    it ('another $520 million' and 'has now raised $935M'): one fact either way."""
    amount = c.amount
    if amount is None or amount.usd is None:
        return True
    return all(
        m.amount is None
        or m.amount.usd is None
        or math.isclose(m.amount.usd, amount.usd, rel_tol=0.05)
        or _step_and_total(m, c)
        or _step_and_total(c, m)
        for m in members
    )


def _step_and_total(step: Candidate, total: Candidate) -> bool:
    """Is `step` new money and `total` the larger running total of the same type?"""
    return (
        step.tally == "added"
        and total.tally == "running"
        and step.amount is not None
        and total.amount is not None
        and (step.amount.usd or 0.0) < (total.amount.usd or 0.0)
    )


def build_events(
    article: Article,
    sentences: Sequence[Sentence],
    pack: RulePack,
    trace: list[tuple[Cluster, dict[str, float]]] | None = None,
) -> list[Event]:
    """The headline events of an article, most important first. `trace` collects each
    cluster the vetter judges, with its features (tools/train_vetter.py learns from them)."""
    joined = join(sentences)  # the article a sentence a line: made once for every step
    analysed = analyse(article, sentences, pack, joined)
    cands = candidates(analysed, pack, article)
    attach_amounts(cands, analysed, pack, article, joined)
    if len(cands) > MAX_CANDIDATES:
        cands = sorted(cands, key=lambda c: -c.score)[:MAX_CANDIDATES]
    kinds = _kinds(analysed, pack.entity_kinds)
    repeat = pack.ranking["repeat"]
    clusters = cluster(cands, kinds, repeat)
    best = max((c.score for c in cands), default=0.0)
    reference = news_date(analysed, article)
    dating = _Dating(
        recent=reference - timedelta(days=pack.ranking["old_date_days"]),
        reference=reference,
        anchored=own_date(article, sentences) is not None,
    )
    companies = _Companies(analysed, kinds)
    chosen = _select(clusters, pack, best, kinds, trace)
    events = [_event(cl, article, repeat, dating, companies) for cl in chosen]
    return [_with_investors(e, analysed) if e.type == "funding" else e for e in events]


def _kinds(analysed: Sequence[Analysed], known: Mapping[str, str]) -> dict[str, str]:
    """The kind of each name the article mentions or the rule pack knows, the pack's winning:
    the pack's table copied whole (a dict copied into an empty one is cloned at once, 7×
    cheaper than updating another with its 350 names), the article's own names added to it.
    Only looked up, never walked: the order of the keys does not matter."""
    kinds = dict(known)
    for at in analysed:
        for m in at.mentions:
            if m.name not in known:
                kinds[m.name] = m.kind
    return kinds


def _with_investors(event: Event, analysed: Sequence[Analysed]) -> Event:
    """A round's investors told in a sentence of their own ("The round was led by …") are
    its other party: added after the parties its own sentences name."""
    funded = [any(h.term.value == "funding" for h in at.hits) for at in analysed]
    more = [name for name in investors(analysed, funded) if name not in event.actors]
    return dataclasses.replace(event, actors=event.actors + tuple(more)) if more else event


class _Companies:
    """The companies the article is most about, each as the article first writes it: what
    '它' or 'the company' opening a sentence most likely stands for. Found when first asked
    (few summaries open with such a word)."""

    def __init__(self, analysed: Sequence[Analysed], kinds: dict[str, str]) -> None:
        self.analysed, self.kinds = analysed, kinds
        self.found: list[tuple[str, str]] | None = None

    def __call__(self) -> list[tuple[str, str]]:
        if self.found is None:
            principal = [a for a in principal_actors(self.analysed) if self.kinds.get(a) == ORG]
            written: dict[str, str] = {}
            for at in self.analysed:
                for m in at.mentions:
                    if m.name in principal and m.name not in written:
                        written[m.name] = at.sentence.text[m.start : m.end]
            self.found = [(name, written.get(name, name)) for name in principal]
        return self.found


def _select(
    clusters: Sequence[Cluster],
    pack: RulePack,
    best: float,
    kinds: dict[str, str],
    trace: list[tuple[Cluster, dict[str, float]]] | None = None,
) -> list[Cluster]:
    """The heaviest clusters; a second one of a type only when it is clearly another fact;
    then the vetter's word on each: the n-th event kept must clear the n-th bar, each higher
    than the last (a third event needs more confidence than a second; a headline the vetter
    doubts even alone is no event)."""
    r = pack.ranking
    floor = max(r["min_score"], r["relative"] * best)
    top = clusters[0].score(r["repeat"]) if clusters else 0.0
    chosen: list[Cluster] = []
    seen: list[str] = []  # the types of the clusters vetted so far
    for i, cl in enumerate(clusters):
        if cl.score(r["repeat"]) < floor or not cl.actors():
            continue
        same = [c for c in chosen if c.type == cl.type]
        weighs = pack.types[cl.type].amount.weighs
        if len(same) >= r["max_per_type"] or (same and not _distinct(cl, same, kinds, weighs)):
            continue
        if pack.vetter or trace is not None:
            features = vet_features(cl, r["repeat"], top, len(seen), cl.type in seen, clusters[:i])
            seen.append(cl.type)
            if trace is not None:
                trace.append((cl, features))
            if pack.vetter and vet(pack.vetter, features) < _bar(pack.vetter_thresholds, chosen):
                continue
        chosen.append(cl)
        if len(chosen) >= r["max_events"]:
            break
    return chosen


def _bar(thresholds: Sequence[float], chosen: Sequence[Cluster]) -> float:
    return thresholds[min(len(chosen), len(thresholds) - 1)] if thresholds else 0.0


def vet_features(
    cl: Cluster,
    repeat: float,
    top: float,
    rank: int,
    same_type: bool,
    heavier: Sequence[Cluster] = (),
) -> dict[str, float]:
    """What the vetter weighs: how heavy the cluster is beside the article's heaviest, where
    it stands, how it was told (title, amount, background, borrowed actors), what the heavier
    clusters (`heavier`, in order) already tell. Not its type: a prior per type learned from
    a hundred articles would not carry to other news."""
    score = cl.score(repeat)
    best = cl.best
    kind = best.trigger.term.kind
    return {
        "bias": 1.0,
        "score": math.log(max(score, 1e-3)),
        "relative": score / top if top else 0.0,
        "rank": float(rank),
        "same_type": float(same_type),
        "title": float(any(m.at.sentence.is_title for m in cl.members)),
        "paragraph": min(min(m.at.sentence.paragraph for m in cl.members), 10) / 10,
        "members": math.log(len(cl.members)),
        "amount": float(any(m.amount is not None and m.amount.usd for m in cl.members)),
        "background": float(best.background),
        "borrowed": float(best.borrowed),
        "anaphoric": float(best.anaphoric),
        "weak": float(kind == "weak"),
        "strong": float(kind == "strong"),
        "actors": min(len(cl.names), 5) / 5,
        **_context(cl, heavier),
    }


def _context(cl: Cluster, heavier: Sequence[Cluster]) -> dict[str, float]:
    """Whether every sentence of the cluster is also a heavier cluster's of another type: the
    same words read twice (Workday's CEO stepping down, a co-founder "to take over", is no
    takeover)."""
    theirs = {m.at.sentence.index for h in heavier if h.type != cl.type for m in h.members}
    return {"retold": float(all(m.at.sentence.index in theirs for m in cl.members))}


def vet(weights: Mapping[str, float], features: Mapping[str, float]) -> float:
    """The vetter's probability that a cluster is a headline event (logistic)."""
    z = sum(weights.get(name, 0.0) * value for name, value in features.items())
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def _distinct(cl: Cluster, kept: Sequence[Cluster], kinds: dict[str, str], weighs: bool) -> bool:
    """Another fact: flagged as separate, a different amount (where amounts are facts, not
    share prices) with a party the kept ones do not name (the same parties with another
    figure are a part or a retelling: "the total includes $5m in fines"), or someone new named
    more than once."""
    if cl.best.separate:
        return True
    known = {a for k in kept for a in k.actors()}
    amounts = {round(m.amount.usd) for m in cl.members if m.amount and m.amount.usd}
    theirs = {round(m.amount.usd) for k in kept for m in k.members if m.amount and m.amount.usd}
    if weighs and amounts and not amounts & theirs and set(cl.actors()) - known:
        return True
    people = {a for a in cl.actors() if kinds.get(a) == PERSON}
    return bool(people - known) and len(cl.members) > 1


def _event(
    cl: Cluster,
    article: Article,
    repeat: float,
    dating: _Dating,
    companies: _Companies,
) -> Event:
    best = cl.best
    amount = _headline_amount(cl.members)
    # The title says it in headline-ese; a body sentence of the same fact is better evidence.
    body = [m for m in cl.members if not m.at.sentence.is_title]
    with_amount = [m for m in body if amount is not None and m.amount == amount]
    strong = [m for m in body if m.score >= 0.4 * best.score]
    preferred = with_amount or strong or [best]
    quoted, summary = _quote([*preferred, best, *cl.members], article, companies)
    evidence = quoted.at.sentence.text.replace(LOST, "?")
    date = _event_date(cl, quoted, dating)
    return Event(
        type=cl.type,
        actors=tuple(cl.actors()),
        summary=summary,
        evidence=evidence,
        amount=amount,
        date=date,
        score=round(cl.score(repeat), 3),
        extra=_extra(cl),
    )


def _headline_amount(members: Sequence[Candidate]) -> Amount | None:
    """The title's amount: the headline states what the event is worth, a body sentence may
    tell a part or a running total of it. A body amount that agrees with the title's states it
    more precisely ("18亿" → "18.4亿") and is taken; with no amount in the title, the body's
    first. A running total is no amount of an event that tells its new money ("has now raised
    $935M" beside "another $520 million": 520)."""
    if any(m.tally == "added" for m in members):
        members = [m for m in members if not any(_step_and_total(s, m) for s in members)]
    titled = [m.amount for m in members if m.amount is not None and m.at.sentence.is_title]
    body = [m.amount for m in members if m.amount is not None and not m.at.sentence.is_title]
    if not titled:
        return next(iter(body), None)
    headline = titled[0]
    return next((a for a in body if _agree(a, headline)), headline)


def _agree(a: Amount, b: Amount) -> bool:
    if a.usd is None or b.usd is None:
        return a.currency == b.currency and math.isclose(a.value, b.value, rel_tol=0.05)
    return math.isclose(a.usd, b.usd, rel_tol=0.05)


_QUOTE_TRIES = 6


def _quote(
    order: Sequence[Candidate], article: Article, companies: _Companies
) -> tuple[Candidate, str]:
    """The sentence the event is told by and its summary: the first of `order` whose summary
    stands alone (a company pronoun named, no "此次…", no clickbait title); else the first."""
    first: tuple[Candidate, str] | None = None
    seen: set[int] = set()
    for member in order:
        if id(member) in seen:
            continue
        if len(seen) == _QUOTE_TRIES:
            break  # a cluster of a hundred retellings: a summary each would cost too much
        seen.add(id(member))
        text = member.at.sentence.text.replace(LOST, "?")
        folded = member.at.sentence.folded
        summary = event_summary(text, member.trigger.start, article.lang, None, folded)
        if names_a_company(summary):
            # '它' is not a company the sentence names itself ("它从谷歌挖走了…" is not Google).
            named = {m.name for m in member.at.mentions}
            company = next((w for name, w in companies() if name not in named), None)
            if company is not None:
                summary = event_summary(text, member.trigger.start, article.lang, company, folded)
        if stands_alone(summary):
            return member, summary
        first = first or (member, summary)
    assert first is not None
    return first


# A retelling's date is the event's only when it is about the article's own days: a fact of
# the same actors told in the background ("they moved to OpenAI in December 2024") is another.
_RETELLING_DAYS = 7


@dataclass(frozen=True, slots=True)
class _Dating:
    recent: date  # an older date is background, not the event's
    reference: date  # the article's news date (`news_date`)
    anchored: bool  # whether dates resolved against the reference may be used: it is the
    # article's own date (front matter, file name, dateline), not a file's time


def _event_date(cl: Cluster, quoted: Candidate, dating: _Dating) -> str | None:
    """The date the event's own sentences give: the quoted one's, else the best mention's,
    each the date in the trigger's clause or else the nearest one before it (not a dateline's
    day before "3 月 25 日，…"); else a retelling's near the article's date. None rather
    than a background date or one resolved against a file's time."""
    for member in (quoted, cl.best) if quoted is not cl.best else (quoted,):
        found = _date_of(member, dating)
        if found is not None:
            return found.iso
    near = dating.reference - timedelta(days=_RETELLING_DAYS)
    for member in cl.members:
        found = _date_of(member, dating)
        if found is not None and near <= found.last and found.first <= dating.reference:
            return found.iso
    return None


def _date_of(member: Candidate, dating: _Dating) -> FoundDate | None:
    at, trigger = member.at, member.trigger
    dates = [d for d in at.dates if d.last >= dating.recent and (dating.anchored or not d.anchored)]
    if not dates:
        return None
    clause = bisect_left(at.breaks, trigger.start)
    own = [d for d in dates if bisect_left(at.breaks, d.start) == clause]
    before = [d for d in dates if d.start < trigger.start]
    return (own or before[-1:] or dates)[0]


def _extra(cl: Cluster) -> tuple[tuple[str, str], ...]:
    extra: dict[str, str] = {}
    for m in cl.members:
        folded = m.at.sentence.folded
        if "stake" not in extra and "%" in folded:  # both patterns need a '%'
            stake = _STAKE_RE.search(folded) or _STAKE_BEFORE_RE.search(folded)
            if stake:
                extra["stake"] = f"{stake.group(1)}%"
        if "round" not in extra and cl.type == "funding":
            rnd = _ROUND_RE.search(folded)
            if rnd:
                letter = rnd.group(1) or rnd.group(2)
                extra["round"] = f"Series {letter.upper()}" if letter else rnd.group(3)
    return tuple(sorted(extra.items()))
