"""The shortcuts extraction takes for speed find exactly what the long way finds: lines
scanned apart, sentences split in one pass, patterns run only on the lines or sentences
that can use them, boilerplate patterns skipped when their words are absent."""

from __future__ import annotations

import re
from bisect import bisect_right
from datetime import UTC, date, datetime
from itertools import accumulate

import ahocorasick
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli.rulefiles import default_documents
from bot.core import text as core_text
from bot.core.model import Article
from bot.core.text import (
    _HAN_RE,
    _converter,
    first_of,
    holds_from,
    last_of,
    lines_holding,
    positions_of,
    split_sentences,
    to_simplified,
)
from bot.extract import (
    amounts,
    dates,
    entities,
    events,
    load_rule_pack,
    parties,
    rules,
    sentences,
    summary,
)
from bot.extract.amounts import (
    _DIGITS_RE,
    _PREFIX_ENDS,
    _PREFIXED_RE,
    _WIDE,
    _WIDE_COMMA_RE,
    _WIDE_DIGIT_RE,
    _narrow,
    _prefixed,
    trie_pattern,
)
from bot.extract.clusters import _kinds
from bot.extract.dates import find_dates
from bot.extract.entities import (
    _ORG_RE,
    _ORG_SUFFIXES,
    _SUBJECT_CUE_RE,
    _SUBJECT_ROLES,
    _canonical,
    _dotted,
    _glossed,
)
from bot.extract.events import _CLAUSE_BREAK_RE, Analysed, _amounts, _breaks
from bot.extract.sentences import Sentence, _required_literal, _required_needles, fold, join

PACK = load_rule_pack(*default_documents())
PUBLISHED = date(2025, 6, 18)
MTIME = datetime(2025, 6, 18, tzinfo=UTC)

# Lines rich in what the shortcuts must get right: dates, amounts, sentence ends at a line's
# edges, cues ending one line before an amount starts the next.
LINES = [
    "Microsoft agreed to buy Activision for $69bn yesterday.",
    "It closed on Friday. Mr. Smith said the U.S. deal was done!",
    "... And then",
    "In March 2024 the firm raised €2bn, about",
    "$5 billion (£4bn) was paid in 2023.",
    "微软周三宣布以 687 亿美元收购动视暴雪。",
    "去年 12 月 5 日，该公司融资约",
    "5 亿元人民币（约 7000 万美元）！",
    "售价每月 30 元，税前",
    "The subscription is priced at $9.99 a month, before tax.",
    "A.",
    "",
    "  ",
]
texts = st.lists(st.sampled_from(LINES) | st.text(max_size=40), max_size=8).map("\n".join)


@settings(max_examples=300)
@given(texts)
def test_a_text_splits_as_its_lines_do(text: str) -> None:
    by_line = [s for line in text.split("\n") for s in split_sentences(line)]
    assert split_sentences(text) == by_line


@settings(max_examples=300)
@given(texts)
def test_the_lines_without_chinese_find_what_the_full_automaton_finds(text: str) -> None:
    folded = fold(text)
    assert list(PACK._matches(folded)) == list(PACK.automaton.iter(folded))


def test_the_paired_automaton_finds_what_the_full_one_finds() -> None:
    assert PACK.paired_automaton is not None  # the packaged lexicon: every character one unit
    # Every line; a character past U+FFFF (a lone surrogate in its stead); a lone surrogate (which
    # fold() refuses, but a folded text could hold).
    folded_texts = [fold(t) for t in (*LINES, "\n".join(LINES), "收购😀收购 Apple 收购")]
    # '收购' one byte off: its units (65 36, 8d 2d) straddling 'e', '㚍', 'ⴀ' (00 65, 36 8d, 2d 00).
    straddling = "收购 e\u368d\u2d00 收购"
    for folded in (*folded_texts, "收购\ud83d收购 apple", straddling):
        found = list(PACK._matches(folded))
        assert found == list(PACK.automaton.iter(folded))
    assert found  # the texts hold entries


def test_a_mixed_text_finds_its_hits_on_every_line() -> None:
    lines = ["Apple to acquire Beats for $3bn", "苹果收购 Beats", "Apple acquired Beats"]
    text = "\n".join(lines)
    together = PACK.scan(fold(text), text, [0, len(lines[0]) + 1, len(lines[0] + lines[1]) + 2])
    apart = [PACK.scan(fold(line), line)[0] for line in lines]
    assert together == apart


