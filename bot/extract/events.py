"""Candidates: the sentences (clauses) that may tell a headline event, with their weight.

The article is scanned once (lexicon hits, names, dates), then each clause with a trigger of
some type is a candidate. It weighs by where it stands (title and lead most), by the
trigger's strength, and less when it is background (此前, earlier, a date long before the
article's news) or speculation; an amount of its own, a "separately" flag add weight. Each
candidate then gets the amount that belongs to it by its type's amount rule, amounts being
sought only in the sentences that can give one. Pure.

One module (~1000 lines): the one scan of an article and the candidates cut from it share that
scan's per-article indexes (the speed section of docs/extraction.md).
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from typing import Protocol, TypeVar

from bot.core.model import Amount, Article
from bot.core.text import HAN, last_of, lines_holding, positions_of
from bot.extract.amounts import Found, approximate, find_amounts
from bot.extract.dates import FoundDate, dateline, find_dates
from bot.extract.entities import ORG, PERSON, Mention, article_mentions, resolve, title_end
from bot.extract.rules import AmountRule, Hit, RulePack
from bot.extract.sentences import Sentence, join

# [，,；;：:。！？!?] | \s[-–—]\s | ——, written to open with one character class so that the
# engine skips ahead to a candidate.
_CLAUSE_BREAK_RE = re.compile(r"[，,；;：:。！？!?\s—](?:(?<=[^\s—])|(?<=\s)[-–—]\s|(?<=—)—)")
_MARKS = tuple("，,；;：:。！？!?")  # the breaks of a sentence without dashes
_CUE_REACH = 30  # a background cue this far after the trigger still colours it
_ANAPHORA_REACH = 15
_TOTAL_REACH = 30  # a total word this far before an amount, in its clause, makes it a total
# Below this (in USD) a sum is what one share or thing costs ('a current price of 7.20 dlrs'),
# never what a deal is worth (a CEO's pay may be $1).
_LEAST = 1000.0
# 'realized 116 mln dlrs in the transaction': what the deal the article tells of ("the")
# brought; 'in a transaction' may be another one.
_IN_THE_DEAL_RE = re.compile(
    r"[ ]*(?:in|from) the (?:transaction|deal|sale|acquisition|merger|takeover|purchase)(?![a-z])"
)
# 'the offer values the company at about': the deal's total, its object between. The
# look-behind after the 'v': the engine skips ahead to a 'v' (not_after_a_letter).
_VALUES_AT_RE = re.compile(
    r"v(?<![a-z]v)alu(?:es|ing)[ ](?:[\w.'&-]+[ ]){1,4}?at[ ](?:about |around |roughly |some |"
    r"approximately |nearly |more than |over )?$"
)
_TRIGGER_KINDS = ("strong", "trigger", "weak")
_HAN_RE = re.compile(f"[{HAN}]")
_new = tuple.__new__  # a named tuple made without its Python-level constructor


# Both with an __init__ of their own (`init=False`): mypyc compiles it, where the one
# dataclass writes runs interpreted (6× slower; one Analysed a sentence).
@dataclass(slots=True, init=False)
class Analysed:
    """One sentence with everything found in it."""

    sentence: Sentence
    hits: list[Hit]
    mentions: list[Mention]
    amounts: list[Found]
    dates: list[FoundDate]
    breaks: list[int]  # clause boundaries (computed only where a trigger is)
    triggered: bool
    # Amounts are sought once the candidates are known, only in the sentences that can
    # give one its amount (see attach_amounts); until then `amounts` is empty.
    amounts_sought: bool

    def __init__(
        self,
        sentence: Sentence,
        hits: list[Hit],
        mentions: list[Mention],
        amounts: list[Found],
        dates: list[FoundDate],
        breaks: list[int],
        triggered: bool = False,
        amounts_sought: bool = False,
    ) -> None:
        self.sentence, self.hits, self.mentions, self.amounts = sentence, hits, mentions, amounts
        self.dates, self.breaks = dates, breaks
        self.triggered, self.amounts_sought = triggered, amounts_sought


@dataclass(slots=True, init=False)
class Candidate:
    type: str
    at: Analysed
    trigger: Hit
    score: float
    actors: list[str]
    anaphoric: bool
    separate: bool
    amount: Amount | None
    background: bool  # a background cue or an old date colours its clause
    borrowed: bool  # it names nobody: its actors are the article's main ones
    # Its amount is a running total ("running": 'has now raised', 累计) or new money ("added":
    # 'another', 追加), for a type whose rule says `increments`; else "".
    tally: str

    def __init__(
        self,
        type: str,
        at: Analysed,
        trigger: Hit,
        score: float,
        actors: list[str],
        anaphoric: bool = False,
        separate: bool = False,
        amount: Amount | None = None,
        background: bool = False,
        borrowed: bool = False,
        tally: str = "",
    ) -> None:
        self.type, self.at, self.trigger, self.score, self.actors = type, at, trigger, score, actors
        self.anaphoric, self.separate, self.amount = anaphoric, separate, amount
        self.background, self.borrowed, self.tally = background, borrowed, tally


def analyse(
    article: Article,
    sentences: Sequence[Sentence],
    pack: RulePack,
    joined: tuple[str, str, list[int]] | None = None,
) -> list[Analysed]:
    """Scan the article once: lexicon hits, names, dates (amounts: see attach_amounts); then
    file them by sentence. `joined`: what `join(sentences)` gives, if already made."""
    text, folded, starts = joined = joined or join(sentences)
    hits = pack.scan(folded, text, starts)
    triggered = [bool(found) and _has_trigger(found) for found in hits]
    dates = _dates(article, sentences, triggered, joined)
    ends = title_end(sentences, starts)
    mentions = resolve(
        article_mentions(text, folded, starts, hits, pack, ends), sentences, folded, starts
    )
    return [
        # Only a trigger can be inside a longer one: the other sentences keep their hits.
        Analysed(sentence, _outermost(hit), mentions[i], [], dates[i], _breaks(sentence), True)
        if triggered[i]
        else Analysed(sentence, hit, mentions[i], [], dates[i], [])
        for i, (sentence, hit) in enumerate(zip(sentences, hits, strict=True))
    ]


def _has_trigger(hits: Sequence[Hit]) -> bool:
    return any(h.term.kind in _TRIGGER_KINDS for h in hits)


def _amounts(
    article: Article,
    sentences: Sequence[Sentence],
    chosen: Sequence[int],
    pack: RulePack,
    joined: tuple[str, str, list[int]],
) -> list[list[Found]]:
    """The amounts of each sentence of `chosen` (indexes, in order), sought in those sentences
    alone. An amount never spans a line; only whether it is approximate looks back past its
    line's start ('约' ending the line before), so an amount near the start of a sentence is
    judged again in the whole text."""
    yen = "CNY" if article.lang.startswith("zh") else "JPY"
    out: list[list[Found]] = []
    if len(chosen) == len(sentences):
        text, folded, starts = joined
    else:
        text, folded, starts = join([sentences[i] for i in chosen])
    found = _by_sentence(
        starts,
        find_amounts(folded, text, pack.rates, pack.approximate, yen),
        lambda f, d: _new(Found, (f.start - d, f.end - d, f.amount, f.unit)),
    )
    whole, at = joined[1], joined[2]
    for k, (i, amounts) in enumerate(zip(chosen, found, strict=True)):
        if i and (k == 0 or chosen[k - 1] != i - 1):  # the line before is not the article's
            amounts = [_judged_again(f, whole, at[i], pack) if f.start < 12 else f for f in amounts]
        out.append(amounts)
    return out


def _judged_again(found: Found, folded: str, shift: int, pack: RulePack) -> Found:
    close = approximate(folded, found.start + shift, found.end + shift, pack.approximate)
    if close == found.amount.approximate:
        return found
    amount = dataclasses.replace(found.amount, approximate=close)
    return _new(Found, (found.start, found.end, amount, found.unit))


def _dates(
    article: Article,
    sentences: Sequence[Sentence],
    triggered: Sequence[bool],
    joined: tuple[str, str, list[int]],
) -> list[list[FoundDate]]:
    """The dates of each sentence that can use them: every sentence of a plain-text file (its
    news date is the latest date it mentions), else only the triggered ones (a candidate's
    background and an event's date). A date never spans a line and its checks look no
    further back than its own line, so the sentences alone find what the article finds.
    Relative dates resolve against the article's own date (`own_date`); with none, against
    the file's time, for the ranking only (they are `anchored`: never an event's date)."""
    published = own_date(article, sentences) or article.published.date()
    if article.format == "text" or all(triggered):
        chosen: Sequence[int] = range(len(sentences))
        text, folded, starts = joined
    else:
        chosen = [i for i, used in enumerate(triggered) if used]
        text, folded, starts = join([sentences[i] for i in chosen])
    found = _by_sentence(
        starts,
        find_dates(folded, published, text),
        lambda f, d: _new(FoundDate, (f.start - d, f.end - d, f.iso, f.first, f.last, f.anchored)),
    )
    out: list[list[FoundDate]] = [[] for _ in sentences]
    for i, dates in zip(chosen, found, strict=True):
        out[i] = dates
    return out


_DATELINE_PARAGRAPHS = 3  # a dateline opens one of the first body paragraphs


def own_date(article: Article, sentences: Sequence[Sentence]) -> date | None:
    """The day the article was filed: its dateline's ("BEIJING, June 3 (Reuters) -", "IT之家
    6 月 3 日消息"), else its published date; None when that is only the file's time and no
    dateline says its year."""
    published = None if article.undated else article.published.date()
    return _dateline(sentences, published) or published


def _dateline(sentences: Sequence[Sentence], published: date | None) -> date | None:
    paragraph = 0
    for s in sentences:
        if s.paragraph == paragraph:
            continue  # not the first sentence of its paragraph
        paragraph = s.paragraph
        if paragraph > _DATELINE_PARAGRAPHS:
            break
        day = dateline(s.text, published)
        if day is not None:
            return day
    return None


def _breaks(sentence: Sentence) -> list[int]:
    """Where the sentence's clauses break: its marks, and in a sentence with dashes a spaced
    dash or a double em dash too."""
    folded = sentence.folded
    if "—" in folded or _spaced_dash(folded):
        return [m.start() for m in _CLAUSE_BREAK_RE.finditer(folded)]
    # Without '—' and without a dash after a space the dash branches of _CLAUSE_BREAK_RE
    # cannot match (a hyphen inside a word, 'co-founder', is no break): it finds the marks
    # alone, here sought by str.find (about a tenth of the instructions).
    return positions_of(folded, _MARKS)


def _spaced_dash(folded: str) -> bool:
    """Does a '-' or '–' follow a space, as in a spaced dash (' - ', ' – '), the one break
    of _CLAUSE_BREAK_RE besides the marks and '—'?"""
    for dash in ("-", "–"):
        at = folded.find(dash, 1)
        while at >= 0:
            if folded[at - 1].isspace():
                return True
            at = folded.find(dash, at + 1)
    return False


class _Spanned(Protocol):
    @property
    def start(self) -> int: ...


_T = TypeVar("_T", bound=_Spanned)


def _by_sentence(
    starts: Sequence[int], items: Iterable[_T], shift: Callable[[_T, int], _T]
) -> list[list[_T]]:
    """Found in the joined text → found in sentence i, at sentence-relative positions."""
    out: list[list[_T]] = [[] for _ in starts]
    for item in items:
        i = bisect_right(starts, item.start) - 1
        out[i].append(shift(item, starts[i]))
    return out


def _outermost(hits: list[Hit]) -> list[Hit]:
    """A trigger inside a longer trigger is not one ('签约' inside '签约奖金')."""
    if len(hits) < 2:
        return hits
    spans = [(h.start, h.end) for h in hits if h.term.kind in _TRIGGER_KINDS]
    if len(spans) < 2:
        return hits
    if len(spans) <= 8:  # the common case, a handful: compared pairwise
        kept = []
        for h in hits:
            if h.term.kind in _TRIGGER_KINDS and any(
                (s < h.start and e >= h.end) or (s == h.start and e > h.end) for s, e in spans
            ):
                continue
            kept.append(h)
        return kept
    spans.sort()
    # Linearithmic, not quadratic: one 5 MB line is one sentence with 100,000s of triggers.
    # A longer span covers (start, end) when it starts before it and ends at or after it,
    # or starts with it and ends after it.
    starts = [s for s, _ in spans]
    reach = list(accumulate((e for _, e in spans), max))  # furthest end among spans[: i + 1]
    same_start: dict[int, int] = {}
    for s, e in spans:
        same_start[s] = max(e, same_start.get(s, e))

    def covered(start: int, end: int) -> bool:
        before = bisect_left(starts, start)
        return (before > 0 and reach[before - 1] >= end) or same_start.get(start, end) > end

    return [h for h in hits if h.term.kind not in _TRIGGER_KINDS or not covered(h.start, h.end)]


def news_date(analysed: Sequence[Analysed], article: Article) -> date:
    """What 'old' is measured from: the publication date, except for a plain-text file (whose
    date is only the file's) that mentions dates: then the latest of them, so an undated
    repost read years later still has recent news. A dateline is the article's date."""
    published = article.published.date()
    if article.format != "text":
        return published
    reliable = None if article.undated else published
    filed = _dateline([at.sentence for at in analysed], reliable)
    if filed is not None:
        return filed
    latest = [d.last for at in analysed for d in at.dates if d.last <= published]
    return max(latest) if latest else published


def candidates(analysed: Sequence[Analysed], pack: RulePack, article: Article) -> list[Candidate]:
    """Per clause, the first strong type; per sentence and type, the strongest trigger."""
    r = pack.ranking
    reference = news_date(analysed, article)
    old = reference - timedelta(days=r["old_date_days"])
    # A launch is news the weeks it happens: one dated a month before is told in passing.
    old_launch = reference - timedelta(days=r["old_launch_days"])
    principal = principal_actors(analysed)
    referred: list[str] | None = None  # what 'the company' stands for: found when first needed
    deep = r["weak"] * r["lead"] * r["decay"] ** 2
    weight = {"strong": r["strong"], "trigger": 1.0, "weak": r["weak"]}
    body_index = 0
    out: list[Candidate] = []
    for k, at in enumerate(analysed):
        index = body_index
        if at.sentence.paragraph != 0:
            body_index += 1
        if not at.triggered:
            continue  # its place is counted, not weighed
        if at.sentence.paragraph == 0:  # the title
            position = r["title"]
        else:
            position = max(r["floor"], r["lead"] * r["decay"] ** index)
        chosen = _sentence_triggers(at, pack, weight)
        # The cue kinds the sentence has: a cue that is absent needs no search for its clause.
        kinds = {h.term.kind for h in at.hits}
        for type_name, (hit, strength) in chosen.items():
            if strength * position < deep:
                continue  # a weak word deep in the article: never a headline, rarely a retelling
            rule = pack.types[type_name]
            score = position * rule.weight * strength
            clause = _clause_of(at, hit.start)
            background = ("background" in kinds or bool(at.dates)) and _background(
                at, hit, old_launch if type_name == "product_launch" else old, clause
            )
            if background:
                score *= r["background"]
            if "negation" in kinds and _in_clause(at, clause, "negation"):
                score *= r["negation"]
            actors = _actors(at, hit, pack)
            if type_name == "acquisition" and actors:
                actors += _units_sold(at, _deal_word(at, hit, clause), actors[0])
                if k + 1 < len(analysed) and _COUNTED_RE.search(
                    at.sentence.folded, hit.start, hit.end + _UNIT_REACH
                ):
                    listed = [m.name for m in analysed[k + 1].mentions if m.name not in actors]
                    actors += listed[: max(0, _MOST_LISTED - len(actors))]
            if actors and at.sentence.folded.startswith(_POSSESSIVE_OPENERS) and principal:
                # 'Its shares were down …': whose they are is the article's company.
                referred = referred or _companies_first(principal, analysed, pack)
                actors = [referred[0], *(a for a in actors if a != referred[0])]
            borrowed = not actors
            if borrowed:
                pool = principal
                if not pool and at.sentence.is_title:
                    pool = _lead_company(analysed)
                if "reference" in kinds and _company_referred(at):
                    referred = referred or _companies_first(principal, analysed, pack)
                    pool = referred
                actors = pool[: 2 if type_name in _TWO_PARTY else 1]
                if "reference" not in kinds:
                    score *= r["no_actor"]
            elif len(actors) == 1 and type_name in _TWO_PARTY:
                # A deal, a round or a case has two parties: when its sentence names one,
                # the other is the article's next most-named entity (named in the next
                # sentence, as a wire story does).
                actors = actors + [p for p in principal[:2] if p != actors[0]][:1]
            if "hedge" in kinds and _in_clause(at, clause, "hedge"):
                score *= r["hedge"]
            separate = at.sentence.folded.startswith(pack.separate)
            if separate:
                score *= r["separate"]
            anaphoric = _anaphoric(at, hit, pack)
            out.append(
                Candidate(
                    type_name,
                    at,
                    hit,
                    score,
                    actors,
                    anaphoric,
                    separate,
                    background=background,
                    borrowed=borrowed,
                )
            )
    return out


# A part of a company changing hands, named by what it is ('sell its industrial products
# group to…', 'acquire the plastic container business of Monsanto'): the unit is the acquired
# party, an entity once named with its parent ('Borg-Warner industrial products group').
_UNIT_HEADS = (
    "unit|units|division|divisions|subsidiary|subsidiaries|business|businesses|operations|group"
    "|assets|properties|plants?|mills?"
)
_UNIT_RE = re.compile(
    r"\b(its|the|an?|[A-Z][\w.&-]*['’]s) ((?:[A-Za-z][a-z-]+ )(?:[a-z][a-z-]+ ){0,3}(?:"
    + _UNIT_HEADS
    + r"))\b"
)
_UNIT_HEAD_RE = re.compile(_UNIT_HEADS)
# A deal over a number of firms ('acquired two design firms', 'three of its units'): the
# next sentence names them, as a wire story does.
_COUNTED_RE = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|several|a number of)"
    r" (?:of its )?(?:[a-z-]+ ){0,3}(?:firms|companies|banks|units|subsidiaries|businesses"
    r"|concerns|newspapers|stations)\b"
)
_MOST_LISTED = 8
_UNIT_REACH = 80
_FROM_REACH = 30  # a place between a unit and its seller ('in Ohio')
# Words no unit's description holds: what is sold of it, how it is held, or a clause's words.
_NOT_IN_UNIT = frozenset({
    "of", "and", "or", "the", "its", "a", "an", "to", "for", "from", "in", "on", "at", "by",
    "with", "sale", "majority", "all", "certain", "substantially", "disputed", "previously",
    "announced", "remaining", "consolidated", "wholly-owned", "local", "entire", "rest",
    "other", "whole", "same", "company", "stake", "interest", "shares", "his", "her", "their",
    "our", "two", "three", "four", "five", "several", "some", "most", "listed",
})  # fmt: skip


