"""Subscription filters: the text after /subscribe, parsed into what an event must match.

Syntax (words separated by spaces; quotes group words: "self driving"):
- nothing at all: every event;
- an event type (``acquisition``, ``funding``…): events of any of the given types;
- a company or person the alias list knows (``Meta``, ``脸书``, ``"Scale AI"``): events naming
  any of them;
- any other word: it must appear in the title, summary or evidence (all such words must);
- ``-word``: leave out events of that type, naming that actor, or containing that word;
- ``#tag``: articles with that category or tag (``-#tag`` leaves them out);
- ``amount>=1B`` (also ``>``, ``<``, ``<=``; K, M, B, T, 万, 亿): events with a sum in USD in range;
- ``/pattern/``: a regular expression searched in the title, summary and evidence, case
  insensitive. Timeout-safe by construction: no backreferences, no lookarounds, no repetition
  inside a repetition (``(a+)+``) and at most two unbounded repetitions, matched against
  bounded text, so no input can make it backtrack catastrophically.

Pure. `Filter.text` is the normalised form, the key a subscription is stored under.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from bot.model import Event, StoredArticle

EXAMPLE = "/subscribe acquisition Meta -rumor"
MAX_LENGTH = 200
MAX_TERMS = 12
MAX_PHRASE_WORDS = 4  # longest unquoted actor name tried, e.g. "Bank of America"

_TOKEN = re.compile(r'(-?)(?:"([^"]*)"|(\S+))')
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "「": '"', "」": '"'})
_ASCII_WORD = re.compile(r"[a-z0-9][a-z0-9 .&'_-]*")


class FilterError(ValueError):
    """A filter the user must fix; the message says what is wrong and shows an example."""


@dataclass(frozen=True)
class Filter:
    types: frozenset[str] = frozenset()
    actors: frozenset[str] = frozenset()  # canonical names
    keywords: frozenset[str] = frozenset()  # case-folded
    not_types: frozenset[str] = frozenset()
    not_actors: frozenset[str] = frozenset()
    not_keywords: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()  # case-folded categories or tags, any of them
    not_tags: frozenset[str] = frozenset()
    min_usd: float | None = None
    min_inclusive: bool = True
    max_usd: float | None = None
    max_inclusive: bool = True
    pattern: str | None = None  # checked by `check_pattern`

    @property
    def text(self) -> str:
        """Normalised form: kinds in a fixed order, each sorted; "" means everything."""
        parts = [
            *sorted(self.types),
            *map(_quoted, sorted(self.actors, key=str.casefold)),
            *map(_quoted, sorted(self.keywords)),
            *(f"-{t}" for t in sorted(self.not_types)),
            *(f"-{_quoted(a)}" for a in sorted(self.not_actors, key=str.casefold)),
            *(f"-{_quoted(k)}" for k in sorted(self.not_keywords)),
            *(f"#{t}" for t in sorted(self.tags)),
            *(f"-#{t}" for t in sorted(self.not_tags)),
            *self._amount_terms(),
            *([f"/{self.pattern}/"] if self.pattern is not None else []),
        ]
        return " ".join(parts)

    def _amount_terms(self) -> list[str]:
        terms = []
        if self.min_usd is not None:
            terms.append(f"amount{'>=' if self.min_inclusive else '>'}{_short(self.min_usd)}")
        if self.max_usd is not None:
            terms.append(f"amount{'<=' if self.max_inclusive else '<'}{_short(self.max_usd)}")
        return terms

    def matches(self, article: StoredArticle, event: Event) -> bool:
        """True when the event passes every part of the filter."""
        if self.types and event.type not in self.types:
            return False
        if event.type in self.not_types:
            return False
        actors = {a.casefold() for a in event.actors}
        if self.actors and not actors & {a.casefold() for a in self.actors}:
            return False
        if actors & {a.casefold() for a in self.not_actors}:
            return False
        if not self._amount_matches(event):
            return False
        if self.tags or self.not_tags:
            labels = {t.casefold() for t in (*article.article.categories, *article.article.tags)}
            if self.tags and not labels & self.tags:
                return False
            if labels & self.not_tags:
                return False
        if self.pattern is not None and not _search(self.pattern, article, event):
            return False
        if not self.keywords and not self.not_keywords:
            return True
        haystack = "\n".join(
            (article.article.title, article.summary, event.summary, event.evidence)
        ).casefold()
        if not all(_contains(haystack, k) for k in self.keywords):
            return False
        return not any(_contains(haystack, k) for k in self.not_keywords)

    def _amount_matches(self, event: Event) -> bool:
        if self.min_usd is None and self.max_usd is None:
            return True
        usd = event.amount.usd if event.amount is not None else None
        if usd is None:
            return False  # "amount>=1B" asks for a sum: an event without one does not qualify
        if self.min_usd is not None and (
            usd < self.min_usd or (usd == self.min_usd and not self.min_inclusive)
        ):
            return False
        return self.max_usd is None or (
            usd < self.max_usd or (usd == self.max_usd and self.max_inclusive)
        )


def parse_filter(
    text: str, event_types: Collection[str], canonical: Callable[[str], str | None]
) -> Filter:
    """Read a filter as typed after /subscribe; raise FilterError when it cannot be understood."""
    text = text.translate(_QUOTES).strip()
    if len(text) > MAX_LENGTH:
        raise FilterError(f"That filter is too long (over {MAX_LENGTH} characters). {_eg()}")
    if text.count('"') % 2:
        raise FilterError(f"A quote is not closed. {_eg()}")
    types = {t.casefold(): t for t in event_types}
    terms: dict[str, set[str]] = {kind: set() for kind in ("type", "actor", "keyword")}
    excluded: dict[str, set[str]] = {kind: set() for kind in ("type", "actor", "keyword")}
    # (negated, quoted, word) per term
    tokens = [(bool(m[1]), m[2] is not None, m[2] or m[3] or "") for m in _TOKEN.finditer(text)]
    if len(tokens) > MAX_TERMS:
        raise FilterError(f"That filter has more than {MAX_TERMS} words. {_eg()}")
    special = _Special()
    i = 0
    while i < len(tokens):
        negated, quoted, word = tokens[i]
        if not word.strip():
            raise FilterError(f"Empty quotes: put a word or name between them. {_eg()}")
        if not word.strip("-"):
            raise FilterError(f"'-' must come right before the word to leave out. {_eg()}")
        if not quoted and special.take(negated, word):
            i += 1
            continue
        if word.startswith("/") and not quoted:
            raise FilterError(f"Put only one command per message. {_eg()}")
        used, kind, value = _classify(tokens, i, types, canonical)
        if kind == "keyword" and _ASCII_WORD.fullmatch(value) and len(value) < 2:
            raise FilterError(f"'{value}' is too short to search for. {_eg()}")
        (excluded if negated else terms)[kind].add(value)
        i += used
    for kind, values in terms.items():
        both = values & excluded[kind]
        if both:
            raise FilterError(f"'{sorted(both)[0]}' is both wanted and left out. {_eg()}")
    return Filter(
        frozenset(terms["type"]),
        frozenset(terms["actor"]),
        frozenset(terms["keyword"]),
        frozenset(excluded["type"]),
        frozenset(excluded["actor"]),
        frozenset(excluded["keyword"]),
        frozenset(special.tags),
        frozenset(special.not_tags),
        special.min_usd,
        special.min_inclusive,
        special.max_usd,
        special.max_inclusive,
        special.pattern,
    )


def explain(filter_: Filter) -> str:
    """How the filter was understood, in plain words (not escaped), so a typo shows itself."""
    wanted = []
    if filter_.types:
        wanted.append("of type " + " or ".join(sorted(filter_.types)))
    if filter_.actors:
        wanted.append("naming " + " or ".join(sorted(filter_.actors, key=str.casefold)))
    if filter_.keywords:
        wanted.append("containing " + " and ".join(f'"{k}"' for k in sorted(filter_.keywords)))
    excluded = [
        *(f"type {t}" for t in sorted(filter_.not_types)),
        *sorted(filter_.not_actors, key=str.casefold),
        *(f'"{k}"' for k in sorted(filter_.not_keywords)),
    ]
    if filter_.tags:
        wanted.append("in " + " or ".join(f"#{t}" for t in sorted(filter_.tags)))
    if filter_.min_usd is not None:
        sign = "at least" if filter_.min_inclusive else "over"
        wanted.append(f"worth {sign} ${_short(filter_.min_usd)}")
    if filter_.max_usd is not None:
        sign = "at most" if filter_.max_inclusive else "under"
        wanted.append(f"worth {sign} ${_short(filter_.max_usd)}")
    if filter_.pattern is not None:
        wanted.append(f"matching /{filter_.pattern}/")
    excluded.extend(f"#{t}" for t in sorted(filter_.not_tags))
    text = "events " + ", ".join(wanted) if wanted else "every event"
    return text + (", except " + ", ".join(excluded) if excluded else "")


def _classify(
    tokens: list[tuple[bool, bool, str]],
    start: int,
    types: dict[str, str],
    canonical: Callable[[str], str | None],
) -> tuple[int, str, str]:
    """(tokens used, kind, value) for the term at `start`; the longest actor name wins."""
    _, quoted, word = tokens[start]
    if quoted:
        actor = canonical(word.strip())
        return (1, "actor", actor) if actor else (1, "keyword", _keyword(word))
    for size in range(min(MAX_PHRASE_WORDS, len(tokens) - start), 1, -1):
        following = tokens[start + 1 : start + size]
        if any(neg or q for neg, q, _ in following):
            continue
        actor = canonical(" ".join(w for _, _, w in tokens[start : start + size]))
        if actor:
            return size, "actor", actor
    folded = word.casefold().replace("-", "_")
    for name in (folded, folded.removesuffix("s")):
        if name in types:
            return 1, "type", types[name]
    actor = canonical(word)
    if actor:
        return 1, "actor", actor
    return 1, "keyword", _keyword(word)


def _keyword(word: str) -> str:
    return " ".join(word.casefold().split())


def _contains(haystack: str, keyword: str) -> bool:
    """Latin words match whole words ("ai" is not in "said"); other scripts match anywhere."""
    if _ASCII_WORD.fullmatch(keyword):
        return re.search(rf"(?<![a-z0-9]){re.escape(keyword)}(?![a-z0-9])", haystack) is not None
    return keyword in haystack


def _quoted(value: str) -> str:
    return f'"{value}"' if " " in value or value.startswith("-") else value


def _eg() -> str:
    return f"For example: {EXAMPLE}"


_AMOUNT = re.compile(r"(?:amount|金额|金額|\$)(>=|<=|>|<|=)(.+)", re.IGNORECASE)
_NUMBER = re.compile(r"\$?(\d+(?:\.\d+)?)\s*([kmbt]|万|萬|亿|億)?\$?", re.IGNORECASE)
_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12, "万": 1e4, "萬": 1e4, "亿": 1e8, "億": 1e8}
_TAG = re.compile(r"#([\w.+-]{1,40})")
MAX_PATTERN_LENGTH = 100
MAX_UNBOUNDED = 2  # unbounded repetitions in one pattern: quadratic at worst
PATTERN_TEXT_LIMIT = 600  # characters of each field a pattern is searched in
_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}
_UNSAFE = {"GROUPREF", "GROUPREF_IGNORE", "GROUPREF_LOC_IGNORE", "GROUPREF_UNI_IGNORE",
           "GROUPREF_EXISTS", "ASSERT", "ASSERT_NOT"}  # fmt: skip


class _Special:
    """The terms that are not words: #tags, amount bounds and a /pattern/."""

    def __init__(self) -> None:
        self.tags: set[str] = set()
        self.not_tags: set[str] = set()
        self.min_usd: float | None = None
        self.min_inclusive = True
        self.max_usd: float | None = None
        self.max_inclusive = True
        self.pattern: str | None = None

    def take(self, negated: bool, word: str) -> bool:
        """Consume `word` if it is one of these terms; False: an ordinary word."""
        tag = _TAG.fullmatch(word)
        if tag:
            (self.not_tags if negated else self.tags).add(tag[1].casefold())
            return True
        amount = _AMOUNT.fullmatch(word)
        if amount:
            if negated:
                raise FilterError(f"Write the opposite bound instead of '-{word}'. {_eg()}")
            self._bound(amount[1], _usd(amount[2], word))
            return True
        if len(word) > 2 and word.startswith("/") and word.endswith("/"):
            if negated or self.pattern is not None:
                raise FilterError(
                    "Give at most one /pattern/, without '-'. For example: /subscribe /rais(es|ed)/"
                )
            self.pattern = check_pattern(word[1:-1])
            return True
        return False

    def _bound(self, op: str, usd: float) -> None:
        if op in (">=", ">", "="):
            self.min_usd, self.min_inclusive = usd, op != ">"
        if op in ("<=", "<", "="):
            self.max_usd, self.max_inclusive = usd, op != "<"
        if self.min_usd is not None and self.max_usd is not None and self.min_usd > self.max_usd:
            raise FilterError(f"The amount range is empty. {_eg()}")


