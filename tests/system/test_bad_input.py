"""Hostile and broken input: each file gets a clear recorded error or a correct result, never a
crash or a stall. The real pipeline over a real folder and a real SQLite file in tmp_path.

The corpus is tests/data/bad/files/ (small, kept) plus the large cases that
tests/data/bad/generate.py writes at test time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import lxml.html
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.daemon import Daemon, Layout, query
from support.fakebot import FakeBotApi
from support.waiting import eventually

from bot.cli.config import load_pack
from bot.core.articles import ArticleError, parse_article
from bot.core.config import Config, parse_config
from bot.extract import extract
from bot.runtime.pipeline import Pipeline, build_pipeline
from bot.store import Store

BAD = Path(__file__).parent.parent / "data" / "bad"
sys.path.insert(0, str(BAD))
from generate import large_cases, post  # noqa: E402

MAX_BYTES = 8 * 1024 * 1024
# Characters of each slow shape (generate.py `slow_bodies`): full size under `make chaos`.
SLOW_SIZE = 2_000_000 if os.environ.get("EVENTFEED_CHAOS") == "large" else 200_000
PACK = load_pack(Config())

ERRORS = {  # file → words its recorded error must contain
    "empty.md": "empty",
    "only-front-matter.md": "no text",
    "front-matter-not-closed.md": "never closed",
    "front-matter-list.md": "not a mapping",
    "front-matter-scalar.md": "not a mapping",
    "yaml-python-tag.md": "tag",
    "yaml-alias-bomb.md": "alias bomb",
    "image.png": "PNG",
    "program.elf": "ELF",
    "raw-control-chars.md": "binary file",
    "bad-date.md": "out of range",
}
TITLES = {  # file → its title, or the start of it
    "gbk.txt": "腾讯收购游戏公司",
    "big5.txt": "鴻海收購電動車公司",
    "utf16-bom.txt": "Orion acquires Quartz",
    "utf16le-nobom.txt": "Orion acquires Quartz",
    "invalid-utf8.md": "Broken",
    "html-script.md": "<script>alert(1)</script>",
    "rtl-emoji.md": "مرحبا שלום",
    "title-5000.md": "Long Long",
    "future-date.md": "From the future",
    "epoch-date.md": "From 1970",
    "control-chars-title.md": "Orion",
    "link-javascript.md": "Bad link",
    "one-long-line.txt": "Orion Holdings acquires Quartz Systems",
    "many-lines.md": "Many lines",
    "many-names.md": "Many names",
}


def make_pipeline(root: Path, max_bytes: int = MAX_BYTES) -> Pipeline:
    (root / "posts").mkdir(exist_ok=True)
    config = parse_config(
        f"""
