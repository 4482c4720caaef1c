"""Incremental publishing: after every kind of change, the feeds folder the pipeline wrote from
its feed index (touching only what changed) equals a full render of the site from scratch."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import make_pipeline

from bot.runtime import publish
from bot.runtime.pipeline import Pipeline
from bot.runtime.publish import WHOLE_FEED
from bot.site.render import build_feeds, render_all
from bot.site.statics import static_documents

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "articles"
OURS = (".atom", ".rss", ".json", ".opml", ".xsl", ".png")

POST = """---
title: {title}
date: {date}
categories: [{category}]
tags: [{tag}]
---
{text}
"""
DEALS = {
    "msft": "Microsoft agreed to acquire GitHub for $7.5 billion in stock, the companies said.",
    "goog": "Google agreed to acquire Wiz for $32 billion in cash, the companies said.",
    "meta": "Meta invested $14.3 billion in Scale AI for a 49% stake, the companies said.",
    "nvda": "Nvidia agreed to acquire Run:ai for $700 million, the companies said.",
}


def _post(folder: Path, name: str, title: str, date: str, deal: str, tag: str = "AI") -> Path:
    path = folder / "_posts" / f"{date}-{name}.md"
    text = POST.format(title=title, date=date, category="News", tag=tag, text=DEALS[deal])
    path.write_text(text, encoding="utf-8")
    info = path.stat()  # a new mtime even within the file system's time granularity
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    return path


def _on_disk(feeds: Path) -> dict[str, bytes]:
    return {
        path.relative_to(feeds).as_posix(): path.read_bytes()
        for path in feeds.rglob("*")
        if path.is_file() and path.suffix in OURS
    }


def _from_scratch(pipeline: Pipeline) -> dict[str, bytes]:
    articles = pipeline.store.published_articles()
    site = pipeline.site
    types = pipeline.pack.event_types  # each has a feed, empty or not
    documents = render_all(site, articles, pipeline.max_entries, event_types=types)
    return documents | static_documents(site, build_feeds(site, articles, event_types=types))


def _same(pipeline: Pipeline) -> None:
    pipeline.scan()
    pipeline.publish_feeds()
    written, expected = _on_disk(pipeline.feeds_folder), _from_scratch(pipeline)
    assert sorted(written) == sorted(expected)
    different = [path for path in expected if written[path] != expected[path]]
    assert not different


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "posts" / "_posts").mkdir(parents=True)
    return tmp_path / "posts"


def test_every_change_publishes_what_a_full_render_would(
    tmp_path: Path, folder: Path, store_url: str
) -> None:
    pipeline = make_pipeline(tmp_path, folder, max_entries=2, url=store_url)
    try:
        for i, deal in enumerate(("msft", "goog", "meta", "nvda", "msft")):
            _post(folder, f"p{i}", f"Deal {i}", f"2025-06-{10 + i:02d}", deal, tag=f"t{i % 2}")
        _same(pipeline)
        # An older article: every archive page after it shifts.
        _post(folder, "old", "Old news", "2025-01-02", "goog", tag="Old")
        _same(pipeline)
        # A newer one: only the current pages and new archive pages change.
        _post(folder, "new", "New news", "2025-07-01", "nvda")
        _same(pipeline)
        # An edit in place: a new title in every feed the article is in.
        _post(folder, "p2", "Deal 2, updated", "2025-06-12", "meta", tag="t0")
        _same(pipeline)
        # The article moves between actor feeds (Microsoft → Google) and tag feeds.
        _post(folder, "p0", "Deal 0", "2025-06-10", "goog", tag="Other")
        _same(pipeline)
        # A tag whose name differs only in case keeps one feed; its title follows the oldest.
        _post(folder, "old", "Old news", "2025-01-02", "goog", tag="OLD")
        _same(pipeline)
        # Deleting articles: the first report of a story, then everything of a tag.
        (folder / "_posts" / "2025-06-11-p1.md").unlink()
        _same(pipeline)
        (folder / "_posts" / "2025-01-02-old.md").unlink()
        _same(pipeline)
        # Two reports of one story, one entry in the events feeds; the first goes, the other stays.
        shutil.copy(SAMPLES / "000_4fbda6de1bb3b082.txt", folder / "a.txt")
        shutil.copy(SAMPLES / "003_5530165580ebcf3e.txt", folder / "b.txt")
        _same(pipeline)
        (folder / "a.txt").unlink()
        _same(pipeline)
        # Nothing changed: nothing written.
        pipeline.scan()
        assert pipeline.publish_feeds() == []
    finally:
        pipeline.store.close()


def test_long_feeds_read_whole_publish_what_a_full_render_would(
    tmp_path: Path, folder: Path
) -> None:
    """A publish writing many pages of one feed reads the feed's rows once and slices them:
    every page must hold what a page read on its own holds."""
    pipeline = make_pipeline(tmp_path, folder, max_entries=2)
    try:
        deals = list(DEALS)
        for i in range(2 * WHOLE_FEED + 3):
            day = f"2025-{1 + i // 28:02d}-{1 + i % 28:02d}"
            _post(folder, f"p{i}", f"Deal {i}", day, deals[i % len(deals)], tag=f"t{i % 3}")
        _same(pipeline)  # every page of every feed
        _post(folder, "old", "Old news", "2024-12-31", "goog")  # every archive page shifts
        pipeline.scan()
        written = pipeline.publish_feeds()
        assert sum(path.startswith("archive/articles/") for path in written) >= 3 * WHOLE_FEED
        assert _on_disk(pipeline.feeds_folder) == _from_scratch(pipeline)
    finally:
        pipeline.store.close()


def test_feeds_read_together_hold_what_each_read_alone_holds(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publish reads the feeds it writes every page of a few at a time (`WHOLE_ROWS` rows
    in all): each must hold what the feed's own read gives, and the pages a full render's."""
    monkeypatch.setattr(publish, "WHOLE_ROWS", 5)  # groups of a few feeds, and feeds alone
    pipeline = make_pipeline(tmp_path, folder, max_entries=2)
    try:
        deals = list(DEALS)
        for i in range(14):
            day = f"2025-03-{1 + i:02d}"
            _post(folder, f"p{i}", f"Deal {i}", day, deals[i % len(deals)], tag=f"t{i % 5}")
        _same(pipeline)  # every page of every feed
        _post(folder, "new", "New", "2025-03-20", "nvda", tag="t1")  # some feeds' current pages
        _same(pipeline)
        store = pipeline.store
        sizes = {name: size for name, (size, _label) in store.feed_list().items()}
        alone = {name: store.feed_rows(name, 0, size, size) for name, size in sizes.items()}
        assert store.whole_feeds(sizes) == alone
        assert any(len(rows) > 1 for rows in alone.values())
    finally:
        pipeline.store.close()


