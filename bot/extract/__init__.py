"""Headline-event extraction: Article → Extraction(summary, events).

Pure: the rules come in as parsed YAML documents (`load_rule_pack`), the article as data.
The shipped documents are read by `bot.cli.rulefiles.default_documents`.
"""

from __future__ import annotations

import dataclasses

from bot.core.model import Article, Extraction
from bot.extract.clusters import build_events
from bot.extract.rules import RulePack, RulePackError, load_rule_pack
from bot.extract.sentences import split_article
from bot.extract.summary import article_summary

__all__ = ["RulePack", "RulePackError", "analysed_part", "extract", "load_rule_pack"]


# Headline events are told early; a hostile file of 200,000 sentences must not cost minutes
# (clustering compares candidates pairwise).
MAX_SENTENCES = 1500


def extract(article: Article, pack: RulePack, max_chars: int | None = None) -> Extraction:
    """The article's 2–3 sentence summary and its headline events, most important first;
    of its first `max_chars` characters of text only, if given."""
    if max_chars is not None and len(article.text) > max_chars:
        article = dataclasses.replace(article, text=analysed_part(article.text, max_chars))
    article = _with_deck(article)
    prepared = split_article(article, pack.boilerplate)[:MAX_SENTENCES]
    return Extraction(
        summary=article_summary(prepared, article.lang),
        events=tuple(build_events(article, prepared, pack)),
    )


def _with_deck(article: Article) -> Article:
    """The front matter's description read as the article's first paragraph: the author's own
    summary of the news, often the only place a headline's figure is stated in full."""
    deck = article.description
    if not deck or deck in article.text or deck == article.title:
        return article
    return dataclasses.replace(article, text=f"{deck}\n\n{article.text}")


def analysed_part(text: str, max_chars: int) -> str:
    """The first `max_chars` characters of `text`, ending at a line break if one is in the
    second half of them: a sentence cut in two could tell half an event."""
    if len(text) <= max_chars:
        return text
    cut = text.rfind("\n", max_chars // 2, max_chars)
    return text[: cut if cut > 0 else max_chars]