def _units_sold(at: Analysed, trigger: Hit, parent: str) -> list[str]:
    """The unit a deal's trigger names with it, with its parent: the sentence's subject for
    'its …', the company named before "'s …" or right after 'the … of'."""
    text = at.sentence.text
    pos, end = trigger.start, trigger.end + _UNIT_REACH
    while (m := _UNIT_RE.search(text, pos, end)) is not None:
        pos = m.start(2)  # a match refused may hold the unit ('the sale of its water assets')
        words = m.group(2).split(" ")[:-1]
        if any(
            w in _NOT_IN_UNIT and (w != "and" or i == 0 or _UNIT_HEAD_RE.fullmatch(words[i - 1]))
            for i, w in enumerate(words)
        ):
            continue  # 'the rest of its mills'; but 'its oil and gas unit'
        if m.group(2)[0].isupper() and any(n.start == m.start(2) for n in at.mentions):
            continue  # a named unit ('its Sandoz unit') is an actor by its own name
        owner: str | None = parent
        if m.group(1) == "the":  # the unit of a company named right after it
            after = m.end() + 4
            owner = next((n.name for n in at.mentions if n.start == after), None)
            if text[m.end() : after] != " of ":
                owner = None
        elif m.group(1) in ("a", "an"):  # 'buy a sawmill plant in Ohio from Norvik Corp'
            at_from = text.find(" from ", m.end(), m.end() + _FROM_REACH)
            owner = next((n.name for n in at.mentions if n.start == at_from + 6), None)
            if at_from < 0:
                owner = None
        elif m.group(1) != "its":  # "PPG's ethylene business"
            owner = next((n.name for n in at.mentions if n.start <= m.start(1) < n.end), None)
        if owner is not None:
            return [f"{owner} {m.group(2)}"]
    return []


