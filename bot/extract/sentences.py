"""Article text made ready for matching: cleaned of markup, split into sentences, folded.

Every sentence keeps its cleaned original (evidence and summaries quote it) beside a folded
copy of the same length (simplified Chinese, lower case), so a span found in
one is the same span in the other.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import accumulate

from bot.core.model import Article
from bot.core.text import HAN, split_lines, to_simplified

LOST = "\ufffd"  # a character the source lost ('?' inside Chinese text)

_AUTOLINK_RE = re.compile(r"<https?://")
_AUTOLINK_END_RE = re.compile(r"[>\s]")
_URL_RE = re.compile(r"https?://\S+")
_TAG_RE = re.compile(r"<[^>\n]{1,300}>")
_EMPHASIS_RE = re.compile(r"\*\*|__|~~|`")
_LINE_MARK = r"[ \t]*(?:#{1,6}[ \t]*|>[ \t]*|[-*+•][ \t]+|\d{1,2}[.)][ \t]+)+"
# Headings, quotes, bullets, numbers at the start of a line. The first line is matched on its
# own and the others after their '\n': a literal first lets the engine jump from line to line
# instead of trying '^' at every character.
_FIRST_MARK_RE = re.compile(_LINE_MARK)
_LINE_MARK_RE = re.compile("\n" + _LINE_MARK)
# '?' first, its context checked around it: the engine then skips ahead to each '?'.
_LOST_RE = re.compile(f"\\?(?<=[{HAN}]\\?)(?=[{HAN};；?])")
_SPACES_RE = re.compile(r"  +")
_TITLE_SPLIT_RE = re.compile(f"(?<=[{HAN}])\\s+(?=[{HAN}])|[|｜！!？?]+\\s*")


# `init=False` and an __init__ of its own: mypyc compiles that one, where the one dataclass
# writes runs interpreted (0.4 µs a sentence against 0.02, fifty sentences an article).
@dataclass(frozen=True, slots=True, init=False)
class Sentence:
    """One sentence of the article; index 0 and its siblings with paragraph 0 are the title."""

    index: int
    paragraph: int  # 0 for the title, then 1, 2, … for body lines
    text: str  # cleaned original
    folded: str  # same length as `text`

    def __init__(self, index: int, paragraph: int, text: str, folded: str) -> None:
        object.__setattr__(self, "index", index)  # as the dataclass's own (frozen) does
        object.__setattr__(self, "paragraph", paragraph)
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "folded", folded)

    @property
    def is_title(self) -> bool:
        return self.paragraph == 0


def fold(text: str) -> str:
    """Simplified and lower-case: the form every lexicon entry is written in. Full-width
    punctuation stays (the patterns accept both widths): the length must not change."""
    folded = _length_safe(to_simplified(text), text)
    lowered = folded.lower()
    if len(lowered) != len(folded):  # 'İ' and friends grow when lowered
        lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in folded)
    return lowered


def _length_safe(converted: str, original: str) -> str:
    if len(converted) == len(original):
        return converted
    return "".join(c if len(c2 := to_simplified(c)) != 1 else c2 for c in original)


def clean(text: str, boilerplate: Sequence[re.Pattern[str]]) -> str:
    """Markdown and HTML leftovers out, lost characters marked, boilerplate dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in text:
        text = html.unescape(text)
    # A word of two characters or more is sought only when its first character is in the text:
    # one character is found as fast as memchr, a longer word at 1–2 ns a character in text
    # holding a curly quote or Chinese (2–6 µs an article each), and ']', '*', '原' are rare.
    if _holds(text, "]("):
        text = _unlink(_unlink(text, "!["), "[")
    if "<" in text:
        text = _without_autolinks(text) if "<http" in text else text
        text = _TAG_RE.sub(" ", text)
    if "http" in text:
        text = _URL_RE.sub(" ", text)
    if _holds(text, "**") or _holds(text, "__") or _holds(text, "~~") or "`" in text:
        text = _EMPHASIS_RE.sub("", text)
    for pattern, needs in _with_literals(boilerplate):
        if any(_holds(text, needle) for needle in needs):
            text = pattern.sub(" ", text)
    text = _LINE_MARK_RE.sub("\n", text)
    if first := _FIRST_MARK_RE.match(text):
        text = text[first.end() :]
    if "?" in text:
        text = _LOST_RE.sub(LOST, text)
    text = text.replace("\t", " ").replace("\u00a0", " ").replace("\u3000", " ")
    return _SPACES_RE.sub(" ", text) if "  " in text else text


def _holds(text: str, word: str) -> bool:
    """`word in text`, tried only when the word's first character is in the text."""
    return word[:1] in text and word in text