def _usd(text: str, word: str) -> float:
    match = _NUMBER.fullmatch(text.strip().replace(",", ""))
    if match is None:
        raise FilterError(
            f"'{word}' is not an amount. Write e.g. amount>=1B, amount<500M or amount>=1亿"
        )
    return float(match[1]) * _SCALE.get((match[2] or "").lower(), 1.0)


def _short(usd: float) -> str:
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if usd >= scale and (usd / scale) == round(usd / scale, 3):
            return f"{usd / scale:g}{suffix}"
    return f"{usd:g}"


def check_pattern(pattern: str) -> str:
    """Accept a regular expression only if no input can make it backtrack catastrophically."""
    if not pattern.strip():
        raise FilterError("The /pattern/ is empty. For example: /subscribe /rais(es|ed)/")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise FilterError(f"The /pattern/ is longer than {MAX_PATTERN_LENGTH} characters.")
    try:
        tree = _regex_parser().parse(pattern, re.IGNORECASE)
        re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise FilterError(f"The /pattern/ is not a valid regular expression: {exc}.") from None
    unbounded = _walk(tree, inside_repeat=False)
    if unbounded > MAX_UNBOUNDED:
        raise FilterError(
            f"The /pattern/ repeats without bound (*, +) more than {MAX_UNBOUNDED} times; "
            "narrow it down."
        )
    return pattern


