"""The HTTP server, driven over real HTTP on 127.0.0.1 by aiohttp's client and raw sockets,
with a real store behind the pages and the filtered feeds."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import feedparser
import pytest
from aiohttp import web
from lxml import etree
from lxml import html as lxml_html
from support.samples import sample_articles

from bot.core.model import Extraction, StoredArticle
from bot.runtime.metrics import Metrics
from bot.runtime.siteview import SiteView
from bot.runtime.web import bound_port, feed_file, make_app, start_server
from bot.site.catalog import EVENT_TYPE_SCHEME
from bot.site.pages import bar_end, chart_bars, render_home
from bot.site.render import FeedSite, build_feeds, render_all
from bot.site.statics import static_documents
from bot.store import Store

SITE = FeedSite("https://news.example.org/", "eventfeed", "Headline events", "zh-Hans")
FIXED_MTIME = datetime(2025, 6, 22, 8, 0, 0, tzinfo=UTC)
NOW = datetime(2025, 6, 25, 8, 0, tzinfo=UTC)
STRICT = etree.XMLParser(recover=False, resolve_entities=False)


def _stored() -> list[StoredArticle]:
    """The feed tests' articles, as the store would hand them back."""
    return sample_articles()


def _store(tmp_path: Path) -> Store:
    """A real SQLite store holding the feed tests' articles and events."""
    store = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    for n, stored in enumerate(_stored()):
        store.save_article(
            stored.article,
            Extraction(stored.summary, tuple(s.event for s in stored.events)),
            stored.url,
            size=1,
            mtime_ns=n,
            content_hash=f"hash-{n}",
            now=stored.first_seen,
            targets={},
        )
    return store


@dataclass
class Server:
    url: str
    port: int
    feeds: Path
    outside: Path
    statuses: list[tuple[str, int]]  # (path, status) of every response, in order


def _health() -> Mapping[str, object]:
    return {"status": "ok", "articles": 3, "last_scan": datetime(2025, 6, 22, 8, 0, tzinfo=UTC)}


async def _serve(tmp_path: Path, site: FeedSite = SITE) -> AsyncIterator[Server]:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    documents = render_all(site, _stored(), limit=50)
    documents |= static_documents(site, build_feeds(site, _stored()))
    for rel, data in documents.items():
        (feeds / rel).parent.mkdir(parents=True, exist_ok=True)
        (feeds / rel).write_bytes(data)
        os.utime(feeds / rel, (FIXED_MTIME.timestamp(), FIXED_MTIME.timestamp()))
    outside = tmp_path / "secret.atom"  # would be served if a traversal got through
    outside.write_text("<secret/>")
    store = _store(tmp_path)
    view = SiteView(store, site, 50, ZoneInfo("Asia/Shanghai"), lambda: NOW)
    metrics = Metrics()
    metrics.scan_seconds.observe(0.2)
    app = make_app(
        feeds,
        _health,
        view,
        lambda: metrics.render(store.counts(), store.outbox_counts()),
        max_age=90,
    )
    statuses: list[tuple[str, int]] = []

    async def record(request: web.Request, response: web.StreamResponse) -> None:
        statuses.append((request.path_qs, response.status))

    app.on_response_prepare.append(record)
    runner = await start_server(app, "127.0.0.1", 0)
    try:
        port = bound_port(runner)
        yield Server(f"http://127.0.0.1:{port}", port, feeds, outside, statuses)
    finally:
        await runner.cleanup()
        store.close()


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
        ("events.json", "application/feed+json; charset=utf-8"),
        ("events/type/acquisition.atom", "application/atom+xml; charset=utf-8"),
        ("tag/人才.rss", "application/rss+xml; charset=utf-8"),
        ("feed.xsl", "text/xsl; charset=utf-8"),
    ],
)
async def test_feeds_are_served_with_their_type(
    server: Server, client: aiohttp.ClientSession, name: str, content_type: str
) -> None:
    async with client.get(f"{server.url}/feeds/{name}") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == content_type
        assert response.headers["Cache-Control"] == "public, max-age=90"  # the scan interval
        assert await response.read() == (server.feeds / name).read_bytes()
        assert response.headers["Last-Modified"] == format_datetime(FIXED_MTIME, usegmt=True)
        assert response.headers["ETag"].startswith('"')
    async with client.head(f"{server.url}/feeds/{name}") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == content_type


