"""Dates, absolute and relative, resolved against the publication date."""

from __future__ import annotations

from datetime import date

import pytest

from bot.extract.dates import find_dates
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
