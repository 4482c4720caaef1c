"""Actors are entities, one per entity across scripts (issue 16): no capitalised common
words, products, places, roles or legal forms as actors; one canonical name whether an
article is simplified, traditional or English. Unit texts are invented."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.rulefiles import default_documents
from bot.core.articles import parse_article
from bot.core.model import Article
from bot.extract import RulePack, extract, load_rule_pack
from bot.extract.entities import article_mentions, resolve, title_end
from bot.extract.sentences import join, split_article

DATA = Path(__file__).parent.parent / "data" / "extract" / "seeds"
SHARED = Path(__file__).resolve().parent.parents[1] / ".." / "shared"
ARTICLES = SHARED / "corpus" / "articles"
MTIME = datetime(2025, 11, 1, tzinfo=UTC)

# The junk actors a new user saw (issue 16).
JUNK = {
    "NBA", "Llama", "HERO", "EPC", "顾问", "God", "Eye", "Daily", "Example Voice Design",
    "Video Model", "Rank", "Struggling", "SUV", "LLC", "PBC", "Mafia", "至少有三家公司",
}  # fmt: skip


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return load_rule_pack(*default_documents())


def names(pack: RulePack, body: str, lang: str = "en", title: str = "A title") -> list[str]:
    """Every name the extractor finds in an article, resolved, in order."""
    article = Article("x.txt", title, body, lang, MTIME, "text", "x")
    sentences = split_article(article, pack.boilerplate)
    text, folded, starts = join(sentences)
    hits = pack.scan(folded, text, starts)
    mentions = article_mentions(text, folded, starts, hits, pack, title_end(sentences, starts))
    found = resolve(mentions, sentences, folded, starts)
    return [m.name for line in found for m in line]


def actors_of(pack: RulePack, path: Path) -> set[str]:
    article = parse_article(path.read_bytes(), path.name, MTIME, UTC)
    return {a for e in extract(article, pack).events for a in e.actors}


def test_no_junk_actor_in_the_samples(pack: RulePack) -> None:
    samples = sorted(DATA.iterdir())
    assert samples
    for path in samples:
        assert not actors_of(pack, path) & JUNK, path.name


@pytest.mark.skipif(not ARTICLES.is_dir(), reason="../shared/corpus absent")
def test_no_junk_actor_in_the_shared_corpus(pack: RulePack) -> None:
    found = {path.name: actors_of(pack, path) & JUNK for path in sorted(ARTICLES.iterdir())}
    assert not {name: junk for name, junk in found.items() if junk}


def _facts(pack: RulePack, path: Path) -> set[tuple[str, frozenset[str], float | None]]:
    article = parse_article(path.read_bytes(), path.name, MTIME, UTC)
    return {
        (e.type, frozenset(e.actors), e.amount.usd if e.amount else None)
        for e in extract(article, pack).events
    }


TWINS = sorted(ARTICLES.glob("*.zh-Hant.md")) if ARTICLES.is_dir() else []


@pytest.mark.skipif(not TWINS, reason="../shared/corpus absent")
@pytest.mark.parametrize("twin", TWINS, ids=lambda p: p.name[:40])
def test_a_traditional_twin_extracts_what_its_simplified_original_does(
    pack: RulePack, twin: Path
) -> None:
    original = twin.with_name(twin.name.replace(".zh-Hant.md", ".md"))
    assert original.is_file()
    assert _facts(pack, twin) == _facts(pack, original)


# --- each mechanism, on invented text ---------------------------------------------------------


def test_capitalised_common_words_and_sentence_openers_are_not_names(pack: RulePack) -> None:
    found = names(
        pack,
        "Struggling retailers cut prices. Daily sales fell at Zorvex.\n"
        "Analysts said the Eye of the market was on Zorvex and its Mafia-style rivals.",
    )
    assert "Zorvex" in found
    assert not {"Struggling", "Daily", "Eye", "Mafia"} & set(found)


def test_a_sentence_opener_that_speaks_is_a_name(pack: RulePack) -> None:
    found = names(
        pack, "Quorvane said it bought a mill from Telmar Inc.\n\nLooking ahead, prices rose."
    )
    assert "Quorvane" in found and "Looking" not in found


def test_a_title_cased_headline_breaks_at_its_verbs_and_function_words(pack: RulePack) -> None:
    found = names(pack, "Quillon Has Held Talks With Brenmoor Labs\n\nMore later.")
    assert "Quillon" in found and "Brenmoor Labs" in found
    assert not [n for n in found if "Talks" in n or "Has" in n]
    found = names(pack, "Quillon-Varda Deal Lifts Optimism on Trading\n\nMore later.")
    assert found == ["Quillon-Varda"]


def test_a_role_splits_a_run_of_capitalised_words(pack: RulePack) -> None:
    found = names(pack, "Yesterday Brenmoor CEO Talia Voskuijlen resigned.")
    assert "Brenmoor" in found and "Talia Voskuijlen" in found
    assert not [n for n in found if "CEO" in n]


def test_products_by_version_or_model_are_not_actors(pack: RulePack) -> None:
    found = names(
        pack,
        "Zorvex released Quarkly 4 and its model Mintaro today, after Velyn3 sold well.\n"
        "其最新开源模型Pallado发布后反响平平，Zorvex的Fennic模型表现更好。",
    )
    assert "Zorvex" in found
    assert not {"Quarkly", "Mintaro", "Velyn3", "Pallado", "Fennic"} & set(found)


def test_a_name_in_a_likening_quotation_is_not_a_party(pack: RulePack) -> None:
    body = "分析师将Zorvex此次挖角比喻为“XBL冠军团队失去三名主力球员”，Quarkly 损失惨重。"
    article = Article(
        "x.txt", "Zorvex 挖角 Quarkly 三名研究员", body, "zh-Hans", MTIME, "text", "x"
    )
    actors = {a for e in extract(article, pack).events for a in e.actors}
    assert "Zorvex" in actors
    assert "XBL" not in actors


def test_legal_forms_alone_places_and_abbreviations_are_not_names(pack: RulePack) -> None:
    found = names(
        pack,
        "The LLC and the PBC filed papers. Canadian regulators in Toronto approved the IPO "
        "of Brenmoor Holdings. The SUV maker Zorvex said so.",
    )
    assert {"Brenmoor Holdings", "Zorvex"} <= set(found)
    assert not {"LLC", "PBC", "Canadian", "IPO", "SUV", "Toronto"} & set(found)


def test_legal_forms_are_folded_away_from_names(pack: RulePack) -> None:
    found = names(
        pack,
        "Quillon Inc said Oppenheimer and Co Inc advised it on the sale of Brenmoor Corp. "
        "Time Inc was not involved.",
    )
    assert {"Quillon", "Oppenheimer", "Brenmoor", "Time Inc"} <= set(found)
    assert "Quillon Inc" not in found
    zh = names(pack, "太極實業股份有限公司發布公告，公司子公司中標。", "zh-Hant")
    assert zh[0] == "太极实业"


def test_a_firm_keeps_its_common_words_and_its_and(pack: RulePack) -> None:
    found = names(
        pack,
        "American Motors Corp and Bank of America met Clayton and Dubilier Inc and "
        "Seismic Holdings Inc and Energy Holdings Inc.",
    )
    assert {"American Motors", "Bank of America", "Clayton and Dubilier"} <= set(found)
    assert {"Seismic Holdings", "Energy Holdings"} <= set(found)


def test_a_town_before_its_state_is_a_place(pack: RulePack) -> None:
    found = names(pack, "Brenmoor Corp of Paterson, N.J., bought Zorvex Inc of Lakeridge, Colo.")
    assert {"Brenmoor", "Zorvex"} <= set(found)
    assert not {"Paterson", "Lakeridge", "N.J", "Colo"} & set(found)


def test_chinese_organisations_need_a_real_name_before_the_suffix(pack: RulePack) -> None:
    found = names(
        pack,
        "至少有三家公司参与竞标，最终星河动力拟收购北京联银通科技有限公司。"
        "冯某将更有力地领导公司发展，此次中标充分表明公司实力。",
        "zh-Hans",
    )
    assert "北京联银通科技" in found[0] or "联银通科技" in found[0] or "星河动力" in found
    assert not [n for n in found if "三家" in n or "领导" in n or "表明" in n or "收购" in n]


def test_a_supplier_of_a_company_is_named_without_its_customer(pack: RulePack) -> None:
    found = names(pack, "据报道，星河重工供货商联银通科技完成了上市辅导。", "zh-Hans")
    assert "联银通科技" in found
    assert not [n for n in found if "供货商" in n]


def test_a_listed_company_is_named_by_its_short_name_before_its_code(pack: RulePack) -> None:
    found = names(pack, "公告显示，星河高新（002999.SZ）收到中标通知书。", "zh-Hans")
    assert "星河高新" in found
    assert not {"SZ", "sz"} & set(found)


def test_a_hong_kong_code_of_three_digits_names_its_company(pack: RulePack) -> None:
    found = names(pack, "公告指，星輝娛樂（007）將，將出售旗下酒店。", "zh-Hant")
    assert "星辉娱乐" in found
    assert not set(found) & {"007", "（007）"}


def test_a_founder_an_editor_or_a_son_names_a_person(pack: RulePack) -> None:
    body = "雜誌創辦人鍾啟明今日表示，總編輯葉詠詩將接任。報道稱，他的長子鍾家樂涉嫌違規。"
    found = names(pack, body, "zh-Hant")
    assert {"钟启明", "叶咏诗", "钟家乐"} <= set(found)
    assert not {"钟启明今", "钟家乐涉"} & set(found)


def test_a_publication_that_employs_is_a_name_but_a_work_is_not(pack: RulePack) -> None:
    body = (
        "《晨光週報》創辦人鍾啟明今日宣佈裁員。網媒《海角》去年成立。"
        "《晨光週報》將出售。他很喜歡遊戲《星河大戰》，也玩《星河大戰》續集。"
    )
    found = names(pack, body, "zh-Hant")
    assert found.count("晨光周报") == 2
    assert "海角" in found
    assert "星河大战" not in found


def test_the_speaker_before_a_headline_colon_is_a_name_when_named_again(pack: RulePack) -> None:
    body = "公告显示，股东青松投资解除质押300万股。星河钨业主营钨制品。"
    found = names(pack, body, "zh-Hans", title="星河钨业：股东解除质押300万股")
    assert found.count("星河钨业") == 2
    rubric = names(pack, body, "zh-Hans", title="重磅：股东解除质押300万股")
    assert "重磅" not in rubric


def test_people_after_a_shareholder_role_but_not_a_second_role(pack: RulePack) -> None:
    found = names(pack, "公司股东赵梦远尚未减持。他曾担任首席执行官顾问的职务。", "zh-Hans")
    assert "赵梦远" in found
    assert "顾问" not in found


def test_one_actor_across_simplified_and_traditional(pack: RulePack) -> None:
    hans = names(pack, "星河实业子公司中标，奥利维·马丁内斯表示满意。", "zh-Hans")
    hant = names(pack, "星河實業子公司中標，奧利維·馬丁內斯表示滿意。", "zh-Hant")
    assert hans == hant
    assert "星河实业" in hans


def test_a_transliteration_is_the_english_name_the_article_also_writes(pack: RulePack) -> None:
    found = names(
        pack,
        "布雷特·泰勒领导董事会。董事长 Brett Tailor 说，Quillon 会继续。"
        "柯德斯塔尼加入了公司，Kordestani 此前在搜索巨头工作。",
        "zh-Hans",
    )
    assert "布雷特·泰勒" not in found and "Brett Tailor" in found
    assert "奥米德·柯德斯塔尼" not in found


def test_the_alias_table_names_a_transliteration_without_an_english_spelling(
    pack: RulePack,
) -> None:
    found = names(pack, "推特董事会主席布雷特·泰勒说，交易将完成。", "zh-Hans")
    assert "Bret Taylor" in found


def test_a_short_chinese_name_is_known_by_its_place(pack: RulePack) -> None:
    found = names(
        pack,
        "星河火腿发布公告称，公司拟回购股份。近日，云岭医药宣布收购。"
        "星光超市董事长张远帆表示满意。公司发布公告称业绩增长。分析人士表示看好。",
        "zh-Hans",
    )
    assert {"星河火腿", "云岭医药", "星光超市", "张远帆"} <= set(found)
    assert not {"公司", "分析人士"} & set(found)


def test_chinese_organisations_by_their_industry_word(pack: RulePack) -> None:
    found = names(
        pack,
        "成都银行与中国建设银行签约，万科集团和星河股份公告，云岭医药增资。"
        "中国公司和美国科技公司都在看，医疗行业和教育部门观望，公司发行股份。",
        "zh-Hans",
    )
    assert {"成都银行", "中国建设银行", "万科集团", "星河股份", "云岭医药"} <= set(found)
    assert not [n for n in found if n.startswith(("中国公司", "美国", "医疗", "教育", "发行"))]


def test_government_bodies_and_group_companies_are_organisations(pack: RulePack) -> None:
    found = names(
        pack,
        "江苏省公安厅和北京市市场监督管理局约谈星河外卖，云岭市人民政府表态。"
        "上海市星河建设（集团）有限公司中标。",
        "zh-Hans",
    )
    assert {"江苏省公安厅", "北京市市场监督管理局", "云岭市人民政府"} <= set(found)
    assert "上海市星河建设" in found


def test_the_object_of_a_deal_verb_is_a_name_when_named_again(pack: RulePack) -> None:
    found = names(
        pack,
        "云岭医药拟收购星河制冷55%股权。星河制冷成立于2001年。公司还在并购谈判中，收购相关资产。",
        "zh-Hans",
    )
    assert "星河制冷" in found
    assert not {"谈判", "相关资产"} & set(found)


def test_a_deal_names_its_other_party_from_the_article(pack: RulePack) -> None:
    body = (
        "Zorvex said on Monday it agreed to acquire the sensor maker for an undisclosed sum.\n\n"
        "Brenmoor Labs makes pressure sensors. Brenmoor Labs was founded in 1990 and "
        "Brenmoor Labs employs 40 people."
    )
    article = Article("x.txt", "Zorvex to acquire sensor maker", body, "en", MTIME, "text", "x")
    (deal,) = [e for e in extract(article, pack).events if e.type == "acquisition"]
    assert {"Zorvex", "Brenmoor Labs"} <= set(deal.actors)
