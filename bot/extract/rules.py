"""The rule pack: rules.yaml, aliases.yaml and rates.yaml validated and compiled once.

Pure: takes the parsed YAML documents. Every lexicon (triggers, cues, aliases) goes into
one Aho–Corasick automaton, so a sentence is scanned once whatever the number of rules.

One module (~570 lines): validating and compiling the three documents is one walk over them,
with one way of naming where a RulePackError is.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, NamedTuple

import ahocorasick

from bot.core.errors import EventfeedError
from bot.core.model import fields_reduce
from bot.core.text import holds_from
from bot.extract.amounts import head_patterns, modified_pattern, not_after_a_letter
from bot.extract.sentences import LOST, fold

AMOUNT_SCOPES = ("none", "sentence", "lead", "article")
_LATIN_RE = re.compile(r"[a-z0-9]")
_CJK = "\u2e80"  # the CJK radicals: Chinese from here on
_WIDE = "\u0250"  # the first character past Latin Extended-B
# The characters of a Latin word in folded text: a set lookup per hit, not a regex call.
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789") | frozenset(
    map(chr, range(0xC0, 0x250))
)
_RANKING_DEFAULTS: dict[str, float] = {
    "title": 3.0,
    "lead": 2.0,
    "decay": 0.8,
    "floor": 0.8,
    "weak": 0.4,
    "strong": 1.6,
    "amount": 1.25,
    "separate": 1.5,
    "no_actor": 0.75,
    "hedge": 0.5,
    "background": 0.35,
    "negation": 0.5,
    "old_date_days": 180,
    "old_launch_days": 30,
    "repeat": 0.35,
    "min_score": 0.8,
    "relative": 0.3,
    "max_events": 4,
    "max_per_type": 2,
}


class RulePackError(EventfeedError):
    """A rule, alias or rate file that cannot be used; the message names the file and key."""


@dataclass(frozen=True, slots=True)
class Term:
    """One lexicon entry as the automaton returns it."""

    kind: str  # strong, trigger, weak, veto, alias, or a cue: background, negation, comparison,
    # hedge, reference
    value: str  # the event type, the cue kind or the canonical name
    latin: bool  # whole-word matching applies
    stem: bool  # written with a trailing '*': the word may run on
    exact: str | None = None  # short all-capital alias: must match this case exactly

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return fields_reduce(self)


class Hit(NamedTuple):  # a tuple: built by the hundred per article, and cheaply
    start: int
    end: int  # exclusive
    term: Term


# A NamedTuple's own constructor is a Python function; where they are made by the hundred per
# article, tuple.__new__ makes the same tuple in half the time.
_new = tuple.__new__

# What `scan` checks for an entry's hit, by what its terms are: nothing (none is Latin or
# exact), whole words alone (each is a Latin word, not a stem, exact or alias), or term by term.
# Compared with ==: the automaton holds copies once the pack is sent to a worker process.
_PLAIN, _WHOLE_WORDS, _EACH = 0, 1, 2


def _check(terms: Sequence[Term]) -> int:
    if not any(t.latin or t.exact for t in terms):
        return _PLAIN
    if all(t.latin and not t.stem and t.exact is None and t.kind != "alias" for t in terms):
        return _WHOLE_WORDS
    return _EACH


@dataclass(frozen=True, slots=True)
class AmountRule:
    scope: str
    weighs: bool = True  # a candidate's own amount adds to its weight
    require: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()  # this type's own, besides amounts.exclude
    require_re: re.Pattern[str] | None = None  # compiled by load_rule_pack
    # The required words and the neutral phrases, none holding another (None: seek them with
    # the patterns): the lines holding one, found by `text.lines_holding` instead of two regex
    # passes.
    require_words: tuple[str, ...] | None = field(default=None, repr=False, compare=False)
    exclude_re: re.Pattern[str] | None = None  # this type's and the global ones
    prices: bool = False  # takes what one thing costs ('$999', '54 dlrs a share')
    # A headline without an amount of its own takes a deal's total stated elsewhere ('the
    # transaction is valued at …', '交易总价为…').
    totals: bool = False
    # Words that make an amount they head something else than the event's: a party's sales or
    # assets ('with annual sales of 50 mln dlrs', '总资产 80 亿元').
    attributes: tuple[str, ...] = ()
    attribute_before: re.Pattern[str] | None = None  # compiled by load_rule_pack
    attribute_after: re.Pattern[str] | None = None
    # The event is what one step adds (a round's new money), not the running total after it:
    # where the same event tells both, the new money is its amount (amounts.running, .added).
    increments: bool = False

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return fields_reduce(self)


@dataclass(frozen=True, slots=True)
class TypeRule:
    name: str
    weight: float
    amount: AmountRule
    fallback: bool = False  # only for sentences no other type claims

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return fields_reduce(self)


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    kind: str  # "person" or "org"
    org: str | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return fields_reduce(self)


@dataclass(frozen=True, eq=False)
class RulePack:
    """Everything extraction needs, compiled; build it with load_rule_pack()."""

    event_types: tuple[str, ...]
    types: Mapping[str, TypeRule]
    entities: Mapping[str, Entity]
    rates: Mapping[str, float]
    rates_as_of: str
    amount_exclude: tuple[str, ...]
    amount_neutral: re.Pattern[str]
    approximate: tuple[str, ...]
    anaphora: re.Pattern[str]  # matches the text just before a trigger that refers back
    separate: tuple[str, ...]
    boilerplate: tuple[re.Pattern[str], ...]
    ranking: Mapping[str, float]
    automaton: Any = field(repr=False)
    # The entries written in Latin letters alone, and the characters beyond them that the
    # others need: a line without any of those is scanned by the small automaton. pyahocorasick
    # looks a character up among a node's children one by one, and the root of the full
    # automaton has hundreds (every Chinese first character): 3× slower on English text.
    latin_automaton: Any = field(repr=False, default=None)
    wide: re.Pattern[str] | None = field(repr=False, default=None)
    # A text holds none of `wide` if it holds none of `wide_low` and no character from block
    # U+`wide_block`00 on: told 3× faster than by the pattern (0: no such shortcut).
    wide_block: int = field(repr=False, default=0)
    wide_low: str = field(repr=False, default="")
    # No entry holds a line break (and there are Latin ones): the lines of a text can be
    # scanned apart, each by the automaton it needs.
    lines_apart: bool = field(repr=False, default=False)
    # The full automaton over the entries' UTF-16 code units, each unit two Latin-1 characters:
    # its root has 70 children (the high bytes) instead of 425 (every first character),
    # twice the steps but each a short look-up: a Chinese article scanned in half the time.
    # A find at an odd unit offset straddles two characters: dropped. None: an entry holds a
    # character past U+FFFF (two units), and the full automaton scans every text.
    paired_automaton: Any = field(repr=False, default=None)
    _aliases: Mapping[str, str] = field(repr=False, default_factory=dict)
    entity_kinds: Mapping[str, str] = field(repr=False, default_factory=dict)  # name → kind
    # Words just before a deal's total: 'valued at', 'a total of', '总价', '作价'.
    amount_total: re.Pattern[str] = field(repr=False, default=re.compile("(?!)"))
    # How a text of ASCII characters alone that `anaphora` matches ends: a Latin cue and a space
    # (at the end, or before a line break ending it, where '$' matches too); the Chinese cues
    # each hold a character past ASCII. None: no such shortcut.
    anaphora_tails: tuple[str, ...] | None = field(repr=False, default=None)
    # The learned vetter of headline events (rules.yaml `vetter:`): a logistic model over a
    # cluster's features (see clusters.vet_features); empty: every selected cluster is kept.
    vetter: Mapping[str, float] = field(repr=False, default_factory=dict)
    # The probability the n-th event kept must reach (the last for any later one).
    vetter_thresholds: tuple[float, ...] = (0.0, 0.5)
    amount_total_before: re.Pattern[str] = field(repr=False, default=re.compile("(?!)"))
    # Right after an amount, a deal it is the total of: 'a 265 mln dlr bid', '的交易'.
    amount_total_after: re.Pattern[str] = field(repr=False, default=re.compile("(?!)"))
    amount_deal: re.Pattern[str] = field(repr=False, default=re.compile("(?!)"))  # those nouns
    # The total words and the deal nouns, none holding another (None: seek them with the
    # patterns): the lines holding one, found by `text.lines_holding` instead of two regex
    # passes over the article.
    amount_total_words: tuple[str, ...] | None = field(repr=False, default=None)
    # Near an amount, these make it a running total ('has now raised', '累计') or new money
    # ('another', '追加'): see AmountRule.increments.
    amount_running: re.Pattern[str] = field(repr=False, default=re.compile("(?!)"))
    amount_added: re.Pattern[str] = field(repr=False, default=re.compile("(?!)"))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return fields_reduce(self)

    def canonical(self, name: str) -> str | None:
        """Any alias (any script, any case) → canonical entity name; None if unknown."""
        return self._aliases.get(fold(name.strip()))

    def scan(self, folded: str, text: str, starts: Sequence[int] = (0,)) -> list[list[Hit]]:
        """Every lexicon entry in folded text, whole words only for Latin words; filed by
        the sentence (of `starts`, the offsets of the lines of the text) it falls in, at
        positions relative to that sentence."""
        out: list[list[Hit]] = [[] for _ in starts]
        if not out:
            return out
        size, line, last_line = len(folded), 0, len(starts) - 1
        shift, following = starts[0], starts[1] if last_line else size + 1
        filed = out[0]
        word = _WORD_CHARS
        for last, (length, terms, check) in self._matches(folded):
            start, end = last - length + 1, last + 1
            if start >= following:  # the hit is in a later sentence
                while line < last_line and starts[line + 1] <= start:
                    line += 1
                shift, filed = starts[line], out[line]
                following = starts[line + 1] if line < last_line else size + 1
            if check == _PLAIN:  # Chinese entries: no word boundaries to check
                for term in terms:
                    filed.append(_new(Hit, (start - shift, end - shift, term)))
                continue
            before_ok = start == 0 or folded[start - 1] not in word
            after_ok = end >= size or folded[end] not in word
            if check == _WHOLE_WORDS:  # what the loop below decides for such terms, at once
                if before_ok and after_ok:
                    for term in terms:
                        filed.append(_new(Hit, (start - shift, end - shift, term)))
                continue
            for term in terms:
                if term.latin and (not before_ok or (not term.stem and not after_ok)):
                    continue
                if term.exact is not None and text[start:end] != term.exact:
                    continue
                if term.kind == "alias" and (
                    folded[start - 1 : start] in _ADDRESS_BEFORE
                    or (folded[end : end + 1] == "." and folded[end + 1 : end + 2].isalpha())
                ):
                    continue  # 'drive.google.com', '@jack': part of an address, not a mention
                filed.append(_new(Hit, (start - shift, end - shift, term)))
        return out

    def _matches(self, folded: str) -> Iterable[tuple[int, Any]]:
        """What the full automaton finds in `folded`, the lines without a character that only
        the full one knows scanned by the small one (3× faster on them). No entry spans a line
        break, and both report the entries ending at one place longest first: the same
        finds in the same order."""
        pattern = self.wide
        wide = pattern.search(folded) if pattern is not None and self._may_be_wide(folded) else None
        whole: Iterable[tuple[int, Any]]
        if wide is None:
            small = self.latin_automaton
            whole = small.iter(folded) if small is not None else ()
            return whole
        first_break = folded.find("\n")
        if not self.lines_apart or not 0 <= first_break < wide.start():
            # A wide title: Chinese text, wide throughout.
            return self._full_matches(folded, [(0, len(folded), self.automaton)])
        return self._full_matches(folded, self._stretches(folded, wide.start()))

    def _full_matches(
        self, folded: str, stretches: Sequence[tuple[int, int, Any]]
    ) -> Iterable[tuple[int, Any]]:
        """The stretches scanned in order, those of the full automaton by the paired one."""
        paired = self.paired_automaton
        if paired is None:
            return chain.from_iterable(a.iter(folded, begin, end) for begin, end, a in stretches)
        units = folded.encode("utf-16-be", "surrogatepass")
        if len(units) != 2 * len(folded):
            # A character past U+FFFF (an emoji) is two units, and no entry holds one: a lone
            # surrogate, one unit no entry holds either, keeps the offsets and the finds.
            units = _PAST_FFFF_RE.sub(_LONE_SURROGATE, folded).encode("utf-16-be", "surrogatepass")
        doubled = units.decode("latin-1")
        full = self.automaton
        return chain.from_iterable(
            (
                (last >> 1, found)
                for last, found in paired.iter(doubled, 2 * begin, 2 * end)
                if last & 1
            )
            if a is full
            else a.iter(folded, begin, end)
            for begin, end, a in stretches
        )

    def _may_be_wide(self, folded: str) -> bool:
        if not self.wide_block:
            return True
        return any(c in folded for c in self.wide_low) or holds_from(folded, self.wide_block)

    def _stretches(self, folded: str, first_wide: int) -> list[tuple[int, int, Any]]:
        """Runs of whole lines, each with the automaton it needs, in order."""
        assert self.wide is not None
        begin = folded.rfind("\n", 0, first_wide) + 1
        out: list[tuple[int, int, Any]] = [(0, begin, self.latin_automaton)]
        size = len(folded)
        while begin <= size:
            end = folded.find("\n", begin)
            end = size if end < 0 else end
            full = self.wide.search(folded, begin, end) is not None
            automaton = self.automaton if full else self.latin_automaton
            if out[-1][2] is automaton:
                out[-1] = (out[-1][0], end, automaton)
            else:
                out.append((begin, end, automaton))
            begin = end + 1
        return out


_PAST_FFFF_RE = re.compile("[\U00010000-\U0010ffff]")
# Surrogates made by chr(): mypyc compiles no surrogate written in a string literal.
_LONE_SURROGATE = chr(0xD800)
_PAST_SURROGATES = chr(0xE000)


def _one_unit(key: str) -> bool:
    """Every character of `key` is one UTF-16 unit, and none a surrogate."""
    return all(c < _LONE_SURROGATE or _PAST_SURROGATES <= c <= "\uffff" for c in key)


def _units(text: str) -> str:
    """`text`'s UTF-16 code units (big-endian), a Latin-1 character for each byte."""
    return text.encode("utf-16-be", "surrogatepass").decode("latin-1")


