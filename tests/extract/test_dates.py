"""Dates, absolute and relative, resolved against the article's own date (front matter, file
name, dateline), never against a file's time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.cli.rulefiles import default_documents
from bot.core.articles import parse_article
from bot.extract import extract, load_rule_pack
from bot.extract.dates import dateline, find_dates
from bot.extract.sentences import fold

PUBLISHED = date(2025, 6, 21)  # a Saturday


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2025年7月的一個清晨", "2025-07"),
        ("奥特曼在6月17日的一档播客节目中透露", "2025-06-17"),
        ("在 3 月 22 日的大宗交易中", "2025-03-22"),
        ("于 2022 年 02 月 11 日发布", "2022-02-11"),
        ("上周宣布", "2025-06-09"),
        ("昨天宣布", "2025-06-20"),
        ("昨日宣佈", "2025-06-20"),
        ("周三宣布", "2025-06-18"),
        ("週三宣布", "2025-06-18"),
        ("the deal was announced on June 17", "2025-06-17"),
        ("on June 17, 2024 the board met", "2024-06-17"),
        ("for the three months to 31 December 2004", "2004-12-31"),
        ("results to March 2005", "2005-03"),
        ("it said yesterday", "2025-06-20"),
        ("shares fell last week", "2025-06-09"),
        ("began testimony on Friday", "2025-06-20"),
        ("published 2025-06-17 in the journal", "2025-06-17"),
        ("上个月", "2025-05"),
        ("去年", "2024"),
    ],
)
def test_date_forms(text: str, iso: str) -> None:
    found = find_dates(fold(text), PUBLISHED, text)
    assert [d.iso for d in found][:1] == [iso]


def test_a_month_and_day_later_in_the_year_is_last_year() -> None:
    (found,) = find_dates(fold("12 月 5 日"), date(2025, 1, 10))
    assert found.iso == "2024-12-05"


def test_numbers_inside_words_are_not_years() -> None:
    assert find_dates("domain 2025 and v2025", PUBLISHED) == []
    assert find_dates("the market may 5 percent", PUBLISHED, "the market may 5 percent") == []
    assert find_dates("in 2025", PUBLISHED)[0].iso == "2025"


def test_period_bounds() -> None:
    (found,) = find_dates(fold("2025年2月"), PUBLISHED)
    assert (found.first, found.last) == (date(2025, 2, 1), date(2025, 2, 28))


@pytest.mark.parametrize(
    ("line", "reference", "day"),
    [
        ("BEIJING, June 3 (Reuters) - China said", PUBLISHED, date(2025, 6, 3)),
        ("BEIJING, June 3 (Reuters) - China said", None, None),  # no year: no day
        ("LONDON, June 3, 2024 /PRNewswire/ -- Acme", None, date(2024, 6, 3)),
        ("IT之家 6 月 3 日消息，小米今日宣布", PUBLISHED, date(2025, 6, 3)),
        ("新华社北京2024年6月3日电 国务院", None, date(2024, 6, 3)),
        ("中央社台北2024年6月3日電 鴻海今天宣佈", None, date(2024, 6, 3)),
        ("The company said on June 3 - in a filing", PUBLISHED, None),  # not at a dateline
        ("小米在 6 月 3 日发布", PUBLISHED, None),
    ],
)
def test_dateline(line: str, reference: date | None, day: date | None) -> None:
    assert dateline(line, reference) == day


def test_a_date_resolved_against_the_reference_is_marked() -> None:
    found = find_dates(fold("昨天，即 2025 年 6 月 20 日"), PUBLISHED)
    assert [(d.iso, d.anchored) for d in found] == [("2025-06-20", True), ("2025-06-20", False)]


# Through the real path (file → parse_article → extract): a file without a date of its own
# has only its modification time, which must never become an event's date.
NOW = datetime.now(UTC)  # the file's mtime: today, as for a file just saved
PACK = load_rule_pack(*default_documents())


def _events(name: str, text: str) -> list[tuple[str, str | None]]:
    article = parse_article(text.encode(), name, NOW, UTC)
    events = extract(article, PACK).events
    assert events, "the fixture must give an event"
    return [(e.type, e.date) for e in events]


@pytest.mark.parametrize(
    "text",
    [
        "腾讯收购游戏公司\n\n腾讯今天宣布，以 10 亿元人民币收购一家上海游戏公司。\n",
        "騰訊收購遊戲公司\n\n騰訊今天宣佈，以 10 億元人民幣收購一家上海遊戲公司。\n",
        "Microsoft buys a game studio\n\nMicrosoft said today it had agreed to buy a Seattle "
        "game studio for $500 million in cash.\n",
        "Microsoft buys a game studio\n\nREDMOND, June 3 (Reuters) - Microsoft said yesterday it "
        "had agreed to buy a Seattle game studio for $500 million in cash.\n",
        "腾讯收购游戏公司\n\n腾讯上周五宣布，以 10 亿元人民币收购一家上海游戏公司。\n",
    ],
)
def test_no_event_date_from_a_file_time(text: str) -> None:
    assert parse_article(text.encode(), "post.txt", NOW, UTC).undated
    assert all(day is None for _, day in _events("post.txt", text))


@pytest.mark.parametrize(
    ("name", "text", "day"),
    [
        (  # a dateline with its year dates an undated file
            "post.txt",
            "腾讯收购游戏公司\n\n新华社深圳2025年6月3日电 腾讯昨天宣布，以 10 亿元人民币收购一家"
            "上海游戏公司。\n",
            "2025-06-02",
        ),
        (
            "post.txt",
            "Microsoft buys a game studio\n\nREDMOND, June 3, 2025 (Reuters) - Microsoft said "
            "yesterday it had agreed to buy a Seattle game studio for $500 million in cash.\n",
            "2025-06-02",
        ),
        (  # the file name's date is the article's own
            "2025-06-21-tencent.txt",
            "騰訊收購遊戲公司\n\n騰訊昨天宣佈，以 10 億元人民幣收購一家上海遊戲公司。\n",
            "2025-06-20",
        ),
    ],
)
def test_event_dates_from_the_articles_own_date(name: str, text: str, day: str) -> None:
    assert _events(name, text)[0][1] == day


def test_a_background_sentence_does_not_date_the_headline_event() -> None:
    """The sample's June-2025 move was dated 2024-12 by a sentence telling the researchers'
    earlier move: a retelling of the same actors, but another fact."""
    text = (
        "---\ntitle: Meta hires three OpenAI researchers\ndate: 2025-06-21\n---\n\n"
        "Meta has hired three researchers from OpenAI to work on its superintelligence team.\n\n"
        "The three researchers joined OpenAI from Google in December 2024 to open its Zurich "
        "office.\n"
    )
    assert _events("post.md", text) == [("talent_move", None)]
