"""The rule pack: loading, validation messages, the alias table, and a user-added type."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.cli.rulefiles import default_documents
from bot.core.model import EVENT_TYPES, Article
from bot.extract import RulePackError, extract, load_rule_pack


def docs() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return copy.deepcopy(default_documents())


def article(title: str, text: str, lang: str = "en") -> Article:
    published = datetime(2025, 6, 1, tzinfo=UTC)
    return Article("a.txt", title, text, lang, published, "text", "a")


def test_default_pack_has_the_product_types() -> None:
    pack = load_rule_pack(*default_documents())
    assert pack.event_types == EVENT_TYPES
    assert pack.rates["USD"] == 1.0 and pack.rates_as_of


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("扎克伯格", "Mark Zuckerberg"),
        ("扎格伯格", "Mark Zuckerberg"),
        ("小扎", "Mark Zuckerberg"),
        ("ZUCKERBERG", "Mark Zuckerberg"),
        ("马克·扎克伯格", "Mark Zuckerberg"),
        ("蘋果", "Apple"),
        ("苹果", "Apple"),
        ("谷歌", "Google"),
        ("微軟", "Microsoft"),
        ("推特", "Twitter"),
        ("優步", "Uber"),
        ("马斯克", "Elon Musk"),
        ("奥特曼", "Sam Altman"),
        ("openai", "OpenAI"),
        ("Meta", "Meta"),
    ],
)
def test_canonical_names_any_script_any_case(alias: str, canonical: str) -> None:
    pack = load_rule_pack(*default_documents())
    assert pack.canonical(alias) == canonical


def test_unknown_name_is_not_canonical() -> None:
    assert load_rule_pack(*default_documents()).canonical("Nobody In Particular") is None


def test_a_name_with_a_lost_character_still_finds_its_alias() -> None:
    pack = load_rule_pack(*default_documents())
    text = "Meta任命亞歷山大?王领导超级智能团队，此前他曾是Scale AI首席执行官。"
    extraction = extract(article("Meta任命新负责人", text, "zh-Hant"), pack)
    assert any("Alexandr Wang" in e.actors for e in extraction.events), extraction.events


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r, a, x: r.pop("types"), "rules.yaml: 'types' must be a mapping"),
        (lambda r, a, x: r["types"].update({"Bad Name": {"triggers": ["x"]}}), "types.Bad Name"),
        (lambda r, a, x: r["types"]["funding"].update({"triggers": {}}), "types.funding.triggers"),
        (lambda r, a, x: r["types"]["funding"].update({"triggers": "融资"}), "list of words"),
        (
            lambda r, a, x: r["types"]["funding"].update({"amount": {"scope": "page"}}),
            "amount.scope",
        ),
        (lambda r, a, x: r["ranking"].update({"speed": 1}), "ranking.speed: unknown"),
        (lambda r, a, x: r.update({"boilerplate": ["("]}), "boilerplate[0]"),
        (lambda r, a, x: a["people"].update({"X": {"aliases": "y"}}), "aliases.yaml: people.X"),
        (lambda r, a, x: x["usd"].update({"usd": 1}), "rates.yaml: usd.usd"),
        (lambda r, a, x: x["usd"].update({"EUR": -1}), "rates.yaml: usd.EUR"),
        (lambda r, a, x: x.pop("usd"), "rates.yaml: 'usd' must be a mapping"),
    ],
)
def test_bad_documents_say_where_and_what(mutate: Any, message: str) -> None:
    rules, aliases, rates = docs()
    mutate(rules, aliases, rates)
    with pytest.raises(RulePackError, match=message.replace("[", r"\[").replace(".", r"\.")):
        load_rule_pack(rules, aliases, rates)


LAYOFF_TEXT = (
    "Acme Robotics is laying off 500 employees, about a tenth of its workforce, the company "
    "said on Thursday. Chief executive Jane Doe said the layoffs would save $40 million a year."
)


def test_a_user_adds_a_layoff_type_in_yaml_only() -> None:
    rules, aliases, rates = docs()
    before = extract(article("Acme Robotics cuts 500 jobs", LAYOFF_TEXT), load_rule_pack(*docs()))
    assert "layoff" not in {e.type for e in before.events}

    rules["types"]["layoff"] = {
        "triggers": {
            "zh": ["裁员", "裁撤"],
            "en": ["laying off", "layoff*", "job cuts", "cut jobs"],
        },
        "weak": {"en": ["jobs"]},
        "amount": {"scope": "sentence"},
    }
    pack = load_rule_pack(rules, aliases, rates)
    assert pack.event_types[-1] == "layoff"
    extraction = extract(article("Acme Robotics cuts 500 jobs", LAYOFF_TEXT), pack)
    layoffs = [e for e in extraction.events if e.type == "layoff"]
    assert layoffs and "Acme Robotics" in layoffs[0].actors
    zh = extract(
        article("某科技公司裁员", "星辰科技宣布裁员300人，约占员工总数的一成。", "zh-Hans"), pack
    )
    assert [e.type for e in zh.events][:1] == ["layoff"]
    assert "星辰科技" in zh.events[0].actors


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("迪士尼", "Walt Disney"),
        ("黑莓", "BlackBerry"),
        ("全美航空", "US Airways"),
        ("US Airways", "US Airways"),
        ("波音", "Boeing"),
        ("壳牌", "Royal Dutch Shell"),
        ("阿联酋航空", "Emirates Airline"),
    ],
)
def test_well_known_companies_by_their_chinese_names(alias: str, canonical: str) -> None:
    assert load_rule_pack(*default_documents()).canonical(alias) == canonical


@pytest.mark.parametrize("word", ["shell", "visa", "micron", "emirates", "honor", "delta"])
def test_a_common_word_is_no_company(word: str) -> None:
    # Matching ignores case: a company named by a common word would be found in every text.
    assert load_rule_pack(*default_documents()).canonical(word) is None


def test_a_company_named_by_its_transliteration_is_an_actor() -> None:
    pack = load_rule_pack(*default_documents())
    events = extract(
        article("迪士尼收购星河影业", "迪士尼宣布以20亿美元收购星河影业。", "zh-Hans"), pack
    ).events
    assert events and "Walt Disney" in events[0].actors
