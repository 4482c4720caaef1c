"""The HTTP server, driven over real HTTP on 127.0.0.1 by aiohttp's client and raw sockets."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import aiohttp
import pytest
from lxml import html as lxml_html

from bot.feeds import FEED_PATHS, FeedSite, render_all
from bot.model import Article, Event, StoredArticle, StoredEvent
from bot.web import HomePage, bound_port, feed_file, make_app, start_server

SITE = FeedSite("http://127.0.0.1:8080/", "eventfeed", "Headline events", "zh-Hans")
FIXED_MTIME = datetime(2025, 6, 22, 8, 0, 0, tzinfo=UTC)


def _articles() -> list[StoredArticle]:
    published = datetime(2025, 6, 21, 4, 0, tzinfo=UTC)
    article = Article(
        path="_posts/2025-06-21-meta-openai.md",
        title="扎克伯格<script>alert(1)</script>\x00挖走\x0b三位研究员",
        text="Meta成功从OpenAI挖走三位顶尖研究员。",
        lang="zh-Hans",
        published=published,
        format="jekyll",
        slug="meta-openai",
    )
    event = Event(
        type="talent_move",
        actors=("Meta", "OpenAI"),
        summary="Meta从OpenAI挖走三位研究员",
        evidence="Meta成功从OpenAI挖走三位顶尖研究员。",
    )
    return [
        StoredArticle(
            id=1,
            uid="a41f09",
            article=article,
            summary="Meta从OpenAI挖走三位研究员。",
            url="https://news.example.org/frontier/2025/06/21/meta-openai.html",
            first_seen=published,
            updated=published,
            events=(StoredEvent(1, "ev-talent", 1, event, published),),
        )
    ]


@dataclass
class Server:
    url: str
    port: int
    feeds: Path
    outside: Path


@dataclass
class StaticPages:
    """A PageSource with fixed content."""

    page: HomePage

    async def home(self) -> HomePage:
        return self.page


def _health() -> Mapping[str, object]:
    return {"status": "ok", "articles": 3, "last_scan": datetime(2025, 6, 22, 8, 0, tzinfo=UTC)}


async def _serve(tmp_path: Path, pages: StaticPages | None = None) -> AsyncIterator[Server]:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    for rel, data in render_all(SITE, _articles(), limit=50).items():
        (feeds / rel).write_bytes(data)
        os.utime(feeds / rel, (FIXED_MTIME.timestamp(), FIXED_MTIME.timestamp()))
    outside = tmp_path / "secret.atom"  # would be served if a traversal got through
    outside.write_text("<secret/>")
    runner = await start_server(make_app(feeds, _health, pages), "127.0.0.1", 0)
    try:
        port = bound_port(runner)
        yield Server(f"http://127.0.0.1:{port}", port, feeds, outside)
    finally:
        await runner.cleanup()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async for running in _serve(tmp_path):
        yield running


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _raw_status(port: int, target: str) -> int:
    """Send the request line exactly as given, so no client normalises the path first."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=5)
    finally:
        writer.close()
        await writer.wait_closed()
    return int(status_line.split()[1])


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("articles.atom", "application/atom+xml; charset=utf-8"),
        ("articles.rss", "application/rss+xml; charset=utf-8"),
        ("events.atom", "application/atom+xml; charset=utf-8"),
        ("events.rss", "application/rss+xml; charset=utf-8"),
    ],
)
async def test_feeds_are_served_with_their_type(
    server: Server, client: aiohttp.ClientSession, name: str, content_type: str
) -> None:
    async with client.get(f"{server.url}/feeds/{FEED_PATHS[name]}") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == content_type
        assert await response.read() == (server.feeds / name).read_bytes()
        assert response.headers["Last-Modified"] == format_datetime(FIXED_MTIME, usegmt=True)
        assert response.headers["ETag"].startswith('"')
    async with client.head(f"{server.url}/feeds/{FEED_PATHS[name]}") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == content_type


async def test_other_written_files_are_served(
    server: Server, client: aiohttp.ClientSession
) -> None:
    (server.feeds / "chats").mkdir()
    (server.feeds / "chats" / "subscriptions.opml").write_text("<opml/>")
    (server.feeds / "events.json").write_text('{"items": []}')
    async with client.get(f"{server.url}/feeds/chats/subscriptions.opml") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/x-opml; charset=utf-8"
    async with client.get(f"{server.url}/feeds/events.json") as response:
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        assert await response.json() == {"items": []}


async def test_conditional_get(server: Server, client: aiohttp.ClientSession) -> None:
    url = f"{server.url}/feeds/articles.atom"
    async with client.get(url) as response:
        etag = response.headers["ETag"]
        last_modified = response.headers["Last-Modified"]
    async with client.get(url, headers={"If-None-Match": etag}) as response:
        assert response.status == 304
        assert await response.read() == b""
        assert response.headers["ETag"] == etag
    async with client.get(url, headers={"If-None-Match": f'"other", W/{etag}'}) as response:
        assert response.status == 304  # weak comparison, as RFC 9110 asks for GET
    async with client.get(url, headers={"If-Modified-Since": last_modified}) as response:
        assert response.status == 304
    earlier = format_datetime(FIXED_MTIME.replace(second=59, minute=59, hour=7), usegmt=True)
    async with client.get(url, headers={"If-Modified-Since": earlier}) as response:
        assert response.status == 200
    # If-None-Match wins over If-Modified-Since.
    headers = {"If-None-Match": '"stale"', "If-Modified-Since": last_modified}
    async with client.get(url, headers=headers) as response:
        assert response.status == 200