def _deal_word(at: Analysed, hit: Hit, clause: int) -> Hit:
    """The trigger of the clause that names the deal, when `hit` is a weak word made full
    beside it ('completed the … disposition of its unit'): the unit follows that one."""
    if hit.term.kind != "weak":
        return hit
    return next(
        (
            h
            for h in at.hits
            if h.term.value == hit.term.value
            and h.term.kind != "weak"
            and h.start > hit.start
            and _clause_of(at, h.start) == clause
        ),
        hit,
    )


_TWO_PARTY = frozenset(("acquisition", "partnership", "funding", "legal_regulatory"))


def _sentence_triggers(
    at: Analysed, pack: RulePack, weight: Mapping[str, float]
) -> dict[str, tuple[Hit, float]]:
    triggers: list[Hit] = []
    vetoes: list[Hit] = []
    for h in at.hits:
        if h.term.kind in _TRIGGER_KINDS:
            triggers.append(h)
        elif h.term.kind == "veto":
            vetoes.append(h)
    if vetoes:
        triggers = [
            h
            for h in triggers
            if not any(v.term.value == h.term.value and v.start <= h.start < v.end for v in vetoes)
        ]
    triggers = [h for h in triggers if not _wrong_object(at.sentence.folded, h)]
    if len(triggers) > 1:
        triggers = [h for h in triggers if not _owners_approve(at, h)]
        triggers = _ungoverned(at, triggers)
    if len(triggers) == 1:  # the common case: nothing to pair, claim or outrank
        return {triggers[0].term.value: (triggers[0], weight[triggers[0].term.kind])}
    chosen: dict[str, tuple[Hit, float]] = {}
    claimed: set[int] = set()  # clauses a full trigger has claimed for its type
    # Two weak triggers of one type in one clause ('股票…上涨') make a full one: counted once,
    # not sought again for each weak trigger (one long sentence can hold thousands). Two
    # different entries: 'an investor group … its investment' is one word (invest*) twice.
    per_clause: dict[tuple[str, int], int] = {}  # a plain loop: a Counter costs more to make
    for value, clause, _ in {(h.term.value, _clause_of(at, h.start), id(h.term)) for h in triggers}:
        per_clause[value, clause] = per_clause.get((value, clause), 0) + 1
    for hit in sorted(triggers, key=lambda h: (h.start, pack.types[h.term.value].fallback)):
        clause = _clause_of(at, hit.start)
        strength = weight[hit.term.kind]
        if hit.term.kind == "weak" and per_clause.get((hit.term.value, clause), 0) > 1:
            strength = 1.0
        if strength >= 1.0 and not pack.types[hit.term.value].fallback:
            if clause in claimed and hit.term.value not in chosen:
                continue  # "批准微软收购 Skype": the approval is the news, not the takeover
            claimed.add(clause)
        held = chosen.get(hit.term.value)
        if held is None or strength > held[1]:
            chosen[hit.term.value] = (hit, strength)
    specific = any(s >= 1.0 for t, (_, s) in chosen.items() if not pack.types[t].fallback)
    # A full trigger, even of a fallback type, outranks weak words of others: in
    # '…股份有限公司关于控股股东股份解除质押' the pledge is the news, not the shares.
    full = specific or any(s >= 1.0 for _, s in chosen.values())
    return {
        t: hs
        for t, hs in chosen.items()
        if not (pack.types[t].fallback and specific) and (hs[1] >= 1.0 or not full)
    }


