"""A scan tick and a delivery pass over a real folder, a real SQLite file and a fake Telegram."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from conftest import make_pipeline
from fakebot import FakeBotApi
from telegram import Bot

from bot.pipeline import Pipeline
from bot.sender import Sender

SAMPLES = Path(__file__).resolve().parent.parent / "examples" / "articles"
FIRST, SECOND = "000_4fbda6de1bb3b082.txt", "003_5530165580ebcf3e.txt"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    posts = tmp_path / "posts"
    posts.mkdir()
    return posts


@pytest.fixture
def pipeline(tmp_path: Path, folder: Path) -> Pipeline:
    return make_pipeline(tmp_path, folder)


def test_scan_processes_new_files_once_and_records_bad_ones(
    pipeline: Pipeline, folder: Path
) -> None:
    shutil.copy(SAMPLES / FIRST, folder / FIRST)
    (folder / "sub").mkdir()
    shutil.copy(SAMPLES / SECOND, folder / "sub" / SECOND)
    (folder / "broken.md").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (folder / ".hidden.md").write_text("---\ntitle: hidden\n---\nbody", encoding="utf-8")
    (folder / "draft.md~").write_text("editor backup", encoding="utf-8")

    report = pipeline.scan()
    assert (report.seen, report.new, report.failed) == (3, 2, 1)
    assert report.events >= 3
    states = pipeline.store.file_states()
    assert states["broken.md"].status == "error"
    assert {p for p, s in states.items() if s.status == "ok"} == {FIRST, f"sub/{SECOND}"}

    again = pipeline.scan()  # nothing changed: nothing read, nothing new
    assert (again.new, again.changed, again.failed, again.events) == (0, 0, 0, 0)


def test_feeds_follow_edits_and_deletions(pipeline: Pipeline, folder: Path) -> None:
    target = folder / FIRST
    shutil.copy(SAMPLES / FIRST, target)
    pipeline.scan()
    assert pipeline.write_feeds() >= 6  # every feed in three formats, stylesheet, OPML, icon
    assert pipeline.write_feeds() == 0  # unchanged input: byte-identical, not rewritten
    atom = pipeline.feeds_folder / "articles.atom"
    entry_id = feedparser.parse(atom.read_bytes()).entries[0].id

    text = target.read_text(encoding="utf-8").replace(
        "title: 扎格伯格巨资", "title: 更新：扎格伯格巨资"
    )
    target.write_text(text, encoding="utf-8")
    os.utime(target, ns=(1, 2))  # a different mtime, whatever the clock's resolution
    report = pipeline.scan()
    assert (report.changed, report.events) == (1, 0)  # same events: nobody alerted again
    pipeline.write_feeds()
    [entry] = feedparser.parse(atom.read_bytes()).entries
    assert entry.id == entry_id and entry.title.startswith("更新：")

    target.unlink()
    assert pipeline.scan().deleted == 1
    pipeline.write_feeds()
    assert feedparser.parse(atom.read_bytes()).entries == []


async def test_delivery_sends_each_new_event_once(
    pipeline: Pipeline, folder: Path, fake_bot: FakeBotApi
) -> None:
    pipeline.store.add_subscription(1, None, "")
    pipeline.store.add_subscription(2, None, "compensation")
    pipeline.store.add_subscription(3, None, "acquisition")
    shutil.copy(SAMPLES / FIRST, folder / FIRST)
    report = pipeline.scan()
    assert report.queued >= 2

    async with Bot("123:TEST", base_url=fake_bot.base_url) as bot:
        sender = Sender(bot)
        first = await pipeline.deliver(sender)
        second = await pipeline.deliver(sender)
    assert first.sent == 2 and second.sent == 0
    [everything] = fake_bot.sent(1)
    [bonus] = fake_bot.sent(2)
    assert fake_bot.sent(3) == []
    assert "OpenAI" in everything.text
    assert "100" in bonus.text  # the amount
    assert pipeline.store.outbox_counts() == {"sent": report.queued}


async def test_a_failing_chat_does_not_block_the_others(
    pipeline: Pipeline, folder: Path, fake_bot: FakeBotApi
) -> None:
    for chat in (10, 11, 12):
        pipeline.store.add_subscription(chat, None, "")
    shutil.copy(SAMPLES / FIRST, folder / FIRST)
    pipeline.scan()
    fake_bot.fail_next("sendMessage", chat_id=10, kind="blocked")
    fake_bot.fail_next("sendMessage", chat_id=11, kind="retry_after", retry_after=30)
    async with Bot("123:TEST", base_url=fake_bot.base_url) as bot:
        report = await pipeline.deliver(Sender(bot))
    assert report.sent == 1 and len(fake_bot.sent(12)) == 1
    counts = pipeline.store.outbox_counts()
    assert counts.get("gone", 0) >= 1 and counts.get("pending", 0) >= 1
    assert [s.chat_id for s in pipeline.store.active_subscriptions()] == [11, 12]
    due = pipeline.store.next_due()
    assert due is not None and due > datetime.now(UTC)


def test_two_articles_of_one_story_are_one_events_feed_entry(
    pipeline: Pipeline, folder: Path
) -> None:
    """Both samples report Meta's $100M signing bonuses: one entry, 'also reported by' the other."""
    shutil.copy(SAMPLES / FIRST, folder / FIRST)
    shutil.copy(SAMPLES / SECOND, folder / SECOND)
    pipeline.scan()
    pipeline.write_feeds()
    entries = feedparser.parse((pipeline.feeds_folder / "events.atom").read_bytes()).entries
    bonuses = [e for e in entries if e.title.startswith("[薪酬]") and "1亿" in e.content[0].value]
    assert len(bonuses) == 1, [e.title for e in bonuses]
    assert "Also reported by" in bonuses[0].content[0].value
    articles = pipeline.store.published_articles()
    stories = {
        e.story_id
        for a in articles
        for e in a.events
        if e.event.type == "compensation" and e.event.amount and e.event.amount.usd == 1e8
    }
    assert len(stories) == 1


def test_a_repeated_passage_stores_one_event_and_blocks_no_other_file(
    pipeline: Pipeline, folder: Path
) -> None:
    text = (SAMPLES / FIRST).read_text(encoding="utf-8")
    head, _, body = text.partition("\n---\n")
    (folder / "a-doubled.md").write_text(f"{head}\n---\n{body}\n\n{body}", encoding="utf-8")
    shutil.copy(SAMPLES / SECOND, folder / "b-other.txt")
    report = pipeline.scan()
    assert (report.new, report.failed) == (2, 0)
    [doubled] = [a for a in pipeline.store.published_articles() if a.article.path == "a-doubled.md"]
    keys = [e.event.key for e in doubled.events]
    assert keys and len(keys) == len(set(keys))
