"""The whole product: the real daemon as a subprocess, its HTTP server, the real bot, a fake Telegram.

A chat subscribes, a sample article is dropped into the watched folder, and both the feeds
(fetched over HTTP, parsed by feedparser) and the chat's message must show its events.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import feedparser
import pytest
from support.fakebot import FakeBotApi
from support.waiting import eventually, free_port

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLES = ROOT / "tests" / "data" / "articles"
TOKEN = "123456:END-TO-END-SECRET"


@dataclass
class Running:
    process: asyncio.subprocess.Process
    url: str
    folder: Path
    feeds: Path
    log: Path


@pytest.fixture
async def daemon(tmp_path: Path, fake_bot: FakeBotApi) -> AsyncIterator[Running]:
    folder = tmp_path / "posts"
    folder.mkdir()
    port = free_port()
    config = tmp_path / "eventfeed.yaml"
    config.write_text(
        f"""
articles: {{folder: {folder}}}
state: {{url: "sqlite:///{tmp_path / "state" / "eventfeed.db"}"}}
feeds: {{folder: {tmp_path / "feeds"}}}
site: {{base_url: "https://blog.example.org/", title: "Test site", timezone: Asia/Shanghai}}
http: {{bind: "127.0.0.1:{port}"}}
telegram: {{base_url: "{fake_bot.base_url}"}}
scan: {{interval_seconds: 30, debounce_seconds: 0.2}}
""",
        encoding="utf-8",
    )
    log = tmp_path / "daemon.log"
    env = {**os.environ, "EVENTFEED_TELEGRAM_TOKEN": TOKEN, "PTB_TIMEDELTA": "true"}
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(config),
            cwd=tmp_path, env=env, stdout=out, stderr=out,
        )  # fmt: skip
    running = Running(process, f"http://127.0.0.1:{port}", folder, tmp_path / "feeds", log)
    try:
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def fetch(url: str) -> tuple[int, bytes, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.read(), response.headers.get("Content-Type", "")


async def test_subscribe_drop_article_get_feed_and_alert(
    daemon: Running, fake_bot: FakeBotApi
) -> None:
    async def healthy() -> bool:
        try:
            status, _, _ = await fetch(daemon.url + "/healthz")
        except aiohttp.ClientError:
            return False
        return status == 200

    await eventually(healthy, "the daemon's /healthz")
    await fake_bot.wait_for(lambda: fake_bot.calls_to("getUpdates"), 30, "the bot to poll")

    chat = 777001
    fake_bot.inject_command(chat, "/subscribe")
    await fake_bot.wait_for(lambda: fake_bot.sent(chat), 30, "the /subscribe answer")
    answered = len(fake_bot.sent(chat))

    shutil.copy(SAMPLES / "000_4fbda6de1bb3b082.txt", daemon.folder / "000_4fbda6de1bb3b082.txt")

    await fake_bot.wait_for(lambda: len(fake_bot.sent(chat)) > answered, 30, "the alert")
    alert = fake_bot.sent(chat)[-1]
    assert alert.parse_mode == "HTML"
    assert "OpenAI" in alert.text and "Meta" in alert.text
    assert "https://blog.example.org/" in alert.text  # the linked title

    feeds = {}
    for name in ("articles.atom", "articles.rss", "events.atom", "events.rss"):
        status, body, content_type = await fetch(f"{daemon.url}/feeds/{name}")
        assert status == 200, name
        assert ("atom" if name.endswith("atom") else "rss") in content_type
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0, (name, parsed.get("bozo_exception"))
        feeds[name] = parsed

    [article] = feeds["articles.atom"].entries
    assert article.title.startswith("扎格伯格巨资从OpenAI挖走三位顶尖研究员")
    assert article.published.startswith("2025-06-21T12:00:00+08:00")
    assert feeds["articles.rss"].entries[0].title == article.title
    event_types = {entry.title for entry in feeds["events.atom"].entries}
    assert any("talent_move" in t or "人才" in t for t in event_types), event_types
    assert len(feeds["events.rss"].entries) == len(feeds["events.atom"].entries) >= 2

    # A clean stop on SIGTERM, and the token never printed.
    daemon.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(daemon.process.wait(), 20) == 0
    log = daemon.log.read_text(encoding="utf-8", errors="replace")
    assert TOKEN not in log and "END-TO-END-SECRET" not in log
    assert "scan seen=" in log


async def test_repository_config_serves_the_two_samples(tmp_path: Path) -> None:
    """What `make run` does, with articles, state, feeds and port moved into a temp folder: the
    live examples/articles/ is the user's to fill."""
    port = free_port()
    articles = tmp_path / "articles"
    articles.mkdir()
    for name in ("000_4fbda6de1bb3b082.txt", "003_5530165580ebcf3e.txt"):
        shutil.copy(SAMPLES / name, articles)
    env = {
        **os.environ,
        "EVENTFEED_ARTICLES_FOLDER": str(articles),
        "EVENTFEED_STATE_URL": f"sqlite:///{tmp_path / 'eventfeed.db'}",
        "EVENTFEED_FEEDS_FOLDER": str(tmp_path / "feeds"),
        "EVENTFEED_HTTP_BIND": f"127.0.0.1:{port}",
    }
    env.pop("EVENTFEED_TELEGRAM_TOKEN", None)
    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", "config/eventfeed.yaml",
            cwd=ROOT, env=env, stdout=out, stderr=out,
        )  # fmt: skip
    try:
        feeds: dict[str, feedparser.FeedParserDict] = {}

        async def served() -> bool:
            for name in ("articles.atom", "events.atom"):
                try:
                    status, body, _ = await fetch(f"http://127.0.0.1:{port}/feeds/{name}")
                except aiohttp.ClientError:
                    return False
                if status != 200:
                    return False
                feeds[name] = feedparser.parse(body)
            return len(feeds["articles.atom"].entries) == 2

        await eventually(served, "both samples in /feeds/articles.atom")
        assert len(feeds["events.atom"].entries) >= 2  # a story each: the poaching, the bonuses

        async def warned() -> bool:  # logged once the first scan is done
            return "telegram delivery is off" in log.read_text(errors="replace")

        await eventually(warned, "the 'telegram delivery is off' warning")
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    text = log.read_text(encoding="utf-8", errors="replace")
    assert text.count("telegram delivery is off") == 1
    assert "logger=apscheduler" not in text, text  # "Adding job tentatively", "Scheduler started"