_ADDRESS_BEFORE = ("@", "/", ".")  # an alias after one of these is part of an address


def load_rule_pack(
    rules: Mapping[str, Any], aliases: Mapping[str, Any], rates: Mapping[str, Any]
) -> RulePack:
    """Validate the three documents and compile them; RulePackError says what is wrong where."""
    automaton = ahocorasick.Automaton()
    entries: dict[str, list[Term]] = {}

    def add(key: str, term: Term) -> None:
        folded = fold(key.strip())
        if folded:
            entries.setdefault(folded, []).append(term)

    types = _load_types(_mapping(rules, "types", "rules.yaml"), add)
    cues = _mapping(rules, "cues", "rules.yaml", required=False)
    for kind in ("background", "negation", "comparison", "hedge", "reference"):
        for word in _words(cues.get(kind, {}), f"rules.yaml: cues.{kind}"):
            add(word.rstrip("*"), _term(kind, kind, word))
    anaphora = tuple(fold(w) for w in _words(cues.get("anaphora"), "rules.yaml: cues.anaphora"))
    separate = tuple(fold(w) for w in _words(cues.get("separate"), "rules.yaml: cues.separate"))
    amounts = _mapping(rules, "amounts", "rules.yaml", required=False)
    amount_exclude = tuple(_words(amounts.get("exclude", {}), "rules.yaml: amounts.exclude"))
    neutral = tuple(
        fold(w) for w in _words(amounts.get("neutral", {}), "rules.yaml: amounts.neutral")
    )
    approximate = tuple(_words(amounts.get("approximate", {}), "rules.yaml: amounts.approximate"))
    totals = [fold(w) for w in _words(amounts.get("total", {}), "rules.yaml: amounts.total")]
    deals = [fold(w) for w in _words(amounts.get("deal", {}), "rules.yaml: amounts.deal")]
    running = [fold(w) for w in _words(amounts.get("running", {}), "rules.yaml: amounts.running")]
    added = [fold(w) for w in _words(amounts.get("added", {}), "rules.yaml: amounts.added")]
    types = {
        name: dataclasses.replace(
            rule,
            amount=dataclasses.replace(
                rule.amount,
                require_re=_any_of(rule.amount.require) if rule.amount.require else None,
                require_words=(
                    _line_words((*rule.amount.require, *neutral)) if rule.amount.require else None
                ),
                exclude_re=_any_of((*(fold(w) for w in amount_exclude), *rule.amount.exclude)),
            ),
        )
        for name, rule in types.items()
    }
    entities, alias_map = _load_aliases(aliases, add)
    latin_automaton = ahocorasick.Automaton()
    wide: set[str] = set()
    for key, terms in entries.items():
        check = _check(terms)
        automaton.add_word(key, (len(key), tuple(terms), check))
        if max(key) < _WIDE:
            latin_automaton.add_word(key, (len(key), tuple(terms), check))
        else:
            wide.update(c for c in key if c >= _WIDE)
    paired = ahocorasick.Automaton() if all(map(_one_unit, entries)) else None
    if paired is not None:
        for key, value in automaton.items():
            paired.add_word(_units(key), value)
    if entries:
        automaton.make_automaton()
        if paired is not None:
            paired.make_automaton()
    if len(latin_automaton):
        latin_automaton.make_automaton()
    return RulePack(
        event_types=tuple(types),
        types=types,
        entities=entities,
        rates=_load_rates(rates),
        rates_as_of=str(rates.get("as_of", "")),
        amount_exclude=tuple(fold(w) for w in amount_exclude),
        amount_neutral=_any_of(neutral),
        approximate=tuple(fold(w) for w in approximate),
        anaphora=_anaphora_pattern(anaphora),
        anaphora_tails=tuple(f"{c} {end}" for c in anaphora if c.isascii() for end in ("", "\n")),
        separate=separate,
        boilerplate=_load_boilerplate(rules.get("boilerplate", [])),
        ranking=_load_ranking(rules.get("ranking", {})),
        vetter=_load_vetter(rules.get("vetter")),
        vetter_thresholds=_vetter_thresholds(rules.get("vetter")),
        automaton=automaton,
        paired_automaton=paired if entries else None,
        latin_automaton=latin_automaton if len(latin_automaton) else None,
        wide=re.compile("[" + "".join(map(re.escape, sorted(wide))) + "]") if wide else None,
        **_wide_shortcut(wide),
        lines_apart=bool(len(latin_automaton)) and not any("\n" in key for key in entries),
        _aliases=alias_map,
        entity_kinds={name: e.kind for name, e in entities.items()},
        amount_total=_any_of(totals),
        amount_total_before=head_patterns(totals)[0],
        amount_total_after=modified_pattern(deals),
        amount_deal=_any_of(deals),
        amount_total_words=_line_words((*totals, *deals)),
        amount_running=_whole_words(running),
        amount_added=_whole_words(added),
    )


