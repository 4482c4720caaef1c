"""Articles to the store's JSON and back."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.codec import article_from_dict, article_to_dict
from bot.core.model import Article

ARTICLE = Article(
    path="2026/a.md",
    title="T",
    text="Body.",
    lang="en",
    published=datetime(2026, 1, 2, tzinfo=UTC),
    format="jekyll",
    slug="a",
    categories=("x",),
    description="The deck.",
)


def test_an_article_round_trips() -> None:
    assert article_from_dict(article_to_dict(ARTICLE)) == ARTICLE


def test_a_row_stored_before_the_deck_reads_as_none() -> None:
    data = article_to_dict(ARTICLE)
    del data["description"]
    assert article_from_dict(data).description is None