async def test_other_written_files_are_served(
    server: Server, client: aiohttp.ClientSession
) -> None:
    (server.feeds / "chats").mkdir()
    (server.feeds / "chats" / "subscriptions.opml").write_text("<opml/>")
    (server.feeds / "extra.json").write_text('{"items": []}')
    async with client.get(f"{server.url}/feeds/chats/subscriptions.opml") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/x-opml; charset=utf-8"
    async with client.get(f"{server.url}/feeds/extra.json") as response:
        assert response.headers["Content-Type"] == "application/feed+json; charset=utf-8"
        assert json.loads(await response.read()) == {"items": []}


async def test_a_traditional_script_feed_address_moves_to_its_simplified_slug(
    server: Server, client: aiohttp.ClientSession
) -> None:
    """Slugs fold to simplified Chinese (issue 16): a reader subscribed to the traditional
    address before is sent on for good, not lost to a 404."""
    (server.feeds / "actor").mkdir(exist_ok=True)
    (server.feeds / "actor" / "太极实业.atom").write_text("<feed/>")
    async with client.get(
        f"{server.url}/feeds/actor/太極實業.atom", allow_redirects=False
    ) as response:
        assert response.status == 301
        assert (
            response.headers["Location"] == "/feeds/actor/%E5%A4%AA%E6%9E%81%E5%AE%9E%E4%B8%9A.atom"
        )
    async with client.get(f"{server.url}/feeds/actor/太極實業.atom") as response:
        assert response.status == 200 and await response.text() == "<feed/>"
    async with client.get(f"{server.url}/feeds/actor/太極.atom") as response:
        assert response.status == 404  # nothing under either spelling


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


async def test_gzip_when_asked_with_its_own_etag(
    server: Server, client: aiohttp.ClientSession
) -> None:
    url = f"{server.url}/feeds/articles.atom"
    plain = (server.feeds / "articles.atom").read_bytes()
    headers = {"Accept-Encoding": "gzip"}
    async with client.get(url, headers=headers, auto_decompress=False) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in response.headers["Vary"]
        body = await response.read()
        etag = response.headers["ETag"]
    assert gzip.decompress(body) == plain and len(body) < len(plain)
    async with client.get(url, headers={"Accept-Encoding": "identity"}) as response:
        assert "Content-Encoding" not in response.headers
        assert response.headers["ETag"] != etag  # another representation, another tag
        assert await response.read() == plain
    async with client.get(url, headers=headers | {"If-None-Match": etag}) as response:
        assert response.status == 304


async def test_filtered_feeds(server: Server, client: aiohttp.ClientSession) -> None:
    async def titles(query: str, name: str = "events.atom") -> list[str]:
        async with client.get(f"{server.url}/feeds/{name}?{query}") as response:
            assert response.status == 200, query
            data = await response.read()
        etree.fromstring(data, STRICT)
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0
        # An event entry by its type (its title shows the type as a word), an article's by title.
        types = [[t.term for t in e.tags if t.scheme == EVENT_TYPE_SCHEME] for e in parsed.entries]
        return [(t or [e.title])[0] for t, e in zip(types, parsed.entries, strict=True)]

    everything = await titles("limit=50")
    assert sorted(everything) == ["acquisition", "funding", "talent_move"]
    assert everything[2] == "funding"  # the oldest article's
    assert await titles("limit=1") == everything[:1]
    assert await titles("type=funding") == ["funding"]
    assert await titles("actor=scale%20ai") == ["acquisition"]
    assert await titles("actor=openai&type=talent_move") == ["talent_move"]
    assert await titles("q=Mistral") == ["funding"]
    assert await titles("q=nothing-like-this") == []
    assert await titles("type=funding", "articles.rss") == ["Mistral AI raises €600 million"]
    async with client.get(f"{server.url}/feeds/articles.json?q=台積電&script=hans") as r:
        doc = json.loads(await r.read())
    assert [item["title"] for item in doc["items"]] == ["台积电宣布在亚利桑那州追加投资"]
    assert doc["feed_url"].startswith("https://news.example.org/feeds/articles.json?q=")
    async with client.get(f"{server.url}/feeds/articles.atom?script=hant") as response:
        assert "巨資挖走三位研究員" in await response.text()
        etag = response.headers["ETag"]
    async with client.get(
        f"{server.url}/feeds/articles.atom?script=hant", headers={"If-None-Match": etag}
    ) as response:
        assert response.status == 304
    for bad in ("limit=0", "limit=x", "script=latin"):
        async with client.get(f"{server.url}/feeds/events.atom?{bad}") as response:
            assert response.status == 400, bad
    async with client.get(f"{server.url}/feeds/actor/nobody.atom?limit=1") as response:
        assert response.status == 404