def _wide_shortcut(wide: set[str]) -> dict[str, Any]:
    """The block from which the wide characters are Chinese (their punctuation on), and the
    few below it ('€'): `in` tests for those, a look at the high bytes for the rest."""
    cjk = [ord(c) for c in wide if c >= _CJK]
    low = "".join(sorted(c for c in wide if c < _CJK))
    if not cjk or len(low) > 4:
        return {}
    return {"wide_block": min(cjk) >> 8, "wide_low": low}


def _any_of(words: Sequence[str]) -> re.Pattern[str]:
    """One pattern for a word list: a single search instead of one per word."""
    words = [w for w in words if w]
    if not words:
        return re.compile("(?!)")
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))


def _whole_words(words: Sequence[str]) -> re.Pattern[str]:
    """One pattern for a word list whose Latin entries match whole words only ('another', not
    'anotherwise'); Chinese ones anywhere."""
    words = sorted((w for w in words if w), key=len, reverse=True)
    if not words:
        return re.compile("(?!)")
    return re.compile(
        "|".join(
            rf"{not_after_a_letter([w])}(?![a-z])" if _LATIN_RE.search(w) else re.escape(w)
            for w in words
        )
    )


def _line_words(words: Sequence[str]) -> tuple[str, ...] | None:
    """The words that tell which lines hold one of `words`: a line holding 'a total of' also
    holds 'total', so the first is left out. None when one holds a line break or there are
    none."""
    words = [w for w in words if w]
    if not words or any("\n" in w for w in words):
        return None
    distinct = sorted(set(words), key=lambda w: (len(w), w))
    kept: list[str] = []
    for word in distinct:
        if not any(shorter in word for shorter in kept):
            kept.append(word)
    return tuple(kept)