# The owners or directors of a party, named before 'approved' in its clause ('shareholders at
# a special meeting approved the merger'): the company's own organ, not a regulator; the
# deal they approve is the news (the veto list holds the adjacent forms).
_OWNERS_RE = re.compile(r"\b(?:shareholders|stockholders|holders|directors)\b")


def _owners_approve(at: Analysed, hit: Hit) -> bool:
    folded = at.sentence.folded
    if not folded.startswith("approv", hit.start):
        return False
    clause = _clause_of(at, hit.start)
    begin = at.breaks[clause - 1] if clause else 0
    return _OWNERS_RE.search(folded, begin, hit.start) is not None


# The verb decides the type by what it governs. 'to take over' with no object, or with a role
# ('take over as chief executive', 'from Smith'), is a succession, not a takeover.
_NO_TAKEOVER_RE = re.compile(
    r"[ ]*(?:$|[,.;:!?)—–-]|(?:as|from|at|when|after|on|in|immediately|effective)\b)"
)
_WORD_END_RE = re.compile(r"[a-z]*")
# A hire of things, not people ('hired seven humanoid robots'): a count, then what is hired.
_THINGS_HIRED_RE = re.compile(
    r"[ ](?:[\w-]+[ ]){0,3}?(?:robots?|humanoids?|machines?|bots?|drones?|agents?|vehicles?|trucks?)\b"
)


