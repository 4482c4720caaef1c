"""Links that resolve: with the daemon as the site, every article link is a page it serves; the
user's own site keeps its permalinks; `extract` never puts a filesystem path in a URL."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import aiohttp
import feedparser
import pytest
from aiohttp import web
from support.fakebot import FakeBotApi
from support.waiting import eventually, free_port

from bot.cli.config import load_pack
from bot.cli.main import main
from bot.core.config import parse_config
from bot.extract import RulePack
from bot.runtime.pipeline import Pipeline, build_pipeline
from bot.runtime.siteview import SiteView
from bot.runtime.web import make_app
from bot.site.permalinks import is_daemon_url
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data" / "articles"  # the two samples make run shows, copied
SAMPLES = ("000_4fbda6de1bb3b082.txt", "003_5530165580ebcf3e.txt")


def copy_samples(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in SAMPLES:
        shutil.copy(DATA / name, folder)


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
    copy_samples(folder)
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


# --- type feeds and URL filters -------------------------------------------------------------

MICROSOFT = """---
title: Microsoft buys GitHub
date: 2018-06-04 10:00:00 +0000
---
Microsoft said on Monday it will acquire GitHub for $7.5 billion in stock.
"""


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Path, RulePack]]:
    """The real pipeline, publish and server over the two samples and an English post."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    folder = tmp_path / "posts"
    copy_samples(folder)
    (folder / "2018-06-04-microsoft.md").write_text(MICROSOFT, encoding="utf-8")
    config = parse_config(
        f"articles: {{folder: {folder}}}\n"
        f"state: {{url: 'sqlite:///{tmp_path / 'db.sqlite'}'}}\n"
        f"feeds: {{folder: {tmp_path / 'feeds'}}}\n"
        f"site: {{base_url: '{url}', timezone: Asia/Shanghai}}\n",
        {},
    )
    store = Store(config.state.url)
    pack = load_pack(config)
    pipeline = build_pipeline(config, store, pack)
    view = SiteView(
        store, pipeline.site, 50, config.site.tz, lambda: datetime.now(UTC), pack=lambda: pack
    )
    runner = web.AppRunner(make_app(config.feeds.folder, dict, view))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    pipeline.scan()
    pipeline.write_feeds()
    view.invalidate()
    try:
        yield url, tmp_path / "feeds", pack
    finally:
        await runner.cleanup()
        store.close()


async def test_every_known_type_has_a_feed_from_the_first_publish(
    served: tuple[str, Path, RulePack],
) -> None:
    url, folder, pack = served
    assert "acquisition" in pack.event_types and len(pack.event_types) > 5
    async with aiohttp.ClientSession() as session:
        for event_type in pack.event_types:
            for fmt in ("atom", "rss", "json"):
                name = f"events/type/{event_type}.{fmt}"
                assert (folder / name).is_file(), name
                status, _body = await _get(session, f"{url}feeds/{name}")
                assert status == 200, name
        # One with no entries yet: a valid, empty feed with a readable title.
        empty = [
            t
            for t in pack.event_types
            if not feedparser.parse((folder / f"events/type/{t}.atom").read_bytes()).entries
        ]
        assert empty
        parsed = feedparser.parse((folder / f"events/type/{empty[0]}.atom").read_bytes())
        assert not parsed.bozo and "[" not in parsed.feed.title and "_" not in parsed.feed.title
        status, opml = await _get(session, f"{url}feeds/feeds.opml")
        assert f"events/type/{empty[0]}.atom".encode() in opml
        status, home = await _get(session, url)
        assert f"events/type/{empty[0]}.atom".encode() in home


async def test_unknown_types_are_refused_like_bad_limits(
    served: tuple[str, Path, RulePack],
) -> None:
    url, _folder, _pack = served
    async with aiohttp.ClientSession() as session:
        status, body = await _get(session, f"{url}feeds/events.atom?type=bogus")
        assert status == 400 and b"bogus" in body
        status, _ = await _get(session, f"{url}feeds/events.atom?limit=abc")
        assert status == 400
        status, body = await _get(session, f"{url}feeds/events.atom?type=Acquisitions")
        assert status == 200
        assert feedparser.parse(body).entries


@pytest.mark.parametrize(
    ("actor", "expected"),
    [("Microsoft", "Microsoft"), ("微软", "Microsoft"), ("微軟", "Microsoft"),
     ("microsoft", "Microsoft"), ("Zuckerberg", "Mark Zuckerberg")],
)  # fmt: skip
async def test_url_filters_resolve_aliases_as_telegram_filters_do(
    served: tuple[str, Path, RulePack], actor: str, expected: str
) -> None:
    url, _folder, pack = served
    assert pack.canonical(actor) == expected  # what /subscribe would take it for
    async with aiohttp.ClientSession() as session:
        status, body = await _get(session, f"{url}feeds/events.atom?actor={quote(actor)}")
    assert status == 200
    entries = feedparser.parse(body).entries
    assert entries, actor
    assert all(any(t.term == expected for t in e.tags) for e in entries)


def _pipeline_at(tmp_path: Path, folder: Path, base_url: str, url: str) -> Pipeline:
    config = parse_config(
        f"articles: {{folder: {folder}}}\n"
        f"state: {{url: '{url}'}}\n"
        f"feeds: {{folder: {tmp_path / 'feeds'}}}\n"
        f"site: {{base_url: '{base_url}', timezone: Asia/Shanghai}}\n"
        "http: {bind: '127.0.0.1:8080'}\n",
        {},
    )
    return build_pipeline(config, Store(config.state.url), load_pack(config))


