"""Text utilities shared by article parsing and extraction: script detection, Chinese
simplified/traditional folding, sentence splitting, XML-safe text, and Markdown or HTML
reduced to paragraphs of plain text.

Pure: no I/O of its own (OpenCC loads its bundled dictionaries once, on first use).

One module (~500 lines): script detection, folding, sentences and markup reduction share the
Han range and the OpenCC converters, and parsing and extraction both use most of it.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from typing import Any

import opencc

# CJK Unified Ideographs, extension A, compatibility ideographs, extensions B+ (astral).
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN_RE = re.compile(f"[{HAN}]")
_HAN_RUN_RE = re.compile(f"[{HAN}]+")
_KANA_RE = re.compile("[\u3040-\u30ff]")
_HANGUL_RE = re.compile("[\uac00-\ud7af]")
_KANA_OR_HANGUL_RE = re.compile("[\u3040-\u30ff\uac00-\ud7af]")
_LATIN_WORD_RE = re.compile(r"[A-Za-z\u00c0-\u024f]{2,}")

# Enough text to decide the script; keeps detection cheap on long articles.
_DETECT_SAMPLE = 1500
_HAN_SAMPLE = 300


@cache
def _converter(config: str) -> Any:
    return opencc.OpenCC(config)


def to_simplified(s: str) -> str:
    """Fold traditional Chinese to simplified (OpenCC t2s); other text is unchanged."""
    # OpenCC changes no character below the CJK radicals (U+2E80; tests/extract/
    # test_shortcuts.py checks them all): text without one from their block on, most English,
    # is left as it is. OpenCC's pass costs 35 µs over an English article amid extraction
    # (its dictionaries out of the cache), a regex seeking a CJK character 28, holds_from 8.
    if not holds_from(s, 0x2E):
        return s
    return str(_converter("t2s").convert(s))


def to_traditional(s: str) -> str:
    """Traditional Chinese by character (OpenCC s2t), without Taiwan phrase changes,
    so that a folded name still lines up with the original character by character."""
    return str(_converter("s2t").convert(s)) if s else s


def _changed(han: str, converted: str) -> int:
    """How many characters of `han` its conversion changed."""
    if len(converted) == len(han):
        return sum(1 for a, b in zip(han, converted, strict=True) if a != b)
    return len(set(han) - set(converted))  # phrase conversion changed the length: rare


def detect_lang(text: str) -> str:
    """'zh-Hans', 'zh-Hant', 'ja', 'ko' or 'en' (the default for Latin and unknown text)."""
    sample = text[:_DETECT_SAMPLE]
    # Kana (U+3040 on), Hangul and Han (U+3400 on) all lie past U+3000: a text without any
    # such character, most English, is told without the four pattern passes below.
    if not holds_from(sample, 0x30):
        return "en"
    han = "".join(_HAN_RUN_RE.findall(sample))
    kana = hangul = 0
    if _KANA_OR_HANGUL_RE.search(sample):  # one pass where Chinese text has neither
        kana = len(_KANA_RE.findall(sample))
        hangul = len(_HANGUL_RE.findall(sample))
    # A Latin word has two letters or more, none of them Han: the words can outnumber the
    # Han characters only if the other characters are twice as many. Counted only then.
    most_words = (len(sample) - len(han)) // 2
    latin_words = 0
    if hangul >= 2 or 0 < len(han) < most_words:
        latin_words = len(_LATIN_WORD_RE.findall(sample))
    if hangul >= 2 and hangul > max(len(han), latin_words) // 2:
        return "ko"
    if kana >= 2 and kana > len(han) // 5:
        return "ja"
    # One Han character carries about as much as one Latin word.
    if not han or len(han) < latin_words:
        return "en"
    # Traditional when more characters are written traditionally (t2s changes them) than
    # simplified (s2t does). Counted only when both conversions change something.
    han = han[:_HAN_SAMPLE]
    as_simplified = str(_converter("t2s").convert(han))
    if as_simplified == han:  # nothing traditional, the common case: one conversion
        return "zh-Hans"
    as_traditional = str(_converter("s2t").convert(han))
    if as_traditional == han and len(as_simplified) == len(han):
        return "zh-Hant"  # some characters traditional, none simplified
    return "zh-Hant" if _changed(han, as_simplified) > _changed(han, as_traditional) else "zh-Hans"


# Sentence ends. Chinese: 。！？；… and their full-width/ASCII forms, closing quotes stay with
# the sentence. English: . ! ? followed by space and a capital, digit or opening quote.
_CLOSERS = "\"'”’」』）)】》"
# Both open with a literal or a character class, not a look-behind or a repeat: only then does
# the regex engine skip ahead to a candidate instead of trying each character (3–5× faster).
_ZH_END_RE = re.compile(
    f"[。！？；!?….](?:(?<=…)…*|(?<=\\.)\\.\\.+|(?<=[。！？；!?])[。！？；!?]*)[{_CLOSERS}]*"
)
# Only the first mark of a run may start a match (the look-behind after it), and the run is
# never given back: a line of ten thousand '?' costs linear time.
_EN_END_RE = re.compile(
    f"[.!?](?<![.!?][.!?])[.!?]*+[{_CLOSERS}]*+(?=\\s+[\"'“‘(A-Z0-9]|\\s*[{HAN}])"
)
# The same, one pattern per opening mark: a pattern opening with one character skips ahead
# to it in a tight loop, one opening with a class tests the class at each character (5× the
# time over English text). A match starts at the first mark of a run and ends before the
# space or Han text after it, so matches opening with different marks never overlap.
_EN_END_BY_MARK = tuple(
    (mark, re.compile(re.escape(mark) + _EN_END_RE.pattern.removeprefix("[.!?]"))) for mark in ".!?"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ABBREVIATIONS = _words(
    "mr mrs ms dr prof sr jr st mt vs etc inc corp co ltd plc llc no nos vol fig gen col lt "
    "sgt capt gov sen rep rev hon jan feb mar apr jun jul aug sep sept oct nov dec est approx "
    "dept univ ave blvd rd"
)
_WORD_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz."


def _is_abbreviation(line: str, end: int) -> bool:
    """True when the period at `end` belongs to 'Mr.', 'U.S.', 'a.m.', 'J.'."""
    # The word before it: the letters and periods that end there, from the first letter. A
    # short window: searching the whole prefix would be quadratic. rstrip finds where the
    # run starts without a Python loop over its characters.
    window = line[max(0, end - 24) : end]
    word = window[len(window.rstrip(_WORD_CHARS)) :].lstrip(".")
    if not word:
        return False
    if "." in word:  # U.S, a.m, e.g: letters with inner dots
        return True
    return (len(word) == 1 and word.isupper()) or word.lower() in _ABBREVIATIONS


def split_sentences(text: str) -> list[str]:
    """Split text into sentences (Chinese and English); line breaks always end a sentence."""
    return [sentence for _, sentences in split_lines(text) for sentence in sentences]


def split_lines(text: str) -> list[tuple[str, list[str]]]:
    """Each non-blank line of `text`, stripped, with its sentences. The sentence-end patterns
    run once over the whole text, not once per line: no end spans a line break, and what
    they look at around an end inside a line is in that line."""
    ends = _sentence_ends(text)
    out: list[tuple[str, list[str]]] = []
    at, first = 0, 0  # where the line starts in `text`; its first end in `ends`
    for raw in text.split("\n"):
        begin, at = at, at + len(raw) + 1
        line = raw.strip()
        if not line:
            continue
        begin += len(raw) - len(raw.lstrip())
        stop = begin + len(line)
        while first < len(ends) and ends[first] <= begin:
            first += 1
        sentences: list[str] = []
        start = 0
        while first < len(ends) and ends[first] < stop:
            end = ends[first] - begin
            piece = line[start:end].strip()
            if piece:
                sentences.append(piece)
            start = end
            first += 1
        rest = line[start:].strip()
        if rest:
            sentences.append(rest)
        out.append((line, sentences))
    return out


def _sentence_ends(line: str) -> list[int]:
    ends: list[int] = []  # in order: the matches of one pattern do not overlap
    for match in _ZH_END_RE.finditer(line, _zh_ends_from(line)):
        end = match.end()
        if line[match.start()] in "!?.":
            # ASCII marks end a sentence only before Han text or the end of the line;
            # the English rule below handles them before Latin text.
            after = line[end : end + 1]
            if after and not _HAN_RE.match(after):
                continue
        ends.append(end)
    english = [
        match.end()
        for match in _english_ends(line)
        if line[match.start()] != "." or not _is_abbreviation(line, match.start())
    ]
    if english:
        return sorted(set(ends).union(english)) if ends else english
    return ends


def _english_ends(line: str) -> list[re.Match[str]]:
    """The matches of _EN_END_RE.finditer(line), in order, by one pattern per mark."""
    return matches_by_opening(_EN_END_BY_MARK, line)


def matches_by_opening(
    patterns: Sequence[tuple[str, re.Pattern[str]]], text: str
) -> list[re.Match[str]]:
    """The matches of one pattern split by its opening character, in order: the regex engine
    skips ahead to a literal opening fast but tests a class at every character. For patterns
    whose matches hold their opening character only at their start (never overlapping)."""
    found: list[re.Match[str]] = []
    kinds = 0
    for opening, pattern in patterns:
        if opening in text:
            found += pattern.finditer(text)
            kinds += 1
    return sorted(found, key=re.Match.start) if kinds > 1 else found


def _zh_ends_from(line: str) -> int:
    """Where the Chinese ends can be. Without a Han character or a full-width mark (most
    English), an ASCII mark makes one only where it ends the text (elsewhere it needs Han
    text after it): only from the first '…', or else the run of marks and closers ending the
    text, is searched, not the whole text (a class test at each character, 30 µs over an
    English article). A match is made of marks and closers, none of them '…' if it opens
    with an ASCII mark: none reaches into the part searched from before it."""
    if holds_from(line, 0x30):
        return 0
    ellipsis = line.find("…")
    return ellipsis if ellipsis >= 0 else len(line.rstrip(".!?" + _CLOSERS))


# What XML 1.0 cannot carry (it allows \t \n \r, U+0020–U+D7FF, U+E000–U+FFFD and the astral
# planes); lxml refuses a whole document if one of these slips through.
# (A raw string: the regex reads the escapes; mypyc compiles no surrogate in a literal.)
_XML_INVALID_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def strip_xml_invalid(s: str) -> str:
    """Remove characters XML 1.0 cannot carry: C0 controls, U+FFFE/U+FFFF, lone surrogates."""
    return _XML_INVALID_RE.sub("", s)


# The high bytes below each block, for holds_from: made once (32 KB), read without a call.
_HIGH_BYTES_BELOW = [bytes(range(block)) for block in range(256)]


def holds_from(s: str, block: int) -> bool:
    """Whether `s` holds a character of block U+`block`00 or a later one of the BMP (astral
    ones count for a block below U+D800). A regex class seeks one at 3–5 ns a character
    (25 µs over an English article); this reads the high bytes of its UTF-16 form with C
    loops, 3× faster."""
    if s.isascii():
        return False
    below = _HIGH_BYTES_BELOW[block]
    if len(s) > 1024 and s[:256].encode("utf-16-le", "surrogatepass")[1::2].translate(None, below):
        return True  # Chinese text, told by its start
    return bool(s.encode("utf-16-le", "surrogatepass")[1::2].translate(None, below))


def last_of(text: str, chars: str) -> int:
    """Where the last character of `text` that is one of `chars` stands (-1: none), as
    `max(map(text.rfind, chars))` tells: one compiled loop, 2–3× faster over the short heads
    before an amount or a trigger where the clause marks are sought."""
    i = len(text) - 1
    while i >= 0 and text[i] not in chars:
        i -= 1
    return i


def positions_of(text: str, chars: Sequence[str]) -> list[int]:
    """Where the characters of `text` that are one of `chars` (distinct, one character each)
    stand, in order: what a pattern of their class finds with `finditer`, by one `str.find`
    loop per character (C loops that skip ahead; a character the text lacks costs a call).
    A class pattern tests every character of the text one by one: ~25 instructions each."""
    out: list[int] = []
    for c in chars:
        at = text.find(c)
        while at >= 0:
            out.append(at)
            at = text.find(c, at + 1)
    out.sort()
    return out


def lines_holding(text: str, words: Sequence[str], starts: Sequence[int]) -> list[int]:
    """The lines (of `starts`, where each line of `text` starts) holding one of `words` (none
    holding a line break), in order. By `str.find`, which skips ahead in C, a line left as
    soon as a word is found in it: a lexicon automaton walks every character (~40
    instructions each), which over a whole article costs ten times more."""
    found: set[int] = set()
    last, size = len(starts) - 1, len(text)
    for word in words:
        at = text.find(word)
        while at >= 0:
            line = bisect_right(starts, at) - 1
            found.add(line)
            if line >= last:
                break
            at = text.find(word, starts[line + 1], size)
    return sorted(found)


def first_of(text: str, chars: str) -> int:
    """Where the first character of `text` that is one of `chars` stands (`len(text)`: none)."""
    i, size = 0, len(text)
    while i < size and text[i] not in chars:
        i += 1
    return i


def xml_valid(s: str) -> bool:
    """Whether `strip_xml_invalid` would leave `s` as it is."""
    return _XML_INVALID_RE.search(s) is None


def han_chars(s: str) -> list[str]:
    """The Han (Chinese) characters of `s`, in order."""
    return _HAN_RE.findall(s)


# --- markup: Markdown and HTML reduced to paragraphs of readable text --------------------

_HTML_START_RE = re.compile(
    r"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|div|p|article|section|main|h[1-6]"
    r"|table|ul|ol|figure|span|a|img|br|meta|title|header)\b",
    re.IGNORECASE | re.DOTALL,
)
_BLOCK_TAG_RE = re.compile(r"<(?:p|div|br|h[1-6]|li|table|section|article|figure)\b", re.I)


def looks_like_html(text: str) -> bool:
    """HTML when the text opens with a tag, has block-level tags and most of its lines are
    markup: Markdown that merely starts with a centred <div> stays Markdown."""
    if not _HTML_START_RE.match(text) or not _BLOCK_TAG_RE.search(text, 0, 20000):
        return False
    lines = [line for line in text[:20000].split("\n") if line.strip()]
    tagged = sum(1 for line in lines if line.lstrip().startswith("<"))
    return tagged * 2 >= len(lines)


# Bounded or bracket-stopped runs throughout: an unclosed '<!--', '{%' or '<p' repeated many
# times must cost linear time, not quadratic.
_TEMPLATE_RE = re.compile(r"\{%.{0,200}?%\}|\{\{.{0,200}?\}\}|\{:[^{}\n]{0,200}\}", re.DOTALL)
# The line patterns below, each with the characters a match of it can open a stripped line
# with: a line opening otherwise (most) is not tried, a call saved per pattern and line.
_FENCES = ("```", "~~~")  # what a code fence opens with
_RULE_RE = re.compile(r"^(?:[-*_]\s*){3,}$|^\|?[\s:|-]*-{3,}[\s:|-]*$")
_RULE_OPENERS = "-*_|:"
_HEADING_RE = re.compile(r"^#{1,6}(?:\s+|$)")
_QUOTE_RE = re.compile(r"^(?:>\s?)+")
_BULLET_RE = re.compile(r"^(?:[-*+•·▪●◦]\s+)+")
_BULLET_OPENERS = "-*+•·▪●◦"
_REF_DEF_RE = re.compile(r"^\[[^\]]+\]:\s*\S+")
_TARGET = (
    r"\((?:<[^<>]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)"
)
# Link text stops at any bracket, so a run of '[' costs linear time, not quadratic.
_IMAGE_RE = re.compile(rf"!\[[^\[\]]*\](?:{_TARGET}|\[[^\[\]]*\])")
_LINK_RE = re.compile(rf"\[([^\[\]]*)\](?:{_TARGET}|\[[^\[\]]*\])")
_LINK_TAIL_RE = re.compile(rf"\]{_TARGET}")
# No '<' inside (as CommonMark's autolinks): a run of '<http://' costs linear time.
_AUTOLINK_RE = re.compile(r"<((?:https?|ftp|mailto):[^<>\s]+)>")
_BOLD_RE = re.compile(r"\*\*|__(?=\S)|(?<=\S)__|~~")
_EMPHASIS_RE = re.compile(r"(?<![A-Za-z0-9*\\])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![A-Za-z0-9*])")
_CODE_RE = re.compile(r"`+([^`\n]*)`+")
_BREAK_TAG_RE = re.compile(r"<br\s*/?>|</?(?:p|div|li|h[1-6]|tr|blockquote)\b[^<>]*>", re.I)
# A '<' that does not open a complete tag before the next '<' is text; escaping it keeps
# html.parser linear (it rescans to the end for every unfinished tag).
_STRAY_LT_RE = re.compile(r"<(?![A-Za-z/!?][^<>]*>)")
_TAG_RE = re.compile(r"</?[A-Za-z][^<>]*>")
_SPACES_RE = re.compile(r"[ \t\u00a0]+")
_PUNCT_END = '.!?。！？:：;；"”’)）]】」』…'


def _inline(line: str) -> str:
    # Each pattern runs only when its marker character is present: most lines have none.
    if "[" in line or "](" in line:
        line = _LINK_RE.sub(r"\1", _IMAGE_RE.sub("", line))
        line = _LINK_TAIL_RE.sub("", line)  # the end of a link whose text spans lines
    if "<" in line:
        line = _TAG_RE.sub("", _AUTOLINK_RE.sub(r"\1", line))
    if "`" in line:
        line = _CODE_RE.sub(r"\1", line)
    if "*" in line or "_" in line or "~" in line:
        line = _EMPHASIS_RE.sub(r"\1", _BOLD_RE.sub("", line))
    if "&" in line:
        line = html.unescape(line)
    if "  " in line or "\t" in line or "\u00a0" in line:
        line = _SPACES_RE.sub(" ", line)
    return line.strip()


def _remove_comments(text: str) -> str:
    """Drop <!-- … --> comments; an unclosed one runs to the end, as in a browser."""
    if "<!--" not in text:
        return text
    pieces: list[str] = []
    position = 0
    while (start := text.find("<!--", position)) != -1:
        pieces.append(text[position:start])
        end = text.find("-->", start + 4)
        if end == -1:
            return "".join(pieces)
        position = end + 3
    pieces.append(text[position:])
    return "".join(pieces)


def _is_markup_only(line: str) -> bool:
    """A heading such as '# # # # I # #' that carries no words."""
    return sum(c.isalnum() for c in line) < 2 and line.count("#") > 1


def markdown_to_paragraphs(text: str) -> list[str]:
    """Reduce Markdown (or plain text) to paragraphs of readable text, one per line or
    heading; hard-wrapped lines are joined back."""
    if "<" in text:
        text = _BREAK_TAG_RE.sub("\n", _remove_comments(text))
    if "%}" in text or "}}" in text or "{:" in text:
        text = _TEMPLATE_RE.sub("", text)
    paragraphs: list[list[str]] = []  # each paragraph as its pieces: joined once, at the end
    joinable = False  # may the next line continue the last paragraph?
    in_code = False
    for raw in text.split("\n"):
        line = raw.strip()
        if line.startswith("[") and "]" not in line:
            line = line[1:].lstrip()  # the start of a link whose text spans lines
        if line.startswith(_FENCES):
            in_code = not in_code
            joinable = False
            continue
        if not line or (not in_code and _rule_or_reference(line)):
            joinable = False
            continue
        if in_code:
            paragraphs.append([line])
            continue
        heading = line[0] == "#" and _HEADING_RE.match(line) is not None
        if heading and _is_markup_only(line):
            joinable = False
            continue
        line = _HEADING_RE.sub("", line).rstrip("# ") if heading else line
        if line.startswith(">"):
            line = _QUOTE_RE.sub("", line)
        bullet = line[:1] in _BULLET_OPENERS and _BULLET_RE.match(line) is not None
        line = _inline(_BULLET_RE.sub("", line) if bullet else line)
        if not line:
            continue
        previous = paragraphs[-1][-1] if paragraphs else ""
        if joinable and not heading and not bullet and _continues(previous, line):
            paragraphs[-1] += [" " if _is_latin_pair(previous, line) else "", line]
        else:
            paragraphs.append([line])
        joinable = not heading
    return ["".join(pieces) for pieces in paragraphs]


def _rule_or_reference(line: str) -> bool:
    """A horizontal rule or table rule, or a link reference definition ('[a]: url'), of a
    stripped line that is not empty."""
    if line[0] in _RULE_OPENERS:
        return _RULE_RE.match(line) is not None
    return line[0] == "[" and _REF_DEF_RE.match(line) is not None


def _continues(previous: str, line: str) -> bool:
    """A hard-wrapped line: the previous one stops mid-sentence and this one goes on."""
    last = previous[-1]
    if last in _PUNCT_END:
        return False
    if last in ",，、":
        return True
    return line[0].islower() and len(previous) >= 40


def _is_latin_pair(previous: str, line: str) -> bool:
    return not (_HAN_RE.match(previous[-1]) or previous[-1] in "，、" or _HAN_RE.match(line[0]))


_SKIPPED_TAGS = _words(
    "script style noscript template svg iframe object canvas nav aside footer form button "
    "select head"
)
_BLOCK_TAGS = _words(
    "p div br h1 h2 h3 h4 h5 h6 li ul ol tr td th table section article header main "
    "blockquote pre figure figcaption dd dt dl hr"
)
_VOID_TAGS = frozenset(
    ("br", "hr", "img", "meta", "link", "input", "source", "wbr", "col", "area", "base", "embed")
)
_WRAP_RE = re.compile(f"(?<=[{HAN}，。、！？；：”」』）])\\s*\\n\\s*(?=[{HAN}“「『（])")


@dataclass(frozen=True, slots=True)
class HtmlText:
    """What an HTML document or body gives: headline, paragraphs, and the published time
    and language as written."""

    title: str
    paragraphs: tuple[str, ...]
    published: str | None
    lang: str | None = None


class _HtmlReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.title = ""
        self.h1 = ""
        self.published: str | None = None
        self.lang: str | None = None
        self._chunks: list[str] = []
        self._skip = 0
        self._in_title = False
        self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.lang = dict(attrs).get("lang") or None
        elif tag == "title":
            self._in_title = True
        elif tag in _SKIPPED_TAGS and tag not in _VOID_TAGS:
            self._skip += 1
        elif tag == "meta" or tag == "time":
            self._note_time(tag, dict(attrs))
        if tag in _BLOCK_TAGS:
            self._flush()
        if tag == "h1" and not self.h1:
            self._in_h1 = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIPPED_TAGS and self._skip:
            self._skip -= 1
        if tag in _BLOCK_TAGS:
            self._flush()
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self._chunks.append(data)
            if self._in_h1:
                self.h1 += data

    def _note_time(self, tag: str, attrs: dict[str, str | None]) -> None:
        if self.published:
            return
        if tag == "time":
            self.published = attrs.get("datetime")
        elif (attrs.get("property") or attrs.get("name") or "").lower() in (
            "article:published_time",
            "datepublished",
            "pubdate",
            "date",
        ):
            self.published = attrs.get("content")

    def _flush(self) -> None:
        if self._chunks:
            joined = "".join(self._chunks)
            # Every wrap holds a line break: a paragraph on one line is not tried, nor the
            # breaks between tags (nothing is left of them).
            if "\n" in joined and not joined.isspace():
                joined = _WRAP_RE.sub("", joined)
            text = " ".join(joined.split())
            if text:
                self.paragraphs.append(text)
            self._chunks = []


# A tag written plainly: a name; attributes each a name, or a name, '=' and a quoted value
# holding no '<' or '>'; single spaces, tabs or line breaks between; '/>' or '>'. Or an end tag
# of a bare name, or a doctype. What HTMLParser makes of these is plain (see _read_plain).
_PLAIN_TAG_RE = re.compile(
    r"<(?:([A-Za-z][A-Za-z0-9]*)((?:[ \t\n]+[A-Za-z][A-Za-z0-9_:-]*(?:=(?:'[^'<>]*'|\"[^\"<>]*\"))?)*)"
    r"[ \t\n]*(/?)>|/([A-Za-z][A-Za-z0-9]*)>|![Dd][Oo][Cc][Tt][Yy][Pp][Ee][^<>]*>)"
)
_PLAIN_ATTR_RE = re.compile(r"[ \t\n]+([A-Za-z][A-Za-z0-9_:-]*)(?:=(?:'([^']*)'|\"([^\"]*)\"))?")
# Elements whose content HTMLParser reads raw, up to their end tag (later versions add some).
_RAW_CONTENT = frozenset(
    (*HTMLParser.CDATA_CONTENT_ELEMENTS, *getattr(HTMLParser, "RCDATA_CONTENT_ELEMENTS", ()))
)


def _read_plain(reader: _HtmlReader, text: str) -> bool:
    """What `reader.feed(text); reader.close()` does, for a text whose every '<' opens a plain
    tag (_PLAIN_TAG_RE) and holds no script or style: the same calls, without HTMLParser's
    interpreted loop and its three patterns a tag (half of reading an HTML page). False, and
    nothing read, for any other text. Data between tags is unescaped a stretch at a time, as
    HTMLParser does (convert_charrefs), attribute values as it does; names are lowered."""
    tags: list[tuple[int, int, tuple[Any, ...]]] = []  # span and groups: a call each, not six
    lt = text.find("<")
    while lt >= 0:
        tag = _PLAIN_TAG_RE.match(text, lt)
        if tag is None:
            return False
        groups = tag.groups()
        if groups[0] is not None and groups[0].lower() in _RAW_CONTENT:
            return False
        start, end = tag.span()
        tags.append((start, end, groups))
        lt = text.find("<", end)
    done = 0
    for start, end, (name, attributes, closing, end_name) in tags:
        if done < start:
            reader.handle_data(html.unescape(text[done:start]))
        done = end
        if name is not None:
            name = name.lower()
            attrs: list[tuple[str, str | None]] = []
            if attributes:
                for attr in _PLAIN_ATTR_RE.finditer(attributes):
                    key, quoted, double = attr.groups()
                    value = quoted if quoted is not None else double
                    attrs.append((key.lower(), html.unescape(value) if value else value))
            reader.handle_starttag(name, attrs)
            if closing:
                reader.handle_endtag(name)
        elif end_name is not None:
            reader.handle_endtag(end_name.lower())
    if done < len(text):
        reader.handle_data(html.unescape(text[done:]))
    return True


def html_to_paragraphs(text: str) -> HtmlText:
    """Paragraphs of an HTML document or fragment; scripts, styles and navigation dropped."""
    reader = _HtmlReader()
    text = _STRAY_LT_RE.sub("&lt;", _remove_comments(text))
    if not _read_plain(reader, text):
        reader.feed(text)
        reader.close()
    reader._flush()
    title = " ".join(reader.h1.split()) or " ".join(reader.title.split())
    return HtmlText(title, tuple(reader.paragraphs), reader.published, reader.lang)
