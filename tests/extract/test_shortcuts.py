"""The shortcuts extraction takes for speed find exactly what the long way finds: lines
scanned apart, sentences split in one pass, patterns run only on the lines or sentences
that can use them, boilerplate patterns skipped when their words are absent."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli.rulefiles import default_documents
from bot.core.model import Article
from bot.core.text import split_sentences
from bot.extract import load_rule_pack
from bot.extract.dates import find_dates
from bot.extract.events import _amounts
from bot.extract.sentences import Sentence, _required_literal, fold, join

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
