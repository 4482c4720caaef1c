"""Dates in a sentence, absolute (2025年7月, 6月17日, June 17, 31 December 2004) or relative
(昨天, 上周, yesterday, last week, on Friday), resolved against the article's own date; and
the dateline that gives a text its date ("BEIJING, June 3 (Reuters) -", "IT之家 6 月 3 日消息").

A date resolved against the reference (a relative word, a day without its year) is marked
`anchored`: when the reference is only a file's time, such a date can still tell the ranking
that a sentence is today's news, but it is never an event's date (a wrong date is worse than
none).

Pure: the reference date is passed in. Works on folded text (lower case).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import NamedTuple

from bot.core.text import positions_of

_MONTHS = {
    name: i
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_WEEKDAYS_EN = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAYS_ZH = "一二三四五六日天"
# English month names are matched as written (capitalised) on the original text: trying every
# lower-case letter of an English article as a possible 'march' or 'may' is slow and wrong.
_MONTH_NAMES = "|".join(sorted((m.capitalize() for m in _MONTHS), key=len, reverse=True))
_CASED = frozenset(("en_mdy", "en_dmy", "en_my", "en_month"))
_MONTH_HINTS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_INITIALS = tuple(sorted({hint[0] for hint in _MONTH_HINTS}))

_RELATIVE_ZH = "今天|今日|昨天|昨日|前天|明天|上周|上星期|上个月|上月|去年|前年|本周|这周|今年"
_RELATIVE_EN = "today|yesterday|last week|last month|last year|this week|tomorrow"
_RELATIVE_ZH_RE = re.compile(_RELATIVE_ZH)
_RELATIVE_EN_RE = re.compile(_RELATIVE_EN)
_RELATIVE_EN_WORDS = tuple(_RELATIVE_EN.split("|"))
# Each word by a pattern of its own, run only when the word is in the text: a literal opening
# skips ahead in a tight loop where the alternation tests a class at each character. At one
# place at most one word matches; 'today' and 'yesterday' may overlap ('todayesterday'), and
# the alternation's pass keeps the first: so do the words' matches, sorted (_leftmost).
_RELATIVE_EN_EACH = tuple((word, re.compile(re.escape(word))) for word in _RELATIVE_EN_WORDS)
_RELATIVE_ZH_FIRST = frozenset(word[0] for word in _RELATIVE_ZH.split("|"))
# Each pattern starts with a required token (no look-behind), so the engine skips ahead fast;
# the word-boundary check on the left is done once a pattern has matched.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("iso", re.compile(r"(?P<y>(?:19|20)\d\d)-(?P<m>\d\d)-(?P<d>\d\d)(?!\d)")),
    (
        "zh_ymd",
        re.compile(
            r"(?P<y>(?:19|20)\d\d)[ ]*年[ ]*(?P<m>\d\d?)[ ]*月(?:[ ]*(?P<d>\d\d?)[ ]*[日号])?"
        ),
    ),
    ("zh_md", re.compile(r"(?P<m>\d\d?)[ ]*月[ ]*(?P<d>\d\d?)[ ]*[日号]")),
    ("zh_y", re.compile(r"(?P<y>(?:19|20)\d\d)[ ]*年(?![ ]*\d{1,2}[ ]*月)")),
    (
        "en_mdy",
        re.compile(
            rf"(?P<mn>{_MONTH_NAMES})\.?[ ]+(?P<d>\d\d?)(?:st|nd|rd|th)?\b"
            r"(?:,?[ ]+(?P<y>(?:19|20)\d\d))?"
        ),
    ),
    (
        "en_dmy",
        re.compile(
            rf"(?P<d>\d\d?)(?:st|nd|rd|th)?[ ]+(?P<mn>{_MONTH_NAMES})\b"
            r"(?:,?[ ]+(?P<y>(?:19|20)\d\d))?"
        ),
    ),
    ("en_my", re.compile(rf"(?P<mn>{_MONTH_NAMES})\.?[ ]+(?P<y>(?:19|20)\d\d)\b")),
    (
        "en_month",
        re.compile(
            r"[Ii]n[ ]+(?P<mn>January|February|March|April|June|July|August|"
            r"September|October|November|December)\b"
        ),
    ),
    ("en_y", re.compile(r"(?P<y>(?:19|20)\d\d)\b")),  # after in/since/of/during: checked
    ("relative", re.compile(f"{_RELATIVE_ZH}|{_RELATIVE_EN}")),  # see _relative_matches
    ("zh_weekday", re.compile(r"(?:周|星期|礼拜)(?P<wd>[一二三四五六日天])")),
    ("en_weekday", re.compile(r"on[ ]+(?P<wd>" + "|".join(_WEEKDAYS_EN) + r")\b")),
)
# What a text must contain for a kind to match (any one of the words), checked with `in`
# before the pattern runs: a few fast searches cost less than one pass of a pattern that
# opens with a class or an alternation. A year ('en_y') counts only after 'in ' or the like.
_NEEDS: dict[str, tuple[str, ...]] = {
    "iso": ("-",),
    "zh_ymd": ("年",),
    "zh_md": ("月",),
    "zh_y": ("年",),
    "en_y": (" 19", " 20"),
    "zh_weekday": tuple("周星礼"),  # one character: a search for it costs next to nothing
    "en_weekday": ("on ",),
}
# Kinds opening with alternatives, each as one pattern per alternative: a pattern opening with
# a literal ('19') skips ahead in a tight loop, one opening with '(?:19|20)' tests a class at
# each character (4× the time). Two years matched never overlap (four digits, a non-digit after
# the match), nor two weekdays (no weekday character opens one): together they find what the
# one pattern finds.
_CENTURY = "(?P<y>(?:19|20)"
_WEEKDAY_ZH = "(?:周|星期|礼拜)"
_SPLIT = {
    kind: tuple(
        re.compile(pattern.pattern.replace(_CENTURY, f"(?P<y>{c}", 1)) for c in ("19", "20")
    )
    for kind, pattern in _PATTERNS
    if pattern.pattern.startswith(_CENTURY)
}
_SPLIT["zh_weekday"] = tuple(
    re.compile(dict(_PATTERNS)["zh_weekday"].pattern.replace(_WEEKDAY_ZH, word, 1))
    for word in ("周", "星期", "礼拜")
)
_YEAR_AFTER_RE = re.compile(r"\b(?:in|since|of|during) $")
_LEFT_WORD_RE = re.compile(r"[a-z0-9]")

_RELATIVE_DAYS = {"今天": 0, "今日": 0, "today": 0, "昨天": -1, "昨日": -1, "yesterday": -1}
_RELATIVE_DAYS |= {"前天": -2, "明天": 1, "tomorrow": 1}


class FoundDate(NamedTuple):  # a tuple: built by the hundred per article, and cheaply
    start: int
    end: int
    iso: str  # "2025-06-17", "2025-07" or "2025"
    first: date  # first day of the period
    last: date  # last day of the period
    anchored: bool = False  # resolved against the reference date: as good as that date


_new = tuple.__new__  # a FoundDate made without its Python-level constructor


def find_dates(folded: str, published: date, text: str | None = None) -> list[FoundDate]:
    """Every date in the (folded) text, in order; relative ones and those without a year
    resolved against `published` (and `anchored`). `text` is the same text as written, for
    capitalised month names (default: `folded`)."""
    found: list[FoundDate] = []
    taken = _Spans()
    cased = text if text is not None else folded
    skip: set[str] = {kind for kind, words in _NEEDS.items() if not any(w in folded for w in words)}
    months = _month_lines(cased)
    if months is None:
        skip |= _CASED
    for kind, pattern in _PATTERNS:
        if kind in skip:
            continue
        if kind == "relative":
            matches: Iterable[_Match] = _relative_matches(folded)
        elif kind in _CASED:
            assert months is not None
            matches = _in_lines(pattern, *months)
        elif kind in _SPLIT:
            matches = _split_matches(kind, folded)
        elif kind == "zh_md":
            matches = _month_day_matches(pattern, folded)
        else:
            matches = ((m.start(), m.end(), m) for m in pattern.finditer(folded))
        for start, end, m in matches:
            if (
                start
                and _LEFT_WORD_RE.match(folded[start - 1])
                and _LEFT_WORD_RE.match(folded[start])
            ):
                continue  # inside a word or a longer number
            if kind == "zh_md" and start and folded[start - 1] == "年":
                continue
            if kind == "en_y" and not _YEAR_AFTER_RE.search(folded, max(0, start - 8), start):
                continue
            if taken.overlaps(start, end):
                continue
            groups = {k: v for k, v in m.groupdict().items() if v}
            resolved = _resolve(kind, m.group(), groups, published)
            if resolved is not None:
                taken.add(start, end)
                found.append(_new(FoundDate, (start, end, *resolved, "y" not in groups)))
    return sorted(found, key=lambda f: f.start)


def _split_matches(kind: str, folded: str) -> Iterator[_Match]:
    """The matches of the kind's pattern in `folded`, in order, by its patterns in _SPLIT."""
    found = [m for pattern in _SPLIT[kind] for m in pattern.finditer(folded)]
    found.sort(key=re.Match.start)
    return ((m.start(), m.end(), m) for m in found)