def _wrong_object(folded: str, hit: Hit) -> bool:
    """A trigger whose verb governs what its type cannot: a takeover with no company taken, a
    hire of machines."""
    word = folded[hit.start : hit.end]
    if hit.term.value == "acquisition" and word.endswith("over"):
        return _NO_TAKEOVER_RE.match(folded, hit.end) is not None
    if hit.term.value == "talent_move" and word.startswith("hir"):
        end = _WORD_END_RE.match(folded, hit.end)  # a stem's hit ends before its inflection
        return _THINGS_HIRED_RE.match(folded, end.end() if end else hit.end) is not None
    return False


# 对/针对/就 … 的事件，展开调查: Chinese puts the governing verb after its object, and a trigger
# inside that object ('investigating Meituan's acquisition of Mobike') tells no event of its
# own. 对外 (publicly), 对此 (about this), 对方, 对手 open no object.
_OBJECT_OPEN_RE = re.compile(r"(?:针对|对|就)(?![外此方手于])")
_OBJECT_REACH = 30  # from 对 to the trigger, and from the trigger to the governing verb
_OBJECT_STOP = "。；;！？!?"


def _ungoverned(at: Analysed, triggers: list[Hit]) -> list[Hit]:
    """The triggers that are not inside the object of a later full trigger of another type."""
    folded = at.sentence.folded
    if "对" not in folded and "就" not in folded:
        return triggers
    governing = [h for h in triggers if h.term.kind != "weak"]
    return [h for h in triggers if not _governed(folded, h, governing)]


def _governed(folded: str, hit: Hit, governing: Sequence[Hit]) -> bool:
    head = folded[max(0, hit.start - _OBJECT_REACH) : hit.start]
    opened = [
        m
        for m in _OBJECT_OPEN_RE.finditer(head)
        if not any(c in head[m.end() :] for c in _OBJECT_STOP + "，,")
    ]
    if not opened:
        return False
    for g in governing:
        if g.term.value == hit.term.value or not hit.end < g.start <= hit.end + _OBJECT_REACH:
            continue
        between = folded[hit.end : g.start]
        if "的" in between and not any(c in between for c in _OBJECT_STOP):
            return True
    return False


def _clause_of(at: Analysed, position: int) -> int:
    return bisect_left(at.breaks, position)  # breaks are in order


def _in_clause(at: Analysed, clause: int, kind: str) -> bool:
    breaks = at.breaks
    return any(h.term.kind == kind and bisect_left(breaks, h.start) == clause for h in at.hits)


def _background(at: Analysed, hit: Hit, old: date, clause: int) -> bool:
    """A background cue before the trigger or just after it; an old date (before `old`)
    before it or in its clause ('bought Activision for $69bn in 2023')."""
    reach = hit.end + _CUE_REACH
    comparisons = None
    for h in at.hits:
        if h.term.kind == "background" and h.start < reach:
            if comparisons is None:
                comparisons = [c for c in at.hits if c.term.kind == "comparison"]
            if not any(c.start <= h.start and h.end <= c.end for c in comparisons):
                return True
    return any(
        d.last < old and (d.start < hit.start or _clause_of(at, d.start) == clause)
        for d in at.dates
    )


def _anaphoric(at: Analysed, hit: Hit, pack: RulePack) -> bool:
    """'the withdrawal', '此次挖角', '这笔价值 440 亿美元的交易': a fact already told."""
    head = at.sentence.folded[max(0, hit.start - _ANAPHORA_REACH) : hit.start]
    tails = pack.anaphora_tails
    # Most English heads end with a word ('the', 'of'), not a cue: told without the pattern,
    # which tests its class at each of the 15 characters (~5 k instructions a head).
    if tails is not None and head.isascii() and not head.endswith(tails):
        return False
    cut = last_of(head, "，,；;。：:")
    return pack.anaphora.search(head, cut + 1) is not None


_LEAD_SENTENCES = 2


