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
  insensitive, in RE2's syntax (https://github.com/google/re2/wiki/Syntax). RE2 matches in time
  linear in the text, so no pattern can make matching slow; it has no backreferences and no
  lookarounds. ``\\w``, ``\\d``, ``\\s`` match Chinese as Python's did; ``\\b`` is ASCII.
  The compiled program is bounded too, and the text is clipped.

Pure. `Filter.text` is the normalised form, the key a subscription is stored under.

One module (~600 lines): the filter grammar's parser, its matcher and `explain` must agree, and
change together.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import re2

from bot.core.errors import EventfeedError
from bot.core.model import Event, StoredArticle
from bot.core.text import to_traditional

EXAMPLE = "/subscribe acquisition Meta -rumor"
MAX_LENGTH = 200
MAX_TERMS = 12
MAX_PHRASE_WORDS = 4  # longest unquoted actor name tried, e.g. "Bank of America"

_TOKEN = re.compile(r'(-?)(?:"([^"]*)"|(\S+))')
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "「": '"', "」": '"'})
_ASCII_WORD = re.compile(r"[a-z0-9][a-z0-9 .&'_-]*")


class FilterError(EventfeedError, ValueError):
    """A filter the user must fix: `str()` says what is wrong in English, `text(language)` in
    the chat's language; most show an example."""

    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.values = values
        super().__init__(self.text("en"))

    def text(self, language: str | None) -> str:
        """Plain text (the caller escapes it)."""
        values = dict(self.values)
        if "error" in values and language in ("zh-Hans", "zh-Hant"):
            values["error"] = _re2_reason(str(values["error"]), language)
        return _say(_PROBLEMS[self.key], language, values)


# RE2's reasons ("missing ): (a"), in simplified Chinese; the part after ": " is the user's.
_RE2_REASONS = {
    "missing )": "缺少 )",
    "missing ]": "缺少 ]",
    "unexpected )": "多余的 )",
    "trailing \\": "末尾多了 \\",
    "bad repetition operator": "重复运算符用错了",
    "no argument for repetition operator": "重复运算符前面没有内容",
    "invalid repetition size": "重复次数无效",
    "invalid nested repetition operator": "重复运算符嵌套无效",
    "invalid escape sequence": "转义序列无效",
    "invalid character class": "字符类无效",
    "invalid character class range": "字符类范围无效",
    "invalid named capture group": "命名捕获组无效",
    "invalid perl operator": "(? 运算符无效",
    "invalid UTF-8": "UTF-8 编码无效",
}


def _re2_reason(reason: str, language: str) -> str:
    head, sep, quoted = reason.partition(": ")
    said = _RE2_REASONS.get(head)
    if said is None:
        return reason  # a reason we have no words for: as RE2 gives it
    if language == "zh-Hant":
        said = to_traditional(said)
    return f"{said}：{quoted}" if sep else said