@settings(max_examples=300)
@given(st.lists(st.sampled_from(LINES) | st.text(max_size=30), min_size=1, max_size=8))
def test_dates_of_some_lines_are_those_lines_dates(lines: list[str]) -> None:
    text = "\n".join(lines)
    starts = [sum(len(line) + 1 for line in lines[:i]) for i in range(len(lines))]
    whole = find_dates(fold(text), PUBLISHED, text)
    for i, line in enumerate(lines):
        alone = find_dates(fold(line), PUBLISHED, line)
        end = starts[i] + len(line)
        shifted = [d._replace(start=d.start - starts[i], end=d.end - starts[i]) for d in whole]
        assert alone == [
            d for d, w in zip(shifted, whole, strict=True) if starts[i] <= w.start < end
        ]


@settings(max_examples=200)
@given(
    st.lists(st.sampled_from([x for x in LINES if x.strip()]), min_size=1, max_size=8),
    st.data(),
)
def test_amounts_of_some_sentences_are_those_the_article_gives_them(
    lines: list[str], data: st.DataObject
) -> None:
    sentences = [Sentence(i, i, line, fold(line)) for i, line in enumerate(lines)]
    article = Article("a.md", "t", "b", "zh-Hans", MTIME, "jekyll", "a")
    joined = join(sentences)
    every = _amounts(article, sentences, range(len(lines)), PACK, joined)
    chosen = sorted(data.draw(st.sets(st.sampled_from(range(len(lines))))))
    some = _amounts(article, sentences, chosen, PACK, joined)
    assert some == [every[i] for i in chosen]


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (r"\d\d:\d\dUnmute.*?(?:Enter fullscreen|Exit fullscreen)Play", "Unmute"),
        (r"See more$", "See more"),
        (r"\[#{1,3} .*", "["),
        (r"原文[:：].*", "原文"),
        (r"ab|cd", ""),
        (r"abc?d", "ab"),
        (r"(?i)abc", ""),
        (r"\x41BC", ""),
        (r"[]a]bc", "bc"),
    ],
)
def test_a_boilerplate_pattern_names_the_words_it_needs(pattern: str, literal: str) -> None:
    assert _required_literal(re.compile(pattern, re.M)) == literal


PIECES = ["a", "b", "ab", ".", "*", "+", "?", "{1,2}", "(", ")", "(?:", "|", "[ab]", "[^a]"]
PIECES += [r"\d", r"\.", r"\(", "^", "$", r"\b", " ", r"\w", "(?=a)", "(?<=b)", "[]a]", r"\\"]


@settings(max_examples=500)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8), st.text("ab .1(\\\n"))
def test_every_match_holds_the_required_literal(pieces: list[str], text: str) -> None:
    try:
        pattern = re.compile("".join(pieces), re.M)
    except re.error:
        return
    literal = _required_literal(pattern)
    assert all(literal in m.group() for m in pattern.finditer(text))


GROUPS = [*PIECES, "(?:ab|b)", "(?:a|)", "(?:a.|b)", "(?:\\.a|b)", "(?:a|b)?", "(?:ab|ba)*"]


@settings(max_examples=1000)
@given(st.lists(st.sampled_from(GROUPS), min_size=1, max_size=8), st.text("ab .1(\\\n"))
def test_every_match_holds_one_of_the_required_needles(pieces: list[str], text: str) -> None:
    try:
        pattern = re.compile("".join(pieces), re.M)
    except re.error:
        return
    needles = _required_needles(pattern)
    assert all(any(n in m.group() for n in needles) for m in pattern.finditer(text))


@pytest.mark.parametrize(
    ("pattern", "needles"),
    [
        (r"^ *[\w-]+\.(?:com|org)$", (".com", ".org")),
        (r"ab(?:c|d)", ("abc", "abd")),
        (r"ab?(?:c|d)", ("a",)),
        (r"abc(?:d|)", ("abc",)),
        (r"(?:cd|ef)?x", ("x",)),
        (r"a(?:bc|de)|f", ("",)),
        (r"(?:ab*|cd)", ("",)),
    ],
)
def test_a_group_of_plain_alternatives_names_the_texts_it_needs(
    pattern: str, needles: tuple[str, ...]
) -> None:
    assert _required_needles(re.compile(pattern, re.M)) == needles


# --- patterns rewritten to skip ahead: each finds what the plain alternation found -----------

