"""A scan tick and a delivery pass over a real folder, a real SQLite file and a fake Telegram."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
import sqlalchemy
from conftest import make_pipeline
from support.fakebot import FakeBotApi
from telegram import Bot

from bot.runtime.files import FolderEmpty
from bot.runtime.pipeline import Pipeline
from bot.telegram.delivery import Deliverer
from bot.telegram.sender import Sender

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "articles"
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
        sender, deliverer = Sender(bot), Deliverer(pipeline.store, pipeline.clock)
        first = await deliverer.deliver(sender)
        second = await deliverer.deliver(sender)
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
        report = await Deliverer(pipeline.store, pipeline.clock).deliver(Sender(bot))
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


def test_an_article_with_3000_categories_and_3000_tags_makes_capped_feeds(
    pipeline: Pipeline, folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each name makes a feed in three formats: 6,000 names made 18,000 files of ~190 KB
    (each listing all 6,000 terms). Kept: the first 50 of each, said once in the log."""
    categories = " ".join(f"c{i}" for i in range(3000))
    tags = ", ".join(f"t{i}" for i in range(2999)) + ", " + "x" * 5000
    (folder / "many.md").write_text(
        f"---\ntitle: Many names\ncategories: {categories}\ntags: [{tags}]\n---\n"
        "Orion Holdings agreed to acquire Quartz Systems for $12 million.\n",
        encoding="utf-8",
    )
    with caplog.at_level("WARNING", logger="bot.runtime.pipeline"):
        assert pipeline.scan().new == 1
    pipeline.write_feeds()
    feeds = pipeline.feeds_folder
    assert len(list((feeds / "category").iterdir())) == 50 * 3
    assert len(list((feeds / "tag").iterdir())) == 50 * 3
    [entry] = feedparser.parse((feeds / "articles.atom").read_bytes()).entries
    assert [t.term for t in entry.tags] == [f"c{i}" for i in range(50)] + [
        f"t{i}" for i in range(50)
    ]
    [stored] = pipeline.store.published_articles()
    assert len(stored.article.categories) == len(stored.article.tags) == 50
    [said] = [r.getMessage() for r in caplog.records if "names left out" in r.getMessage()]
    assert "path=many.md categories=3000 tags=3000 kept=50,50" in said


def test_an_article_deleted_and_restored_after_an_edit_keeps_its_id(
    pipeline: Pipeline, folder: Path
) -> None:
    """Restored (from a backup, a checkout) after an edit, it is the same article: the same
    entry id, not '…-2', and no alert calling it 'also reported by' itself."""
    pipeline.store.add_subscription(1, None, "")
    body = "Orion Holdings agreed to acquire Quartz Systems for $12 million in cash.\n"
    post = "---\ntitle: {}\ndate: 2025-03-01 09:00:00 +0000\n---\n" + body
    other = "---\ntitle: Another\n---\nNimbus AI raised $30 million led by Hazel Capital.\n"
    (folder / "other.md").write_text(other, encoding="utf-8")
    (folder / "deal.md").write_text(post.format("Orion buys Quartz"), encoding="utf-8")
    pipeline.scan()
    pipeline.write_feeds()
    atom = pipeline.feeds_folder / "articles.atom"
    ids = {e.title: e.id for e in feedparser.parse(atom.read_bytes()).entries}
    before = {s.article.path: s for s in pipeline.store.published_articles()}["deal.md"]
    queued = pipeline.store.outbox_counts()

    (folder / "deal.md").unlink()
    assert pipeline.scan().deleted == 1
    (folder / "deal.md").write_text(post.format("Orion buys Quartz (updated)"), encoding="utf-8")
    assert pipeline.scan().new == 1
    pipeline.write_feeds()

    after = {s.article.path: s for s in pipeline.store.published_articles()}["deal.md"]
    assert (after.uid, after.id, after.first_seen) == (before.uid, before.id, before.first_seen)
    assert [e.id for e in after.events] == [e.id for e in before.events]
    assert all(e.first_report for e in after.events)
    assert pipeline.store.outbox_counts() == queued  # nobody alerted again
    again = {e.title: e.id for e in feedparser.parse(atom.read_bytes()).entries}
    assert again["Orion buys Quartz (updated)"] == ids["Orion buys Quartz"]