def _anaphora_pattern(cues: tuple[str, ...]) -> re.Pattern[str]:
    """Latin cues must end right before the trigger ('the withdrawal'); Chinese ones may stand
    a few words earlier ('这笔价值 440 亿美元的交易')."""
    latin = [re.escape(c) for c in cues if c.isascii()]
    chinese = [re.escape(c) for c in cues if not c.isascii()]
    parts = []
    if chinese:
        parts.append("|".join(chinese))
    if latin:
        parts.append(f"(?<![a-z])(?:{'|'.join(latin)}) $")
    return re.compile("|".join(parts) or "(?!)")


def _term(kind: str, value: str, word: str) -> Term:
    stem = word.endswith("*")
    bare = word.rstrip("*").strip()
    return Term(kind, value, bool(_LATIN_RE.search(fold(bare))), stem)


def _mapping(
    doc: Mapping[str, Any], key: str, where: str, required: bool = True
) -> Mapping[str, Any]:
    value = doc.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise RulePackError(f"{where}: '{key}' must be a mapping")
    return value


def _words(value: Any, where: str) -> list[str]:
    """A word list given per language ({zh: [...], en: [...]}) or as one list."""
    if value is None:
        return []
    lists = value.values() if isinstance(value, Mapping) else [value]
    words: list[str] = []
    for item in lists:
        if item is None:
            continue
        if not isinstance(item, list) or not all(isinstance(w, str | int | float) for w in item):
            raise RulePackError(f"{where}: expected a list of words (per language: zh, en)")
        words.extend(str(w) for w in item if str(w).strip())
    return words


