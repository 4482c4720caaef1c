"""Real clients against the real server: newsboat subscribes and reloads, headless Chromium
renders the home page and a feed (through its XSL stylesheet).

Each skips, saying why, when its program is missing; `.ci/run` installs both.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from aiohttp import web

from bot.app import build_pipeline, load_pack
from bot.config import parse_config
from bot.metrics import Metrics
from bot.pipeline import Pipeline
from bot.siteview import SiteView
from bot.store import Store
from bot.web import make_app

SAMPLES = Path(__file__).resolve().parent / "data" / "articles"
POST = """---
title: {title}
date: 2025-06-23 09:30:00 +0800
tags: [acquisition]
---
Microsoft agreed to acquire GitHub for $7.5 billion in stock, the companies said on Monday.
"""
NEWSBOAT = shutil.which("newsboat")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Site:
    url: str
    folder: Path
    pipeline: Pipeline
    view: SiteView
    statuses: list[tuple[str, int]]  # (path, status) of every response
    tmp: Path

    def rescan(self) -> None:
        self.pipeline.scan()
        self.pipeline.write_feeds()
        self.view.invalidate()


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    folder = tmp_path / "posts"
    (folder / "_posts").mkdir(parents=True)
    shutil.copy(SAMPLES / "000_4fbda6de1bb3b082.txt", folder)
    (folder / "_posts" / "2025-06-23-github.md").write_text(
        POST.format(title="Microsoft buys GitHub"), encoding="utf-8"
    )
    config = parse_config(
        f"articles: {{folder: {folder}}}\n"
        f"state: {{url: 'sqlite:///{tmp_path / 'db.sqlite'}'}}\n"
        f"feeds: {{folder: {tmp_path / 'feeds'}}}\n"
        f"site: {{base_url: '{url}', timezone: Asia/Shanghai}}\n",
        {},
    )
    store = Store(config.state.url)
    pipeline = build_pipeline(config, store, load_pack(config))
    view = SiteView(store, pipeline.site, 50, config.site.tz, lambda: datetime.now(UTC))
    app = make_app(config.feeds.folder, dict, view, lambda: Metrics().render({}, {}))
    statuses: list[tuple[str, int]] = []

    async def record(request: web.Request, response: web.StreamResponse) -> None:
        statuses.append((request.path, response.status))

    app.on_response_prepare.append(record)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    running = Site(url, folder, pipeline, view, statuses, tmp_path)
    running.rescan()
    try:
        yield running
    finally:
        await runner.cleanup()
        store.close()


async def _run(*argv: str, env: dict[str, str] | None = None, seconds: float = 60) -> bytes:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), seconds)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


# --- newsboat ------------------------------------------------------------------------------------


@pytest.mark.skipif(NEWSBOAT is None, reason="newsboat is not installed (apt-get install newsboat)")
async def test_newsboat_subscribes_reloads_and_sees_no_duplicates(site: Site) -> None:
    assert NEWSBOAT is not None
    feeds = [f"{site.url}feeds/articles.atom", f"{site.url}feeds/events.rss"]
    (site.tmp / "urls").write_text("".join(f"{url}\n" for url in feeds))
    (site.tmp / "config").write_text("reload-threads 1\ndownload-timeout 20\n")
    env = {"HOME": str(site.tmp), "PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
    cache = site.tmp / "cache.db"

    async def reload() -> None:
        await _run(
            NEWSBOAT,
            "-x",
            "reload",
            "-u",
            str(site.tmp / "urls"),
            "-c",
            str(cache),
            "-C",
            str(site.tmp / "config"),
            env=env,
        )

    def items() -> list[tuple[str, str, int, str]]:
        with sqlite3.connect(cache) as db:
            rows = db.execute("SELECT feedurl, guid, pubDate, title FROM rss_item ORDER BY guid")
            return [tuple(row) for row in rows]

    def expected(url: str) -> dict[str, int]:
        parsed = feedparser.parse((site.pipeline.feeds_folder / url.rsplit("/", 1)[1]).read_bytes())
        return {
            e.id: int(datetime(*e.published_parsed[:6], tzinfo=UTC).timestamp())
            for e in parsed.entries
        }

    await reload()
    first = items()
    for url in feeds:
        got = {guid: date for feed, guid, date, _ in first if feed == url}
        assert got == expected(url), url
        assert got  # the feed had entries
    assert ("/feeds/articles.atom", 200) in site.statuses

    # newsboat 2.21 keeps a new feed's ETag and Last-Modified from its second download on,
    # and sends them from the third: unchanged feeds then get 304s.
    await reload()
    site.statuses.clear()
    await reload()
    assert sorted(site.statuses) == [("/feeds/articles.atom", 304), ("/feeds/events.rss", 304)]
    assert items() == first

    # An edited article: the same guids, no duplicate items, the new title.
    (site.folder / "_posts" / "2025-06-23-github.md").write_text(
        POST.format(title="Microsoft buys GitHub (updated)"), encoding="utf-8"
    )
    os.utime(site.folder / "_posts" / "2025-06-23-github.md", ns=(1, 2))
    site.rescan()
    site.statuses.clear()
    await reload()
    assert ("/feeds/articles.atom", 200) in site.statuses
    after = items()
    guids = [(feed, guid) for feed, guid, _, _ in after]
    assert len(guids) == len(set(guids)) == len(first)
    assert {(f, g) for f, g, _, _ in first} == set(guids)
    assert any(title == "Microsoft buys GitHub (updated)" for *_, title in after), after


# --- Chromium ------------------------------------------------------------------------------------


async def _chromium(site: Site, url: str, name: str, *args: str) -> bytes:
    assert CHROMIUM is not None
    return await _run(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={site.tmp / f'chromium-{name}'}",
        *args,
        url,
        env=os.environ | {"HOME": str(site.tmp)},
        seconds=90,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
async def test_chromium_renders_the_home_page_and_a_feed(site: Site) -> None:
    shot = site.tmp / "home.png"
    home, feed, _ = await asyncio.gather(
        _chromium(site, site.url, "home", "--dump-dom"),
        _chromium(site, f"{site.url}feeds/events.atom", "feed", "--dump-dom"),
        _chromium(site, site.url, "shot", f"--screenshot={shot}", "--window-size=1200,1400"),
    )
    home_text = home.decode()
    assert "Latest events" in home_text and "Events per day" in home_text
    assert "Microsoft" in home_text and "<svg" in home_text
    assert f"{site.url}feeds/feeds.opml" in home_text
    feed_text = feed.decode()
    assert "This is a web feed" in feed_text  # the XSL stylesheet ran
    assert f"{site.url}feeds/events.atom" in feed_text
    assert "acquisition" in feed_text and "<ef:event" not in feed_text
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
