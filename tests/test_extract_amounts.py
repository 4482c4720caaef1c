"""Amounts in simplified Chinese, traditional Chinese and English, with their USD values."""

from __future__ import annotations

import pytest

from bot.extract.amounts import find_amounts
from bot.extract.sentences import fold

RATES = {"USD": 1.0, "CNY": 0.14, "EUR": 1.2, "GBP": 1.4, "KRW": 0.0008, "JPY": 0.007}
APPROX = ("约", "高达", "上", "超过", "人均", "about", "more than", "up to")


def amounts(text: str) -> list[tuple[float, str, float | None, str, bool]]:
    return [
        (f.amount.value, f.amount.currency, f.amount.usd, f.amount.text, f.amount.approximate)
        for f in find_amounts(fold(text), text, RATES, APPROX)
    ]


@pytest.mark.parametrize(
    ("text", "value", "currency", "usd", "written", "approximate"),
    [
        # simplified Chinese
        ("Meta开出高达1亿美元的签约奖金", 1e8, "USD", 1e8, "1亿美元", True),
        ("以143亿美元收购了Scale AI", 1.43e10, "USD", 1.43e10, "143亿美元", False),
        ("筹集了 750 万美元的资金", 7.5e6, "USD", 7.5e6, "750 万美元", False),
        ("中标金额为 12.29 亿元。", 1.229e9, "CNY", 1.229e9 * 0.14, "12.29 亿元", False),
        ("市值达到1.2 万亿，", 1.2e12, "CNY", 1.2e12 * 0.14, "1.2 万亿", False),
        ("人民币3亿元", 3e8, "CNY", 3e8 * 0.14, "人民币3亿元", False),
        ("两千万美元", 2e7, "USD", 2e7, "两千万美元", False),
        # traditional Chinese
        ("年薪5000萬美元，外加決策權", 5e7, "USD", 5e7, "5000萬美元", False),
        ("花了上億美金所挖來的人才", 1e8, "USD", 1e8, "上億美金", True),
        ("人均1億美元的簽約金", 1e8, "USD", 1e8, "1億美元", True),
        ("遺產稅估計為 3.1 萬億韓元", 3.1e12, "KRW", 3.1e12 * 0.0008, "3.1 萬億韓元", False),
        # English
        ("a $14.3 billion deal", 1.43e10, "USD", 1.43e10, "$14.3 billion", False),
        ("it raised $100M from investors", 1e8, "USD", 1e8, "$100M", False),
        ("a US$50 million round", 5e7, "USD", 5e7, "US$50 million", False),
        ("a fine of €2bn", 2e9, "EUR", 2.4e9, "€2bn", False),
        ("it repaid £479m", 4.79e8, "GBP", 4.79e8 * 1.4, "£479m", False),
        ("RMB 3 亿", 3e8, "CNY", 3e8 * 0.14, "RMB 3 亿", False),
        ("fined 11m euros for", 1.1e7, "EUR", 1.32e7, "11m euros", False),
        ("closed at 274.5 pence", 2.745, "GBP", 2.745 * 1.4, "274.5 pence", False),
        ("the project cost $1.5K in total", 1500, "USD", 1500, "$1.5K", False),
        ("more than $200 million", 2e8, "USD", 2e8, "$200 million", True),
    ],
)
def test_amount_forms(
    text: str, value: float, currency: str, usd: float, written: str, approximate: bool
) -> None:
    ((got_value, got_currency, got_usd, got_text, got_approx),) = amounts(text)
    assert got_value == pytest.approx(value)
    assert got_currency == currency
    assert got_usd == pytest.approx(usd)
    assert got_text == written
    assert got_approx is approximate


def test_a_written_dollar_figure_beats_the_conversion() -> None:
    ((value, currency, usd, written, _),) = amounts("pre tax profit of £75m ($141m) compared")
    assert (value, currency, usd) == (7.5e7, "GBP", 1.41e8)
    assert written == "£75m ($141m)"
    ((value, currency, usd, written, _),) = amounts("earnings were 77m euros (£53m; $100m), up")
    assert (value, currency, usd) == (7.7e7, "EUR", 1e8)
    assert written == "77m euros (£53m; $100m)"


def test_equivalent_in_chinese_brackets_is_one_amount() -> None:
    (found,) = amounts("数额达 12 万亿韩元（约 627.6 亿元人民币）左右")
    assert found[:2] == (1.2e13, "KRW")


def test_counts_are_not_money() -> None:
    assert amounts("14亿人的市场") == []
    assert amounts("出售了超过 346 万股股票") == []
    assert amounts("a neuron 5 layers deep") == []


def test_unknown_rate_keeps_the_amount_without_usd() -> None:
    (found,) = find_amounts(fold("5 亿港元"), "5 亿港元", {"USD": 1.0}, ())
    assert found.amount.currency == "HKD" and found.amount.usd is None