def test_a_restart_and_a_store_without_index(tmp_path: Path, folder: Path) -> None:
    pipeline = make_pipeline(tmp_path, folder, max_entries=2)
    # Four articles with at most two entries a page: articles.atom has an archive page
    # (the current page holds 2 to 3), whatever the extractor makes of their events.
    for i, deal in enumerate(("msft", "goog", "meta", "msft")):
        _post(folder, f"p{i}", f"Deal {i}", f"2025-06-{10 + i:02d}", deal)
    _same(pipeline)
    # A restart: a new pipeline checks every current page and repairs a damaged one, and
    # removes the temp file of a write a kill cut short (but nobody else's hidden files).
    (pipeline.feeds_folder / "articles.atom").write_bytes(b"")
    leftover = pipeline.feeds_folder / "tag" / ".ai.rss.k3j9x2.tmp"
    leftover.write_bytes(b"<rss")
    theirs = pipeline.feeds_folder / ".notes.tmp"
    theirs.write_bytes(b"mine")
    again = make_pipeline(tmp_path, folder, max_entries=2)
    assert again.publish_feeds() == ["articles.atom"]
    assert not leftover.exists() and theirs.exists()
    theirs.unlink()
    # A restart's first publish also carries what its scans changed: a tag's last article goes.
    _post(folder, "solo", "Solo", "2025-06-20", "nvda", tag="Solo")
    _same(again)
    (folder / "_posts" / "2025-06-20-solo.md").unlink()
    _same(make_pipeline(tmp_path, folder, max_entries=2))
    assert not (again.feeds_folder / "tag" / "solo.atom").exists()
    # A database the index does not cover (restored, or from before it): built, all written.
    with again.store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM feed_entries")
        conn.exec_driver_sql("DELETE FROM feeds")
    shutil.rmtree(again.feeds_folder / "archive")
    fresh = make_pipeline(tmp_path, folder, max_entries=2)
    fresh.publish_feeds()
    assert _on_disk(fresh.feeds_folder) == _from_scratch(fresh)