SUFFIX_TEXT = st.lists(
    st.sampled_from([*_ORG_SUFFIXES, *_ORG_SUFFIXES[:8], "大", "公", "有限", "（集团）", "和"])
    | st.text("公司集团大有限股份电子科技（）", max_size=4),
    max_size=12,
).map("".join)


@settings(max_examples=500)
@given(SUFFIX_TEXT)
def test_the_suffix_trie_finds_what_the_suffix_alternation_finds(text: str) -> None:
    alternation = re.compile("|".join(map(re.escape, _ORG_SUFFIXES)))
    assert [m.span() for m in _ORG_RE.finditer(text)] == [
        m.span() for m in alternation.finditer(text)
    ]


def test_a_trie_matches_the_longest_word_where_an_alternation_lists_it_first() -> None:
    words = ["股份有限公司", "有限公司", "公司", "股份", "基金会", "基金"]
    text = "甲股份有限公司乙股份丙基金会丁基金公"
    assert [m.group() for m in re.finditer(trie_pattern(words), text)] == [
        m.group() for m in re.finditer("|".join(words), text)
    ]


CUE_TEXT = st.lists(
    st.sampled_from(
        [
            "董事长",
            "董事会秘书",
            "发布公告",
            "发布了公告",
            "公告称",
            "行长",
            "/",
            "、",
            "和",
            "腾讯",
        ]
    )
    | st.text("董事长会秘书行公告称", max_size=3),
    max_size=10,
).map("".join)


@settings(max_examples=500)
@given(CUE_TEXT)
def test_the_flat_subject_cues_find_what_the_grouped_ones_find(text: str) -> None:
    grouped = re.compile(
        "发布了?公告|公告称|公告显示|宣布|旗下|(?:" + "|".join(_SUBJECT_ROLES) + ")(?![/、和与及])"
    )
    assert [m.span() for m in _SUBJECT_CUE_RE.finditer(text)] == [
        m.span() for m in grouped.finditer(text)
    ]


@settings(max_examples=300)
@given(st.text("ab AB·•・\ufffd (（)）Lucas Beyer卢卡斯贝耶尔太極實業", max_size=40))
def test_names_as_written_are_folded_as_char_by_char(text: str) -> None:
    folded = fold(text)
    for start in range(len(text)):
        end = min(len(text), start + 6)
        plain = "".join(
            f if "\u3400" <= f <= "\u9fff" else t
            for t, f in zip(text[start:end], folded[start:end], strict=True)
        )
        assert _canonical(text, folded, start, end) == plain


@settings(max_examples=300)
@given(st.text("abAB (（)）.,'’-Lucas Beyer", max_size=60))
def test_text_without_chinese_or_dots_has_no_gloss_nor_dotted_name(text: str) -> None:
    # article_mentions skips both passes on such text
    assert not list(_glossed(text, fold(text)))
    assert not list(_dotted(text, fold(text)))


MONEY_TEXT = st.lists(
    st.sampled_from(["us$", "u.s.$", "$", "hk$", "€", "rmb", "人民币", "港元", "usd", "neur"])
    | st.text("0123456789 .,$us亿万元美一二十", max_size=4),
    max_size=10,
).map("".join)


def _prefixed_tried_everywhere(folded: str) -> list[tuple[int, int]]:
    """_prefixed without the test of what stands before the number: the pattern tried at each
    of the five places before it."""
    out: list[tuple[int, int]] = []
    end = tried = 0
    for run in _DIGITS_RE.finditer(folded):
        number = run.start()
        before = folded[number - 1 : number]
        if before == " ":
            before = folded[number - 2 : number - 1]
        start, tried = max(number - 5, end, tried), number + 1
        if before not in _PREFIX_ENDS:
            continue
        for at in range(start, number):
            m = _PREFIXED_RE.match(folded, at)
            if m:
                end = m.end()
                out.append(m.span())
                break
    return out


@settings(max_examples=1000)
@given(MONEY_TEXT)
def test_prefixed_amounts_are_sought_only_after_a_currency(text: str) -> None:
    assert [m.span() for m in _prefixed(text)] == _prefixed_tried_everywhere(text)