# What is wrong with a filter, in English and simplified Chinese; traditional Chinese is the
# simplified text converted character by character (OpenCC). `{eg}` is the example.
_PROBLEMS: dict[str, tuple[str, str]] = {
    "too_long": (
        "That filter is too long (over {n} characters). {eg}",
        "筛选条件太长（超过 {n} 个字符）。{eg}",
    ),
    "open_quote": ("A quote is not closed. {eg}", "有引号没有闭合。{eg}"),
    "too_many_words": (
        "That filter has more than {n} words. {eg}",
        "筛选条件超过 {n} 个词。{eg}",
    ),
    "empty_quotes": (
        "Empty quotes: put a word or name between them. {eg}",
        "引号是空的：请在引号中写一个词或名称。{eg}",
    ),
    "lone_minus": (
        "'-' must come right before the word to leave out. {eg}",
        "“-”必须紧贴在要排除的词前面。{eg}",
    ),
    "one_command": ("Put only one command per message. {eg}", "每条消息只能有一个命令。{eg}"),
    "too_short": ("'{word}' is too short to search for. {eg}", "“{word}”太短，无法搜索。{eg}"),
    "both": (
        "'{word}' is both wanted and left out. {eg}",
        "“{word}”既被要求又被排除。{eg}",
    ),
    "negated_bound": (
        "Write the opposite bound instead of '-{word}'. {eg}",
        "请写出相反的范围，而不是“-{word}”。{eg}",
    ),
    "empty_range": ("The amount range is empty. {eg}", "金额范围是空的。{eg}"),
    "not_amount": (
        "'{word}' is not an amount. Write e.g. amount>=1B, amount<500M or amount>=1亿",
        "“{word}”不是金额。例如：amount>=1B、amount<500M 或 金额>=1亿",
    ),
    "one_pattern": (
        "Give at most one /pattern/, without '-'. For example: /subscribe /rais(es|ed)/",
        "/正则/ 最多一个，前面不能加“-”。例如：/subscribe /rais(es|ed)/",  # s2t: 只能 → 隻能
    ),
    "pattern_empty": (
        "The /pattern/ is empty. For example: /subscribe /rais(es|ed)/",
        "/正则/ 是空的。例如：/subscribe /rais(es|ed)/",
    ),
    "pattern_long": (
        "The /pattern/ is longer than {n} characters.",
        "/正则/ 超过 {n} 个字符。",
    ),
    "pattern_invalid": (
        "The /pattern/ is not a valid regular expression: {error}.",
        "/正则/ 不是有效的正则表达式：{error}。",
    ),
    "pattern_lookaround": (
        "The /pattern/ uses a backreference or a lookaround, which the linear-time matcher "
        "(RE2) does not support. For example: /subscribe /rais(es|ed)/",
        "/正则/ 用了反向引用或环视，线性时间的匹配引擎（RE2）不支持。例如：/subscribe /rais(es|ed)/",
    ),
    "pattern_complex": (
        "The /pattern/ is too complex (large repetition counts); simplify it.",
        "/正则/ 太复杂（重复次数太多），请简化。",
    ),
}
_EXAMPLE = (f"For example: {EXAMPLE}", f"例如：{EXAMPLE}")


def _say(texts: tuple[str, str], language: str | None, values: Mapping[str, object]) -> str:
    """The text in `language` ("en", "zh-Hans", "zh-Hant"; English otherwise)."""
    chinese = language in ("zh-Hans", "zh-Hant")
    template, example = (texts[1], _EXAMPLE[1]) if chinese else (texts[0], _EXAMPLE[0])
    if language == "zh-Hant":  # the template only: the user's own words stay as typed
        template, example = to_traditional(template), to_traditional(example)
    return template.format(eg=example, **values)


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
        raise FilterError("too_long", n=MAX_LENGTH)
    if text.count('"') % 2:
        raise FilterError("open_quote")
    types = {t.casefold(): t for t in event_types}
    terms: dict[str, set[str]] = {kind: set() for kind in ("type", "actor", "keyword")}
    excluded: dict[str, set[str]] = {kind: set() for kind in ("type", "actor", "keyword")}
    # (negated, quoted, word) per term
    tokens = [(bool(m[1]), m[2] is not None, m[2] or m[3] or "") for m in _TOKEN.finditer(text)]
    if len(tokens) > MAX_TERMS:
        raise FilterError("too_many_words", n=MAX_TERMS)
    special = _Special()
    i = 0
    while i < len(tokens):
        negated, quoted, word = tokens[i]
        if not word.strip():
            raise FilterError("empty_quotes")
        if not word.strip("-"):
            raise FilterError("lone_minus")
        if not quoted and special.take(negated, word):
            i += 1
            continue
        if word.startswith("/") and not quoted:
            raise FilterError("one_command")
        used, kind, value = _classify(tokens, i, types, canonical)
        if kind == "keyword" and _ASCII_WORD.fullmatch(value) and len(value) < 2:
            raise FilterError("too_short", word=value)
        (excluded if negated else terms)[kind].add(value)
        i += used
    for kind, values in terms.items():
        both = values & excluded[kind]
        if both:
            raise FilterError("both", word=sorted(both)[0])
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