def test_an_emptied_folder_removes_no_article_unless_allowed(
    tmp_path: Path, pipeline: Pipeline, folder: Path
) -> None:
    """An unmounted disk leaves an empty mount point: every article left the feeds. Now the
    scan stops with an error, full or the safety net's share by share, until the files are
    back or scan.allow_empty_folder says the folder is meant to be empty."""
    shutil.copy(SAMPLES / FIRST, folder / FIRST)
    (folder / "sub").mkdir()
    shutil.copy(SAMPLES / SECOND, folder / "sub" / SECOND)
    assert pipeline.scan().new == 2
    pipeline.rescan(parts=4)  # stamps the folders for the safety net's cheaper passes
    away = tmp_path / "away"
    folder.rename(away)
    folder.mkdir()  # the mount point, without the disk
    for scan in (
        pipeline.scan,
        lambda: pipeline.scan([FIRST]),  # the watcher
        *[lambda: pipeline.rescan(parts=4)] * 4,
        lambda: pipeline.rescan(full=True),
    ):
        with pytest.raises(FolderEmpty, match=r"is empty but 2 articles are known"):
            scan()
    assert len(pipeline.store.published_articles()) == 2

    shutil.rmtree(folder)
    away.rename(folder)  # the disk is back
    assert pipeline.scan().deleted == 0

    allowed = make_pipeline(tmp_path, folder, allow_empty_folder=True)
    shutil.rmtree(folder)
    folder.mkdir()
    assert allowed.scan().deleted == 2
    assert allowed.store.published_articles() == []


def test_an_undated_file_restored_on_another_day_keeps_its_id(
    tmp_path: Path, folder: Path, store_url: str
) -> None:
    """A plain-text file has no date but its mtime, which an edit moves: restored on another
    day it would get another uid. Its path says it is the same article; a deleted file that
    only ends with that path (another folder) is not it."""
    pipeline = make_pipeline(tmp_path, folder, url=store_url)
    pipeline.store.add_subscription(1, None, "")
    text = "Orion buys Quartz\n\nOrion Holdings agreed to acquire Quartz Systems for $12 million.\n"
    (folder / "notes").mkdir()
    for name in ("deal.txt", "notes/deal.txt"):
        (folder / name).write_text(text + name, encoding="utf-8")
        os.utime(folder / name, (1735689600, 1735689600))  # 2025-01-01
    (folder / "keep.txt").write_text("Another\n\nNimbus AI raised $30 million.\n", "utf-8")
    pipeline.scan()
    before = {s.article.path: s for s in pipeline.store.published_articles()}
    queued = pipeline.store.outbox_counts()

    (folder / "notes" / "deal.txt").unlink()
    (folder / "deal.txt").unlink()
    assert pipeline.scan().deleted == 2
    (folder / "deal.txt").write_text(text + "Edited.\n", encoding="utf-8")
    os.utime(folder / "deal.txt", (1738368000, 1738368000))  # 2025-02-01
    assert pipeline.scan().new == 1

    after = {s.article.path: s for s in pipeline.store.published_articles()}
    assert set(after) == {"deal.txt", "keep.txt"}
    assert (after["deal.txt"].uid, after["deal.txt"].id) == (
        before["deal.txt"].uid,
        before["deal.txt"].id,
    )
    assert after["deal.txt"].article.published.month == 2
    assert pipeline.store.outbox_counts() == queued  # nobody alerted again
    pipeline.store.close()


def test_a_restarts_first_scan_reads_the_story_candidates_before_any_new_article(
    tmp_path: Path, folder: Path
) -> None:
    """After a restart, the first article of a type does not wait for the recent events of
    its type to be read: the first scan read them (the repost joins its story all the same)."""
    shutil.copy(SAMPLES / FIRST, folder / FIRST)
    before = make_pipeline(tmp_path, folder)
    before.scan()
    before.store.close()
    after = make_pipeline(tmp_path, folder)  # the restart
    statements: list[str] = []
    try:
        after.scan()
        sqlalchemy.event.listen(
            after.store.engine, "before_cursor_execute", lambda *args: statements.append(args[2])
        )
        shutil.copy(SAMPLES / SECOND, folder / SECOND)
        assert after.scan({SECOND}).new == 1
        repost = {s.article.path: s for s in after.store.published_articles()}[SECOND]
    finally:
        after.store.close()
    assert not [s for s in statements if "events.article_id" in s and "events.id DESC" in s]
    assert repost.events
    assert not any(e.first_report for e in repost.events)  # the Jekyll post's stories