def test_text_without_a_cjk_character_needs_no_conversion() -> None:
    """to_simplified skips OpenCC on text without a character from U+2E00 on: OpenCC's t2s
    changes none of the characters below U+2E80, alone or together."""
    below = "".join(chr(i) for i in range(1, 0x2E80) if not 0xD800 <= i < 0xE000)
    t2s = _converter("t2s")
    assert str(t2s.convert(below)) == below
    assert [c for c in below if str(t2s.convert(c)) != c] == []
    assert to_simplified(below) == below
    assert to_simplified("Microsoft buys Activision") == "Microsoft buys Activision"
    assert to_simplified("微軟併購 Activision") == "微软并购 Activision"


WIDE_TEXT = st.lists(
    st.sampled_from(
        ["Apple’s “deal” — €3bn", "é", "\u2fff", "\u3000", "、", "苹果", "🧠", "５，０００万元"]
    )
    | st.text(max_size=20),
    max_size=8,
).map(" ".join)


@settings(max_examples=500)
@given(WIDE_TEXT, st.sampled_from([0x01, 0x20, 0x2F, 0x30, 0x34, 0x4E, 0xD7, 0xFF]))
def test_holds_from_tells_a_character_from_its_block_on(text: str, block: int) -> None:
    expected = any(ord(c) >> 8 >= block if ord(c) < 0x10000 else block <= 0xD8 for c in text)
    assert holds_from(text, block) == expected
    # Past 1,024 characters the first 256 are looked at alone first.
    assert holds_from(text + "é" * 1100, block) == (expected or block == 0)
    assert holds_from("é" * 1100 + text, block) == expected


@settings(max_examples=300)
@given(WIDE_TEXT, st.sampled_from([",，;；。", "，,；;。：:", "x", ""]))
def test_the_clause_mark_loops_find_what_the_finds_find(text: str, marks: str) -> None:
    assert last_of(text, marks) == max(map(text.rfind, marks), default=-1)
    found = [k for k in map(text.find, marks) if k >= 0]
    assert first_of(text, marks) == min(found, default=len(text))


@settings(max_examples=300)
@given(WIDE_TEXT)
def test_the_wide_shortcut_misses_no_wide_character_nor_han(text: str) -> None:
    folded = fold(text)
    assert PACK._may_be_wide(folded) or PACK.wide is None or PACK.wide.search(folded) is None
    assert holds_from(folded, 0x34) or _HAN_RE.search(folded) is None


def _ends_sought_everywhere(line: str) -> list[int]:
    """_sentence_ends with the Chinese pattern run over the whole text."""
    zh = [
        m.end()
        for m in core_text._ZH_END_RE.finditer(line)
        if line[m.start()] not in "!?."
        or not line[m.end() : m.end() + 1]
        or core_text._HAN_RE.match(line[m.end() : m.end() + 1])
    ]
    en = [
        m.end()
        for m in core_text._EN_END_RE.finditer(line)
        if line[m.start()] != "." or not core_text._is_abbreviation(line, m.start())
    ]
    return sorted(set(zh).union(en)) if en and zh else en or zh


END_TEXT = st.lists(
    st.sampled_from(["Shares rose.", "Mr. Musk", "wait...", "What?!", "Yes!", "”", ")", "…"])
    | st.sampled_from(["收购。", "好！", "Apple 收购 Beats.", "“Done.”", "'", ".", "!?", "\n", " "])
    | st.text(alphabet=".!?…。\"'”’」』）)】》 aA苹\n", max_size=12),
    max_size=10,
).map("".join)


@settings(max_examples=500)
@given(END_TEXT)
def test_english_text_seeks_chinese_ends_only_where_it_ends(text: str) -> None:
    assert core_text._sentence_ends(text) == _ends_sought_everywhere(text)


DATE_TEXT = st.lists(
    st.sampled_from(
        [
            "新华社北京6月3日电",
            "IT之家 6 月 3 日消息",
            "BEIJING, June 3 (Reuters) -",
            "LONDON, June 3, 2025 /PRNewswire/ --",
            "today",
            "Yesterday",
            "last week",
            "this week",
            "tomorrow",
            "今天",
            "去年",
            "月",
            "6 ",
            "日电",
        ]
    )
    | st.text(alphabet="新6月3日电 ,abtodyT", max_size=10)
    | st.integers(1, 45).map(lambda k: "A" * k + ", June 3 -"),
    max_size=8,
).map("".join)


