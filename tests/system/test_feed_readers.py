"""Real clients against the real server: newsboat subscribes and reloads, headless Chromium
renders the home page and a feed (through its XSL stylesheet).

Each skips, saying why, when its program is missing; `.ci/run` installs both.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import feedparser
import pytest
from aiohttp import web
from support.waiting import eventually

from bot.cli.config import load_pack
from bot.core.config import parse_config
from bot.runtime.metrics import Metrics
from bot.runtime.pipeline import Pipeline, build_pipeline
from bot.runtime.siteview import SiteView
from bot.runtime.web import make_app
from bot.site.catalog import type_label
from bot.store import Store

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "articles"
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
    # The stylesheet shows each event's type as its label, in the article's language.
    labels = {type_label("acquisition", lang) for lang in ("en", "zh-Hans", "zh-Hant")}
    assert any(label in feed_text for label in labels), labels
    assert "<ef:event" not in feed_text
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000


# What a page's layout looks like to a person, measured by Chromium itself: the widest thing
# against the window, each feed URL's text against its box, the lines of each date.
LAYOUT = """JSON.stringify({
  ready: document.readyState,
  url: location.href,
  window: window.innerWidth,
  view: document.documentElement.clientWidth,
  page: document.documentElement.scrollWidth,
  cut: [...document.querySelectorAll("code.url")]
    .filter(e => e.scrollWidth > e.clientWidth).map(e => e.textContent),
  urls: document.querySelectorAll("code.url").length,
  dates: [...document.querySelectorAll("td.date")].map(e => {
    const r = document.createRange(); r.selectNodeContents(e);
    return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size;
  }),
})"""


async def _layout(site: Site, url: str, width: int) -> dict[str, object]:
    """LAYOUT evaluated in headless Chromium at `width` px, over the DevTools protocol (the
    pages run no script of their own: their CSP forbids it)."""
    assert CHROMIUM is not None
    profile = site.tmp / f"chromium-layout-{width}"
    process = await asyncio.create_subprocess_exec(
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
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        f"--window-size={width},900",
        url,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=os.environ | {"HOME": str(site.tmp)},
    )
    port_file = profile / "DevToolsActivePort"
    try:
        await eventually(lambda: port_file.exists() and port_file.read_text().count("\n") >= 1,
                         "chromium's DevTools port", within=60)  # fmt: skip
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            page = next(t for t in targets if t["type"] == "page")
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                found: dict[str, object] = {}
                calls = iter(range(1, 1000))

                async def call(method: str, **params: object) -> dict[str, Any]:
                    sent = next(calls)
                    await ws.send_json({"id": sent, "method": method, "params": params})
                    while (reply := await ws.receive_json(timeout=30)).get("id") != sent:
                        pass
                    result: dict[str, Any] = reply["result"]
                    return result

                # Headless windows are 500 px wide at least: a phone's width is emulated.
                await call("Emulation.setDeviceMetricsOverride", width=width, height=900,
                           deviceScaleFactor=1, mobile=False)  # fmt: skip

                async def measured() -> bool:
                    reply = await call("Runtime.evaluate", expression=LAYOUT, returnByValue=True)
                    value = reply["result"].get("value")  # none while the page loads
                    found.update(json.loads(value) if value else {})
                    return found.get("ready") == "complete" and found.get("url") == url

                await eventually(measured, f"{url} to load at {width} px", within=60)
                return found
    finally:
        process.kill()
        await process.wait()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("width", [1280, 390])
async def test_the_home_page_fits_the_window_and_shows_every_feed_url_whole(
    site: Site, width: int
) -> None:
    home = await _layout(site, site.url, width)
    assert home["urls"], home  # the feed URLs are shown as text
    assert home["cut"] == [], home  # none is cut off by its box
    assert home["window"] == width, home
    assert home["page"] == home["view"], home  # no sideways scrolling
    if width == 1280:
        assert home["dates"] and set(home["dates"]) == {1}, home  # one line per date


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
async def test_an_article_page_fits_a_phone(site: Site) -> None:
    stored = site.pipeline.store.recent_events(1)[0][0]
    page = await _layout(site, f"{site.url}article/{stored.uid}.html", 390)
    assert page["window"] == 390, page
    assert page["page"] == page["view"], page  # no sideways scrolling