async def test_home_page_for_people(server: Server, client: aiohttp.ClientSession) -> None:
    async with client.get(f"{server.url}/") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "script-src" not in response.headers["Content-Security-Policy"]
        text = await response.text()
    assert "<script" not in text  # the article title holds one: always escaped
    page = lxml_html.fromstring(text)
    discovery = {
        link.get("href"): link.get("type") for link in page.xpath("//head/link[@rel='alternate']")
    }
    assert discovery["https://news.example.org/feeds/events.atom"] == "application/atom+xml"
    assert discovery["https://news.example.org/feeds/articles.json"] == "application/feed+json"
    assert len(discovery) == 6
    copyable = page.xpath("//code[@class='url']/text()")
    assert "https://news.example.org/feeds/events/type/acquisition.rss" in copyable
    assert page.xpath("//a[@href='https://news.example.org/feeds/feeds.opml']")
    assert page.xpath("//a[@href='https://news.example.org/feeds/actor/meta.atom']")
    rows = page.xpath("//table[last()]//tr[td]")
    kinds = [row.xpath("string(td[1])") for row in rows]
    assert sorted(kinds[:2]) == ["人才流动", "收购"] and kinds[2] == "融资"
    assert "143亿美元 (US$14.3 billion)" in rows[kinds.index("收购")].text_content()
    bars = page.xpath("//svg//*[local-name()='rect']/*[local-name()='title']/text()")
    assert "2025-06-21 收购: 1" in bars and "2025-06-11 融资: 1" in bars


async def test_article_pages(server: Server, client: aiohttp.ClientSession) -> None:
    async with client.get(f"{server.url}/") as response:
        home = lxml_html.fromstring(await response.text())
    own = home.xpath("//tr[td[1]='收购']//a[text()='page']/@href")[0]
    assert own.startswith("https://news.example.org/article/")
    async with client.get(server.url + own.removeprefix("https://news.example.org")) as response:
        assert response.status == 200
        page = lxml_html.fromstring(await response.text())
    assert page.findtext(".//h1") == "扎克伯格<script>alert('x')</script>巨资挖走三位研究员"
    assert "Meta以143亿美元收购Scale AI 49%股份" in page.text_content()
    # A plain-text repost's link is a page the daemon serves: articles/<path>.html.
    async with client.get(f"{server.url}/articles/repost/tsmc.html") as response:
        assert response.status == 200
        assert "台積電宣布追加投資一千億美元。" in await response.text()
    for missing in ("/article/nope.html", "/articles/repost/ts.html"):
        async with client.get(f"{server.url}{missing}") as response:
            assert response.status == 404


async def test_metrics_in_prometheus_text_format(
    server: Server, client: aiohttp.ClientSession
) -> None:
    async with client.get(f"{server.url}/metrics") as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    samples = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert samples["eventfeed_articles"] == "3"
    assert samples["eventfeed_events"] == "3"
    assert samples['eventfeed_deliveries{status="sent"}'] == "0"
    assert samples["eventfeed_scan_duration_seconds_count"] == "1"
    assert samples['eventfeed_scan_duration_seconds_bucket{le="0.25"}'] == "1"
    assert samples['eventfeed_scan_duration_seconds_bucket{le="0.1"}'] == "0"
    assert "# TYPE eventfeed_send_duration_seconds histogram" in text


async def test_a_browser_gets_feeds_as_xml_so_the_stylesheet_applies(
    server: Server, client: aiohttp.ClientSession
) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    reader = "application/atom+xml, application/rss+xml;q=0.9, text/html;q=0.1"
    url = f"{server.url}/feeds/events.rss"
    async with client.get(url, headers={"Accept": browser}) as response:
        assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
        assert "Accept" in response.headers["Vary"]
        assert b'<?xml-stylesheet type="text/xsl" href="feed.xsl"?>' in await response.read()
    async with client.get(url, headers={"Accept": reader}) as response:
        assert response.headers["Content-Type"] == "application/rss+xml; charset=utf-8"


