"""Event messages and article lists: escaped, linked safely, short, valid Telegram HTML."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.fakebot import parse_telegram_html

from bot.core.messages import (
    MAX_MESSAGE_LENGTH,
    format_usd,
    html_to_plain,
    render_article_list,
    render_event_message,
)
from bot.core.model import Amount, Article, Event, StoredArticle, StoredEvent

NOW = datetime(2025, 6, 12, 9, 0, tzinfo=UTC)
DEAL = Event(
    "acquisition",
    ("Meta", "Scale AI"),
    "Meta buys 49% of Scale AI.",
    "…",
    amount=Amount(1.43e10, "CNY", 1.99e9, "143亿美元"),
    date="2025-06-12",
)
HIRE = Event("talent_move", ("Alexandr Wang",), "Wang joins Meta.", "…")


def stored(
    *events: Event,
    title: str = "Meta buys into Scale AI",
    url: str = "https://blog.example.org/a.html",
    categories: tuple[str, ...] = ("AI", "Big Tech"),
) -> tuple[StoredArticle, list[StoredEvent]]:
    article = Article("a.md", title, "text", "en", NOW, "jekyll", "a", categories=categories)
    found = [StoredEvent(i, f"u.{i}", 1, e, NOW) for i, e in enumerate(events, 1)]
    return StoredArticle(1, "u", article, "summary", url, NOW, NOW, tuple(found)), found


def assert_valid(text: str) -> None:
    problem, _ = parse_telegram_html(text)
    assert problem is None, problem
    assert len(text.encode("utf-16-le")) // 2 <= MAX_MESSAGE_LENGTH


def test_event_message_has_badge_summary_actors_amount_date_link_and_tags() -> None:
    article, events = stored(DEAL)

    text = render_event_message(article, events)

    assert text == (
        "🤝 <b>Acquisition</b> · Meta, Scale AI\n"
        "Meta buys 49% of Scale AI.\n"
        "💲 143亿美元 (≈ $1.99B) · 📅 2025-06-12\n"
        "\n"
        '<a href="https://blog.example.org/a.html">Meta buys into Scale AI</a>\n'
        "#acquisition #AI #Big_Tech"
    )
    assert_valid(text)


def test_several_events_share_one_message() -> None:
    article, events = stored(DEAL, HIRE)

    text = render_event_message(article, events)

    assert text.count("<a href=") == 1
    assert "🧑‍💼 <b>Talent move</b> · Alexandr Wang\nWang joins Meta." in text
    assert text.endswith("#acquisition #talent_move #AI #Big_Tech")


def test_article_text_is_escaped_and_only_web_links_are_links() -> None:
    evil = Event("other", ("<b>Evil</b> & co",), 'Says <a href="javascript:x">hi</a>', "…")
    article, events = stored(
        evil, title='<a href="javascript:alert(1)">x</a>', url="javascript:alert(1)"
    )

    text = render_event_message(article, events)

    assert "javascript:alert(1)</a>" not in text
    assert '<a href="javascript' not in text
    assert "&lt;b&gt;Evil&lt;/b&gt; &amp; co" in text
    assert '<b>&lt;a href="javascript:alert(1)"&gt;x&lt;/a&gt;</b>' in text
    assert_valid(text)


def test_url_is_escaped_inside_the_attribute() -> None:
    article, events = stored(DEAL, url='https://example.org/a?x=1&y="2"')

    assert '<a href="https://example.org/a?x=1&amp;y=&quot;2&quot;">' in render_event_message(
        article, events
    )


def test_dollar_amounts_are_not_repeated_but_always_shown_in_dollars() -> None:
    paid = Event("funding", ("OpenAI",), "Raised.", "…", amount=Amount(4e10, "USD", 4e10, "$40B"))
    bonus = Event(
        "compensation", ("Meta",), "Paid.", "…", amount=Amount(1e8, "USD", 1e8, "1亿美元")
    )
    unknown = Event("funding", ("X",), "Raised.", "…", amount=Amount(5e6, "XYZ", None, "5m XYZ"))
    article, events = stored(paid, bonus, unknown)

    text = render_event_message(article, events)

    assert "💲 $40B\n" in text
    assert "💲 1亿美元 ($100M)\n" in text
    assert "💲 5m XYZ" in text


def test_long_and_many_events_are_clipped_to_a_valid_message() -> None:
    many = [
        Event("funding", tuple(f"Actor & {n}" for n in range(9)), "&<>" * 900 + "end", "…")
        for _ in range(30)
    ]
    article, events = stored(*many, title="T&" * 400, categories=tuple(f"c{n}" for n in range(50)))

    text = render_event_message(article, events)

    assert_valid(text)
    assert "<i>+25 more events</i>" in text
    assert "…" in text and "end" not in text
    assert "+5" in text  # actors beyond the fourth are counted, not listed


def test_emoji_count_double_toward_the_limit() -> None:
    many = [Event("funding", ("🚀" * 80,) * 4, "🚀" * 3000, "…") for _ in range(5)]
    article, events = stored(*many, title="🚀" * 300)

    assert_valid(render_event_message(article, events))


@settings(max_examples=150, deadline=None)
@given(
    title=st.text(max_size=300),
    summaries=st.lists(st.text(max_size=3000), min_size=1, max_size=8),
    actors=st.lists(st.text(max_size=80), max_size=6),
    category=st.text(max_size=50),
)
def test_any_text_renders_valid_html(
    title: str, summaries: list[str], actors: list[str], category: str
) -> None:
    found = [Event("other", tuple(actors), s, "…", date="2025-06") for s in summaries]
    article, events = stored(*found, title=title, categories=(category,))

    assert_valid(render_event_message(article, events))
    assert_valid(render_article_list([article] * 30))


def test_article_list_numbers_links_and_dates() -> None:
    first, _ = stored(DEAL, HIRE)
    second, _ = stored(title="No events here", url="ftp://example.org/x")

    text = render_article_list([first, second])

    assert text == (
        '1. <a href="https://blog.example.org/a.html">Meta buys into Scale AI</a> — 2025-06-12\n'
        "🤝 <b>Acquisition</b> · Meta, Scale AI · 💲 143亿美元 (≈ $1.99B)\n"
        "🧑‍💼 <b>Talent move</b> · Alexandr Wang\n"
        "\n"
        "2. <b>No events here</b> — 2025-06-12"
    )
    undated = replace(second, article=replace(second.article, undated=True))
    assert render_article_list([undated]) == "1. <b>No events here</b>"  # no file time shown
    assert render_article_list([]) == "No articles yet."
    assert render_article_list([], "zh-Hant") == "還沒有文章。"
    many, _ = stored(DEAL, HIRE, DEAL, HIRE, DEAL)
    assert render_article_list([many], "zh-Hans").endswith(
        "🤝 <b>收购</b> · Meta, Scale AI · 💲 143亿美元 (≈ $1.99B)\n<i>另有 2 个事件</i>"
    )


def test_long_article_list_stays_under_the_limit() -> None:
    article, _ = stored(DEAL, title="x" * 500)

    text = render_article_list([article] * 100)

    assert_valid(text)
    assert text.count("\n\n") < 99


@pytest.mark.parametrize(
    ("usd", "shown"),
    [
        (100e6, "$100M"),
        (1.25e9, "$1.25B"),
        (1.99e9, "$1.99B"),
        (14.3e9, "$14.3B"),
        (2e12, "$2T"),
        (12_500, "$12.5K"),
        (950, "$950"),
        (123.4e6, "$123M"),
    ],
)
def test_format_usd(usd: float, shown: str) -> None:
    assert format_usd(usd) == shown


def test_html_to_plain_keeps_link_targets_and_unescapes() -> None:
    text = '🤝 <b>Deal</b> &amp; more\n<a href="https://x.org/?a=1&amp;b=2">T &lt;1&gt;</a>'

    assert html_to_plain(text) == "🤝 Deal & more\nT <1> (https://x.org/?a=1&b=2)"