def explain(filter_: Filter, language: str | None = "en") -> str:
    """How the filter was understood, in plain words (not escaped), so a typo shows itself."""
    w = _words(language)
    wanted = []
    if filter_.types:
        wanted.append(w["type"].format(w["or"].join(sorted(filter_.types))))
    if filter_.actors:
        wanted.append(w["naming"].format(w["or"].join(sorted(filter_.actors, key=str.casefold))))
    if filter_.keywords:
        keywords = w["and"].join(w["quoted"].format(k) for k in sorted(filter_.keywords))
        wanted.append(w["containing"].format(keywords))
    excluded = [
        *(w["a_type"].format(t) for t in sorted(filter_.not_types)),
        *sorted(filter_.not_actors, key=str.casefold),
        *(w["quoted"].format(k) for k in sorted(filter_.not_keywords)),
    ]
    if filter_.tags:
        wanted.append(w["in"].format(w["or"].join(f"#{t}" for t in sorted(filter_.tags))))
    if filter_.min_usd is not None:
        sign = "at_least" if filter_.min_inclusive else "over"
        wanted.append(w[sign].format(_short(filter_.min_usd)))
    if filter_.max_usd is not None:
        sign = "at_most" if filter_.max_inclusive else "under"
        wanted.append(w[sign].format(_short(filter_.max_usd)))
    if filter_.pattern is not None:
        wanted.append(w["matching"].format(filter_.pattern))
    excluded.extend(f"#{t}" for t in sorted(filter_.not_tags))
    text = w["events"].format(w["list"].join(wanted)) if wanted else w["every"]
    if excluded:
        text += w["except"].format(w["list"].join(excluded))
    return text


@cache
def _words(language: str | None) -> dict[str, str]:
    """explain's words in `language`: traditional Chinese is the simplified converted (the
    words only: the user's own stay as typed)."""
    if language == "zh-Hant":
        return {key: to_traditional(word) for key, word in _WORDS[1].items()}
    return _WORDS[1] if language == "zh-Hans" else _WORDS[0]


# explain's words: English, simplified Chinese.
_WORDS: tuple[dict[str, str], dict[str, str]] = (
    {
        "type": "of type {}",
        "a_type": "type {}",
        "naming": "naming {}",
        "containing": "containing {}",
        "quoted": '"{}"',
        "in": "in {}",
        "at_least": "worth at least ${}",
        "over": "worth over ${}",
        "at_most": "worth at most ${}",
        "under": "worth under ${}",
        "matching": "matching /{}/",
        "or": " or ",
        "and": " and ",
        "list": ", ",
        "events": "events {}",
        "every": "every event",
        "except": ", except {}",
    },
    {
        "type": "类型是 {}",
        "a_type": "类型 {}",
        "naming": "提及 {}",
        "containing": "包含{}",
        "quoted": "“{}”",
        "in": "标签是 {}",
        "at_least": "金额至少 ${}",
        "over": "金额超过 ${}",
        "at_most": "金额至多 ${}",
        "under": "金额低于 ${}",
        "matching": "匹配 /{}/",
        "or": " 或 ",
        "and": " 和 ",
        "list": "、",
        "events": "{} 的事件",
        "every": "所有事件",
        "except": "，但不包括 {}",
    },
)


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
    found = _type_of(word, types)
    if found is not None:
        return 1, "type", found
    actor = canonical(word)
    if actor:
        return 1, "actor", actor
    return 1, "keyword", _keyword(word)


def event_type(word: str, event_types: Collection[str]) -> str | None:
    """The event type `word` names ("Acquisitions", "talent-move"), as a filter reads it."""
    return _type_of(word, {t.casefold(): t for t in event_types})


def _type_of(word: str, types: dict[str, str]) -> str | None:
    folded = word.casefold().replace("-", "_")
    for name in (folded, folded.removesuffix("s")):
        if name in types:
            return types[name]
    return None


def _keyword(word: str) -> str:
    return " ".join(word.casefold().split())


def _contains(haystack: str, keyword: str) -> bool:
    """Latin words match whole words ("ai" is not in "said"); other scripts match anywhere."""
    if _ASCII_WORD.fullmatch(keyword):
        return re.search(rf"(?<![a-z0-9]){re.escape(keyword)}(?![a-z0-9])", haystack) is not None
    return keyword in haystack


def _quoted(value: str) -> str:
    return f'"{value}"' if " " in value or value.startswith("-") else value