def _lead_company(analysed: Sequence[Analysed]) -> list[str]:
    """An article that names no one twice: its title, naming no one ('E-QM5 正式上市…发售'),
    tells the news of the company its lead names."""
    lead = [at for at in analysed if not at.sentence.is_title][:_LEAD_SENTENCES]
    return next(([m.name] for at in lead for m in at.mentions if m.kind == ORG), [])


_POSSESSIVE_OPENERS = ("its ", "the company's ", "the company’s ")


def _company_referred(at: Analysed) -> bool:
    """'the company', 'the firm': English says a company is meant ('公司' also ends names)."""
    folded = at.sentence.folded
    return any(h.term.kind == "reference" and folded[h.start].isascii() for h in at.hits)


def _companies_first(
    principal: list[str], analysed: Sequence[Analysed], pack: RulePack
) -> list[str]:
    """The article's main names, its people last: 'the company', '该公司' stands for a company
    (Workday, not its co-founder named more often), or a name of no known kind."""
    known = pack.entity_kinds  # the pack's kind wins: looked up for each name, not walked
    kinds = {m.name: m.kind for at in analysed for m in at.mentions if m.name in principal}
    kinds = {name: known.get(name, kind) for name, kind in kinds.items()}
    return sorted(principal, key=lambda name: kinds.get(name) == PERSON)


def principal_actors(analysed: Sequence[Analysed]) -> list[str]:
    """The names the article is most about: title mentions count triple."""
    # A plain dict, not a Counter: a Counter's missing key is a call of Python code (a
    # hundred names an article); the sort is most_common's order, ties as first named.
    counts: dict[str, int] = {}
    for at in analysed:
        if at.mentions:
            weight = 3 if at.sentence.paragraph == 0 else 1
            for m in at.mentions:
                counts[m.name] = counts.get(m.name, 0) + weight
    ranked = sorted(counts.items(), key=_count, reverse=True)[:3]
    return [name for name, n in ranked if n >= 2]


def _count(item: tuple[str, int]) -> int:
    return item[1]


def _actors(at: Analysed, trigger: Hit, pack: RulePack) -> list[str]:
    """The sentence's names, its subject (the last name before the trigger's clause starts,
    else the first name) first; then the organisations of the people and companies named."""
    names = at.mentions
    if "“" in at.sentence.folded or '"' in at.sentence.folded:
        names = _outside_similes(names, at.sentence.folded)
    before = [m for m in names if m.end <= trigger.start]
    subject = before[:1] or names[:1]
    actors: dict[str, None] = dict.fromkeys(m.name for m in subject)
    actors.update(dict.fromkeys(m.name for m in names))
    for name in list(actors):
        entity = pack.entities.get(name)
        if entity is not None and entity.org:
            actors[entity.org] = None
    return list(actors)[:8]


# A likening before a quotation: what it names is a figure of speech, not a party
# (比喻为“NBA冠军团队失去主力”, 'likened it to "a Manhattan Project"').
_SIMILE_RE = re.compile(
    r"(?:比喻为|比喻成|比作|好比|犹如|如同|就像|像是|宛如|堪比|likened (?:it )?to|compared (?:it )?to"
    r"|akin to|like)[ ]?[“\"]"
)


def _outside_similes(names: list[Mention], folded: str) -> list[Mention]:
    spans = []
    for m in _SIMILE_RE.finditer(folded):
        close = min(
            (i for i in (folded.find("”", m.end()), folded.find('"', m.end())) if i >= 0),
            default=len(folded),
        )
        spans.append((m.end(), close))
    if not spans:
        return names
    return [n for n in names if not any(s <= n.start and n.end <= e for s, e in spans)]


def attach_amounts(
    cands: Sequence[Candidate],
    analysed: Sequence[Analysed],
    pack: RulePack,
    article: Article,
    joined: tuple[str, str, list[int]] | None = None,
) -> None:
    """Give each candidate the amount that belongs to it, by its type's amount rule.
    `joined`: what `join` gives for the analysed sentences, if already made."""
    seek = _Seeker(analysed, article, pack, joined)
    position = {id(at): i for i, at in enumerate(analysed)}
    seek([position[id(c.at)] for c in cands if pack.types[c.type].amount.scope != "none"])
    lead = [a for a in analysed if not a.sentence.is_title][:3]
    # The first usable amount of the lead or the article depends on the type alone: sought
    # once per type, however many candidates of the type lack one of their own.
    first: dict[tuple[str, str], Found | None] = {}
    totals: list[tuple[Analysed, int]] | None = None  # the article's deal totals, if needed
    for c in cands:
        rule = pack.types[c.type].amount
        if rule.scope == "none":
            continue
        found = _nearest(c.at, c.trigger, rule, pack)
        if found is None and (
            (rule.scope == "lead" and c.at.sentence.is_title) or rule.scope == "article"
        ):
            key = (c.type, rule.scope)
            if key not in first:
                if rule.scope == "lead":
                    seek([position[id(at)] for at in lead])
                    first[key] = next(
                        (f for at in lead if (f := _first_usable(at, rule, pack))), None
                    )
                else:
                    first[key] = _first_in_article(analysed, rule, pack, seek)
            found = first[key]
        if found is None and rule.scope in ("sentence", "lead") and not c.at.sentence.is_title:
            follow = _follow_on(c, position[id(c.at)], analysed, rule, pack, seek)
            if follow is not None:
                c.amount = follow.amount
                continue  # told in another sentence: no weight added to this one's claim
        if found is None and rule.totals and (c.at.sentence.is_title or (lead and c.at is lead[0])):
            if totals is None:
                totals = _article_totals(analysed, pack, seek)
            c.amount = next(
                (at.amounts[i].amount for at, i in totals if _usable(at, i, rule, pack)), None
            )
            continue  # an amount told elsewhere adds no weight to this sentence's claim
        c.amount = found.amount if found else None
        if found is not None and found.amount.usd and rule.weighs and rule.scope != "article":
            c.score *= pack.ranking["amount"]
        if found is not None and rule.increments and found in c.at.amounts:
            c.tally = _tally(c.at, c.at.amounts.index(found), pack)
    _running_everywhere(cands, pack)