def _load_types(types_doc: Mapping[str, Any], add: Any) -> dict[str, TypeRule]:
    if not types_doc:
        raise RulePackError("rules.yaml: 'types' must name at least one event type")
    types: dict[str, TypeRule] = {}
    for name, spec in types_doc.items():
        where = f"rules.yaml: types.{name}"
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise RulePackError(f"{where}: a type name is lower-case letters, digits and '_'")
        if not isinstance(spec, Mapping):
            raise RulePackError(f"{where}: must be a mapping with 'triggers'")
        triggers = _words(spec.get("triggers"), f"{where}.triggers")
        if not triggers:
            raise RulePackError(f"{where}.triggers: at least one trigger word is needed")
        for word in triggers:
            add(word.rstrip("*"), _term("trigger", name, word))
        for word in _words(spec.get("strong"), f"{where}.strong"):
            add(word.rstrip("*"), _term("strong", name, word))
        for word in _words(spec.get("weak"), f"{where}.weak"):
            add(word.rstrip("*"), _term("weak", name, word))
        for word in _words(spec.get("veto"), f"{where}.veto"):
            add(word.rstrip("*"), _term("veto", name, word))
        weight = spec.get("weight", 1.0)
        if not isinstance(weight, int | float) or weight <= 0:
            raise RulePackError(f"{where}.weight: expected a positive number, got {weight!r}")
        fallback = spec.get("fallback", False)
        if not isinstance(fallback, bool):
            raise RulePackError(f"{where}.fallback: expected true or false, got {fallback!r}")
        amount = _amount_rule(spec.get("amount"), where)
        types[name] = TypeRule(name, float(weight), amount, fallback)
    return types


