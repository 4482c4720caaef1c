"""Parties an event's own sentences leave out: a round's investors told apart (invented text)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.cli.rulefiles import default_documents
from bot.core.model import Article, Event
from bot.extract import RulePack, extract, load_rule_pack
from bot.extract.events import analyse, candidates
from bot.extract.sentences import split_article

MTIME = datetime(2025, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return load_rule_pack(*default_documents())


def events(pack: RulePack, title: str, body: str, lang: str = "en") -> list[Event]:
    article = Article("x.txt", title, body, lang, MTIME, "text", "x")
    return list(extract(article, pack).events)


def funding(found: list[Event]) -> Event:
    return next(e for e in found if e.type == "funding")


def test_the_investors_a_round_was_led_by_are_its_parties(pack: RulePack) -> None:
    found = events(
        pack,
        "Quillfeather raises $40 million to build warehouse robots",
        "Quillfeather, a warehouse robotics startup, has raised $40 million in a Series B "
        "round. The company will hire engineers in Lisbon.\n\n"
        "The round was led by Northwind Partners with participation from Bluefin Capital "
        "and Orrery Ventures.",
    )
    actors = funding(found).actors
    assert actors[0] == "Quillfeather"
    assert {"Northwind Partners", "Bluefin Capital", "Orrery Ventures"} <= set(actors)


def test_led_by_outside_a_round_names_no_investor(pack: RulePack) -> None:
    found = events(
        pack,
        "Quillfeather raises $40 million to build warehouse robots",
        "Quillfeather, a warehouse robotics startup, has raised $40 million from "
        "Northwind Partners.\n\nIts engineering team is led by Marta Olsen.",
    )
    assert "Marta Olsen" not in funding(found).actors


def test_the_lead_investor_between_you_and_ling_tou_is_a_party(pack: RulePack) -> None:
    found = events(
        pack,
        "星河智造完成 2 亿元 B 轮融资",
        "星河智造今日宣布完成 2 亿元 B 轮融资，本轮融资由远山资本领投，老股东继续跟投。",
        "zh-Hans",
    )
    actors = funding(found).actors
    assert "远山资本" in actors
    assert not any("股东" in a for a in actors)


def test_the_successor_and_the_one_who_leaves_are_one_move(pack: RulePack) -> None:
    found = events(
        pack,
        "Marlowe Textiles chief stepping down",
        "Marlowe Textiles is parting company with its chief executive Odile Ferrand-Vasse.\n\n"
        "The retailer said Ms Ferrand-Vasse had resigned. Ms Ferrand-Vasse is to be replaced "
        "by Petra Holm, a non-executive director of the company.",
    )
    moves = [e for e in found if e.type == "talent_move"]
    assert len(moves) == 1
    assert {"Marlowe Textiles", "Odile Ferrand-Vasse", "Petra Holm"} <= set(moves[0].actors)


def test_a_deal_inside_what_a_regulator_investigates_is_no_deal_of_its_own(
    pack: RulePack,
) -> None:
    told = "将对青禾科技收购蓝岸出行但未申报的事件，展开调查。"
    assert types_told(pack, f"市场监管总局今日表示，{told}") == {"legal_regulatory"}
    # Told as a fact of its own, the deal is one.
    assert "acquisition" in types_told(pack, "青禾科技收购蓝岸出行的事件，引发关注。")


def types_told(pack: RulePack, body: str) -> set[str]:
    """The types of the candidates of the body's sentences (not the title's)."""
    article = Article("x.txt", "标题", body, "zh-Hans", MTIME, "text", "x")
    analysed = analyse(article, split_article(article, pack.boilerplate), pack)
    return {c.type for c in candidates(analysed, pack, article) if not c.at.sentence.is_title}


def test_to_take_over_with_no_company_taken_is_a_succession(pack: RulePack) -> None:
    found = events(
        pack,
        "Brightwell CEO Dana Marsh is stepping down, co-founder Ravi Sethi to take over",
        "Brightwell said on Monday that chief executive Dana Marsh is stepping down. "
        "Co-founder Ravi Sethi will take over as chief executive, effective immediately.",
    )
    assert [e.type for e in found] == ["talent_move"]
    # With a company to take, it is a takeover.
    assert "acquisition" in types_told_en(
        pack, "Brightwell plans to take over Corvane Systems for $2 billion."
    )


def test_a_hire_of_machines_is_no_talent_move(pack: RulePack) -> None:
    assert "talent_move" not in types_told_en(
        pack, "Halvorsen Foods has hired twelve warehouse robots for its Ohio plant."
    )
    assert "talent_move" in types_told_en(
        pack, "Halvorsen Foods has hired twelve engineers from Corvane Systems."
    )


def test_a_licensing_pact_or_an_order_is_a_partnership(pack: RulePack) -> None:
    assert types_told_en(
        pack, "Corvane Systems signed a licensing pact with Halvorsen Foods for its software."
    ) == {"partnership"}
    assert "partnership" in types_told_en(
        pack, "Skyreach Air placed a firm order for 30 jets with Aerolite Industries."
    )


def test_the_company_whose_shares_move_is_a_company_not_its_founder(pack: RulePack) -> None:
    found = events(
        pack,
        "Brightwell CEO Dana Marsh steps down, co-founder Ravi Sethi returns",
        "Brightwell said chief executive Dana Marsh is stepping down. Ravi Sethi will return "
        "as chief executive. Ravi Sethi was chief executive until 2020. Ravi Sethi said he was "
        "honoured.\n\nShares of the company closed down 5% on Monday.",
    )
    moves = [e for e in found if e.type == "market_move"]
    assert moves and moves[0].actors[0] == "Brightwell"


def types_told_en(pack: RulePack, body: str) -> set[str]:
    """The types of the candidates of an English body's sentences (not the title's)."""
    article = Article("x.txt", "A title", body, "en", MTIME, "text", "x")
    analysed = analyse(article, split_article(article, pack.boilerplate), pack)
    return {c.type for c in candidates(analysed, pack, article) if not c.at.sentence.is_title}


def test_a_severance_is_pay_not_a_departure(pack: RulePack) -> None:
    found = events(
        pack,
        "海岚科技前 CEO 林默带着 800 万美元遣散费离开公司",
        "被解雇的海岚科技首席执行官林默将带着 800 万美元的遣散费离开公司。",
        "zh-Hans",
    )
    assert found[0].type == "compensation"


def test_a_title_naming_no_one_tells_the_news_of_the_company_its_lead_names(
    pack: RulePack,
) -> None:
    found = events(
        pack,
        "15.8 万元起，纯电轿车 Q7 正式上市，面向个人市场发售",
        "今日，岚图汽车宣布纯电轿车 Q7 正式上市。此次上市的车型续航里程 500km。",
        "zh-Hans",
    )
    assert found and found[0].type == "product_launch"
    assert found[0].actors == ("岚图汽车",)


def test_filings_released_are_papers_not_a_product(pack: RulePack) -> None:
    assert "product_launch" not in types_told_en(
        pack,
        "The plan covers Dana Marsh and Ravi Sethi, according to filings released on Tuesday.",
    )
    assert "product_launch" in types_told_en(
        pack, "Brightwell released its first humanoid robot on Tuesday."
    )


def test_its_shares_are_the_articles_company(pack: RulePack) -> None:
    found = events(
        pack,
        "Marlowe Textiles chief stepping down",
        "Marlowe Textiles said its chief executive Odile Ferrand-Vasse had resigned. Marlowe "
        "Textiles thanked her.\n\nThe retailer has been hit by poor sales.\n\nThe retailer "
        "closed a factory.\n\nIts shares were down 8% in trading on the London Stock Exchange.",
    )
    moves = [e for e in found if e.type == "market_move"]
    assert moves and moves[0].actors[0] == "Marlowe Textiles"
