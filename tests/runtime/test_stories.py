"""One happening reported by several articles is one story: linked, and alerted once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import make_pipeline

from bot.core.model import Amount, Article, Event, Extraction
from bot.core.stories import Linker, StoryKey, same_story
from bot.core.text import to_traditional
from bot.store import Store

BONUS = Amount(1e8, "USD", 1e8, "1亿美元")


def key(type_: str, actors: set[str], usd: float | None, day: date | None) -> StoryKey:
    return StoryKey(type_, frozenset(actors), usd, day)


def test_same_sum_and_a_shared_actor_is_one_story() -> None:
    a = key("compensation", {"Sam Altman", "Meta", "OpenAI"}, 1e8, date(2025, 6, 17))
    b = key("compensation", {"Mark Zuckerberg", "Meta"}, 1.02e8, None)
    assert same_story(a, b)


@pytest.mark.parametrize(
    ("b", "why"),
    [
        (key("talent_move", {"Meta", "OpenAI"}, 1e8, date(2025, 6, 20)), "another type"),
        (key("compensation", {"Meta"}, 5e7, date(2025, 6, 20)), "another sum"),
        (key("compensation", {"Apple"}, 1e8, date(2025, 6, 20)), "no shared actor"),
        (key("compensation", {"Meta", "OpenAI"}, 1e8, date(2025, 12, 1)), "months apart"),
    ],
)
def test_different_happenings_stay_apart(b: StoryKey, why: str) -> None:
    a = key("compensation", {"Meta", "OpenAI", "Sam Altman"}, 1e8, date(2025, 6, 17))
    assert not same_story(a, b), why


def test_without_a_sum_one_shared_actor_is_not_enough() -> None:
    day = date(2025, 6, 1)
    assert not same_story(
        key("product_launch", {"Meta"}, None, day), key("product_launch", {"Meta"}, None, day)
    )
    assert same_story(
        key("acquisition", {"Microsoft", "Skype"}, None, day),
        key("acquisition", {"Microsoft", "Skype", "FTC"}, 8.5e9, day),
    )


def test_linker_gives_later_reports_the_first_story_id() -> None:
    linker = Linker()
    first = linker.assign("a#1", key("compensation", {"Meta", "OpenAI"}, 1e8, None))
    other = linker.assign("b#1", key("acquisition", {"Meta", "Scale AI"}, 1.43e10, None))
    again = linker.assign("c#1", key("compensation", {"Meta"}, 1e8, None))
    assert again == first != other and first.startswith("story-")


def article(path: str, title: str) -> Article:
    return Article(path, title, "text", "zh-Hans", datetime(2025, 6, 21, tzinfo=UTC), "text", path)


def test_store_links_later_reports_to_the_first(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    now = datetime(2025, 6, 21, tzinfo=UTC)
    first = Event("compensation", ("Sam Altman", "Meta", "OpenAI"), "s", "e", amount=BONUS)
    second = Event("compensation", ("Mark Zuckerberg", "Meta"), "s", "e", amount=BONUS)

    def save(path: str, event: Event, targets: list[tuple[int, int | None]]):  # type: ignore[no-untyped-def]
        return store.save_article(
            article(path, path), Extraction("", (event,)), "https://x.org/" + path,
            size=1, mtime_ns=1, content_hash=path, now=now, targets={event.key: targets},
        )  # fmt: skip

    one = save("a.md", first, [(1, None)])
    two = save("b.md", second, [(1, None), (2, None)])
    [a], [b] = one.new_events, two.new_events
    assert a.first_report and not b.first_report
    assert a.story_id == b.story_id
    assert two.queued == 2  # chat 1's row becomes an "also reported by" edit when delivered
    later = [d for d in store.due_deliveries(now) if d.article.uid == two.article.uid]
    assert sorted(d.chat_id for d in later) == [1, 2]
    assert all(e.story_id == a.story_id for d in later for e in d.events)
    reloaded = {e.uid: e for art in store.published_articles() for e in art.events}
    assert reloaded[b.uid].story_id == a.story_id and not reloaded[b.uid].first_report
    assert reloaded[a.uid].first_report


def test_store_sees_stories_another_process_opened_between_its_saves(tmp_path: Path) -> None:
    """The newest events of a type are kept between a store's transactions (a large scan
    stores batch after batch): an event another process stored meanwhile must still count."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    ours, theirs = Store(url), Store(url)
    now = datetime(2025, 6, 21, tzinfo=UTC)

    def save(store: Store, path: str, event: Event) -> str | None:
        result = store.save_article(
            article(path, path), Extraction("", (event,)), "https://x.org/" + path,
            size=1, mtime_ns=1, content_hash=path, now=now, targets={},
        )  # fmt: skip
        [stored] = result.new_events
        return stored.story_id

    meta = save(ours, "a.md", Event("compensation", ("Meta", "OpenAI"), "s", "e", amount=BONUS))
    apple_amount = Amount(5e7, "USD", 5e7, "5000万美元")
    apple = save(theirs, "b.md", Event("compensation", ("Apple",), "s", "e", amount=apple_amount))
    again = save(
        ours, "c.md", Event("compensation", ("Apple", "Google"), "s", "e", amount=apple_amount)
    )
    assert again == apple != meta
    ours.close()
    theirs.close()


TWITTER = """---
title: 推特任命谷歌前高管柯德斯塔尼为执行董事长
date: 2015-10-14 09:00:00 +0800
---
推特周三宣布任命谷歌前首席商务官奥米德·柯德斯塔尼为执行董事长，杰克·多西继续担任首席执行官。

消息公布后，推特股价在盘后交易中大跌3%。
"""
TAIJI = """---
title: 太极实业子公司中标晶圆制造项目
date: 2020-11-20 09:00:00 +0800
---
太极实业公告称，公司中标晶圆制造项目，合同金额242.67亿元。
"""


@pytest.mark.parametrize("text", [TWITTER, TAIJI], ids=["one-actor-market-move", "unaliased-actor"])
def test_a_traditional_twin_reports_the_same_stories(tmp_path: Path, text: str) -> None:
    """The article in the other script is one more report of each of its events: a market
    move with a single actor and no sum, and an event whose actor no alias names, included."""
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / "post.md").write_text(text, encoding="utf-8")
    (folder / "post.zh-Hant.md").write_text(to_traditional(text), encoding="utf-8")
    pipeline = make_pipeline(tmp_path, folder)
    pipeline.scan()
    by_path = {a.article.path: a.events for a in pipeline.store.published_articles()}
    original, twin = by_path["post.md"], by_path["post.zh-Hant.md"]
    assert original and len(twin) == len(original)
    assert all(e.first_report for e in original)
    for event in twin:
        assert not event.first_report, event.event
        assert event.story_id in {e.story_id for e in original if e.event.type == event.event.type}
    pipeline.store.close()


def test_names_and_sentences_fold_scripts_and_case() -> None:
    day = date(2020, 11, 20)
    amount = Amount(3.4e9, "USD", 3.4e9, "242.67亿元")
    simplified = Event("other", ("太极实业",), "s", "太极实业公告称。", amount=amount)
    traditional = Event("other", ("太極實業",), "s", "太極實業中標。", amount=amount)  # not a twin
    assert same_story(StoryKey.of(simplified, day), StoryKey.of(traditional, day))
    launch = Event("product_launch", ("Meta",), "s", "Meta launched it.")
    other = Event("product_launch", ("Meta",), "s", "Meta launched another thing.")
    assert not same_story(StoryKey.of(launch, day), StoryKey.of(other, day))  # as before
