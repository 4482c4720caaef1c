"""The feeds folder as the pipeline writes it: stable ids across edits and renames, dates in
every front-matter form, only changed files rewritten, feeds without entries removed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import feedparser
import pytest
from conftest import make_pipeline
from lxml import etree

from bot.runtime.pipeline import Pipeline
from bot.runtime.publish import LAYOUT, LAYOUT_FILE, Publisher
from bot.store.feedindex import FeedChanges

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "articles"
FIRST = "000_4fbda6de1bb3b082.txt"
STRICT = etree.XMLParser(recover=False, resolve_entities=False)

POST = """---
title: {title}
date: {date}
categories: [AI, 新闻]
tags: [人才]
{extra}---
Microsoft agreed to acquire GitHub for $7.5 billion in stock, the companies said on Monday.

The deal is expected to close by the end of the year.
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    posts = tmp_path / "posts"
    (posts / "_posts").mkdir(parents=True)
    return posts


@pytest.fixture
def pipeline(tmp_path: Path, folder: Path) -> Pipeline:
    return make_pipeline(tmp_path, folder, max_entries=2)


def _entries(feeds: Path, name: str) -> list[feedparser.FeedParserDict]:
    data = (feeds / name).read_bytes()
    etree.fromstring(data, STRICT)
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return list(parsed.entries)


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a new mtime


def test_every_front_matter_date_form(pipeline: Pipeline, folder: Path) -> None:
    forms = {
        "jekyll-string": ("2025-06-21 12:00:00 +0800", "2025-06-21T12:00:00+08:00"),
        "aware": ("2025-06-21T12:00:00+02:00", "2025-06-21T12:00:00+02:00"),
        "naive": ("2025-06-21 12:00:00", "2025-06-21T12:00:00+08:00"),  # site zone: Shanghai
        "date-only": ("2025-06-21", "2025-06-21T00:00:00+08:00"),
    }
    for slug, (written, _) in forms.items():
        text = POST.format(title=slug, date=written, extra="")
        (folder / "_posts" / f"2025-06-21-{slug}.md").write_text(text, encoding="utf-8")
    pipeline.scan()
    pipeline.write_feeds()
    feeds = pipeline.feeds_folder
    atom = "{http://www.w3.org/2005/Atom}"
    published, pub_dates = {}, set()
    for page in ("articles", "archive/articles/1"):
        root = etree.fromstring((feeds / f"{page}.atom").read_bytes(), STRICT)
        for entry in root.iter(f"{atom}entry"):
            published[entry.findtext(f"{atom}title")] = entry.findtext(f"{atom}published")
        rss = etree.fromstring((feeds / f"{page}.rss").read_bytes(), STRICT)
        pub_dates |= {item.findtext("pubDate") for item in rss.iter("item")}
    assert published == {slug: expected for slug, (_, expected) in forms.items()}
    assert pub_dates == {
        "Sat, 21 Jun 2025 12:00:00 +0800",
        "Sat, 21 Jun 2025 12:00:00 +0200",
        "Sat, 21 Jun 2025 00:00:00 +0800",
    }
    # Jekyll permalink: /:categories/:year/:month/:day/:title.html
    [link] = {e.link for e in _entries(feeds, "articles.atom") if e.title == "aware"}
    assert link == "https://blog.example.org/ai/%E6%96%B0%E9%97%BB/2025/06/21/aware.html"


