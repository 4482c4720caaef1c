"""Event types for general financial-news wording, and which events are headline events.

Every text here is invented.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.cli.rulefiles import default_documents
from bot.core.model import Article
from bot.extract import MAX_SENTENCES, RulePackError, extract, load_rule_pack
from bot.extract.clusters import Cluster, build_events, vet
from bot.extract.sentences import split_article


def article(title: str, text: str, lang: str = "en") -> Article:
    published = datetime(2025, 6, 1, tzinfo=UTC)
    return Article("a.txt", title, text, lang, published, "text", "a")


def types_of(title: str, text: str, lang: str) -> list[str]:
    pack = load_rule_pack(*default_documents())
    return [e.type for e in extract(article(title, text, lang), pack).events]


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        ("腾讯回购股份", "腾讯宣布，腾讯将以自有资金回购部分股份。", "market_move"),
        ("小米股东减持股份", "小米公告，小米股东计划减持股份。", "market_move"),
        ("百度股东解除质押", "百度公告，百度控股股东所持股份已解除质押。", "other"),
        ("京东申请破产清算", "京东公告，京东已向法院申请破产清算。", "other"),
        ("美团被证监局约谈", "美团公告，美团因信息披露问题被证监局约谈。", "legal_regulatory"),
        ("阿里巴巴董事长辞职", "阿里巴巴公告，阿里巴巴董事长因个人原因辞去职务。", "talent_move"),
    ],
)
def test_financial_news_types_zh(title: str, text: str, expected: str) -> None:
    assert types_of(title, text, "zh-Hans")[:1] == [expected]  # names from the alias table


def test_a_profitable_business_is_no_results_and_measures_are_no_product() -> None:
    got = types_of(
        "Orbit Labs names Max Hill chief executive",
        "Orbit Labs named Max Hill chief executive on Monday. "
        "Jane Field made Orbit Labs a profitable business.",
        "en",
    )
    assert got == ["talent_move"]
    assert types_of(
        "腾讯股价下跌",
        "腾讯股价下跌5%。腾讯回应称将推出多项措施，限制未成年人游戏时间。",
        "zh-Hans",
    ) == ["market_move"]


def test_a_tender_offer_is_an_acquisition_not_a_partnership() -> None:
    got = types_of(
        "Harbor Mills makes tender offer for Lakeside Paper",
        "Harbor Mills Inc said it started a tender offer for all shares of Lakeside Paper Co.",
        "en",
    )
    assert got[:1] == ["acquisition"] and "partnership" not in got


def test_partners_in_a_name_is_no_partnership() -> None:
    got = types_of(
        "Grey Rock Partners agreed to purchase Delta Tools",
        "Grey Rock Partners LP said it agreed to purchase Delta Tools Corp for cash.",
        "en",
    )
    assert got[:1] == ["acquisition"] and "partnership" not in got


def test_a_condition_of_approval_is_no_regulatory_event() -> None:
    got = types_of(
        "Northwind agreed to acquire Southfield Bank",
        "Northwind Corp said it agreed to acquire Southfield Bank. "
        "The deal is subject to regulatory approval.",
        "en",
    )
    assert got == ["acquisition"]


def test_owners_approving_a_merger_tell_the_merger_a_regulator_approving_it_an_approval() -> None:
    owners = types_of(
        "Corvale news",
        "Shareholders of Corvale Inc at a special meeting approved the merger of Corvale Inc "
        "and Bexley Corp.",
        "en",
    )
    assert owners == ["acquisition"]
    regulator = types_of(
        "Corvale news",
        "The Federal Reserve approved the merger of Corvale Inc and Bexley Corp.",
        "en",
    )
    assert regulator == ["legal_regulatory"]


@pytest.mark.parametrize(
    "text",
    [
        "Norvik Corp said it sold three of its mills to Palmer Industries Inc.",
        "Norvik Corp said it raised its holding in Palmer Industries Inc to 40 pct.",
        "Norvik Corp said it joined with the management of Palmer Industries Inc to purchase "
        "the company.",
        "Norvik Corp said talks continue on the sale of its 40 pct interest in Palmer Industries Inc.",
        "Norvik Corp, an investment partnership, said it sold its mills to Palmer Industries Inc.",
    ],
)
def test_deal_wording_of_wire_news_is_an_acquisition(text: str) -> None:
    assert types_of("Norvik news", text, "en")[:1] == ["acquisition"]


def test_an_agreement_under_which_a_deal_is_made_is_the_deal() -> None:
    """The agreement is only the form; the verb after 'under which' says what it does."""
    bought = types_of(
        "Norvik Corp signs agreement",
        "Norvik Corp said it signed an agreement under which it will acquire Palmer Industries "
        "Inc for 45 mln dlrs in cash.",
        "en",
    )
    assert bought == ["acquisition"]
    supplied = types_of(
        "Norvik Corp signs agreement",
        "Norvik Corp said it signed an agreement under which it will supply Palmer Industries "
        "Inc with modems.",
        "en",
    )
    assert supplied == ["partnership"]


def test_a_background_event_in_the_body_is_not_a_headline_event() -> None:
    got = types_of(
        "Orbit Labs hires Jane Field as chief executive",
        "Orbit Labs hired Jane Field as its chief executive on Monday. "
        "Field said she was excited. Orbit Labs said the move would help. "
        "Analysts welcomed the change. The board met in the morning. "
        "Staff were told by email. Earlier, in 2019, Orbit Labs acquired Nimbus Data.",
        "en",
    )
    assert got == ["talent_move"]


def test_at_most_the_configured_number_of_events() -> None:
    text = " ".join(
        [
            "Acme Corp agreed to acquire Beta Inc for $2 billion.",
            "Acme Corp launched a new phone on Monday.",
            "Acme Corp was fined $5 million by the regulator.",
            "Acme Corp hired Carla Diaz as finance chief.",
            "Acme Corp raised $300 million in a funding round led by Delta Capital.",
        ]
    )
    rules, aliases, rates = copy.deepcopy(default_documents())
    rules["ranking"]["max_events"] = 2
    rules.pop("vetter", None)  # the cap alone
    pack = load_rule_pack(rules, aliases, rates)
    assert len(extract(article("Acme Corp news", text), pack).events) == 2


def test_the_vetter_drops_what_it_doubts_but_never_the_first_event() -> None:
    text = (
        "Acme Corp agreed to acquire Beta Inc for $2 billion. "
        "Acme Corp also launched a new phone on Monday."
    )
    rules, aliases, rates = copy.deepcopy(default_documents())
    rules["vetter"] = {"threshold": 0.9, "weights": {"bias": -5.0}}  # doubts everything
    doubting = load_rule_pack(rules, aliases, rates)
    rules["vetter"] = {"threshold": 0.1, "weights": {"bias": 5.0}}  # trusts everything
    trusting = load_rule_pack(rules, aliases, rates)
    a = article("Acme Corp to acquire Beta Inc", text)
    assert [e.type for e in extract(a, doubting).events] == ["acquisition"]
    assert len(extract(a, trusting).events) == 2


def test_the_nth_event_kept_must_clear_the_nth_bar() -> None:
    text = (
        "Acme Corp agreed to acquire Beta Inc for $2 billion. "
        "Acme Corp also launched a new phone on Monday. "
        "Acme Corp was fined $5 million by the regulator."
    )
    a = article("Acme Corp to acquire Beta Inc", text)

    def kept(threshold: Any) -> int:
        rules, aliases, rates = copy.deepcopy(default_documents())
        rules["vetter"] = {"threshold": threshold, "weights": {"bias": 2.0}}  # p ≈ 0.88 each
        return len(extract(a, load_rule_pack(rules, aliases, rates)).events)

    assert kept([0, 0.5]) == 3  # the last bar holds for every later event
    assert kept([0, 0.5, 0.95]) == 2  # a third event needs more confidence
    assert kept([0.95, 0.5]) == 0  # a headline the vetter doubts even alone: no event
    assert kept(0.95) == 1  # a number: the first always kept, the others need it


def test_the_same_parties_with_another_figure_are_one_fact() -> None:
    """A part of a total ("the payment includes $5m in fines") is no second settlement."""
    rules, aliases, rates = copy.deepcopy(default_documents())
    rules.pop("vetter", None)  # the rules alone
    pack = load_rule_pack(rules, aliases, rates)
    text = (
        "Acme Corp has agreed to pay a total of $14.5m to settle a lawsuit brought by the state "
        "of Ohio. Acme Corp said it was pleased. The total payment includes $5m in fines paid "
        "by Acme Corp to the state of Ohio."
    )
    events = extract(article("Acme Corp to pay $14.5m to settle lawsuit", text), pack).events
    assert [(e.type, e.amount.usd if e.amount else None) for e in events] == [
        ("legal_regulatory", 14_500_000)
    ]


def test_a_second_reading_of_the_same_words_is_marked_retold() -> None:
    """'… to take over the top job' in a CEO's succession also reads as a takeover (a bare 'to
    take over' no longer does): the vetter is told that every sentence of that cluster is a
    heavier cluster's."""
    pack = load_rule_pack(*default_documents())
    a = article(
        "Orbit Labs CEO Jane Field is stepping down, co-founder Max Hill to take over the top job",
        "Orbit Labs said on Monday that chief executive Jane Field will step down. "
        "Co-founder Max Hill will return as chief executive.",
    )
    trace: list[tuple[Cluster, dict[str, float]]] = []
    build_events(a, split_article(a, pack.boilerplate)[:MAX_SENTENCES], pack, trace)
    retold = {cl.type: features["retold"] for cl, features in trace}
    assert retold == {"talent_move": 0.0, "acquisition": 1.0}