def _amount_rule(spec: Any, where: str) -> AmountRule:
    if spec is None:
        return AmountRule("sentence")
    if not isinstance(spec, Mapping):
        raise RulePackError(f"{where}.amount: must be a mapping with 'scope'")
    scope = spec.get("scope", "sentence")
    if scope not in AMOUNT_SCOPES:
        raise RulePackError(f"{where}.amount.scope: expected one of {', '.join(AMOUNT_SCOPES)}")
    require = tuple(fold(w) for w in _words(spec.get("require"), f"{where}.amount.require"))
    exclude = tuple(fold(w) for w in _words(spec.get("exclude"), f"{where}.amount.exclude"))
    weighs = spec.get("weighs", True)
    if not isinstance(weighs, bool):
        raise RulePackError(f"{where}.amount.weighs: expected true or false, got {weighs!r}")
    prices = spec.get("prices", False)
    if not isinstance(prices, bool):
        raise RulePackError(f"{where}.amount.prices: expected true or false, got {prices!r}")
    totals = spec.get("totals", False)
    if not isinstance(totals, bool):
        raise RulePackError(f"{where}.amount.totals: expected true or false, got {totals!r}")
    increments = spec.get("increments", False)
    if not isinstance(increments, bool):
        raise RulePackError(
            f"{where}.amount.increments: expected true or false, got {increments!r}"
        )
    attributes = tuple(
        fold(w) for w in _words(spec.get("attributes"), f"{where}.amount.attributes")
    )
    before, after = head_patterns(attributes) if attributes else (None, None)
    return AmountRule(
        str(scope),
        weighs,
        require,
        exclude,
        prices=prices,
        totals=totals,
        attributes=attributes,
        attribute_before=before,
        attribute_after=after,
        increments=increments,
    )