_FOLLOW_REACH = 3  # sentences after an event's own that may state its amount
# A sentence opening with one of these is about the subject told before ('It sold …'), as is
# one opening with the event's actor or a 'reference' cue ('The company', '该公司').
# (Not 其: 其中, 其次, 其他 open most of its sentences.)
_PRONOUN_OPENERS = ("it ", "its ", "它")


def _follow_on(
    c: Candidate,
    k: int,
    analysed: Sequence[Analysed],
    rule: AmountRule,
    pack: RulePack,
    seek: _Seeker,
) -> Found | None:
    """The amount of an event whose sentence states none, told in one of the next sentences
    of its paragraph (or of the next one, from the lead's) whose subject refers back to the
    event's actor and whose clause of a trigger, weak or full, of the same type states it:
    'Jetco's IPO was oversubscribed. … It sold 17 million shares to raise up to $400m.'"""
    paragraph = c.at.sentence.paragraph
    lead = next((at.sentence.paragraph for at in analysed if not at.sentence.is_title), 0)
    for j in range(k + 1, min(k + 1 + _FOLLOW_REACH, len(analysed))):
        at = analysed[j]
        p = at.sentence.paragraph
        if p != paragraph and not (paragraph == lead and p == lead + 1):
            break
        hits = [h for h in at.hits if h.term.value == c.type and h.term.kind in _TRIGGER_KINDS]
        if not hits or any(h.term.kind == "background" for h in at.hits):
            continue
        if not _refers_back(at, c, hits[0].start):
            continue
        seek([j])
        for h in hits:
            clause = _clause_of(at, h.start)
            own = [
                i
                for i, f in enumerate(at.amounts)
                if _clause_of(at, f.start) == clause and _usable(at, i, rule, pack)
            ]
            if own:
                return at.amounts[min(own, key=lambda i: abs(at.amounts[i].start - h.start))]
    return None


def _refers_back(at: Analysed, c: Candidate, trigger: int) -> bool:
    """Does the sentence open with a pronoun, 'the company' or the event's actor, with no one
    else named before its trigger ('Acme chairman John Doe said …' is Doe's word)?"""
    if any(m.start < trigger and m.name not in c.actors for m in at.mentions):
        return False
    folded = at.sentence.folded
    if folded.startswith(_PRONOUN_OPENERS):
        return True
    if any(h.term.kind == "reference" and h.start == 0 for h in at.hits):
        return True
    return any(m.start == 0 and m.name in c.actors for m in at.mentions)