def test_vet_is_a_logistic_of_the_weighted_features() -> None:
    assert vet({"bias": 0.0}, {"bias": 1.0}) == pytest.approx(0.5)
    assert vet({"bias": 1.0, "title": 2.0}, {"bias": 1.0, "title": 1.0}) > 0.95


@pytest.mark.parametrize(
    "vetter",
    [
        {"weights": {"bias": "high"}},
        {"weights": {"bias": 1.0}, "threshold": 2},
        {"weights": {"bias": 1.0}, "threshold": [0, 1.5]},
        {"weights": {"bias": 1.0}, "threshold": []},
        ["bias"],
    ],
)
def test_a_bad_vetter_section_is_refused(vetter: Any) -> None:
    rules, aliases, rates = copy.deepcopy(default_documents())
    rules["vetter"] = vetter
    with pytest.raises(RulePackError, match="vetter"):
        load_rule_pack(rules, aliases, rates)


def test_a_pledge_outranks_the_weak_words_of_its_headline() -> None:
    # '股份' (shares, and 股份有限公司) is a weak acquisition word; the pledge is the news.
    title = "星河钨业股份有限公司关于控股股东部分股份解除质押的公告"
    text = "星河钨业股份有限公司近日接到控股股东王明的通知，其所持本公司部分股份解除质押。"
    assert types_of(title, text, "zh-Hans") == ["other"]