def _load_aliases(doc: Mapping[str, Any], add: Any) -> tuple[dict[str, Entity], dict[str, str]]:
    entities: dict[str, Entity] = {}
    alias_map: dict[str, str] = {}
    for section, kind in (("organisations", "org"), ("people", "person")):
        table = _mapping(doc, section, "aliases.yaml", required=False)
        for name, spec in table.items():
            where = f"aliases.yaml: {section}.{name}"
            org = None
            if isinstance(spec, Mapping):
                org = spec.get("org")
                spec = spec.get("aliases", [])
            if spec is None:
                spec = []
            if not isinstance(spec, list) or not all(isinstance(a, str | int) for a in spec):
                raise RulePackError(f"{where}: expected a list of aliases")
            if org is not None and not isinstance(org, str):
                raise RulePackError(f"{where}.org: expected an organisation name")
            entities[str(name)] = Entity(str(name), kind, org)
            for alias in (str(name), *map(str, spec)):
                _add_alias(alias, str(name), add, alias_map)
    return entities, alias_map


def _add_alias(alias: str, name: str, add: Any, alias_map: dict[str, str]) -> None:
    alias = alias.strip()
    folded = fold(alias)
    if not folded:
        return
    alias_map.setdefault(folded, name)
    latin = bool(_LATIN_RE.search(folded))
    exact = alias if len(alias) <= 3 and alias.isupper() else None
    add(alias, Term("alias", name, latin, False, exact))
    # A name with one character lost ('亚历山大?王') still matches; '·' is the usual casualty.
    if not latin and len(folded) >= 3:
        for i in range(1, len(folded) - 1):
            add(folded[:i] + LOST + folded[i + 1 :], Term("alias", name, False, False))