@settings(max_examples=300)
@given(DATE_TEXT)
def test_datelines_and_relative_days_are_found_as_by_the_patterns_alone(text: str) -> None:
    whole = dates._DATELINE_ZH_RE.match(text) or dates._DATELINE_EN_RE.match(text)
    found = dates._dateline_match(text)
    assert (found and found.span()) == (whole and whole.span())
    assert [
        m[:2] for m in dates._relative_matches(text) if m[2].group() in dates._RELATIVE_EN_WORDS
    ] == [m.span() for m in dates._RELATIVE_EN_RE.finditer(text)]


@settings(max_examples=300)
@given(WIDE_TEXT)
def test_a_text_without_han_is_not_chinese_nor_has_wide_digits(text: str) -> None:
    han = sum(len(run) for run in summary._HAN_RUN_RE.findall(text))
    assert summary._is_chinese(text) == (han > 0 and han * 2 >= len(text.split()))
    assert _narrow(text) == (
        _WIDE_COMMA_RE.sub(",", text.translate(_WIDE)) if _WIDE_DIGIT_RE.search(text) else text
    )


@pytest.mark.parametrize("place", ["A" * k for k in range(1, 46)])
def test_a_dateline_of_any_length_of_place_is_found_as_by_the_patterns(place: str) -> None:
    line = f"{place}, June 3 (Reuters) - Shares rose"
    whole = dates._DATELINE_EN_RE.match(line)
    found = dates._dateline_match(line)
    assert (found and found.span()) == (whole and whole.span())


# --- round 4: literals before a pattern, passes shared ----------------------------------------

CUE_TEXT = st.lists(
    st.sampled_from(["led", "co-", " by", "participation", " from", "investors", " include"])
    | st.sampled_from(["also participated", "other ", "such as", " ", "x", "-", "led by"]),
    max_size=8,
).map("".join)


@settings(max_examples=500)
@given(CUE_TEXT)
def test_a_sentence_without_an_investor_word_has_no_investor_cue(text: str) -> None:
    if parties._LED_BY_RE.search(text):
        assert any(word in text for word in parties._LED_BY_WORDS)


MARK_TEXT = st.lists(
    st.sampled_from(LINES) | st.text(".!?\"'”) A1a\n收…", max_size=12), max_size=6
).map(" ".join)


@settings(max_examples=500)
@given(MARK_TEXT)
def test_english_ends_by_mark_are_those_of_the_one_pattern(text: str) -> None:
    assert [m.span() for m in core_text._english_ends(text)] == [
        m.span() for m in core_text._EN_END_RE.finditer(text)
    ]


YEAR_TEXT = st.lists(
    st.sampled_from(["19", "20", "2019", "1920", "-", "年", "月", "日", "号", " ", "0", "5", "x"])
    | st.sampled_from(["周", "星期", "礼拜", "一", "天"]),
    max_size=14,
).map("".join)


@settings(max_examples=1000)
@given(YEAR_TEXT)
def test_the_kinds_split_by_their_alternatives_find_what_they_find(text: str) -> None:
    patterns = dict(dates._PATTERNS)
    assert len(dates._SPLIT) == 5
    for kind in dates._SPLIT:
        assert [m[:2] for m in dates._split_matches(kind, text)] == [
            m.span() for m in patterns[kind].finditer(text)
        ]


@pytest.mark.parametrize("text", ["todayesterday", "yesterdayesterday", "last weekend today"])
def test_overlapping_relative_days_keep_the_first_as_one_pass_does(text: str) -> None:
    assert [m[:2] for m in dates._relative_matches(text)] == [
        m.span() for m in dates._RELATIVE_EN_RE.finditer(text)
    ]


EN_MONEY_TEXT = st.lists(
    st.sampled_from(["mln", "dlrs", " billion", " dollars", " if", "yen", " to ", "-", " , "])
    | st.text("0123456789 .,三十٣５a", max_size=5),
    max_size=10,
).map("".join)


@settings(max_examples=1000)
@given(EN_MONEY_TEXT)
def test_patterns_opening_with_a_number_tried_at_digit_runs_find_what_a_pass_finds(
    text: str,
) -> None:
    runs = [m.span() for m in _DIGITS_RE.finditer(text)]
    for pattern in (amounts._EN_RE, amounts._BARE_EN_RE):
        assert [m.span() for m in amounts._from_digits(pattern, text, runs)] == [
            m.span() for m in pattern.finditer(text)
        ]


NAME_TEXT = st.lists(
    st.sampled_from(["（", "(", ")", "）", "Acme", " Bay", "sz", "600519", "0700", ".hk", " "])
    | st.sampled_from(["·", "•", "・", "马克", "先生", "女士", "先", "生女", "任命", "李明", "为"])
    | st.text("（()）A b1.·生士", max_size=4),
    max_size=10,
).map("".join)