async def test_home_page_is_made_again_after_a_change_or_at_midnight(tmp_path: Path) -> None:
    """The home page's counts read half of a large state: it is kept until the store changes
    (a publish calls `invalidate`) or the day ends."""
    store = _store(tmp_path)
    now = [NOW]
    view = SiteView(store, SITE, 50, ZoneInfo("Asia/Shanghai"), lambda: now[0])
    try:
        first = await view.home()
        assert await view.home() is first  # nothing changed: not made again
        later = replace(_stored()[2].article, path="en/later.txt", title="Later news")
        store.save_article(
            later, Extraction("", (_stored()[2].events[0].event,)), "https://x.org/later",
            size=1, mtime_ns=9, content_hash="later", now=NOW, targets={},
        )  # fmt: skip
        view.invalidate()
        again = await view.home()
        assert again is not first
        assert "Later news" in {article.article.title for article, _event in again.events}
        now[0] = NOW + timedelta(days=1)
        tomorrow = await view.home()
        assert tomorrow.last_day == again.last_day + timedelta(days=1)
    finally:
        store.close()


async def test_home_page_names_feeds_by_what_they_hold(
    server: Server, client: aiohttp.ClientSession
) -> None:
    """Issue 17: the articles feed row said just "eventfeed", every link began "eventfeed — ",
    types showed as ids, URLs sat in boxes that cut them, and the Date column wrapped."""
    async with client.get(f"{server.url}/") as response:
        page = lxml_html.fromstring(await response.text())
    feeds = page.xpath("//table[contains(@class,'feeds')]")[0]
    names = [row.xpath("string(th)") for row in feeds.xpath(".//tr")]
    assert names[:2] == ["Articles", "All events"] and "收购" in names, names
    links = page.xpath("//h3/following-sibling::ul[1]//a/text()")
    assert "Meta" in links and "Frontier Trends" in links and "人才" in links, links
    assert not [text for text in page.xpath("//body//text()") if "eventfeed —" in text]
    assert "acquisition" not in page.xpath("//table[contains(@class,'events')]//td/text()")
    # Each URL in full as text (wrapping, selected whole by a click), none in a box.
    assert not page.xpath("//input")
    urls = page.xpath("//code[@class='url']/text()")
    assert len(urls) == 3 * len(names) and len(set(urls)) == len(urls)
    style = page.findtext(".//style")
    assert "code.url{" in style and "overflow-wrap:anywhere" in style
    assert "td.date" in style and "white-space:nowrap" in style
    assert page.xpath("//td[@class='date']")


async def test_home_page_shows_no_file_time_as_a_date(tmp_path: Path) -> None:
    """An event without a date of an article without one shows no date, not the file's time."""
    store = _store(tmp_path)
    undated = replace(
        _stored()[2].article,
        path="notes/undated.txt",
        title="Undated note",
        published=datetime(2025, 6, 24, 3, tzinfo=UTC),  # the file's mtime
        undated=True,
    )
    dated = replace(_stored()[2].events[0].event, date=None)
    store.save_article(
        undated, Extraction("", (dated,)), "https://x.org/undated",
        size=1, mtime_ns=9, content_hash="undated", now=NOW, targets={},
    )  # fmt: skip
    view = SiteView(store, SITE, 50, ZoneInfo("Asia/Shanghai"), lambda: NOW)
    try:
        page = lxml_html.fromstring(render_home(await view.home()))
    finally:
        store.close()
    rows = page.xpath("//table[contains(@class,'events')]//tr[td]")
    dates = {row.xpath("string(td[2]//a)"): row.xpath("string(td[5])") for row in rows}
    assert dates["Undated note"] == ""
    assert dates["Mistral AI raises €600 million"] == "2025-06-11"  # the event's own date