def test_ids_survive_edits_and_renames_and_old_feeds_are_removed(
    pipeline: Pipeline, folder: Path
) -> None:
    feeds = pipeline.feeds_folder
    post = folder / "_posts" / "2025-06-21-github.md"
    _write(post, POST.format(title="Microsoft buys GitHub", date="2025-06-21", extra=""))
    shutil.copy(SAMPLES / FIRST, folder / FIRST)
    with_id = folder / "_posts" / "2025-06-20-keyed.md"
    _write(with_id, POST.format(title="Keyed", date="2025-06-20", extra="uuid: 4c1e-fixed\n"))
    pipeline.scan()
    assert pipeline.write_feeds() > 0
    assert pipeline.write_feeds() == 0  # nothing changed: nothing rewritten

    def ids() -> dict[str, str]:
        found = {}
        for name in ("articles.atom", "archive/articles/1.atom"):
            if (feeds / name).exists():
                found |= {e.title: e.id for e in _entries(feeds, name)}
        return found

    def event_ids() -> set[str]:
        pages = [p for p in ("events.atom", "archive/events/1.atom") if (feeds / p).exists()]
        return {e.id for page in pages for e in _entries(feeds, page)}

    before, events_before = ids(), event_ids()
    assert before["Keyed"] == "urn:eventfeed:article:4c1e-fixed"
    assert (feeds / "tag/人才.atom").exists() and (feeds / "category/新闻.json").exists()
    assert (feeds / "feed.xsl").exists() and (feeds / "feeds.opml").exists()

    # An edit: same ids, a new title, the events that did not change keep their ids.
    _write(post, POST.format(title="Microsoft buys GitHub (update)", date="2025-06-21", extra=""))
    pipeline.scan()
    pipeline.write_feeds()
    after_edit = ids()
    assert after_edit["Microsoft buys GitHub (update)"] == before["Microsoft buys GitHub"]
    assert event_ids() == events_before

    # A rename: same content under a new name keeps the id.
    post.rename(folder / "_posts" / "2025-06-21-github-renamed.md")
    pipeline.scan()
    pipeline.write_feeds()
    assert ids() == after_edit

    # Deleting the only tagged posts removes the tag's feeds; other files are left alone.
    (feeds / "notes.txt").write_text("mine")
    for path in (folder / "_posts").iterdir():
        path.unlink()
    pipeline.scan()
    pipeline.write_feeds()
    assert not (feeds / "tag").exists()
    assert not (feeds / "category/新闻.atom").exists()
    assert (feeds / "notes.txt").read_text() == "mine"
    [left] = _entries(feeds, "articles.atom")
    assert left.id == before[left.title]


def test_entry_updated_is_the_articles_own_time_until_an_edit(
    tmp_path: Path, folder: Path, store_url: str
) -> None:
    """Not the scan's time: one scan stores many articles at one instant, and readers (and the
    W3C validator) take entries sharing `updated` for a fault. An edit moves it on."""
    pipeline = make_pipeline(tmp_path, folder, url=store_url)
    for day in (21, 22):
        _write(
            folder / "_posts" / f"2025-06-{day}-p{day}.md",
            POST.format(title=f"Post {day}", date=f"2025-06-{day} 09:30:00 +0800", extra=""),
        )
    pipeline.scan()
    pipeline.publish_feeds()
    entries = _entries(pipeline.feeds_folder, "articles.atom")
    assert sorted(e.updated for e in entries) == [
        "2025-06-21T09:30:00+08:00",
        "2025-06-22T09:30:00+08:00",
    ]
    [event] = _entries(pipeline.feeds_folder, "events.atom")  # one story: its first report
    assert event.updated == "2025-06-21T09:30:00+08:00"
    assert pipeline.publish_feeds() == []  # stable
    edited = POST.format(title="Post 22, edited", date="2025-06-22 09:30:00 +0800", extra="")
    _write(folder / "_posts" / "2025-06-22-p22.md", edited)
    pipeline.scan()
    pipeline.publish_feeds()
    by_title = {e.title: e for e in _entries(pipeline.feeds_folder, "articles.atom")}
    assert by_title["Post 22, edited"].updated_parsed > by_title["Post 21"].updated_parsed
    assert by_title["Post 22, edited"].published == "2025-06-22T09:30:00+08:00"
    pipeline.store.close()