def _unlink(text: str, opener: str) -> str:
    r"""What `re.sub(r"!\[[^\]\n]*\]\([^)\n]*\)", " ", text)` gives (`opener` "!["), or with
    "[" the link text in place of `\[([^\]\n]*)\]\([^)\n]*\)`, in linear time. The pattern
    would scan from every '[' to the line's end when no ')' closes it ("[a](" repeated); here
    a scan that fails rules out every start before where it stopped, which is skipped."""
    out: list[str] = []
    done = 0  # text[:done] is in `out`
    at = text.find(opener)
    while at >= 0:
        line_end = text.find("\n", at)
        line_end = len(text) if line_end < 0 else line_end
        close = text.find("]", at + len(opener), line_end)
        if close < 0:  # no start before the line's end finds its ']'
            at = text.find(opener, line_end)
            continue
        if text.startswith("(", close + 1):
            end = text.find(")", close + 2, line_end)
            if end < 0:  # every start before the line's end ends at a ']' with no ')' after
                at = text.find(opener, line_end)
                continue
            out += (text[done:at], " " if opener == "![" else text[at + 1 : close])
            done = end + 1
            at = text.find(opener, done)
        else:  # every start before `close` reaches this ']' too
            at = text.find(opener, close + 1)
    return "".join(out) + text[done:] if out else text


def _without_autolinks(text: str) -> str:
    r"""What `re.sub(r"<https?://[^>\s]*>", " ", text)` gives, in linear time: a start whose
    scan meets a space or the end rules out every start before it."""
    out: list[str] = []
    done = 0
    head = _AUTOLINK_RE.search(text)
    while head is not None:
        stop = _AUTOLINK_END_RE.search(text, head.end())
        if stop is None:
            break
        if stop.group() == ">":
            out += (text[done : head.start()], " ")
            done = stop.end()
        head = _AUTOLINK_RE.search(text, max(stop.start(), done))
    return "".join(out) + text[done:] if out else text


_SPECIAL = frozenset(".^$*+?{}[]()|\\")
# The boilerplate lists seen last, each with its patterns' literals: a rule pack's list is
# the same object article after article, and a pattern hashes its whole compiled program.
_Needles = tuple[str, ...]  # texts of which every match holds one
_LITERALS: dict[int, tuple[Sequence[re.Pattern[str]], list[tuple[re.Pattern[str], _Needles]]]] = {}


def _with_literals(
    boilerplate: Sequence[re.Pattern[str]],
) -> list[tuple[re.Pattern[str], _Needles]]:
    """Each pattern with the texts one of which its every match holds (see _required_needles)."""
    if not isinstance(boilerplate, tuple):  # a list may change: worked out afresh
        return [(pattern, _required_needles(pattern)) for pattern in boilerplate]
    known = _LITERALS.get(id(boilerplate))
    if known is not None and known[0] is boilerplate:  # held here: its id is not reused
        return known[1]
    if len(_LITERALS) >= 8:
        _LITERALS.clear()
    pairs = [(pattern, _required_needles(pattern)) for pattern in boilerplate]
    _LITERALS[id(boilerplate)] = (boilerplate, pairs)
    return pairs


def _required_literal(pattern: re.Pattern[str]) -> str:
    """The longest run of plain characters every match of `pattern` contains ('' if none is
    sure): a boilerplate pattern runs only on text that holds it. Read off the pattern's
    source, conservatively: outside groups and classes, never before a quantifier, and not
    at all when the pattern has a top-level '|' or ignores case or whitespace."""
    return _literal_of(pattern.pattern, pattern.flags)[0]


def _required_needles(pattern: re.Pattern[str]) -> _Needles:
    """Texts every match of `pattern` holds one of: its required literal, or a top-level
    group of plain alternatives with the run before it ('\\.(?:com|org)': '.com' or '.org')
    when the shortest of those is longer. A pattern of a line ('^ *site\\.com$' in multiline
    mode) is tried at every character; the needles are sought in C."""
    literal, groups = _literal_of(pattern.pattern, pattern.flags)
    best: _Needles = (literal,)
    for needles in groups:
        if min(map(len, needles)) > min(map(len, best)):
            best = needles
    return best