def actors_of_first(title: str, text: str) -> list[str]:
    pack = load_rule_pack(*default_documents())
    return list(extract(article(title, text, "en"), pack).events[0].actors)


def test_a_unit_changing_hands_is_named_with_its_parent() -> None:
    sold = actors_of_first(
        "Norvik news",
        "Norvik Corp said it agreed to sell its industrial products group to Palmer Industries Inc.",
    )
    assert "Norvik industrial products group" in sold and "Palmer Industries" in sold
    bought = actors_of_first(
        "Palmer news",
        "Palmer Industries Inc said it agreed to acquire the plastic container business of "
        "Norvik Corp.",
    )
    assert "Norvik plastic container business" in bought
    owned = actors_of_first(
        "Palmer news",
        "Palmer Industries Inc said it agreed to acquire Norvik Corp's oil and gas unit.",
    )
    assert "Norvik oil and gas unit" in owned
    rest = actors_of_first(
        "Norvik news",
        "Norvik Corp said it agreed to sell the rest of its mills to Palmer Industries Inc.",
    )
    assert not [a for a in rest if a.endswith("mills")]
    # 'completed' is a weak deal word made full by 'disposition of' beside it: the unit is
    # the one that word names.
    completed = actors_of_first(
        "Norvik news",
        "Norvik Corp said it has completed the previously-announced disposition of its "
        "computer systems division to Palmer Industries Inc.",
    )
    assert "Norvik computer systems division" in completed
    # The price may stand between the deal word and the unit.
    priced = actors_of_first(
        "Norvik news",
        "Norvik Corp said it agreed to the sale, for about 120 mln dlrs in cash and notes, of its "
        "packaging products division to Palmer Industries Inc.",
    )
    assert "Norvik packaging products division" in priced
    # A place may head the description ('its Ohio retail operations').
    placed = actors_of_first(
        "Norvik news",
        "Norvik Corp said it agreed to sell its Ohio retail operations to Palmer Industries Inc.",
    )
    assert "Norvik Ohio retail operations" in placed
    # 'a … plant from X': the seller named after it owns it.
    bought_from = actors_of_first(
        "Palmer news",
        "Palmer Industries Inc said it agreed to buy a cement block plant in Ohio from Norvik Corp.",
    )
    assert "Norvik cement block plant" in bought_from
    # 'the sale of its …' reads as one refused description; the unit inside it is still found.
    within = actors_of_first(
        "Norvik news",
        "Norvik Corp said it completed the sale of its water properties to Palmer Utility Co.",
    )
    assert "Norvik water properties" in within


def test_firms_counted_in_a_deal_are_the_ones_the_next_sentence_names() -> None:
    got = actors_of_first(
        "Palmer news",
        "Palmer Industries Inc said it acquired two design firms for undisclosed terms.\n"
        "The firms are Norvik Associates Inc and Telmar Design Inc.",
    )
    assert "Norvik Associates" in got and "Telmar Design" in got


def test_a_launch_still_planned_or_a_press_release_is_no_launch() -> None:
    got = types_of(
        "Nimbus Data raises $50 million",
        "Nimbus Data raised $50 million from Orbit Capital on Monday. "
        "Later this year, Orbit Labs plans to launch a pilot with Nimbus Data.",
        "en",
    )
    assert got == ["funding"]
    got = types_of(
        "星河科技获得5亿元融资",
        "星河科技宣布完成5亿元融资。星河科技在新闻发布中表示，资金将用于研发。",
        "zh-Hans",
    )
    assert got == ["funding"]


def test_a_launch_months_before_publication_is_told_in_passing() -> None:
    # Published 1 June 2025: January's launch is background, the launch of 30 May is news.
    got = types_of(
        "Nimbus Data raises $50 million",
        "Nimbus Data said on Tuesday it launched its first cloud robot in January. "
        "It has raised $50 million.",
        "en",
    )
    assert got == ["funding"]
    got = types_of(
        "Nimbus Data releases its storage robot",
        "Nimbus Data released its first storage robot on May 30.",
        "en",
    )
    assert got == ["product_launch"]