@pytest.mark.parametrize(
    ("oldest", "newest", "unit", "first"),
    [
        (date(2025, 6, 11), date(2025, 6, 21), "day", date(2025, 5, 25)),
        (date(2025, 3, 1), date(2025, 6, 21), "week", date(2024, 12, 9)),
        (date(2019, 2, 1), date(2020, 6, 21), "month", date(2018, 3, 1)),
        (date(1990, 1, 1), date(2025, 6, 21), "year", date(1998, 1, 1)),
    ],
)
def test_the_chart_reaches_back_to_the_oldest_events(
    oldest: date, newest: date, unit: str, first: date
) -> None:
    """Issue 17: the chart showed the last 4 weeks before today, so older posts made one bar
    (or none): its bars now span the events, a day, week, month or year each."""
    got_unit, bars = chart_bars(oldest, newest, date(2026, 12, 6), 28)
    assert (got_unit, bars[0], len(bars)) == (unit, first, 28)
    assert bars[-1] <= newest < bar_end(bars[-1], unit)
    assert all(bar_end(a, unit) == b for a, b in pairwise(bars))


def test_event_span_on_both_backends(store_url: str) -> None:
    """The chart's range: the oldest and newest articles with active events."""
    store = Store(store_url)
    try:
        assert store.event_span() is None
        for n, stored in enumerate(_stored()):
            store.save_article(
                stored.article, Extraction(stored.summary, tuple(s.event for s in stored.events)),
                stored.url, size=1, mtime_ns=n, content_hash=f"hash-{n}",
                now=stored.first_seen, targets={},
            )  # fmt: skip
        # The TSMC repost has no events: the span is Mistral's (11 June) to Meta's (21 June).
        assert store.event_span() == (
            _stored()[2].article.published.astimezone(UTC),
            _stored()[1].article.published.astimezone(UTC),
        )
    finally:
        store.close()


async def test_home_page_chart_of_older_posts(tmp_path: Path) -> None:
    store = _store(tmp_path)  # events of June 2025; a year and a half later:
    view = SiteView(store, SITE, 50, ZoneInfo("Asia/Shanghai"), lambda: NOW + timedelta(days=540))
    try:
        page = lxml_html.fromstring(render_home(await view.home()))
    finally:
        store.close()
    assert page.xpath("//h2[text()='Events per day']")  # the 28 days up to the newest article
    bars = page.xpath("//svg//*[local-name()='rect']/*[local-name()='title']/text()")
    assert sorted(bars) == ["2025-06-11 融资: 1", "2025-06-21 人才流动: 1", "2025-06-21 收购: 1"]


async def test_article_page_dates_canonical_and_original(
    server: Server, client: aiohttp.ClientSession
) -> None:
    """Issue 17: raw ISO timestamps, "Original:" pointing to the page itself, and two URLs
    for one page without rel=canonical."""
    async with client.get(f"{server.url}/articles/_posts/2025-06-21-meta-openai.html") as response:
        page = lxml_html.fromstring(await response.text())
    when = page.xpath("//time")[0]
    assert when.get("datetime") == "2025-06-21T12:00:00+08:00"
    assert when.text == "21 June 2025, 12:00 (UTC+08:00)"
    canonical = "https://news.example.org/frontier/2025/06/21/meta-openai.html"
    assert page.xpath("//link[@rel='canonical']/@href") == [canonical]
    assert page.xpath("//p[starts-with(., 'Original:')]/a/@href") == [canonical]
    kinds = page.xpath("//li/span[@class='type']/text()")
    assert sorted(kinds) == ["人才流动", "收购"]


async def test_article_page_of_a_text_file_links_not_to_itself(tmp_path: Path) -> None:
    """A text file's link is its page here: no "Original:" to itself, one canonical URL for
    both addresses, and no date when the file has none (not its mtime)."""
    store = _store(tmp_path)
    own = replace(_stored()[2].article, path="notes/own.txt", title="Own", undated=True)
    url = "https://news.example.org/articles/notes/own.html"
    store.save_article(
        own, Extraction("", ()), url,
        size=1, mtime_ns=9, content_hash="own", now=NOW, targets={},
    )  # fmt: skip
    view = SiteView(store, SITE, 50, ZoneInfo("Asia/Shanghai"), lambda: NOW)
    try:
        stored = store.find_article(stem="notes/own")
        assert stored is not None
        pages = [await view.article(None, "notes/own"), await view.article(stored.uid, None)]
    finally:
        store.close()
    for text in pages:
        assert text is not None
        page = lxml_html.fromstring(text)
        assert page.xpath("//link[@rel='canonical']/@href") == [url]
        assert not page.xpath("//p[starts-with(., 'Original:')]")
        assert not page.xpath("//time")
