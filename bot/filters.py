"""Subscription filters: the text after /subscribe, parsed into what an event must match.

Syntax (words separated by spaces; quotes group words: "self driving"):
- nothing at all: every event;
- an event type (``acquisition``, ``funding``…): events of any of the given types;
- a company or person the alias list knows (``Meta``, ``脸书``, ``"Scale AI"``): events naming
  any of them;
- any other word: it must appear in the title, summary or evidence (all such words must);
- ``-word``: leave out events of that type, naming that actor, or containing that word.

Pure. `Filter.text` is the normalised form, the key a subscription is stored under.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

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
        ]
        return " ".join(parts)

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
        if not self.keywords and not self.not_keywords:
            return True
        haystack = "\n".join(
            (article.article.title, article.summary, event.summary, event.evidence)
        ).casefold()
        if not all(_contains(haystack, k) for k in self.keywords):
            return False
        return not any(_contains(haystack, k) for k in self.not_keywords)


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
    i = 0
    while i < len(tokens):
        negated, quoted, word = tokens[i]
        if not word.strip():
            raise FilterError(f"Empty quotes: put a word or name between them. {_eg()}")
        if not word.strip("-"):
            raise FilterError(f"'-' must come right before the word to leave out. {_eg()}")
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