def test_a_folder_of_an_older_layout_is_written_again_whole(tmp_path: Path, folder: Path) -> None:
    """A full archive page is never rewritten, so after an upgrade that changes what documents
    look like, the first publish writes every page again, once."""
    for day in range(21, 26):
        _write(
            folder / "_posts" / f"2025-06-{day}-p{day}.md",
            POST.format(title=f"Post {day}", date=f"2025-06-{day} 09:30:00 +0800", extra=""),
        )
    first = make_pipeline(tmp_path, folder, max_entries=2)
    first.scan()
    first.write_feeds()
    feeds = tmp_path / "feeds"
    page = feeds / "archive" / "articles" / "1.atom"
    written = page.read_bytes()
    assert b'rel="next-archive"' in written
    page.write_bytes(written.replace(b'rel="next-archive"', b'rel="old"'))  # an old layout
    again = make_pipeline(tmp_path, folder, max_entries=2)
    assert "archive/articles/1.atom" not in again.publish_feeds()  # same layout: left alone
    (feeds / LAYOUT_FILE).write_text("1\n")  # written by an older version
    again = make_pipeline(tmp_path, folder, max_entries=2)
    assert "archive/articles/1.atom" in again.publish_feeds()
    assert page.read_bytes() == written
    assert (feeds / LAYOUT_FILE).read_text() == f"{LAYOUT}\n"
    assert again.publish_feeds() == []


def test_the_main_feeds_can_be_published_before_the_others(
    pipeline: Pipeline, folder: Path
) -> None:
    """`only`: the daemon writes the articles and events feeds of a new article first; the
    feeds of its categories and tags follow in the next publish, nothing lost meanwhile."""
    feeds = pipeline.feeds_folder
    _write(
        folder / "_posts" / "2025-06-20-a.md", POST.format(title="A", date="2025-06-20", extra="")
    )
    pipeline.scan()
    pipeline.write_feeds()  # the first publish: everything, whatever `only` says
    _write(
        folder / "_posts" / "2025-06-21-b.md", POST.format(title="B", date="2025-06-21", extra="")
    )
    pipeline.scan()
    written = pipeline.publish_feeds(only={"articles", "events"})
    assert "articles.atom" in written and "events.atom" in written
    assert not any(path.startswith(("tag/", "category/")) for path in written), written
    assert "B" in [e.title for e in _entries(feeds, "articles.atom")]
    assert "B" not in [e.title for e in _entries(feeds, "tag/人才.atom")]
    written = pipeline.publish_feeds()
    assert "tag/人才.atom" in written and "articles.atom" not in written
    assert "B" in [e.title for e in _entries(feeds, "tag/人才.atom")]
    assert pipeline.publish_feeds() == []


def test_a_publish_from_kept_entries_writes_the_same_files(
    tmp_path: Path, pipeline: Pipeline, folder: Path
) -> None:
    """The daemon's publishes splice pages from entries rendered before; the same state
    written whole, every entry rendered afresh, gives the same files byte for byte."""
    posts = folder / "_posts"
    for day in range(20, 27):
        extra = f"tags: [t{day % 3}]\n"
        _write(
            posts / f"2025-06-{day}-p.md",
            POST.format(title=f"P{day}", date=f"2025-06-{day}", extra=extra),
        )
        pipeline.scan()
        pipeline.publish_feeds()
    _write(posts / "2025-06-22-p.md", POST.format(title="P22 edited", date="2025-06-22", extra=""))
    (posts / "2025-06-24-p.md").unlink()
    pipeline.scan()
    assert pipeline.publish_feeds()
    whole = tmp_path / "whole"
    publisher = Publisher(
        whole, pipeline.site, pipeline.store, pipeline.max_entries, fragments=None,
        event_types=lambda: pipeline.pack.event_types,
    )  # fmt: skip
    publisher.publish(FeedChanges(), everything=True)

    def files(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
        }

    written, expected = files(pipeline.feeds_folder), files(whole)
    assert "archive/articles/1.atom" in expected and "tag/t0.rss" in expected
    assert written == expected