@settings(max_examples=1000)
@given(NAME_TEXT)
def test_the_name_finders_shortcuts_find_what_their_patterns_find(text: str) -> None:
    for patterns, whole in (
        (entities._GLOSS_BY_BRACKET, entities._GLOSS_RE),
        (entities._CODE_BY_BRACKET, entities._CODE_RE),
    ):
        assert [m.span() for m in core_text.matches_by_opening(patterns, text)] == [
            m.span() for m in whole.finditer(text)
        ]
    assert entities._positions(text, entities._HONORIFICS) == [
        m.start() for m in entities._HONORIFIC_RE.finditer(text)
    ]
    for start in range(len(text) + 1):
        dot = entities._DOT_RE.search(text, start)
        assert entities._next_dot(text, start) == (dot.start() if dot else -1)
    assert any(w in text for w in entities._APPOINTING) or not entities._APPOINTED_RE.search(text)
    assert any(w in text for w in entities._OBJECT_CUES) or not entities._OBJECT_CUE_RE.search(text)


MONTH_DAY_TEXT = st.lists(
    st.sampled_from(["月", "日", "号", " ", "1", "12", "123", "5月6", "年", "x", "٣"]),
    max_size=14,
).map("".join)


@settings(max_examples=1000)
@given(MONTH_DAY_TEXT)
def test_month_days_tried_before_each_month_find_what_a_pass_finds(text: str) -> None:
    pattern = dict(dates._PATTERNS)["zh_md"]
    assert [m[:2] for m in dates._month_day_matches(pattern, text)] == [
        m.span() for m in pattern.finditer(text)
    ]


SPANS = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 8)), max_size=14)


@settings(max_examples=1000)
@given(SPANS, st.integers(0, 30), st.integers(0, 8))
def test_a_few_taken_spans_compared_one_by_one_overlap_as_indexed_ones(
    spans: list[tuple[int, int]], start: int, size: int
) -> None:
    def mention(at: int, length: int) -> entities.Mention:
        return entities.Mention(at, at + length, "x", "org", False)

    taken = [mention(s, n) for s, n in spans]
    few, indexed = entities._Taken(taken), entities._Taken(taken)
    few.few = [(m.start, m.end) for m in taken]
    indexed.few = None
    ordered = sorted((m.start, m.end) for m in taken)
    indexed.starts = [s for s, _ in ordered]
    indexed.reach = list(accumulate((e for _, e in ordered), max))
    m = mention(start, size)
    assert few.overlaps(m) == indexed.overlaps(m)


# Clause marks of both widths, every kind of dash, spaces of several kinds and other text.
BREAK_TEXT = st.text("，,；;：:。！？!? \t\u2009\u3000-–—ab收购1", max_size=40)


@settings(max_examples=2000)
@given(BREAK_TEXT)
def test_clause_breaks_are_what_the_patterns_find(text: str) -> None:
    """The long way: _CLAUSE_BREAK_RE over a sentence with any dash, a class of the marks
    over one without."""
    dashed = "-" in text or "–" in text or "—" in text
    marks = re.compile("[，,；;：:。！？!?]")
    expected = [m.start() for m in (_CLAUSE_BREAK_RE if dashed else marks).finditer(text)]
    assert _breaks(Sentence(1, 1, text, text)) == expected


@settings(max_examples=500)
@given(st.text("ab，,。!?收", max_size=40))
def test_positions_of_characters_are_what_their_class_finds(text: str) -> None:
    assert positions_of(text, ("，", ",", "。", "!", "?")) == [
        m.start() for m in re.finditer("[，,。!?]", text)
    ]


def test_a_spaced_dash_breaks_a_clause_and_a_hyphen_does_not() -> None:
    def breaks(text: str) -> list[int]:
        return _breaks(Sentence(1, 1, text, text))

    assert breaks("co-founder, ceo") == [10]
    assert breaks("acme - the buyer, said") == [4, 16]
    assert breaks("acme – the buyer") == [4]
    assert breaks("acme——the buyer") == [4]
    assert breaks("-a - - b") == [2]  # the second spaced dash overlaps the first


WORDS = ["total", "a total of", "tot", "交易", "交易金额", "价值", "for", "o"]