def _load_rates(doc: Mapping[str, Any]) -> dict[str, float]:
    table = _mapping(doc, "usd", "rates.yaml")
    rates: dict[str, float] = {}
    for code, value in table.items():
        if not isinstance(code, str) or not re.fullmatch(r"[A-Z]{3}", code):
            raise RulePackError(f"rates.yaml: usd.{code}: a currency is a 3-letter ISO 4217 code")
        if not isinstance(value, int | float) or value <= 0:
            raise RulePackError(
                f"rates.yaml: usd.{code}: expected a positive number, got {value!r}"
            )
        rates[code] = float(value)
    return rates


def _load_boilerplate(patterns: Any) -> tuple[re.Pattern[str], ...]:
    if not isinstance(patterns, list):
        raise RulePackError("rules.yaml: 'boilerplate' must be a list of regular expressions")
    for i, pattern in enumerate(patterns):
        try:
            re.compile(str(pattern), re.M)
        except re.error as exc:
            raise RulePackError(
                f"rules.yaml: boilerplate[{i}]: invalid expression: {exc}"
            ) from None
    return tuple(re.compile(str(p), re.M) for p in patterns)


def _load_ranking(doc: Any) -> dict[str, float]:
    if not isinstance(doc, Mapping):
        raise RulePackError("rules.yaml: 'ranking' must be a mapping")
    ranking = dict(_RANKING_DEFAULTS)
    for key, value in doc.items():
        if key not in ranking:
            raise RulePackError(f"rules.yaml: ranking.{key}: unknown; known: {', '.join(ranking)}")
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise RulePackError(f"rules.yaml: ranking.{key}: expected a number ≥ 0, got {value!r}")
        ranking[key] = float(value)
    return ranking


def _load_vetter(doc: Any) -> dict[str, float]:
    """`vetter: {threshold: 0.4, weights: {bias: -1.2, title: 0.8, …}}` → the weights."""
    if doc is None:
        return {}
    if not isinstance(doc, Mapping) or not isinstance(doc.get("weights", {}), Mapping):
        raise RulePackError("rules.yaml: 'vetter' must be a mapping with 'weights'")
    weights: dict[str, float] = {}
    for key, value in doc.get("weights", {}).items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise RulePackError(
                f"rules.yaml: vetter.weights.{key}: expected a number, got {value!r}"
            )
        weights[str(key)] = float(value)
    return weights


def _vetter_thresholds(doc: Any) -> tuple[float, ...]:
    """`threshold: 0.4` (the first event always kept, each later one needs 0.4) or a list, the
    bar of the first, second, third … event kept (the last for any later one)."""
    value = doc.get("threshold", 0.5) if isinstance(doc, Mapping) else 0.5
    bars = [0.0, value] if not isinstance(value, list) else value
    if not bars or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in bars
    ):
        raise RulePackError(
            f"rules.yaml: vetter.threshold: expected 0 to 1 or a list of those, got {value!r}"
        )
    return tuple(float(v) for v in bars)