async def test_rewritten_file_gets_a_new_etag(
    server: Server, client: aiohttp.ClientSession
) -> None:
    url = f"{server.url}/feeds/events.rss"
    async with client.get(url) as response:
        etag = response.headers["ETag"]
    (server.feeds / "events.rss").write_bytes(b"<rss version='2.0'><channel/></rss>")
    async with client.get(url, headers={"If-None-Match": etag}) as response:
        assert response.status == 200
        assert response.headers["ETag"] != etag
        assert await response.read() == b"<rss version='2.0'><channel/></rss>"


@pytest.mark.parametrize(
    "target",
    [
        "/feeds/../pyproject.toml",
        "/feeds/../secret.atom",
        "/feeds/%2e%2e/secret.atom",
        "/feeds/%2E%2E%2Fsecret.atom",
        "/feeds/..%2fsecret.atom",
        "/feeds//etc/passwd",
        "/feeds/%2Fetc%2Fpasswd",
        "/feeds/..\\secret.atom",
        "/feeds/articles.atom%00.atom",
        "/feeds/",
        "/feeds",
        "/feeds/nope.atom",
        "/feeds/notes.txt",
        "/feeds/.articles.atom.tmp",
        "/feeds/dir.atom",
        "/feeds/escape.atom",
    ],
)
async def test_only_files_under_the_feeds_folder(server: Server, target: str) -> None:
    (server.feeds / "notes.txt").write_text("not a feed")
    (server.feeds / ".articles.atom.tmp").write_text("half written")
    (server.feeds / "dir.atom").mkdir()
    (server.feeds / "escape.atom").symlink_to(server.outside)
    assert await _raw_status(server.port, target) == 404


async def test_symlink_inside_the_folder_is_served(server: Server) -> None:
    (server.feeds / "latest.atom").symlink_to(server.feeds / "articles.atom")
    assert await _raw_status(server.port, "/feeds/latest.atom") == 200


def test_feed_file_refuses_what_leaves_the_folder(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "a.atom").write_text("<feed/>")
    (tmp_path / "b.atom").write_text("<feed/>")
    assert feed_file(feeds, "a.atom") == (feeds / "a.atom").resolve()
    for rel in ("../b.atom", str(tmp_path / "b.atom"), "x/../a.atom", "./a.atom", "a.atom/"):
        assert feed_file(feeds, rel) is None, rel
    assert feed_file(tmp_path / "missing", "a.atom") is None


async def test_healthz(server: Server, client: aiohttp.ClientSession) -> None:
    async with client.get(f"{server.url}/healthz") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        assert json.loads(await response.text()) == {
            "status": "ok",
            "articles": 3,
            "last_scan": "2025-06-22 08:00:00+00:00",
        }


async def test_home_page_lists_feeds_with_discovery_links(
    server: Server, client: aiohttp.ClientSession
) -> None:
    async with client.get(f"{server.url}/") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        page = lxml_html.fromstring(await response.text())
    discovery = {
        link.get("href"): link.get("type") for link in page.xpath("//head/link[@rel='alternate']")
    }
    assert discovery == {
        f"{server.url}/feeds/articles.atom": "application/atom+xml",
        f"{server.url}/feeds/articles.rss": "application/rss+xml",
        f"{server.url}/feeds/events.atom": "application/atom+xml",
        f"{server.url}/feeds/events.rss": "application/rss+xml",
    }
    listed = [a.get("href") for a in page.xpath("//body//li/a")]
    assert listed[0] == f"{server.url}/feeds/articles.atom"
    assert len(listed) == 4


async def test_home_page_from_a_page_source_escapes_text(
    tmp_path: Path, client: aiohttp.ClientSession
) -> None:
    stored = _articles()[0]
    pages = StaticPages(
        HomePage(
            title="AI <b>头条</b>",
            description="事件 & 摘要 <script>x</script>",
            base_url="https://news.example.org/eventfeed/",
            recent=(stored,),
        )
    )
    async for running in _serve(tmp_path, pages):
        async with client.get(f"{running.url}/") as response:
            text = await response.text()
    assert "<script" not in text
    assert "<b>" not in text
    page = lxml_html.fromstring(text)
    assert page.findtext(".//title") == "AI <b>头条</b>"
    hrefs = [link.get("href") for link in page.xpath("//head/link[@rel='alternate']")]
    assert "https://news.example.org/eventfeed/feeds/events.atom" in hrefs
    recent = page.xpath("//body//li/a[contains(@href, 'meta-openai')]")
    assert recent[0].text_content() == "扎克伯格<script>alert(1)</script>挖走三位研究员"