def test_a_new_base_url_relinks_the_articles_stored_before_it(
    tmp_path: Path, store_url: str
) -> None:
    """An upgrade, or a changed `site.base_url`, takes effect for unchanged files too."""
    folder = tmp_path / "posts"
    copy_samples(folder)
    links: dict[str, set[str]] = {}
    for base in (
        "https://blog.example.org/",
        "http://127.0.0.1:8080/",
        "https://blog.example.org/",
    ):
        pipeline = _pipeline_at(tmp_path, folder, base, store_url)
        pipeline.scan()
        pipeline.write_feeds()
        stored = {a.url for a in pipeline.store.published_articles()}
        fed = {
            e.link
            for e in feedparser.parse((tmp_path / "feeds" / "articles.atom").read_bytes()).entries
        }
        assert stored == fed and len(fed) == 2
        links.setdefault(base, set()).update(fed)
        pipeline.store.close()
    assert all(
        urlsplit(link).path.startswith("/article/") for link in links["http://127.0.0.1:8080/"]
    )
    assert len(links["https://blog.example.org/"]) == 2  # the same permalinks both times
    assert not any("/article/" in link for link in links["https://blog.example.org/"])


def test_the_link_rule_stays_with_its_database(tmp_path: Path) -> None:
    """It describes this database's articles: a backup neither carries nor overwrites it."""
    folder = tmp_path / "posts"
    copy_samples(folder)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    pipeline = _pipeline_at(tmp_path, folder, "https://blog.example.org/", url)
    pipeline.scan()
    store = pipeline.store
    assert "flags" in store.export_globals()
    assert not any(row["key"] == "links" for row in store.export_globals()["flags"])
    store.import_chats([], {"flags": [{"key": "links", "value": "from another machine"}]})
    # Had the import set it, this rule would pass for done and relink nothing.
    assert store.relink("from another machine", lambda uid, article: "x") == 2
    store.close()


async def test_alerts_and_latest_link_to_the_daemons_page(
    tmp_path: Path, fake_bot: FakeBotApi
) -> None:
    """The shipped kind of base URL: the Telegram alert's title and /latest link to a page
    the daemon serves."""
    folder = tmp_path / "posts"
    folder.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    config = tmp_path / "eventfeed.yaml"
    config.write_text(
        f"""
articles: {{folder: {folder}}}
state: {{url: "sqlite:///{tmp_path / "eventfeed.db"}"}}
feeds: {{folder: {tmp_path / "feeds"}}}
site: {{base_url: "{base}", timezone: Asia/Shanghai}}
http: {{bind: "127.0.0.1:{port}"}}
telegram: {{base_url: "{fake_bot.base_url}"}}
scan: {{interval_seconds: 30, debounce_seconds: 0.2}}
""",
        encoding="utf-8",
    )
    env = {**os.environ, "EVENTFEED_TELEGRAM_TOKEN": "123456:LINKS-SECRET", "PTB_TIMEDELTA": "true"}
    with (tmp_path / "daemon.log").open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(config),
            cwd=tmp_path, env=env, stdout=out, stderr=out,
        )  # fmt: skip
    try:
        await fake_bot.wait_for(lambda: fake_bot.calls_to("getUpdates"), 30, "the bot to poll")
        chat = 777002
        fake_bot.inject_command(chat, "/subscribe")
        await fake_bot.wait_for(lambda: fake_bot.sent(chat), 30, "the /subscribe answer")
        answered = len(fake_bot.sent(chat))
        shutil.copy(DATA / SAMPLES[0], folder)
        await fake_bot.wait_for(lambda: len(fake_bot.sent(chat)) > answered, 30, "the alert")
        alert = fake_bot.sent(chat)[-1].text
        fake_bot.inject_command(chat, "/latest")
        await fake_bot.wait_for(lambda: len(fake_bot.sent(chat)) > answered + 1, 30, "/latest")
        latest = fake_bot.sent(chat)[-1].text
        async with aiohttp.ClientSession() as session:
            for text in (alert, latest):
                [link] = {h for h in _hrefs(text) if h.startswith(base)}
                assert link.startswith(f"{base}article/"), text
                status, _page = await _get(session, link)
                assert status == 200, link
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0


def test_a_reloaded_rule_pack_adds_and_removes_type_feeds(tmp_path: Path) -> None:
    """A type added by a reload has its feed at the next publish; one taken out, empty, goes."""
    folder = tmp_path / "posts"
    copy_samples(folder)
    rules = tmp_path / "rules.yaml"
    shipped = (ROOT / "bot" / "defaults" / "rules.yaml").read_text(encoding="utf-8")
    rules.write_text(
        shipped.replace("types:\n", "types:\n  recall:\n    triggers:\n      en: [recall*]\n", 1),
        encoding="utf-8",
    )
    config = parse_config(
        f"articles: {{folder: {folder}}}\n"
        f"state: {{url: 'sqlite:///{tmp_path / 'db.sqlite'}'}}\n"
        f"feeds: {{folder: {tmp_path / 'feeds'}}}\n"
        f"extract: {{rules: {rules}}}\n",
        {},
    )
    shipped_pack = load_pack(replace(config, extract=replace(config.extract, rules=None)))
    pipeline = build_pipeline(config, Store(config.state.url), shipped_pack)
    pipeline.scan()
    pipeline.publish_feeds()
    feeds = tmp_path / "feeds"
    assert not (feeds / "events/type/recall.atom").exists()
    pipeline.pack = load_pack(config)  # what a reload does
    assert "events/type/recall.atom" in pipeline.publish_feeds()  # no article changed
    assert b"recall" in (feeds / "feeds.opml").read_bytes().lower()
    assert feedparser.parse((feeds / "events/type/recall.atom").read_bytes()).entries == []
    pipeline.pack = shipped_pack
    pipeline.publish_feeds()
    assert not (feeds / "events/type/recall.atom").exists()
    pipeline.store.close()