@settings(max_examples=1000)
@given(
    st.lists(st.sampled_from([*WORDS, "\n", " ", "x"]) | st.text("ota l交易\n", max_size=5)).map(
        "".join
    ),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=5),
)
def test_the_lines_holding_a_word_are_those_an_automaton_finds(text: str, words: list[str]) -> None:
    """The long way: every find of an automaton of the words, filed into its line by its end."""
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    automaton = ahocorasick.Automaton()
    for word in words:
        automaton.add_word(word, word)
    automaton.make_automaton()
    by_automaton = {bisect_right(starts, end) - 1 for end, _ in automaton.iter(text)}
    assert lines_holding(text, words, starts) == sorted(by_automaton)


def test_words_holding_another_word_are_left_out_of_the_line_words() -> None:
    assert rules._line_words(["a total of", "total", "", "总额", "交易总额", "total"]) == (
        "总额",
        "total",
    )
    assert rules._line_words(["a\nb", "total"]) is None
    assert rules._line_words([""]) is None


def _clean_long_way(text: str, boilerplate: tuple[re.Pattern[str], ...]) -> str:
    """`sentences.clean` as it was, every word sought in the whole text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in text:
        text = sentences.html.unescape(text)
    if "](" in text:
        text = sentences._unlink(sentences._unlink(text, "!["), "[")
    if "<" in text:
        text = sentences._without_autolinks(text) if "<http" in text else text
        text = sentences._TAG_RE.sub(" ", text)
    if "http" in text:
        text = sentences._URL_RE.sub(" ", text)
    if "**" in text or "__" in text or "~~" in text or "`" in text:
        text = sentences._EMPHASIS_RE.sub("", text)
    for pattern, needs in sentences._with_literals(boilerplate):
        if any(needle in text for needle in needs):
            text = pattern.sub(" ", text)
    text = sentences._LINE_MARK_RE.sub("\n", text)
    if first := sentences._FIRST_MARK_RE.match(text):
        text = text[first.end() :]
    if "?" in text:
        text = sentences._LOST_RE.sub(LOST_MARK, text)
    text = text.replace("\t", " ").replace("\u00a0", " ").replace("\u3000", " ")
    return sentences._SPACES_RE.sub(" ", text) if "  " in text else text


LOST_MARK = sentences.LOST
# Markup, the shipped boilerplate's words and their halves.
CLEAN_PIECES = [
    "&amp;", "&lt;b&gt;", "](", "[a](b)", "![i](x)", "<b>", "<http://a.b>", "http", "://x",
    "**", "__", "~~", "`", "See more", "See", " more", "原文：", "原", "文", "* content",
    "{:toc}", "[## T", "acme.com", ".co", "m", ".cn", "\n", "\n# ", "\n- ", "  ", "\t",
    "\u00a0", "\u3000", "?", "收购?", "’", "a", "12:34Unmute", "Play", "Exit fullscreen",
]  # fmt: skip


# Fewer pieces: a word that only a step before the boilerplate puts together ('See**' + ' more').
JOINED_PIECES = ["See", " more", "**", "`", "&amp;", "<i>", "原", "文：x", "\n", "’", "a.c", "om"]


@settings(max_examples=2000)
@given(
    st.lists(st.sampled_from(CLEAN_PIECES), max_size=14).map("".join)
    | st.lists(st.sampled_from(JOINED_PIECES), max_size=8).map("".join)
)
def test_cleaning_with_words_sought_after_their_first_character_is_the_long_way(text: str) -> None:
    assert sentences.clean(text, PACK.boilerplate) == _clean_long_way(text, PACK.boilerplate)


@settings(max_examples=500)
@given(st.text("a.com’原文 \n", max_size=30), st.sampled_from([".com", "原文", "a a", "’", ""]))
def test_a_word_is_held_as_in_tells(text: str, needle: str) -> None:
    assert sentences._holds(text, needle) == (needle in text)


def _month_lines_long_way(cased: str) -> tuple[str, list[int], list[int]] | None:
    """`dates._month_lines` as it was: a pattern of the twelve abbreviations, searched."""
    hint_re = re.compile("Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec")
    lines: list[str] = []
    at: list[int] = []
    starts: list[int] = []
    size = 0
    hint = hint_re.search(cased)
    while hint is not None:
        begin = cased.rfind("\n", 0, hint.start()) + 1
        end = cased.find("\n", hint.end())
        end = len(cased) if end < 0 else end
        lines.append(cased[begin:end])
        at.append(size)
        starts.append(begin)
        size += end - begin + 1
        hint = hint_re.search(cased, end)
    return ("\n".join(lines), at, starts) if lines else None


MONTH_PIECES = ["Jan", "May", "Ma", "y", "Dec", "Oct", "N", "ov", "J", "un", "ul", "\n", " ", "5"]
MONTH_PIECES += ["MarMay", "jan", "June 3, 2024", "三月", "’", "S", "ep"]


@settings(max_examples=2000)
@given(st.lists(st.sampled_from(MONTH_PIECES), max_size=12).map("".join))
def test_the_lines_naming_a_month_are_those_the_pattern_finds(text: str) -> None:
    assert dates._month_lines(text) == _month_lines_long_way(text)


NAMES = [*sorted(PACK.entity_kinds)[:6], "Acme", "Lucas Beyer", "卢伟冰", "Yukos"]


@settings(max_examples=300)
@given(
    st.lists(
        st.lists(
            st.tuples(st.sampled_from(NAMES), st.sampled_from(["org", "person", "unknown"])),
            max_size=5,
        ),
        max_size=6,
    )
)
def test_the_kinds_of_names_are_the_article_s_updated_by_the_pack_s(
    lines: list[list[tuple[str, str]]],
) -> None:
    analysed = [
        Analysed(
            Sentence(i, 1, "x", "x"),
            [],
            [entities.Mention(0, 1, name, kind, False) for name, kind in line],
            [],
            [],
            [],
        )
        for i, line in enumerate(lines)
    ]
    long_way = {m.name: m.kind for at in analysed for m in at.mentions}
    long_way.update(PACK.entity_kinds)
    assert _kinds(analysed, PACK.entity_kinds) == long_way


HEAD_PIECES = ["the ", "this ", "that ", "the latest ", "a ", "of ", "bathe ", "x", "The ", " "]
HEAD_PIECES += ["此次", "这笔", "一", "\n", ",", "，", "’", "’s "]


@settings(max_examples=1000)
@given(st.lists(st.sampled_from(HEAD_PIECES), max_size=8))
def test_a_head_tells_anaphora_as_the_pattern_does(pieces: list[str]) -> None:
    head = "".join(pieces)
    text = head + "deal"
    at = Analysed(Sentence(0, 1, text, text), [], [], [], [], [])
    hit = rules.Hit(len(head), len(text), rules.Term("trigger", "merger", True, False))
    tail = text[max(0, len(head) - events._ANAPHORA_REACH) : len(head)]
    cut = last_of(tail, "，,；;。：:")
    assert events._anaphoric(at, hit, PACK) == (PACK.anaphora.search(tail, cut + 1) is not None)


LETTER_WORDS = st.lists(st.text("ab .\n总", min_size=1, max_size=4), min_size=1, max_size=5)


@settings(max_examples=1000)
@given(LETTER_WORDS, st.text("ab .\n总x", max_size=30), st.integers(0, 5))
def test_a_look_behind_after_the_first_character_finds_what_one_before_it_finds(
    words: list[str], text: str, pos: int
) -> None:
    new = re.compile(f"(?:{amounts.not_after_a_letter(words)})")
    old = re.compile(f"(?<![a-z])(?:{amounts._alternation(words)})")
    assert [m.span() for m in new.finditer(text, pos)] == [
        m.span() for m in old.finditer(text, pos)
    ]
    ending_new, ending_old = re.compile(f"{new.pattern}[ a]*$"), re.compile(f"{old.pattern}[ a]*$")
    found, expected = ending_new.search(text, pos), ending_old.search(text, pos)
    assert (found and found.span()) == (expected and expected.span())


VALUES_AT_PIECES = ["values ", "valuing ", "revalues ", "the company ", "at ", "about ", "x", " "]


@settings(max_examples=500)
@given(st.lists(st.sampled_from(VALUES_AT_PIECES), max_size=8))
def test_values_at_is_found_from_its_v_as_from_before_it(pieces: list[str]) -> None:
    head = "".join(pieces)
    old = re.compile(events._VALUES_AT_RE.pattern.replace("v(?<![a-z]v)alu", "(?<![a-z])valu", 1))
    assert old.pattern != events._VALUES_AT_RE.pattern
    found, expected = events._VALUES_AT_RE.search(head), old.search(head)
    assert (found and found.span()) == (expected and expected.span())
