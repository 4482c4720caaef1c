"""The lexicon scan: text without Chinese goes through the small automaton of Latin entries,
and finds exactly what the full one finds."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.cli.rulefiles import default_documents
from bot.core.model import Article
from bot.extract import extract, load_rule_pack

ENGLISH = "microsoft agreed to acquire activision blizzard, openai's rival, for $69bn"


def test_latin_text_finds_what_the_full_automaton_finds() -> None:
    pack = load_rule_pack(*default_documents())
    alone = pack.scan(ENGLISH, ENGLISH)
    # A Chinese line in the same text goes through the full automaton, the others do not.
    mixed = f"{ENGLISH}\n微软收购动视暴雪"
    both = pack.scan(mixed, mixed, [0, len(ENGLISH) + 1])
    assert alone[0] and alone[0] == both[0]
    assert {h.term.value for h in both[1]} >= {"acquisition", "Microsoft"}


def test_a_pack_without_latin_entries_scans_english_text() -> None:
    pack = load_rule_pack({"types": {"funding": {"triggers": ["融资"]}}}, {}, {"usd": {"USD": 1}})
    assert pack.scan("a funding round", "a funding round") == [[]]
    assert [h.term.value for h in pack.scan("完成融资", "完成融资")[0]] == ["funding"]
    published = datetime(2025, 6, 1, tzinfo=UTC)
    article = Article(
        "a.txt", "Acme raises money", "Acme raised $5m.", "en", published, "text", "a"
    )
    assert extract(article, pack).events == ()