_AMOUNT = re.compile(r"(?:amount|金额|金額|\$)(>=|<=|>|<|=)(.+)", re.IGNORECASE)
_NUMBER = re.compile(r"\$?(\d+(?:\.\d+)?)\s*([kmbt]|万|萬|亿|億)?\$?", re.IGNORECASE)
_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12, "万": 1e4, "萬": 1e4, "亿": 1e8, "億": 1e8}
_TAG = re.compile(r"#([\w.+-]{1,40})")
MAX_PATTERN_LENGTH = 100
MAX_PROGRAM_SIZE = 2000  # RE2 instructions: bounds the work per character of text
PATTERN_MEMORY = 1 << 20  # bytes RE2 may use for one pattern and its DFA cache
PATTERN_TEXT_LIMIT = 600  # characters of each field a pattern is searched in
# RE2's complaints that mean a backreference or a lookaround (RE2 has neither).
_UNSUPPORTED = re.compile(
    r"invalid perl operator: \(\?(?:[=!]|<[=!]|P$)|invalid escape sequence: \\[1-9gk]"
)


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
                raise FilterError("negated_bound", word=word)
            self._bound(amount[1], _usd(amount[2], word))
            return True
        if len(word) > 2 and word.startswith("/") and word.endswith("/"):
            if negated or self.pattern is not None:
                raise FilterError("one_pattern")
            self.pattern = check_pattern(word[1:-1])
            return True
        return False

    def _bound(self, op: str, usd: float) -> None:
        if op in (">=", ">", "="):
            self.min_usd, self.min_inclusive = usd, op != ">"
        if op in ("<=", "<", "="):
            self.max_usd, self.max_inclusive = usd, op != "<"
        if self.min_usd is not None and self.max_usd is not None and self.min_usd > self.max_usd:
            raise FilterError("empty_range")


def _usd(text: str, word: str) -> float:
    match = _NUMBER.fullmatch(text.strip().replace(",", ""))
    if match is None:
        raise FilterError("not_amount", word=word)
    return float(match[1]) * _SCALE.get((match[2] or "").lower(), 1.0)


def _short(usd: float) -> str:
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if usd >= scale and (usd / scale) == round(usd / scale, 3):
            return f"{usd / scale:g}{suffix}"
    return f"{usd:g}"


def check_pattern(pattern: str) -> str:
    """Accept a regular expression RE2 compiles within the bounds; FilterError says why not."""
    if not pattern.strip():
        raise FilterError("pattern_empty")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise FilterError("pattern_long", n=MAX_PATTERN_LENGTH)
    compile_pattern(pattern)
    return pattern


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any:
    """The one place a user's pattern is compiled: RE2, case insensitive, bounded in size."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # RE2 would print to stderr; the user gets the reason instead
    options.max_mem = PATTERN_MEMORY
    try:
        re2.compile(pattern, options)  # first as typed: an error quotes the user's own text
        compiled = re2.compile(_unicode_classes(pattern), options)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args else "invalid"
        if _UNSUPPORTED.search(reason):
            raise FilterError("pattern_lookaround") from None
        if "too large" in reason:
            raise FilterError("pattern_complex") from None
        raise FilterError("pattern_invalid", error=reason) from None
    if compiled.programsize > MAX_PROGRAM_SIZE:
        raise FilterError("pattern_complex")
    return compiled


# Python's \w, \d and \s match Chinese too, RE2's only ASCII: spelled out so that a pattern
# means what it meant (\p{Han}, not all of \pL, which would take 1,300 instructions).
_CLASSES = {"w": r"\w\p{Han}", "d": r"\p{Nd}", "s": r"\s\p{Z}"}


def _unicode_classes(pattern: str) -> str:
    r"""`pattern` with \w, \d, \s (and \W, \D, \S outside a class) made to match Chinese."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and pattern.startswith("\\Q", i):  # literal text up to \E
            end = pattern.find("\\E", i)
            end = len(pattern) if end < 0 else end + 2
            out.append(pattern[i:end])
            i = end
            continue
        if char == "\\" and i + 1 < len(pattern):
            letter = pattern[i + 1]
            body = _CLASSES.get(letter.lower())
            if body is None or (in_class and letter.isupper()):
                out.append(pattern[i : i + 2])
            elif in_class:
                out.append(body)
            else:
                out.append(f"[{'^' if letter.isupper() else ''}{body}]")
            i += 2
            continue
        if in_class and pattern.startswith("[:", i):  # [[:alpha:]]
            end = pattern.find(":]", i)
            end = len(pattern) if end < 0 else end + 2
            out.append(pattern[i:end])
            i = end
            continue
        if in_class and char == "]":
            in_class = False
        elif not in_class and char == "[":
            in_class = True
            start = i + 1 + pattern.startswith("^", i + 1)
            if pattern.startswith("]", start):  # "[]a]": a literal ] first
                start += 1
            out.append(pattern[i:start])
            i = start
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _search(pattern: str, article: StoredArticle, event: Event) -> bool:
    """Each field on its own and clipped: the cost stays small whatever the text."""
    compiled = compile_pattern(pattern)
    fields = (article.article.title, article.summary, event.summary, event.evidence)
    return any(compiled.search(text[:PATTERN_TEXT_LIMIT]) for text in fields)