def _regex_parser() -> Any:
    # The standard library's own regex parser (re._parser); its name is private, its shape stable.
    return importlib.import_module("re._parser")


def _walk(tree: Any, *, inside_repeat: bool) -> int:
    """Count unbounded repeats; refuse constructs that can backtrack exponentially."""
    unbounded = 0
    for op, av in tree:
        name = str(op)
        if name in _UNSAFE:
            raise FilterError(
                "The /pattern/ uses a backreference or a lookaround, which are not allowed."
            )
        if name in _REPEATS:
            if inside_repeat:
                raise FilterError(
                    "The /pattern/ repeats a repetition (like (a+)+), which can take forever. "
                    "For example: /subscribe /open ?ai/"
                )
            _low, high, body = av
            if high > 20:
                unbounded += 1
            unbounded += _walk(body, inside_repeat=True)
        elif name == "BRANCH":
            if inside_repeat and len(av[1]) > 1:
                raise FilterError(
                    "The /pattern/ repeats an alternative (like (a|b)+); "
                    "use a character class [ab]+ instead."
                )
            unbounded += sum(_walk(branch, inside_repeat=inside_repeat) for branch in av[1])
        elif name == "SUBPATTERN":
            unbounded += _walk(av[3], inside_repeat=inside_repeat)
        elif name == "ATOMIC_GROUP":
            unbounded += _walk(av, inside_repeat=inside_repeat)
    return unbounded


def _search(pattern: str, article: StoredArticle, event: Event) -> bool:
    """Each field on its own and clipped: the cost stays small whatever the text."""
    compiled = re.compile(pattern, re.IGNORECASE)
    fields = (article.article.title, article.summary, event.summary, event.evidence)
    return any(compiled.search(text[:PATTERN_TEXT_LIMIT]) for text in fields)