articles: {{folder: "{root / "posts"}", max_bytes: {max_bytes}}}
state: {{url: "sqlite:///{root / "state.db"}"}}
feeds: {{folder: "{root / "feeds"}"}}
site: {{base_url: "https://blog.example.org/"}}
""",
        {},
    )
    return build_pipeline(config, Store(config.state.url), PACK)


def states(pipeline: Pipeline) -> dict[str, tuple[str, str]]:
    """path → (status, error) of every file the store knows, deleted ones left out."""
    known = pipeline.store.file_states()
    errors = {path: (status, error) for path, status, error in pipeline.store.article_errors()}
    return {path: errors.get(path, (state.status, "")) for path, state in known.items()}


def test_the_hostile_corpus(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path)
    posts = tmp_path / "posts"
    for source in (BAD / "files").iterdir():
        shutil.copy(source, posts / source.name)
    for name, data in large_cases(MAX_BYTES, SLOW_SIZE).items():
        (posts / name).write_bytes(data)
    started = time.monotonic()
    report = pipeline.scan()
    pipeline.write_feeds()
    elapsed = time.monotonic() - started
    total_kb = sum(p.stat().st_size for p in posts.iterdir()) / 1024
    assert elapsed < 60 + total_kb / 1000, f"{elapsed:.1f}s for {total_kb:.0f} KB"  # ≤ 1 ms/KB

    found = states(pipeline)
    assert set(found) == {p.name for p in posts.iterdir()}
    assert found["huge.md"][0] == "skipped" and "limit" in found["huge.md"][1]
    for name, words in ERRORS.items():
        status, error = found[name]
        assert status == "error" and words in error, (name, status, error)
    titles = {s.article.path: s.article.title for s in pipeline.store.published_articles()}
    for name, title in TITLES.items():
        assert found[name][0] == "ok", (name, found[name])
        assert titles[name].startswith(title), (name, titles[name][:80])
    for name in found:
        if name.startswith("slow-"):  # each analysed in a fraction of a second
            assert found[name][0] == "ok" and titles[name].startswith("Slow"), name
    assert report.failed == len(ERRORS) + 1
    assert not Path("/tmp/eventfeed-pwned").exists()  # the python/object tag never ran

    feeds = tmp_path / "feeds"  # names beyond articles.max_categories / max_tags make none
    assert len(list(feeds.glob("category/category*"))) == len(list(feeds.glob("tag/tag*"))) == 150
    # Every feed parses; article markup arrives as text, never as elements or links.
    for feed in (tmp_path / "feeds").glob("*.*"):
        if feed.suffix in (".atom", ".rss"):
            assert_no_injection(feed.read_bytes(), feed.name)


def assert_no_injection(body: bytes, name: str) -> None:
    """Well-formed; entry HTML holds no script and no link but http(s); titles are clean text."""
    parsed = feedparser.parse(body, sanitize_html=False)  # see what a careless reader would
    assert parsed.bozo == 0, (name, parsed.get("bozo_exception"))
    for entry in parsed.entries:
        for link in [entry.get("link", "https://")] + [x.get("href", "") for x in entry.links]:
            assert link.startswith(("http://", "https://")), (name, link)
        assert not any(c in entry.get("title", "") for c in "\x00\x0b\x1b"), entry.title
        html_parts = [c.value for c in entry.get("content", [])] + [entry.get("summary", "")]
        for part in html_parts:
            if not part.strip():
                continue
            tree = lxml.html.fragment_fromstring(part, create_parent="div")
            assert not tree.xpath("//script | //iframe | //object"), (name, part[:200])
            for url in tree.xpath("//@href | //@src"):
                assert not url.strip().lower().startswith(("javascript:", "data:", "vbscript:"))


def test_a_rescan_reads_nothing_again(tmp_path: Path) -> None:
    """A failed file is retried only when it changes, not on every scan."""
    pipeline = make_pipeline(tmp_path)
    for name in ERRORS:
        shutil.copy(BAD / "files" / name, tmp_path / "posts" / name)
    assert pipeline.scan().failed == len(ERRORS)
    again = pipeline.scan()
    assert (again.failed, again.new, again.changed) == (0, 0, 0)
    (tmp_path / "posts" / "empty.md").write_bytes(post("Fixed now"))
    fixed = pipeline.scan()
    assert fixed.failed == 0 and fixed.changed == 1
    assert states(pipeline)["empty.md"][0] == "ok"


def test_a_file_is_processed_once_complete(tmp_path: Path) -> None:
    """Appended in steps: each step that parses is an update of one article, not a new one."""
    pipeline = make_pipeline(tmp_path)
    path = tmp_path / "posts" / "growing.md"
    full = post(
        "Growing", body="Orion Holdings agreed to acquire Quartz Systems for $12 million.\n"
    )
    for cut in (5, 30, len(full) // 2, len(full)):
        path.write_bytes(full[:cut])
        pipeline.scan()
    [stored] = pipeline.store.published_articles()
    assert stored.article.title == "Growing"
    assert [e.event.type for e in stored.events] == ["acquisition"]
    assert states(pipeline) == {"growing.md": ("ok", "")}


def test_symlinks_are_not_followed_out_of_the_folder(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path)
    posts = tmp_path / "posts"
    secret = tmp_path / "secret.md"
    secret.write_bytes(post("Secret outside the folder"))
    (posts / "inside.md").write_bytes(post("Inside"))
    (posts / "outside.md").symlink_to(secret)
    (posts / "etc").symlink_to("/etc")
    (posts / "loop").symlink_to(posts)
    (posts / "a").mkdir()
    (posts / "a" / "back").symlink_to(posts / "a")
    (posts / "alias.md").symlink_to(posts / "inside.md")
    started = time.monotonic()
    pipeline.scan()
    assert time.monotonic() - started < 10
    assert set(states(pipeline)) == {"inside.md"}
    assert [s.article.title for s in pipeline.store.published_articles()] == ["Inside"]


def test_same_content_renamed_edited_and_deleted(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path)
    store = pipeline.store
    store.add_subscription(42, None, "")
    posts = tmp_path / "posts"
    text = post("Orion buys Quartz")
    (posts / "one.md").write_bytes(text)
    (posts / "two.md").write_bytes(text)  # the same content under two names: two articles
    pipeline.scan()
    stored = {s.article.path: s for s in store.published_articles()}
    assert set(stored) == {"one.md", "two.md"} and stored["one.md"].uid != stored["two.md"].uid
    queued = store.outbox_counts().get("pending", 0)
    assert queued >= 1

    os.rename(posts / "one.md", posts / "renamed.md")  # same uid, no new alert
    pipeline.scan()
    after = {s.article.path: s for s in store.published_articles()}
    assert after["renamed.md"].uid == stored["one.md"].uid
    assert store.outbox_counts().get("pending", 0) == queued

    # Edited: the entry is updated, the unchanged event alerts nobody again, a new one does.
    edited = post(
        "Orion buys Quartz (updated)",
        body="Orion Holdings said on Monday it agreed to acquire Quartz Systems for $12 million in"
        " cash.\n\nNimbus AI raised $30 million in a funding round led by Hazel Capital.\n",
    )
    (posts / "renamed.md").write_bytes(edited)
    pipeline.scan()
    updated = {s.article.path: s for s in store.published_articles()}["renamed.md"]
    assert updated.article.title == "Orion buys Quartz (updated)"
    assert updated.uid == stored["one.md"].uid
    types = sorted(e.event.type for e in updated.events)
    assert types == ["acquisition", "funding"]
    assert store.outbox_counts().get("pending", 0) == queued + 1  # the funding only

    (posts / "renamed.md").unlink()  # deleted: out of the feeds, its events kept
    pipeline.scan()
    pipeline.write_feeds()
    assert [s.article.path for s in store.published_articles()] == ["two.md"]
    atom = feedparser.parse((tmp_path / "feeds" / "articles.atom").read_bytes())
    assert [e.title for e in atom.entries] == ["Orion buys Quartz"]
    kept = store.engine.connect().exec_driver_sql(
        "SELECT count(*) FROM events e JOIN articles a ON a.id = e.article_id "
        "WHERE a.status = 'deleted'"
    )
    assert kept.scalar_one() == 2


def test_files_vanishing_during_a_scan(tmp_path: Path) -> None:
    """Deleted between listing and reading: no crash, and the next scan agrees with the disk."""
    pipeline = make_pipeline(tmp_path)
    posts = tmp_path / "posts"
    for i in range(400):
        (posts / f"{i:04d}.md").write_bytes(post(f"Article {i}"))
    stop = threading.Event()

    def delete_some() -> None:
        for i in range(0, 400, 2):
            if stop.is_set():
                return
            (posts / f"{i:04d}.md").unlink()
            time.sleep(0.001)

    deleter = threading.Thread(target=delete_some)
    deleter.start()
    try:
        pipeline.scan()
    finally:
        stop.set()
        deleter.join()
    pipeline.scan()
    on_disk = {p.name for p in posts.iterdir()}
    assert set(states(pipeline)) == on_disk
    assert {s.article.path for s in pipeline.store.published_articles()} == on_disk


def test_ten_thousand_files_at_once(tmp_path: Path) -> None:
    count = 10_000 if os.environ.get("EVENTFEED_CHAOS") == "large" else 2_000
    pipeline = make_pipeline(tmp_path)
    posts = tmp_path / "posts"
    for i in range(count):
        (posts / f"{i:05d}.md").write_bytes(post(f"Drop {i}", body=f"Item {i} of the batch.\n"))
    started = time.monotonic()
    report = pipeline.scan()
    elapsed = time.monotonic() - started
    assert report.new + report.failed == count
    assert len(states(pipeline)) == count
    assert elapsed < count * 0.05, f"{elapsed:.1f}s for {count} files"
    started = time.monotonic()
    assert pipeline.scan().new == 0  # unchanged files are not read again
    assert time.monotonic() - started < max(5.0, elapsed / 5)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop its capabilities")
def test_an_unreadable_file_is_recorded(tmp_path: Path) -> None:
    """Root reads anything, so chmod alone proves nothing: the scan runs as root without
    CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, for which a mode of 000 means no."""
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "ok.md").write_bytes(post("Readable"))
    locked = posts / "locked.md"
    locked.write_bytes(post("Locked"))
    locked.chmod(0o000)
    work = tmp_path / "work"
    work.mkdir()
    found = _scan_without_overrides(work, posts)
    assert found["first"]["ok.md"] == ["ok", ""]
    status, error = found["first"]["locked.md"]
    assert status == "error" and "Permission denied" in error
    assert found["retried"] == 1  # still unreadable: tried again, still recorded


def _scan_without_overrides(work: Path, posts: Path) -> dict[str, Any]:
    script = f"""
