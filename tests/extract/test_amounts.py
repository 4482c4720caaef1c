"""Amounts in simplified Chinese, traditional Chinese and English, with their USD values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.cli.rulefiles import default_documents
from bot.core.articles import parse_article
from bot.extract import extract, load_rule_pack
from bot.extract.amounts import find_amounts
from bot.extract.sentences import fold

RATES = {
    "USD": 1.0,
    "CNY": 0.14,
    "EUR": 1.2,
    "GBP": 1.4,
    "KRW": 0.0008,
    "JPY": 0.007,
    "CAD": 0.7,
    "HKD": 0.13,
    "TWD": 0.03,
    "DEM": 0.6,
    "FRF": 0.18,
    "ITL": 0.0006,
    "NZD": 0.6,
    "AUD": 0.65,
}
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
        ("it ended at $1,393.87.", 1393.87, "USD", 1393.87, "$1,393.87", False),
        ("it paid 4.5 mln dlrs.", 4.5e6, "USD", 4.5e6, "4.5 mln dlrs", False),
        # English, wire style: magnitudes, dollars named in words, other currencies, words
        (
            "agreed to acquire it for 235 mln dlrs in cash",
            2.35e8,
            "USD",
            2.35e8,
            "235 mln dlrs",
            False,
        ),
        ("a 265 mln dlr bid", 2.65e8, "USD", 2.65e8, "265 mln dlr", False),
        ("for about 4.2 bln dlrs", 4.2e9, "USD", 4.2e9, "4.2 bln dlrs", True),
        ("paid 350,000 dlrs for it", 3.5e5, "USD", 3.5e5, "350,000 dlrs", False),
        ("valued at 6.3 mln U.S. dlrs", 6.3e6, "USD", 6.3e6, "6.3 mln U.S. dlrs", False),
        (
            "for 196.2 mln Canadian dlrs",
            1.962e8,
            "CAD",
            1.962e8 * 0.7,
            "196.2 mln Canadian dlrs",
            False,
        ),
        (
            "for 80 mln Australian dollars",
            8e7,
            "AUD",
            8e7 * 0.65,
            "80 mln Australian dollars",
            False,
        ),
        ("for 12 mln N.Z. dlrs", 1.2e7, "NZD", 1.2e7 * 0.6, "12 mln N.Z. dlrs", False),
        ("sold for 50 mln stg", 5e7, "GBP", 7e7, "50 mln stg", False),
        ("bought for 2.5 billion yen", 2.5e9, "JPY", 2.5e9 * 0.007, "2.5 billion yen", False),
        ("a 300 mln marks stake", 3e8, "DEM", 1.8e8, "300 mln marks", False),
        ("for 40 mln French francs", 4e7, "FRF", 4e7 * 0.18, "40 mln French francs", False),
        ("for 90 billion lire", 9e10, "ITL", 9e10 * 0.0006, "90 billion lire", False),
        ("paid one mln dlrs", 1e6, "USD", 1e6, "one mln dlrs", False),
        ("worth two billion dollars", 2e9, "USD", 2e9, "two billion dollars", False),
        ("for twenty-five mln dlrs", 2.5e7, "USD", 2.5e7, "twenty-five mln dlrs", False),
        ("calls for a two mln dlr payment", 2e6, "USD", 2e6, "two mln dlr", False),
        ("raised 1 , 200 dlrs", 1200, "USD", 1200, "1 , 200 dlrs", False),
        ("a bid of 5 to 6 mln dlrs", 5e6, "USD", 5e6, "5 to 6 mln dlrs", True),
        ("HK$1.2 billion in cash", 1.2e9, "HKD", 1.2e9 * 0.13, "HK$1.2 billion", False),
        ("an NT$300 million order", 3e8, "TWD", 9e6, "NT$300 million", False),
        ("a C$40 million deal", 4e7, "CAD", 2.8e7, "C$40 million", False),
        # simplified Chinese: spaced and full-width digits, ranges, currencies named before
        ("募资 5 . 5 亿美元", 5.5e8, "USD", 5.5e8, "5 . 5 亿美元", False),
        ("作价５，０００万元", 5e7, "CNY", 7e6, "５，０００万元", False),
        ("总价１２.５亿元", 1.25e9, "CNY", 1.75e8, "１２.５亿元", False),
        ("计划募资5-6亿元", 5e8, "CNY", 7e7, "5-6亿元", True),
        ("计划募资5亿至6亿元", 5e8, "CNY", 7e7, "5亿至6亿元", True),
        ("以港币 5 亿元收购", 5e8, "HKD", 6.5e7, "港币 5 亿元", False),
        ("交易金额为 1.5 万亿日元", 1.5e12, "JPY", 1.05e10, "1.5 万亿日元", False),
        ("获得 3000 万欧元投资", 3e7, "EUR", 3.6e7, "3000 万欧元", False),
        ("以 2 亿英镑出售", 2e8, "GBP", 2.8e8, "2 亿英镑", False),
        # traditional Chinese
        ("以新台幣 30 億元收購", 3e9, "TWD", 9e7, "新台幣 30 億元", False),
        ("融資 1.2 億港元", 1.2e8, "HKD", 1.56e7, "1.2 億港元", False),
        ("作價 8 千萬美元", 8e7, "USD", 8e7, "8 千萬美元", False),
        ("交易總額達 2 萬億韓元", 2e12, "KRW", 1.6e9, "2 萬億韓元", False),
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


@pytest.mark.parametrize(
    "text",
    [
        "it offered 54 dlrs a share in cash",
        "at 20.10 dlrs per common share",
        "the bid was $54 a share",
        "shares closed at 274.5 pence (US$3.76)",
        "股价收于每股 69,800 韩元",
        "每股 12.5 元的价格",
        "以 8.8 元/股的价格",
        "股價收於每股 69,800 韓元",
        "每股作價 3.2 港元",
        "he bought at 14.91 dlrs to 15.62 dlrs a share",
        "holders get 66 dlrs in stock for each share held",
        "the stock price of $1,393.87",
    ],
)
def test_what_one_share_or_unit_costs_is_flagged(text: str) -> None:
    (found,) = find_amounts(fold(text), text, RATES, APPROX)
    assert found.unit


@pytest.mark.parametrize(
    "text",
    [
        "agreed to acquire it for 235 mln dlrs in cash",
        "以 5 亿元收购其 51% 股份",
        "a $14.3 billion deal",
        "以 8 千萬美元收購",
    ],
)
def test_sums_are_not_unit_prices(text: str) -> None:
    (found,) = find_amounts(fold(text), text, RATES, APPROX)
    assert not found.unit


def test_percentages_and_share_counts_are_not_money() -> None:
    assert amounts("it bought five mln shares, or 16 pct") == []
    assert amounts("持股比例为 16.5%，共 1.2 亿股") == []


PACK = load_rule_pack(*default_documents())


def headline_amounts(text: str, name: str = "story.txt") -> list[tuple[str, float | None]]:
    article = parse_article(text.encode(), name, datetime(2025, 3, 2, tzinfo=UTC), UTC)
    return [(e.type, e.amount.usd if e.amount else None) for e in extract(article, PACK).events]


def test_the_amount_of_the_trigger_clause_beats_an_earlier_larger_one() -> None:
    story = (
        "Acme Corp to buy Widget Inc\n\n"
        "Acme Corp, which has annual sales of 900 mln dlrs, said it agreed to acquire "
        "Widget Inc for 235 mln dlrs in cash.\n"
    )
    assert ("acquisition", 2.35e8) in headline_amounts(story)
    story = "腾讯收购阿里巴巴\n\n腾讯总资产达 80 亿元，今天宣布以 3 亿元收购阿里巴巴。\n"
    assert ("acquisition", pytest.approx(3e8 * 0.1395)) in headline_amounts(story)


def test_a_per_share_price_is_not_the_deal_but_its_total_is() -> None:
    story = (
        "Acme Corp bids for Widget Inc\n\n"
        "Acme Corp said it offered to acquire Widget Inc for 54 dlrs a share in cash.\n\n"
        "Widget has about 20 mln shares outstanding. The transaction is valued at about "
        "1.08 billion dlrs, Acme said.\n"
    )
    assert headline_amounts(story)[0] == ("acquisition", 1.08e9)
    story = "腾讯要约收购阿里巴巴\n\n腾讯宣布以每股 12.5 元的价格要约收购阿里巴巴。\n"
    assert headline_amounts(story)[0] == ("acquisition", None)


def test_a_deal_the_amount_modifies_makes_it_the_total() -> None:
    story = (
        "Acme Corp raises its offer for Widget Inc\n\n"
        "Acme Corp said it raised its offer to acquire Widget Inc to 41 dlrs a share.\n\n"
        "Widget has called the 1.2 billion dlr offer inadequate. Acme also said Widget's "
        "chairman would be paid 5 mln dlrs under the agreement.\n"
    )
    assert headline_amounts(story)[0] == ("acquisition", 1.2e9)


def test_a_written_dollar_figure_in_brackets_is_the_events_amount() -> None:
    story = (
        "Northwind buys Contoso's UK arm\n\n"
        "Northwind said it agreed to buy Contoso's British unit for £75m ($96m) in cash.\n"
    )
    assert ("acquisition", 9.6e7) in headline_amounts(story)


def test_an_estimated_total_is_still_the_deals_total() -> None:
    story = "腾讯收购阿里巴巴\n\n据报道，腾讯正与阿里巴巴就收购其云业务谈判，交易总价预计超过 20 亿美元。\n"
    assert headline_amounts(story)[0] == ("acquisition", 2e9)


def test_a_share_price_without_its_unit_is_no_deal_total() -> None:
    story = (
        "Acme Corp plans a bid for Widget Inc\n\n"
        "Acme Corp said it would make a takeover offer for all of Widget Inc.\n\n"
        "At Acme's current price of 6.40 dlrs, the share offer values Widget at about "
        "90 mln dlrs.\n"
    )
    assert headline_amounts(story)[0] == ("acquisition", 9e7)


def test_what_the_deal_brought_is_its_total() -> None:
    story = (
        "Acme Corp completes the sale of its stake in Widget Inc\n\n"
        "Acme Corp said it completed the sale of part of its stake in Widget Inc.\n\n"
        "Acme realized 75 mln dlrs in the transaction. Acme had bought the stake from "
        "Gadget Co in 1985 for 200 mln dlrs.\n"
    )
    assert headline_amounts(story)[0] == ("acquisition", 7.5e7)


def test_the_headline_amount_is_the_titles_unless_the_body_states_it_precisely() -> None:
    story = (
        "Acme Corp raises $40 million\n\n"
        "Acme Corp raised $40.5 million in a Series B round led by Gadget Ventures.\n"
    )
    assert headline_amounts(story)[0] == ("funding", 4.05e7)


def test_a_payment_the_amount_modifies_is_the_deals_total() -> None:
    story = (
        "Acme Corp to buy a stake in Widget Inc\n\n"
        "Acme Corp said it agreed to buy a 40 pct stake in Widget Inc.\n\n"
        "Under the terms, Acme will make a three mln dlr payment to Gadget Co.\n"
    )
    assert headline_amounts(story)[0] == ("acquisition", 3e6)


def test_a_loss_beside_revenue_takes_the_losss_figure() -> None:
    # Revenue is a weak word, as in English: the loss is the results' news and its figure.
    story = (
        "星河能源二季度营收下滑30%至80亿元，亏损5亿元\n\n"
        "星河能源周四公布财报，二季度营收下滑30%至80亿元；亏损5亿元，上年同期盈利3亿元。\n"
    )
    assert ("other", 5e8 * PACK.rates["CNY"]) in headline_amounts(story)


def test_the_decks_figure_is_the_events_when_the_body_tells_only_its_parts() -> None:
    story = (
        "---\ntitle: Globex disciplines a trader\n"
        "description: Globex fined the trader, Jane Roe, more than $20,000.\n---\n"
        "Globex said it found reasonable cause to act against Jane Roe.\n\n"
        "She made a $5,400 profit, and Globex fined her for that amount plus a $15,000 penalty.\n"
    )
    assert headline_amounts(story, "story.md")[0] == ("legal_regulatory", 2e4)


def test_a_payout_is_pay() -> None:
    story = (
        "Initech's chief could collect a fortune\n\n"
        "Initech CEO Bill Lumbergh could see a payout of more than $300 million after the deal.\n"
    )
    assert headline_amounts(story)[0] == ("compensation", 3e8)


def test_new_money_beats_the_running_total_it_brings_and_both_are_one_fact() -> None:
    story = (
        "Zentrix Robotics has now raised $600 million\n\n"
        "Zentrix Robotics reopened its Series B to raise a total of $600 million for the round.\n\n"
        "Zentrix Robotics has now raised an additional $250 million from Harbor Ventures and "
        "Pine Capital.\n"
    )
    assert headline_amounts(story) == [("funding", 2.5e8)]
    story = (
        "星云机器人完成新一轮融资，累计融资达20亿元\n\n"
        "星云机器人宣布获得红杉资本追加投资5亿元。星云机器人此前已完成多轮融资。\n"
    )
    assert headline_amounts(story) == [("funding", 5e8 * PACK.rates["CNY"])]
    story = (
        "星云机器人累计融资超20亿元\n\n"
        "星云机器人今日宣布再获5亿元融资，由红杉资本领投，本轮融资后其累计融资额超过20亿元。\n"
    )
    assert headline_amounts(story) == [("funding", 5e8 * PACK.rates["CNY"])]


def test_a_total_alone_is_the_rounds_and_a_deals_total_stays_its_price() -> None:
    # 'a total of' with no new money beside it is the round's own size.
    story = (
        "Zentrix Robotics raises $50 million\n\n"
        "Zentrix Robotics raised a total of $50 million in its Series B, led by Harbor Ventures.\n"
    )
    assert headline_amounts(story) == [("funding", 5e7)]
    # A sweetened bid: the deal is its total price, not the step (acquisition has no
    # `increments`).
    story = (
        "Acme sweetens its bid for Widget\n\n"
        "Acme Corp agreed to pay an additional $200 million for Widget Inc, bringing the total "
        "price of the acquisition to $1.2 billion.\n"
    )
    assert headline_amounts(story)[0] == ("acquisition", 1.2e9)


def test_an_events_amount_may_follow_in_a_sentence_about_its_actor() -> None:
    # The offering's sentence states no amount; a later one whose subject is the company ('It')
    # says what it raises, with a weak word of the same type.
    story = (
        "Strong demand for Orbix Air shares\n\n"
        "Orbix Air's initial public offering was oversubscribed 12 times, bankers said on Monday.\n\n"
        "Most bids came from foreign funds. Orbix Air, a regional carrier, flies to 40 cities. "
        "It sold 15% of its equity in a bid to raise up to $300m.\n"
    )
    assert headline_amounts(story)[0] == ("funding", 3e8)
    story = (
        "星辰航空新股受追捧\n\n"
        "星辰航空首次公开募股获得12倍超额认购，银行人士周一表示。\n\n"
        "多数认购来自境外基金。星辰航空是一家支线航空公司，航线覆盖40个城市。"
        "该公司出售15%股权，投资者认购金额最多可达20亿元。\n"
    )
    assert headline_amounts(story)[0] == ("funding", 2e9 * PACK.rates["CNY"])


def test_a_sentence_whose_subject_is_someone_else_gives_no_amount() -> None:
    story = (
        "Strong demand for Orbix Air shares\n\n"
        "Orbix Air's initial public offering was oversubscribed 12 times, bankers said on Monday.\n\n"
        "Most bids came from foreign funds. Orbix Air, a regional carrier, flies to 40 cities. "
        "Orbix Air chairman Jane Roe said a $5m fund would raise staff pay.\n"
    )
    assert headline_amounts(story)[0] == ("funding", None)