@cache  # keyed by the source, whose hash is kept: a compiled pattern hashes its whole program
def _literal_of(source: str, flags: int) -> tuple[str, list[_Needles]]:
    if flags & (re.IGNORECASE | re.VERBOSE):
        return "", []
    runs: list[str] = []
    groups: list[_Needles] = []  # the alternatives of plain groups, each after its run
    run, i = "", 0
    while i < len(source):
        c, i = source[i], i + 1
        if c == "\\" and i < len(source) and not source[i].isalnum():
            c, i = source[i], i + 1
        elif c == "|":
            return "", []
        elif c in _SPECIAL:
            if c == "(" and (alternatives := _plain_alternatives(source, i)) is not None:
                groups.append(tuple(run + a for a in alternatives))
            runs.append(run)
            run = ""
            if c in "([":
                i = _skip_group(source, i, c)
            elif c == "{":  # a repeat count: '{1,3}'
                i = source.find("}", i) + 1 or -1
            elif c == "\\":
                if source[i : i + 1] in tuple("xuUN0123456789"):
                    return "", []  # '\x41', '\1': more than one letter, or a back-reference
                i += 1  # \d, \w, \b …: not a plain character
            if i < 0:
                return "", []
            continue
        if i < len(source) and source[i] in "*+?{":
            runs.append(run)
            run = ""
        else:
            run += c
    runs.append(run)
    return max(runs, key=len), groups


def _plain_alternatives(source: str, i: int) -> list[str] | None:
    """The alternatives of the group opened just before `i` when it is '(?:a|b|…)' of plain
    characters, not followed by a quantifier; else None."""
    if not source.startswith("?:", i):
        return None
    out: list[str] = []
    current, i = "", i + 2
    while i < len(source):
        c, i = source[i], i + 1
        if c == "\\" and i < len(source) and not source[i].isalnum():
            c, i = source[i], i + 1
        elif c == "|":
            out.append(current)
            current = ""
            continue
        elif c == ")":
            out.append(current)
            return None if source[i : i + 1] in ("*", "+", "?", "{") else out
        elif c in _SPECIAL or (i < len(source) and source[i] in "*+?{"):
            return None
        current += c
    return None


def _skip_group(source: str, i: int, opening: str) -> int:
    """Where the group or class opened just before `i` ends (-1 if it does not)."""
    depth, in_class = 1, opening == "["
    if in_class and source[i : i + 1] in ("]", "^"):
        i += 2 if source[i : i + 2] == "^]" else 1
    while i < len(source):
        c, i = source[i], i + 1
        if c == "\\":
            i += 1
        elif in_class:
            if c == "]":
                in_class = False
                if opening == "[":
                    return i
        elif c == "[":
            in_class = True
            if source[i : i + 1] in ("]", "^"):
                i += 2 if source[i : i + 2] == "^]" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def split_article(article: Article, boilerplate: Sequence[re.Pattern[str]]) -> list[Sentence]:
    """The title (split at its clause breaks) and the body sentences, in order."""
    title = clean(article.title, boilerplate).strip()
    pieces: list[tuple[int, str]] = [
        (0, part.strip()) for part in _TITLE_SPLIT_RE.split(title) if part and part.strip()
    ]
    title_key = _key(title)
    paragraph = 0
    for line, sentences in split_lines(clean(article.text, boilerplate)):
        if paragraph < 3 and _is_key(line, title_key):
            continue  # the title repeated as the first heading
        paragraph += 1
        pieces.extend((paragraph, s) for s in sentences)
    joined = "\n".join(text for _, text in pieces)
    folded_lines = fold(joined).split("\n")
    if len(folded_lines) != len(pieces):  # a converter that rewrote a line break: be exact
        folded_lines = [fold(text) for _, text in pieces]
    result: list[Sentence] = []
    for (para, text), folded in zip(pieces, folded_lines, strict=True):
        if len(folded) != len(text):
            folded = fold(text)
        result.append(Sentence(len(result), para, text, folded))
    return result


def join(prepared: Sequence[Sentence]) -> tuple[str, str, list[int]]:
    """The sentences as one text and one folded text, a line each, and where each starts:
    every pattern then runs once per article instead of once per sentence."""
    texts = [s.text for s in prepared]
    # Each start is the one before plus that line and its break: summed in C, not in a loop.
    starts = list(accumulate(map(_PLUS_ONE, map(len, texts)), initial=0))
    starts.pop()
    return "\n".join(texts), "\n".join([s.folded for s in prepared]), starts


_PLUS_ONE = (1).__add__


_NON_WORD_RE = re.compile(r"\W+")


def _key(text: str) -> str:
    return _NON_WORD_RE.sub("", text).lower()


def _is_key(line: str, key: str) -> bool:
    """`_key(line) == key`, most lines told apart by their first word character (lowered, it
    opens their key) or else by their head (paragraphs far longer than the title): lowering
    never shortens a text, so a line whose head alone holds more word characters than `key`
    has characters cannot have it for key."""
    lead = _NON_WORD_RE.match(line)
    first = line[lead.end() if lead else 0 :][:1]
    if first and not first.lower().startswith(key[:1]):
        return False
    head = line[: 2 * len(key) + 2]
    if len(_NON_WORD_RE.sub("", head)) > len(key):
        return False
    return _key(line) == key
