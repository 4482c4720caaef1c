"""Links that resolve: with the daemon as the site, every article link is a page it serves; the
user's own site keeps its permalinks; `extract` never puts a filesystem path in a URL."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import feedparser
import pytest
from daemonctl import eventually, free_port

from bot.articles import is_daemon_url
from bot.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "examples" / "articles"


@pytest.mark.parametrize(
    ("base_url", "bind", "daemon"),
    [
        ("http://127.0.0.1:8080/", "127.0.0.1:8080", True),  # the shipped config
        ("http://localhost:8080/", "127.0.0.1:8080", True),
        ("http://[::1]:8080/", "[::1]:8080", True),
        ("http://news.example:8080/", "0.0.0.0:8080", True),  # listening everywhere
        ("http://news.example:8080/", "news.example:8080", True),
        ("http://127.0.0.1:4000/", "127.0.0.1:8080", False),  # `jekyll serve` beside it
        ("https://blog.example.org/", "127.0.0.1:8080", False),  # behind a proxy
        ("https://blog.example.org/", "0.0.0.0:443", True),
        ("http://news.example:8080/", "127.0.0.1:8080", False),
        ("http://127.0.0.1:99999/", "127.0.0.1:8080", False),  # no such port
    ],
)
def test_the_daemon_is_recognised_by_host_and_port(base_url: str, bind: str, daemon: bool) -> None:
    assert is_daemon_url(base_url, bind) is daemon


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, bytes]:
    async with session.get(url) as response:
        return response.status, await response.read()


async def test_with_the_daemon_as_site_every_article_link_resolves(tmp_path: Path) -> None:
    """The shipped config (base_url is the daemon): feed, home page and article links all 200."""
    folder = tmp_path / "articles"
    shutil.copytree(SAMPLES, folder)
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    env = {
        **os.environ,
        "EVENTFEED_ARTICLES_FOLDER": str(folder),
        "EVENTFEED_STATE_URL": f"sqlite:///{tmp_path / 'eventfeed.db'}",
        "EVENTFEED_FEEDS_FOLDER": str(tmp_path / "feeds"),
        "EVENTFEED_HTTP_BIND": f"127.0.0.1:{port}",
        "EVENTFEED_SITE_BASE_URL": base,
    }
    env.pop("EVENTFEED_TELEGRAM_TOKEN", None)
    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", "config/eventfeed.yaml",
            cwd=ROOT, env=env, stdout=out, stderr=out,
        )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session:
            feeds: dict[str, feedparser.FeedParserDict] = {}

            async def served() -> bool:
                for name in ("articles.atom", "events.rss"):
                    try:
                        status, body = await _get(session, f"{base}feeds/{name}")
                    except aiohttp.ClientError:
                        return False
                    if status != 200:
                        return False
                    feeds[name] = feedparser.parse(body)
                return len(feeds["articles.atom"].entries) == 2

            await eventually(served, "both samples in /feeds/articles.atom")
            links = {e.link for feed in feeds.values() for e in feed.entries}
            _status, home = await _get(session, base)
            links |= {
                link
                for link in _hrefs(home.decode())
                if link.startswith(f"{base}article")  # the home page's article links
            }
            assert len(links) >= 2
            for link in sorted(links):
                assert urlsplit(link).path.startswith("/article/"), link
                status, page = await _get(session, link)
                assert status == 200, link
                assert b"<h1>" in page
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0


def _hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_extract_outside_the_folder_puts_no_file_path_in_the_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "elsewhere" / "deep"
    outside.mkdir(parents=True)
    copy = outside / "003_plain.txt"  # not a Jekyll post: linked by its path, once
    copy.write_text("Meta acquires Scale AI\n\nMeta said on Monday it acquired Scale AI.\n")
    for base in ("https://blog.example.org/", "http://127.0.0.1:8080/"):
        config = tmp_path / "eventfeed.yaml"
        config.write_text(
            json.dumps(
                {
                    "articles": {"folder": str(tmp_path / "articles")},
                    "site": {"base_url": base},
                    "http": {"bind": "127.0.0.1:8080"},
                }
            )
        )
        assert main(["extract", "--config", str(config), str(copy)]) == 0
        record = json.loads(capsys.readouterr().out)
        url = record["url"]
        assert url.startswith(base)
        assert str(tmp_path) not in url and "elsewhere" not in url and "//" not in url[8:], url