import json, sys
sys.path[:0] = [{str(Path(__file__).parent)!r}, {str(Path(__file__).parent.parent)!r}]
from pathlib import Path
from test_bad_input import make_pipeline, states
root = Path({str(work)!r})
(root / "posts").symlink_to({str(posts)!r})
pipeline = make_pipeline(root)
pipeline.scan()
first = states(pipeline)
again = pipeline.scan()
print(json.dumps({{"first": first, "retried": again.failed}}))
"""
    # Not another user: the checkout (and its venv) may sit in a folder only root may enter.
    no_override = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    result = subprocess.run(
        [*no_override, sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent.parent.parent,
        env={**os.environ, "HOME": str(work)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


# -- property-based: any bytes in, an Article or a recorded error out, in bounded time --------


def _bounded(data: bytes) -> None:
    started = time.monotonic()
    try:
        article = parse_article(data, "any.md", datetime(2025, 1, 1, tzinfo=UTC), UTC)
    except ArticleError as exc:
        assert str(exc)  # a reason that can be recorded
        return
    finally:
        assert time.monotonic() - started < 1.0 + len(data) / 1024 * 0.05
    started = time.monotonic()
    extraction = extract(article, PACK)
    assert time.monotonic() - started < 2.0 + len(data) / 1024 * 0.1
    assert article.title and isinstance(extraction.events, tuple)


_FRAGMENTS = st.sampled_from(
    [
        "---\n", "title: ", "date: 2025-03-01\n", "&a [1, *a]\n", "!!python/object:os.system\n",
        "<script>", "</p>", "<a href='javascript:x'>", "收购", "宣布", "融资", "亿美元", "$5 billion",
        "acquire ", "Orion ", "\x00", "\ufeff", "\u202e", "🚀", "\r\n", "\n\n", "# ", "* ", "{:toc}",
        "﻿", "　", "...", "：", "“", "Series A ", "led by ", "said on Monday ",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_any_bytes(data: bytes) -> None:
    _bounded(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=40)), max_size=80))
def test_any_article_like_text(parts: list[str]) -> None:
    text = "".join(parts)
    for encoding in ("utf-8", "gb18030", "utf-16"):
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError:
            continue
        _bounded(data)


async def test_hostile_files_stall_nothing(tmp_path: Path, fake_bot: FakeBotApi) -> None:
    """The real daemon, while an alias bomb, an article with 6,000 categories and tags, and a
    folder swapped back and forth with a link out of the folder arrive: /healthz answers
    within a second, an ordinary article dropped at the same time is alerted at once, and
    nothing from outside the folder is ever published."""
    layout = Layout(tmp_path)
    layout.write_config(fake_bot.base_url, interval=1, debounce=0.1)
    store = Store(f"sqlite:///{layout.db}")
    store.add_subscription(7_000_001, None, "Vega")  # one alert: no wait for its chat's pacing
    store.add_subscription(7_000_002, None, "")  # everything: nothing from outside, ever
    store.close()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd.md").write_bytes(post("Secret outside the folder"))
    (layout.posts / "sub").mkdir()
    (layout.posts / "sub" / "passwd.md").write_bytes(post("Inside the folder"))
    daemon = Daemon(layout)
    await daemon.start()
    stop = threading.Event()

    def swap() -> None:  # sub: a folder, then a link out of the folder, and back
        real, held = layout.posts / "sub", tmp_path / "held"
        for _ in range(5000):
            if stop.wait(0.002):
                return
            real.rename(held)
            real.symlink_to(outside)
            if stop.wait(0.002):
                real.unlink()
                held.rename(real)
                return
            real.unlink()
            held.rename(real)

    swapper = threading.Thread(target=swap)
    try:
        await daemon.wait_healthy()
        await fake_bot.wait_for(lambda: fake_bot.calls_to("getUpdates"), 30, "polling")
        swapper.start()
        shutil.copy(BAD / "files" / "yaml-alias-bomb.md", layout.posts / "yaml-alias-bomb.md")
        names = large_cases(MAX_BYTES)["many-names.md"]
        (layout.posts / "many-names.md").write_bytes(names)
        (layout.posts / "ordinary.md").write_bytes(
            post("Ordinary", body="Vega Labs agreed to acquire Basalt Inc for $40 million.\n")
        )
        dropped = time.monotonic()
        slowest = 0.0

        async def alerted() -> bool:
            nonlocal slowest
            started = time.monotonic()
            assert await daemon.health() is not None
            slowest = max(slowest, time.monotonic() - started)
            return any("Vega" in m.text for m in fake_bot.sent(7_000_001))

        await eventually(alerted, "the ordinary article's alert", within=30)
        took = time.monotonic() - dropped
        print(f"alerted after {took:.2f}s; /healthz at most {slowest:.2f}s")
        assert took < 2, f"alerted {took:.1f}s after the drop"  # the bound; ~0.15 s here
        assert slowest < 1, f"/healthz took {slowest:.2f}s"

        async def recorded() -> bool:
            if not (daemon.running and (await daemon.health() or {}).get("articles") == 3):
                return False
            # The bomb's failure is its own write, which may come after the others' batch.
            bomb = "SELECT 1 FROM articles WHERE path = 'yaml-alias-bomb.md' AND status = 'error'"
            return bool(query(layout.db, bomb))

        await eventually(recorded, "the other articles stored and the bomb's failure recorded")
    finally:
        stop.set()
        if swapper.is_alive():
            swapper.join()
        await daemon.kill()
    rows = query(layout.db, "SELECT path, status, error FROM articles")
    errors = {path: error for path, status, error in rows if status == "error"}
    assert "alias bomb" in errors["yaml-alias-bomb.md"]
    published = b"".join(p.read_bytes() for p in layout.feeds.rglob("*.*") if p.is_file())
    assert b"Secret outside" not in published
    assert not any("Secret outside" in m.text for m in fake_bot.sent())
    assert len(list(layout.feeds.glob("category/*"))) <= 150