def _month_day_matches(pattern: re.Pattern[str], folded: str) -> Iterator[_Match]:
    """The matches of zh_md's pattern (a month's one or two digits, spaces, '月', a day) in
    `folded`, in order, tried only at the one or two digits before each '月' and its spaces: a
    pass of a pattern opening with a digit tests a class at each character. The places are
    tried in order, each past the last match, as a pass tries them."""
    end = 0
    month = folded.find("月")
    while month >= 0:
        digits = month  # where the spaces before '月' start
        while digits > end and folded[digits - 1] == " ":
            digits -= 1
        for at in (digits - 2, digits - 1):
            if at >= end and folded[at].isdecimal():
                m = pattern.match(folded, at)
                if m is not None:
                    end = m.end()
                    yield at, end, m
                    break
        month = folded.find("月", max(month + 1, end))


class _Spans:
    """Disjoint spans, sorted: whether a new one overlaps any is one bisection, not a pass
    over all of them (a line of 10,000 dates)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def overlaps(self, start: int, end: int) -> bool:
        # The last span starting before `end`: disjoint and sorted, no earlier one ends later.
        i = bisect_left(self.starts, end) - 1
        return i >= 0 and self.ends[i] > start

    def add(self, start: int, end: int) -> None:
        i = bisect_left(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)


# What a pattern finds, placed in the text searched: (start, end, match). No date spans a
# line break, and no pattern looks past its own line: a pattern can run on some lines alone.
_Match = tuple[int, int, "re.Match[str]"]


def _month_lines(cased: str) -> tuple[str, list[int], list[int]] | None:
    """The lines that name a month (every English pattern needs one), joined, and where each
    starts there and in `cased`; None when no line does."""
    lines: list[str] = []
    at: list[int] = []
    starts: list[int] = []
    size = end = 0
    for hint in _month_hints(cased):
        if hint < end:
            continue  # in the line just taken
        begin = cased.rfind("\n", 0, hint) + 1
        end = cased.find("\n", hint + 3)
        end = len(cased) if end < 0 else end
        lines.append(cased[begin:end])
        at.append(size)
        starts.append(begin)
        size += end - begin + 1
    return ("\n".join(lines), at, starts) if lines else None


def _month_hints(cased: str) -> list[int]:
    """Where a month's abbreviation ('Jan' … 'Dec') starts, in order: its capital sought by
    `str.find` (memchr speed), not by a pattern of the twelve, which tests a class of their
    capitals at each character (~25 instructions)."""
    return [at for at in positions_of(cased, _MONTH_INITIALS) if cased.startswith(_MONTH_HINTS, at)]


def _in_lines(
    pattern: re.Pattern[str], lines: str, at: list[int], starts: list[int]
) -> Iterator[_Match]:
    """The matches of `pattern` in the lines that `_month_lines` gathered, placed back."""
    for m in pattern.finditer(lines):
        line = bisect_right(at, m.start()) - 1
        shift = starts[line] - at[line]
        yield m.start() + shift, m.end() + shift, m


def _relative_matches(folded: str) -> list[_Match]:
    """What the 'relative' pattern finds: its English words and, in text holding the first
    character of one, its Chinese words, each by a pattern of their own (no word of one
    script overlaps one of the other)."""
    out: list[_Match] = []
    english = [
        m for word, pattern in _RELATIVE_EN_EACH if word in folded for m in pattern.finditer(folded)
    ]
    if english:
        english.sort(key=re.Match.start)
        out += _leftmost(english)
    if any(c in folded for c in _RELATIVE_ZH_FIRST):
        out += [(m.start(), m.end(), m) for m in _RELATIVE_ZH_RE.finditer(folded)]
    return sorted(out, key=_first)


def _leftmost(matches: list[re.Match[str]]) -> list[_Match]:
    """The matches (sorted by start) a single pass keeps: each one starting after the last."""
    out: list[_Match] = []
    end = 0
    for m in matches:
        if m.start() >= end:
            out.append((m.start(), m.end(), m))
            end = m.end()
    return out


def _first(found: _Match) -> int:
    return found[0]


def _resolve(
    kind: str, matched: str, groups: dict[str, str], published: date | None
) -> tuple[str, date, date] | None:
    try:
        if published is None and not groups.get("y"):
            return None  # "June 17" (or a relative word) and no date to take the year from
        if kind == "relative":
            assert published is not None
            return _relative(matched, published)
        if kind in ("zh_weekday", "en_weekday"):
            assert published is not None
            wd = groups["wd"]
            index = (
                _WEEKDAYS_EN.index(wd) if kind == "en_weekday" else min(_WEEKDAYS_ZH.index(wd), 6)
            )
            back = (published.weekday() - index) % 7
            return _day(published - timedelta(days=back))
        month = _MONTHS[groups["mn"].lower()] if groups.get("mn") else int(groups.get("m") or 0)
        year = int(groups["y"]) if groups.get("y") else None
        day = int(groups["d"]) if groups.get("d") else None
        if kind in ("zh_y", "en_y"):
            assert year is not None
            return str(year), date(year, 1, 1), date(year, 12, 31)
        if year is None:
            assert published is not None
            year = published.year
            # "3 月 22 日" in an article of 28 March is this year; "12 月 5 日" in January is last year
            if date(year, month, day or 1) > published + timedelta(days=31):
                year -= 1
        if day is None:
            return _month(year, month)
        return _day(date(year, month, day))
    except (ValueError, AssertionError, KeyError):
        return None


def _relative(word: str, published: date) -> tuple[str, date, date]:
    if word in _RELATIVE_DAYS:
        return _day(published + timedelta(days=_RELATIVE_DAYS[word]))
    if word in ("上周", "上星期", "last week"):
        monday = published - timedelta(days=published.weekday() + 7)
        return monday.isoformat(), monday, monday + timedelta(days=6)
    if word in ("本周", "这周", "this week"):
        monday = published - timedelta(days=published.weekday())
        return monday.isoformat(), monday, monday + timedelta(days=6)
    if word in ("上个月", "上月", "last month"):
        first = (published.replace(day=1) - timedelta(days=1)).replace(day=1)
        return _month(first.year, first.month)
    year = published.year - {"去年": 1, "last year": 1, "前年": 2}.get(word, 0)
    return str(year), date(year, 1, 1), date(year, 12, 31)


def _day(day: date) -> tuple[str, date, date]:
    return day.isoformat(), day, day


def _month(year: int, month: int) -> tuple[str, date, date]:
    first = date(year, month, 1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return f"{year:04d}-{month:02d}", first, last


# A dateline opens a report with the place and day it was filed: "BEIJING, June 3 (Reuters) -",
# "LONDON, June 3, 2025 /PRNewswire/ --", "IT之家 6 月 3 日消息", "新华社北京6月3日电",
# "【2025年6月3日讯】". Matched at the start of one of the first lines of the body only.
_DATELINE_EN_RE = re.compile(
    rf"^[A-Z][A-Za-z.'’ -]{{1,40}},[ ]+(?:[A-Z][A-Za-z.' ]{{1,30}},[ ]+)?"
    rf"(?P<mn>{_MONTH_NAMES})\.?[ ]+(?P<d>\d{{1,2}})(?:,?[ ]+(?P<y>(?:19|20)\d\d))?"
    r"[ ]*(?:\([A-Za-z ]{2,30}\)|/[A-Za-z ]{2,30}/)?[ ]*(?:-{1,2}|–|—)"
)
_DATELINE_ZH_RE = re.compile(
    r"^[【\[(（]?[^，,。：:\n]{0,16}?(?:(?P<y>(?:19|20)\d\d)[ ]*年[ ]*)?(?P<m>\d{1,2})[ ]*月[ ]*"
    r"(?P<d>\d{1,2})[ ]*[日号][ ]*(?:消息|讯息|訊息|讯|訊|电|電|报道|報道)"
)


def _dateline_match(line: str) -> re.Match[str] | None:
    # The Chinese pattern tries up to 17 places at the start of the line: 2.5 µs on an
    # English line, which an `in` test for its '月' spares. The English one needs a comma
    # within its first 42 characters (after at most 41 of a place's name).
    zh = _DATELINE_ZH_RE.match(line) if "月" in line else None
    return zh or (_DATELINE_EN_RE.match(line) if "," in line[:42] else None)


def dateline(line: str, published: date | None) -> date | None:
    """The day a dateline at the start of `line` (as written) gives; its year, when it states
    none, that of `published` (the article's own date, not a file's): None without one."""
    m = _dateline_match(line)
    if m is None:
        return None
    groups = {k: v for k, v in m.groupdict().items() if v}
    kind = "en_mdy" if "mn" in groups else "zh_ymd" if "y" in groups else "zh_md"
    resolved = _resolve(kind, m.group(), groups, published)
    return None if resolved is None else resolved[1]


def dateline_end(line: str) -> int:
    """Where the dateline opening `line` ends (0: none), for summaries that leave it out."""
    m = _dateline_match(line)
    return 0 if m is None else m.end()