def _tally(at: Analysed, i: int, pack: RulePack) -> str:
    """ "running" when a running-total word stands beside at.amounts[i] in its clause ('has
    now raised $935M', '累计融资 20 亿元', '$50 million to date'), "added" for a new-money
    word ('another $520 million', '追加投资 5 亿元'), else "". A word before the amount
    decides before one after it; neither reaches past the amounts beside it."""
    f, folded, amounts = at.amounts[i], at.sentence.folded, at.amounts
    reach = 12 if _HAN_RE.search(folded, f.start, f.end) else 40
    clause = _clause_of(at, f.start)
    begin = max(f.start - reach, at.breaks[clause - 1] + 1 if clause else 0)
    if i:
        begin = max(begin, amounts[i - 1].end)
    stop = min(f.end + reach // 2 + 10, len(folded))
    if clause < len(at.breaks):
        stop = min(stop, at.breaks[clause])
    if i + 1 < len(amounts):
        stop = min(stop, amounts[i + 1].start)
    head, tail = folded[begin : f.start], folded[f.end : max(f.end, stop)]
    for part in (head, tail):
        found = [
            (m.end() if part is head else -m.start(), kind)
            for kind, pattern in (("running", pack.amount_running), ("added", pack.amount_added))
            for m in pattern.finditer(part)
        ]
        if found:
            return max(found)[1]  # the word nearest the amount
    return ""


def _running_everywhere(cands: Sequence[Candidate], pack: RulePack) -> None:
    """A figure told once as a running total is one wherever it is told again ('raise a total
    of $935 million for the round' after 'has now raised $935M')."""
    running = [
        (c.type, c.amount.usd) for c in cands if c.tally == "running" and c.amount and c.amount.usd
    ]
    if not running:
        return
    for c in cands:
        if c.tally or c.amount is None or c.amount.usd is None:
            continue
        usd = c.amount.usd
        if any(t == c.type and abs(u - usd) <= 0.05 * max(u, usd) for t, u in running):
            c.tally = "running"


class _Seeker:
    """Seeks the amounts of sentences on demand, the sentences of one demand at once."""

    def __init__(
        self,
        analysed: Sequence[Analysed],
        article: Article,
        pack: RulePack,
        joined: tuple[str, str, list[int]] | None = None,
    ) -> None:
        self.analysed, self.article, self.pack = analysed, article, pack
        self.sentences = [at.sentence for at in analysed]
        self.joined = joined

    def text(self) -> tuple[str, str, list[int]]:
        """The article's text and folded text, a sentence a line, and where each starts."""
        self.joined = self.joined or join(self.sentences)
        return self.joined

    def __call__(self, indexes: Iterable[int]) -> None:
        todo = sorted({i for i in indexes if not self.analysed[i].amounts_sought})
        if not todo:
            return
        found = _amounts(self.article, self.sentences, todo, self.pack, self.text())
        for i, amounts in zip(todo, found, strict=True):
            self.analysed[i].amounts = amounts
            self.analysed[i].amounts_sought = True


def _first_in_article(
    analysed: Sequence[Analysed], rule: AmountRule, pack: RulePack, seek: _Seeker
) -> Found | None:
    """The first usable amount of the article: sought only in the sentences that hold a word
    the rule requires (or a neutral phrase, which blanking could turn into one)."""
    within: Sequence[int] = range(len(analysed))
    if rule.require_re is not None:
        folded, starts = seek.text()[1:]
        if rule.require_words is not None:  # both word lists at once: the same lines
            holding = lines_holding(folded, rule.require_words, starts)
            return _first_in_lines(analysed, rule, pack, seek, holding)
        lines = _lines_with(rule.require_re, folded, starts)
        lines |= _lines_with(pack.amount_neutral, folded, starts)
        within = sorted(lines)
    seek(within)
    return next((f for i in within if (f := _first_usable(analysed[i], rule, pack))), None)


def _first_in_lines(
    analysed: Sequence[Analysed],
    rule: AmountRule,
    pack: RulePack,
    seek: _Seeker,
    lines: Sequence[int],
) -> Found | None:
    """The first usable amount of `lines` (in order), each line sought as it is reached: the
    rest are not sought once one is found."""
    for line in lines:
        seek([line])
        found = _first_usable(analysed[line], rule, pack)
        if found is not None:
            return found
    return None


def _lines_with(pattern: re.Pattern[str], text: str, starts: Sequence[int]) -> set[int]:
    """The lines (of `starts`) where `pattern` matches."""
    return {bisect_right(starts, m.start()) - 1 for m in pattern.finditer(text)}


def _nearest(at: Analysed, trigger: Hit, rule: AmountRule, pack: RulePack) -> Found | None:
    """The amount of the trigger's clause, else the nearest; a deal's total ('in a transaction
    valued at …') before another amount of its clause ('assumed debt of …')."""
    usable = [i for i in range(len(at.amounts)) if _usable(at, i, rule, pack)]
    if not usable:
        return None
    clause = _clause_of(at, trigger.start)
    amounts = at.amounts
    best = min(
        usable,
        key=lambda i: (
            _clause_of(at, amounts[i].start) != clause,
            not _totalled(at, amounts[i], pack),
            abs(amounts[i].start - trigger.start),
        ),
    )
    return amounts[best]


def _totalled(at: Analysed, f: Found, pack: RulePack) -> bool:
    """Is the amount a deal's total: a total word just before it, in its clause ('valued at'),
    or a deal it modifies just after it ('a 265 mln dlr bid')."""
    folded = at.sentence.folded
    head = folded[max(0, f.start - _TOTAL_REACH) : f.start]
    head = head[last_of(head, ",，;；。") + 1 :]
    if pack.amount_total_before.search(head) is not None or _VALUES_AT_RE.search(head):
        return True
    return (
        pack.amount_total_after.match(folded, f.end) is not None
        or _IN_THE_DEAL_RE.match(folded, f.end) is not None
    )


def _article_totals(
    analysed: Sequence[Analysed], pack: RulePack, seek: _Seeker
) -> list[tuple[Analysed, int]]:
    """The deals' totals stated in the article, in order (sentence, index of the amount): sought
    only in the lines holding a total word, never in background ones."""
    folded, starts = seek.text()[1:]
    if pack.amount_total_words is not None:  # both word lists at once: the same lines
        lines = lines_holding(folded, pack.amount_total_words, starts)
    else:
        lines = sorted(
            _lines_with(pack.amount_total, folded, starts)
            | _lines_with(pack.amount_deal, folded, starts)
        )
    seek(lines)
    return [
        (at, i)
        for at in (analysed[k] for k in lines)
        if not any(h.term.kind == "background" for h in at.hits)
        for i, f in enumerate(at.amounts)
        if _totalled(at, f, pack)
    ]


def _first_usable(at: Analysed, rule: AmountRule, pack: RulePack) -> Found | None:
    if not at.amounts or any(h.term.kind == "background" for h in at.hits):
        return None
    return next((f for i, f in enumerate(at.amounts) if _usable(at, i, rule, pack)), None)


def _blank(m: re.Match[str]) -> str:
    return " " * len(m.group())


def _usable(at: Analysed, i: int, rule: AmountRule, pack: RulePack) -> bool:
    """Is at.amounts[i] one this type takes: not what one share or unit costs (unless the type
    is a price), no disqualifying word near it ('tax', '成本', 'sales of'), and a required one if
    any. The words are sought no further than the amounts beside it: in 'sales of 50 mln dlrs,
    for 235 mln dlrs' the sales are the first amount's, not the second's."""
    f = at.amounts[i]
    if f.unit and not rule.prices:
        return False
    if rule.totals and f.amount.usd is not None and f.amount.usd < _LEAST:
        return False
    folded = at.sentence.folded
    reach = 12 if _HAN_RE.search(folded, f.start, f.end) else 40  # English words are longer
    begin, stop = max(0, f.start - reach), f.end + reach // 2
    if i:
        begin = max(begin, at.amounts[i - 1].end)
    if i + 1 < len(at.amounts):
        stop = min(stop, at.amounts[i + 1].start)
    wide = folded[max(0, begin - 8) : stop]  # 'pre tax' cut in half is still neutral
    window = pack.amount_neutral.sub(_blank, wide)[begin - max(0, begin - 8) :]
    if (
        rule.exclude_re is not None
        and rule.exclude_re.search(window)
        # '交易总价预计超过 10 亿美元': a deal's total, if estimated
        and not (rule.totals and _totalled(at, f, pack))
    ):
        return False
    if rule.attribute_before is not None and _headed(at, i, rule):
        return False
    return rule.require_re is None or rule.require_re.search(window) is not None


def _headed(at: Analysed, i: int, rule: AmountRule) -> bool:
    """Does one of the rule's attribute words head at.amounts[i] ('sales of 50 mln dlrs')?"""
    f, folded = at.amounts[i], at.sentence.folded
    head = folded[max(0, f.start - _TOTAL_REACH, at.amounts[i - 1].end if i else 0) : f.start]
    head = head[last_of(head, ",，;；。") + 1 :]
    assert rule.attribute_before is not None and rule.attribute_after is not None
    return bool(rule.attribute_before.search(head) or rule.attribute_after.match(folded, f.end))
