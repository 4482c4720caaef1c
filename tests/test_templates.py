"""What a chat sees: templates, languages and scripts, splitting, quiet hours and digest times."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakebot import parse_telegram_html

from bot.core.i18n import TEXTS, language_from_code, parse_language
from bot.core.messages import split_html, units
from bot.core.model import Amount, Article, Event, StoredArticle, StoredEvent
from bot.core.modes import ChatSettings, ModeError, parse_quiet, quiet_until
from bot.core.templates import TemplateError, check_template, fill, render_alert, render_digest
from bot.telegram.delivery import digest_due, next_digest

NOW = datetime(2025, 6, 12, 8, 0, tzinfo=UTC)
ARTICLE = StoredArticle(
    1,
    "u1",
    Article(
        "a.md", "微软收购动视暴雪 <全>", "…", "zh-Hans", NOW, "jekyll", "a", categories=("科技",)
    ),
    "微软完成收购。",
    "https://blog.example.org/a.html",
    NOW,
    NOW,
)
DEAL = Event(
    "acquisition",
    ("Microsoft", "Activision"),
    "微软以690亿美元收购动视暴雪。",
    "…",
    amount=Amount(6.9e10, "USD", 6.9e10, "690亿美元"),
)
PLAIN = Event("partnership", ("A", "B"), "A and B team up.", "…")


def stored(*events: Event) -> tuple[StoredEvent, ...]:
    return tuple(StoredEvent(i, f"e{i}", 1, e, NOW) for i, e in enumerate(events))


def test_default_alert_in_traditional_chinese_converts_the_script() -> None:
    text = render_alert(ARTICLE, stored(DEAL), ChatSettings(language="zh-Hant"))

    assert "🤝 <b>收購</b>" in text
    assert "微軟以690億美元收購動視暴雪" in text
    assert '<a href="https://blog.example.org/a.html">微軟收購動視暴雪 &lt;全&gt;</a>' in text
    assert parse_telegram_html(text)[0] is None


def test_every_chinese_word_of_an_alert_follows_the_chats_script() -> None:
    """Actors, the amount as written and the hashtags too, in the alert and the digest;
    a simplified chat gets traditional articles simplified."""
    hire = Event(
        "talent_move", ("腾讯", "张小龙"), "腾讯聘请张小龙。", "…",
        amount=Amount(7.5e6, "USD", 7.5e6, "750万美元"),
    )  # fmt: skip
    hant = ChatSettings(language="zh-Hant")
    for text in (
        render_alert(ARTICLE, stored(hire), hant),
        render_digest([(ARTICLE, stored(hire))], hant),
        render_alert(ARTICLE, stored(hire), replace(hant, template="{actors} {amount}")),
    ):
        assert "騰訊" in text and "750萬美元" in text, text
        assert "腾讯" not in text and "万" not in text, text
    alert = render_alert(ARTICLE, stored(hire), hant)
    assert "騰訊, 張小龍" in alert and "#科技" in alert

    traditional = Event(
        "funding", ("騰訊",), "騰訊融資。", "…", amount=Amount(1e8, "USD", 1e8, "1億美元")
    )
    simplified = render_alert(ARTICLE, stored(traditional), ChatSettings(language="zh-Hans"))
    assert "腾讯" in simplified and "1亿美元" in simplified


def test_template_fills_placeholders_escapes_and_drops_empty_lines() -> None:
    template = "{badge} <{type}>\n{summary}\n💲 {amount}\n📅 {date}\n{title} {{literal}}"

    text = fill(check_template(template), ARTICLE, PLAIN, stored(PLAIN))

    assert text.splitlines() == [
        "🔗 <b>Partnership</b> &lt;partnership&gt;",
        "A and B team up.",
        '<a href="https://blog.example.org/a.html">微软收购动视暴雪 &lt;全&gt;</a> {literal}',
    ]  # no amount, no date: those lines are gone
    assert parse_telegram_html(text)[0] is None


def test_a_block_over_the_limit_is_cut_not_escaped_twice() -> None:
    """Issue 15: the cut block went through `clip`, which escaped it again (&amp;amp;)."""
    template = check_template("R&D <{type}> " * 15 + "{title} & " * 70)  # 905 characters

    text = fill(template, ARTICLE, PLAIN, stored(PLAIN))

    assert units(text) <= 4096 and text.endswith("…")
    assert "&amp;amp;" not in text and "&amp;lt;" not in text
    assert text.startswith("R&amp;D &lt;partnership&gt; R&amp;D")
    assert parse_telegram_html(text)[0] is None  # valid HTML: tags closed, no entity cut


def test_template_per_event_blocks_for_one_article() -> None:
    settings = ChatSettings(template="{badge}: {actors}")
    text = render_alert(ARTICLE, stored(DEAL, PLAIN), settings)
    assert text == "🤝 <b>Acquisition</b>: Microsoft, Activision\n\n🔗 <b>Partnership</b>: A, B"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{price}", "Unknown placeholder {price}"),
        ("{summary", "brace is not closed"),
        ("", "empty"),
    ],
)
def test_bad_templates_are_refused(template: str, problem: str) -> None:
    with pytest.raises(TemplateError, match=problem):
        check_template(template)


def test_split_keeps_every_part_valid_and_under_the_limit() -> None:
    paragraph = "<b>Deal</b> &amp; " + "word " * 60
    text = "\n\n".join([paragraph] * 30) + "\n\n<i>" + "x" * 9000 + "</i>"

    parts = split_html(text, 1000)

    assert all(units(p) <= 1000 and parse_telegram_html(p)[0] is None for p in parts)
    paragraphs = parts[0].split("\n\n")
    assert paragraphs == [paragraph] * len(paragraphs)  # cut at a paragraph boundary
    assert all(not p.startswith("\n") for p in parts)
    assert "".join(parse_telegram_html(p)[1] for p in parts).count("x") == 9000
    assert split_html("short") == ["short"]


def test_quiet_hours_across_midnight_in_the_chat_zone() -> None:
    settings = ChatSettings(quiet=parse_quiet("22:00-07:00"), timezone="Asia/Shanghai")
    evening = datetime(2025, 6, 12, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    assert quiet_until(settings, evening) == datetime(2025, 6, 12, 23, 0, tzinfo=UTC)
    assert quiet_until(settings, datetime(2025, 6, 12, 22, 0, tzinfo=UTC)) is not None
    assert quiet_until(settings, datetime(2025, 6, 12, 23, 0, tzinfo=UTC)) is None  # 07:00
    assert quiet_until(ChatSettings(), evening) is None
    assert parse_quiet("off") == ""
    with pytest.raises(ModeError):
        parse_quiet("22:00")


def test_digest_times_follow_the_cron_schedule_and_dst() -> None:
    berlin = ChatSettings(mode="digest", digest_at="08:30", timezone="Europe/Berlin")
    # The night DST starts (30 March 2025), 08:30 local moves from 07:30 to 06:30 UTC.
    assert next_digest(berlin, datetime(2025, 3, 29, 8, 0, tzinfo=UTC)) == datetime(
        2025, 3, 30, 6, 30, tzinfo=UTC
    )
    queued = datetime(2025, 3, 29, 7, 0, tzinfo=UTC)
    assert digest_due(berlin, datetime(2025, 3, 29, 7, 29, tzinfo=UTC), queued) is not None
    assert digest_due(berlin, datetime(2025, 3, 29, 7, 30, tzinfo=UTC), queued) is None


def test_languages() -> None:
    assert [language_from_code(c) for c in ("zh-TW", "zh-hk", "zh-Hant", "zh", "zh-CN", "de", None)] == [
        "zh-Hant", "zh-Hant", "zh-Hant", "zh-Hans", "zh-Hans", "en", "en",
    ]  # fmt: skip
    assert parse_language("繁體") == "zh-Hant" and parse_language("EN") == "en"
    assert parse_language("fr") is None
    for key, texts in TEXTS.items():
        assert set(texts) == {"en", "zh-Hans", "zh-Hant"}, key


def test_new_presentation_modules_stay_pure() -> None:
    forbidden = ("asyncio", "sqlalchemy", "telegram", "apscheduler", "os", "time", "bot.store")
    root = Path(__file__).resolve().parent.parent / "bot" / "core"
    for name in ("i18n.py", "templates.py", "modes.py", "alertroutes.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom | ast.Import):
                modules = (
                    [node.module]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                )
                for module in modules:
                    assert not any(
                        module == f or (module or "").startswith(f + ".") for f in forbidden
                    ), (name, module)
