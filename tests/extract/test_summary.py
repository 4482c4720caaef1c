"""Summaries that stand alone: no leading anaphora or connector, no cut inside a quote, no
link text, no clickbait title, no clause dropped without a mark. Invented text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.cli.rulefiles import default_documents
from bot.core.articles import parse_article
from bot.core.model import Article
from bot.extract import extract, load_rule_pack
from bot.extract.sentences import split_article
from bot.extract.summary import MAX_HAN, MAX_WORDS, article_summary, event_summary, stands_alone

PACK = load_rule_pack(*default_documents())
WHEN = datetime(2025, 6, 21, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sentence", "company", "summary"),
    [
        ("同日，星河科技宣布收购蓝湾软件。", None, "星河科技宣布收购蓝湾软件。"),
        ("此外，星河科技還宣佈收購藍灣軟件。", None, "星河科技還宣佈收購藍灣軟件。"),
        ("最具戏剧性的是对李明的挖角。", None, "对李明的挖角。"),
        ("它现在任命了一位新的首席执行官。", "星河科技", "星河科技现在任命了一位新的首席执行官。"),
        ("該公司今天宣佈裁員一成。", "星河科技", "星河科技今天宣佈裁員一成。"),
        ("它现在任命了王芳为总裁。", "Northwind", "Northwind 现在任命了王芳为总裁。"),
        (
            "The company said it would buy Contoso for $2bn.",
            "Northwind",
            "Northwind said it would buy Contoso for $2bn.",
        ),
        (
            "It said it would buy Contoso for $2bn in cash. click",
            "Northwind",
            "Northwind said it would buy Contoso for $2bn in cash.",
        ),
        (
            "Its profit doubled to $40m, the company said.",
            "Northwind",
            "Northwind’s profit doubled to $40m, the company said.",
        ),
        (
            "Meanwhile, later this year, Northwind plans to open a plant.",
            None,
            "Later this year, Northwind plans to open a plant.",
        ),
        (
            "BEIJING, June 3 (Reuters) - Northwind agreed to buy Contoso.",
            None,
            "Northwind agreed to buy Contoso.",
        ),
        ("IT之家 6 月 3 日消息，星河科技宣布完成融资。", None, "星河科技宣布完成融资。"),
        ("IT之家 6 月 3 日訊息 據外媒報道，星河科技宣佈完成融資。", None, "星河科技宣佈完成融資。"),
        (
            "Read more Tech newsNorthwind buys Contoso for $2bn.",
            None,
            "Northwind buys Contoso for $2bn.",
        ),
        ("星河科技宣布收购蓝湾软件。阅读原文", None, "星河科技宣布收购蓝湾软件。"),
    ],
)
def test_leading_anaphora_connectors_and_link_text(
    sentence: str, company: str | None, summary: str
) -> None:
    assert event_summary(sentence, 0, "", company) == summary


@pytest.mark.parametrize(
    "summary",
    ["此次合作将持续五年。", "这家初创公司推出了新产品。", "This is the largest deal.",
     "The deal values Contoso at $2bn.", "它现在任命了新总裁。", "你敢信吗?他们全是名校毕业",
     "The company said it would buy Contoso."],
)  # fmt: skip
def test_what_does_not_stand_alone(summary: str) -> None:
    assert not stands_alone(summary)


def test_a_chinese_cut_never_falls_inside_a_quote() -> None:
    sentence = (
        "星河科技董事长王芳在发布会上表示：“我们将在未来三年内投入五十亿元，用于芯片、机器人和"
        "自动驾驶的研发，并在苏州、成都和西安建设新的研发中心”，公司股价随即上涨了百分之八。"
    )
    summary = event_summary(sentence, sentence.index("上涨"), "zh-Hans")
    assert len(summary) <= MAX_HAN
    assert summary.count("“") == summary.count("”")  # a quote is whole or absent


def test_an_english_cut_never_falls_inside_a_quote() -> None:
    sentence = (
        'Northwind agreed to buy Contoso, and its chief executive said the deal was "the '
        'best chance we have had in a decade to grow in Asia", according to a filing on Monday.'
    )
    summary = event_summary(sentence, 10, "en")
    assert len(summary.removesuffix("…").split()) <= MAX_WORDS + 8
    assert summary.count('"') % 2 == 0


def test_a_trimmed_sentence_is_marked_not_spliced_onto_the_next() -> None:
    """A first sentence cut after a bracket ('（Xiaohua Zhai）') did not end: the next one must
    not follow as if it did."""
    first = (
        "星河科技从蓝湾软件挖走三位顶尖研究员——王芳（Fang Wang）、李明（Ming Li）和赵强（Qiang "
        "Zhao），以加强其“超级智能”（superintelligence）项目，这三位研究员此前在蓝湾软件位于"
        "苏州的实验室工作，并在那里领导了多个视觉模型的训练和开源发布工作。"
    )
    text = f"{first}\n\n这三位研究员此前共事多年。\n\n星河科技的股价随后上涨。"
    article = Article("a.txt", "星河科技挖人", text, "zh-Hans", WHEN, "text", "a")
    summary = article_summary(split_article(article, PACK.boilerplate), "zh-Hans")
    assert "）这三位" not in summary
    assert "…" in summary


def test_the_article_summary_opens_with_a_sentence_that_stands_alone() -> None:
    text = (
        "然而，星河科技今天宣布以十亿元收购蓝湾软件，这是公司成立以来最大的一笔交易。\n\n"
        "该交易预计将在年底前完成，需要获得监管部门的批准。"
    )
    article = Article("a.txt", "星河科技收购蓝湾软件", text, "zh-Hans", WHEN, "text", "a")
    summary = article_summary(split_article(article, PACK.boilerplate), "zh-Hans")
    assert summary.startswith("星河科技今天宣布")

    text = "This is the biggest deal of the year for the group.\n\n" + (
        "Northwind Traders agreed to buy Contoso Robotics for $2.4 billion in cash on Monday."
    )
    article = Article("b.txt", "A big deal", text, "en", WHEN, "text", "b")
    summary = article_summary(split_article(article, PACK.boilerplate), "en")
    assert summary.startswith("Northwind Traders agreed")


def test_a_clickbait_title_is_not_the_events_summary() -> None:
    text = (
        "---\ntitle: 你敢信吗？微软竟然花了 10 亿美元收购这家小公司\ndate: 2025-06-21\n---\n\n"
        "微软周五宣布，以 10 亿美元收购游戏公司蓝湾软件，交易预计年内完成。\n"
    )
    article = parse_article(text.encode(), "post.md", WHEN, UTC)
    events = extract(article, PACK).events
    assert events
    assert all(stands_alone(e.summary) for e in events)
    assert not events[0].summary.startswith("你敢信")


def test_an_event_summary_names_the_company_a_pronoun_stands_for() -> None:
    text = (
        "---\ntitle: 微软任命新总裁\ndate: 2025-06-21\n---\n\n"
        "微软今年进行了大规模重组。\n\n"
        "在宣布裁员一周后，它现在任命了一位新的总裁：王芳，从谷歌挖走了她。\n"
    )
    article = parse_article(text.encode(), "post.md", WHEN, UTC)
    summaries = [e.summary for e in extract(article, PACK).events if e.type == "talent_move"]
    assert summaries
    assert all(not s.startswith("它") for s in summaries)
