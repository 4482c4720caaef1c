"""Hostile requests to the HTTP server (issue 15): query strings that must never give a 500,
idle and half-sent connections, bounded work and memory per request."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import resource
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from support.daemon import ROOT, Daemon, Layout, drop
from support.waiting import eventually
from test_web import NOW, SITE, Server, _serve, _stored
from yarl import URL

from bot.core.config import parse_config
from bot.core.model import Extraction
from bot.runtime.logs import RepeatFilter, setup_logging
from bot.runtime.siteview import SiteView
from bot.runtime.web import GZIPPED, bound_port, make_app, parse_query, start_server
from bot.site.catalog import FeedQuery
from bot.store import Store
from bot.store.articles import ArticleSave

KEYS = ["limit", "type", "actor", "q", "script", "x"]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async for running in _serve(tmp_path):
        yield running


@pytest.mark.parametrize("value", ["²", "٣", "１", "+1", " 1", "1_0", "0", "-1", "9" * 5000])
def test_limit_takes_only_ascii_digits(value: str) -> None:
    assert isinstance(parse_query({"limit": value}), str), value


def test_a_limit_in_ascii_digits_is_read() -> None:
    for text, limit in (("000123456", 123456), ("1", 1), ("5000", 5000)):
        query = parse_query({"limit": text})
        assert not isinstance(query, str) and query.limit == limit


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(["/feeds/events.atom", "/feeds/articles.json", "/feeds/nope.rss"]),
    pairs=st.lists(st.tuples(st.sampled_from(KEYS), st.text(max_size=40)), max_size=4),
)
@example(path="/feeds/events.atom", pairs=[("limit", "²")])
@example(path="/feeds/events.atom", pairs=[("limit", "9" * 5000)])
@example(path="/feeds/events.atom", pairs=[("q", "\x00\ud800")])
async def test_no_query_string_gives_a_server_error(
    server: Server, path: str, pairs: list[tuple[str, str]]
) -> None:
    query = "&".join(f"{quote(k)}={quote(v, safe='', errors='surrogatepass')}" for k, v in pairs)
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"{server.url}{path}?{query}") as response,
    ):
        assert response.status < 500, (query, await response.text())
        if response.status == 400:
            assert (await response.text()).strip(), "a 400 says what is wrong"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    pattern=st.sampled_from(["/article/%s.html", "/articles/%s.html", "/feeds/%s.atom"]),
    name=st.text(max_size=30),
)
@example(pattern="/articles/%s.html", name="a\x00b")
@example(pattern="/article/%s.html", name="\udcff")
async def test_no_path_gives_a_server_error(server: Server, pattern: str, name: str) -> None:
    path = pattern % quote(name, safe="/", errors="surrogatepass")
    async with (
        aiohttp.ClientSession() as client,
        client.get(URL(server.url + path, encoded=True)) as response,
    ):
        assert response.status < 500, (path, await response.text())


# --- connections: a cap, and a deadline for the request head (finding 9) --------------------


def established_to(port: int) -> int:
    """Open TCP connections whose local end is `port`: the server's side of each."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state = fields[1], fields[3]
        if int(local.split(":")[1], 16) == port and state == "01":  # ESTABLISHED
            count += 1
    return count


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """The server closed this connection (a 503 answer may come first)."""
    try:
        while await asyncio.wait_for(reader.read(4096), 0.01):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def test_idle_and_half_sent_connections_are_capped_and_closed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "feeds").mkdir()
    app = make_app(tmp_path / "feeds", lambda: {"status": "ok"})
    runner = await start_server(app, "127.0.0.1", 0, max_connections=20, idle_seconds=1.0)
    port = bound_port(runner)
    url = f"http://127.0.0.1:{port}/healthz"
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        caplog.set_level(logging.INFO)
        for n in range(300):  # far above the cap; half silent, half a request head cut short
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            if n % 2:
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            opened.append((reader, writer))
        assert established_to(port) <= 20
        async with aiohttp.ClientSession() as client, client.get(url) as response:
            assert response.status == 200  # a real request still gets through
            assert (await response.json())["status"] == "ok"

        async def all_closed() -> bool:
            return all([await closed_by_server(reader) for reader, _ in opened])

        await eventually(all_closed, "the idle connections closed", within=10)
        assert established_to(port) == 0
        # One line about the limit, not one per connection.
        noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(noisy) <= 2, [r.getMessage() for r in noisy]
    finally:
        for _, writer in opened:
            writer.close()
        await runner.cleanup()


async def test_a_slow_request_is_not_closed_to_make_room(tmp_path: Path) -> None:
    """A connection answering a request is busy: new ones wait for room or get a 503."""
    (tmp_path / "feeds").mkdir()
    release = asyncio.Event()

    def health() -> dict[str, str]:
        return {"status": "ok"}

    app = make_app(tmp_path / "feeds", health)

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="done")

    app.router.add_get("/slow", slow)
    runner = await start_server(app, "127.0.0.1", 0, max_connections=2, idle_seconds=5.0)
    port = bound_port(runner)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as c:
            slow_ones = [
                asyncio.create_task(c.get(f"http://127.0.0.1:{port}/slow")) for _ in range(2)
            ]
            await eventually(lambda: established_to(port) == 2, "two requests in flight")
            async with c.get(f"http://127.0.0.1:{port}/healthz") as refused:
                assert refused.status == 503
            release.set()
            for task in slow_ones:
                async with await task as response:
                    assert await response.text() == "done"
    finally:
        await runner.cleanup()


def test_a_repeated_error_is_logged_once_an_interval_with_a_count() -> None:
    now = [0.0]
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect()
    handler.addFilter(RepeatFilter(interval=60, clock=lambda: now[0]))
    logger = logging.getLogger("test.repeats")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        for n in range(36_000):  # what asyncio wrote in 20 s once accept() failed with EMFILE
            now[0] = n / 1800
            logger.error("socket.accept() out of system resource")
            logger.info("scan seen=%d", n % 2)  # below WARNING: never held back
            if n % 1000 == 0:
                logger.warning("another problem")
        now[0] = 61.0
        logger.error("socket.accept() out of system resource")
    finally:
        logger.removeHandler(handler)
    accepts = [line for line in lines if line.startswith("socket.accept()")]
    assert accepts == [
        "socket.accept() out of system resource",
        "socket.accept() out of system resource (repeated 35999 more times since last logged)",
    ]
    assert lines.count("another problem") == 1
    assert sum(line.startswith("scan seen=") for line in lines) == 36_000


def test_the_daemon_log_holds_back_repeats() -> None:
    setup = parse_config(None, {})
    root = logging.getLogger()
    kept = root.handlers[:], root.level
    try:
        setup_logging(setup)
        [handler] = root.handlers
        assert any(isinstance(f, RepeatFilter) for f in handler.filters)
    finally:
        root.handlers[:], level = kept
        root.setLevel(level)


async def test_the_daemon_keeps_serving_and_scanning_under_a_flood_of_idle_sockets(
    tmp_path: Path,
) -> None:
    """The real daemon with 256 file descriptors, 400 sockets that never send a request: before
    the cap, accept() failed with EMFILE (36,000 log lines in 20 s), /healthz stopped answering
    and the scan could not open the database."""
    layout = Layout(tmp_path)
    layout.posts.mkdir(parents=True)
    layout.config.write_text(
        f"""
articles: {{folder: "{layout.posts}"}}
state: {{url: "sqlite:///{layout.db}"}}
feeds: {{folder: "{layout.feeds}"}}
site: {{base_url: "https://blog.example.org/", timezone: UTC}}
http: {{bind: "127.0.0.1:{layout.port}", max_connections: 32, idle_seconds: 2}}
scan: {{interval_seconds: 30, debounce_seconds: 0.2}}
""",
        encoding="utf-8",
    )
    daemon = Daemon(layout, token=None)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("EVENTFEED_TELEGRAM_TOKEN", None)

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    with layout.log.open("ab") as out:
        daemon.process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bot", "run", "--config", str(layout.config)),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
            preexec_fn=few_files,
        )
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        await daemon.wait_healthy()
        lines_before = len(daemon.log_text().splitlines())
        for _ in range(400):
            opened.append(await asyncio.open_connection("127.0.0.1", layout.port))

        async def answering() -> bool:
            try:
                return await asyncio.wait_for(daemon.health(), 1) is not None
            except TimeoutError:
                return False

        await eventually(answering, "/healthz answering during the flood", within=10)
        sample = ROOT / "tests" / "data" / "articles" / "000_4fbda6de1bb3b082.txt"
        drop(layout.posts, sample.name, sample.read_bytes())

        async def stored() -> bool:
            health = await asyncio.wait_for(daemon.health(), 5)
            return health is not None and health.get("articles") == 1

        await eventually(stored, "the article dropped during the flood stored", within=15)

        async def all_closed() -> bool:
            return all([await closed_by_server(reader) for reader, _ in opened])

        await eventually(all_closed, "the idle sockets closed", within=10)
        flood_lines = daemon.log_text().splitlines()[lines_before:]
        assert len(flood_lines) < 20, "\n".join(flood_lines[:40])
    finally:
        for _, writer in opened:
            writer.close()
        if daemon.running:
            assert await daemon.stop() == 0, daemon.log_tail()


# --- bounded work per request (finding 10) --------------------------------------------------


def _saved(store: Store, paths: list[str]) -> None:
    base = _stored()[0]
    for n, path in enumerate(paths):
        store.save_article(
            replace(base.article, path=path, title=path),
            Extraction(base.summary, ()),
            f"https://news.example.org/articles/{n}.html",
            size=1,
            mtime_ns=n,
            content_hash=f"hash-{path}",
            now=base.first_seen,
            targets={},
        )


def plans(store: Store, run: Callable[[], object]) -> list[str]:
    """The query plans of the statements `run` sends that read `articles`."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM articles" in statement:
            sent.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    assert sent
    found = []
    with store.engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if not sqlite:  # a handful of rows: only an unusable index makes it scan them
            conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in sent:
            explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            rows = conn.exec_driver_sql(explain + statement, parameters).all()
            found.append("\n".join(str(row[-1] if sqlite else row[0]) for row in rows))
    return found


def test_an_article_page_is_found_through_the_path_index(store_url: str) -> None:
    store = Store(store_url)
    try:
        _saved(
            store,
            ["notes/a.txt", "notes/a.b.md", "notes/a/c.txt", "notes/ab.txt", "notes/a_%.txt"],
        )

        def title(stem: str) -> str | None:
            found = store.find_article(stem=stem)
            return None if found is None else found.article.title

        assert title("notes/a") == "notes/a.txt"
        assert title("notes/a.b") == "notes/a.b.md"
        assert title("notes/a/c") == "notes/a/c.txt"
        assert title("notes/a_%") == "notes/a_%.txt"
        assert title("notes/a_") is None  # no pattern characters
        assert title("notes/A") is None
        assert title("notes/a\x00") is None
        assert title("notes/\udcff") is None
        for plan in plans(store, lambda: store.find_article(stem="notes/a")):
            assert "SCAN articles" not in plan and "Seq Scan" not in plan, plan
            assert "INDEX" in plan.upper(), plan
        if store.engine.dialect.name == "postgresql":  # a range in byte order, whatever the
            with store.engine.connect() as conn:  # database's collation (en_US ignores '.')
                collation = conn.exec_driver_sql(
                    "SELECT collation_name FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = 'articles'"
                    " AND column_name = 'path'"
                ).scalar_one()
            assert collation == "C"
    finally:
        store.close()


async def test_a_filtered_feed_searches_only_the_newest_entries(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        base = _stored()[0]
        for n in range(30):  # article n is published n days after the first
            article = replace(
                base.article,
                path=f"notes/{n:02}.txt",
                title=f"note number {n:02}",
                published=base.article.published + timedelta(days=n),
            )
            store.save_article(
                article,
                Extraction(base.summary, ()),
                f"https://news.example.org/{n}.html",
                size=1,
                mtime_ns=n,
                content_hash=f"hash-{n}",
                now=base.first_seen,
                targets={},
            )
        view = SiteView(store, SITE, 50, ZoneInfo("UTC"), lambda: NOW, searched=10)

        async def titles(q: str) -> list[str]:
            body = await view.query_feed("articles", "json", FeedQuery(q=q), "https://x/")
            assert body is not None
            return [item["title"] for item in json.loads(body)["items"]]

        assert await titles("number 29") == ["note number 29"]
        assert await titles("number 20") == ["note number 20"]  # the 10th newest
        assert await titles("number 19") == []  # older: beyond what a filter searches
        assert len(await titles("note number")) == 10
    finally:
        store.close()


async def test_health_is_counted_off_the_event_loop_once_for_a_burst(tmp_path: Path) -> None:
    (tmp_path / "feeds").mkdir()
    loop_thread = threading.get_ident()
    threads: list[int] = []
    gate = threading.Event()

    def health() -> dict[str, object]:
        threads.append(threading.get_ident())
        assert gate.wait(10)  # the store's counts, slow: every request below arrives meanwhile
        return {"status": "ok", "articles": 3}

    app = make_app(tmp_path / "feeds", health, metrics=lambda: "m 1\n")
    arrived = 0

    @web.middleware
    async def count(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        nonlocal arrived
        arrived += 1
        return await handler(request)

    app.middlewares.append(count)
    runner = await start_server(app, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{bound_port(runner)}"
    try:
        async with aiohttp.ClientSession() as client:

            async def get(path: str) -> tuple[int, str]:
                async with client.get(url + path) as response:
                    return response.status, await response.text()

            burst = [asyncio.create_task(get("/healthz")) for _ in range(40)]
            await eventually(lambda: arrived == 40, "all 40 health checks arrived")
            gate.set()
            answers = await asyncio.gather(*burst)
            assert {status for status, _ in answers} == {200}
            assert all(json.loads(text)["articles"] == 3 for _, text in answers)
            assert len(threads) == 1 and loop_thread not in threads
            assert (await get("/healthz"))[0] == 200  # and a later one counts again
            assert len(threads) == 2
            assert await get("/metrics") == (200, "m 1\n")
    finally:
        await runner.cleanup()


async def test_compressed_bodies_kept_are_bounded_in_bytes(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    (tmp_path / "feeds").mkdir()
    try:
        _saved(store, [f"notes/{n:03}.txt" for n in range(120)])
        view = SiteView(store, SITE, 50, ZoneInfo("UTC"), lambda: NOW)
        app = make_app(tmp_path / "feeds", lambda: {}, view, gzip_cache_bytes=64 * 1024)
        runner = await start_server(app, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{bound_port(runner)}/feeds/articles.atom"
        sizes, etags = [], set()
        try:
            async with aiohttp.ClientSession(auto_decompress=False) as client:
                for n in range(120):  # distinct filters, as distinct bodies: each one kept
                    async with client.get(f"{url}?limit={n + 1}&q=notes") as response:
                        assert response.status == 200
                        assert response.headers["Content-Encoding"] == "gzip"
                        sizes.append(len(await response.read()))
                        etags.add(response.headers["ETag"])
            kept = app[GZIPPED]
            assert kept.weight <= 64 * 1024
            assert len(etags) == 120
            assert sum(sizes) > 64 * 1024  # what it would have kept by count alone
        finally:
            await runner.cleanup()
    finally:
        store.close()


def nginx_locations(text: str) -> list[tuple[str, str, str]]:
    """(modifier, pattern, body) of each `location` block, nested braces included."""
    found = []
    for match in re.finditer(r"location\s+(=|~\*?|\^~)?\s*(\S+)\s*\{", text):
        depth, end = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        found.append((match.group(1) or "", match.group(2), text[match.end() : end - 1]))
    return found


def nginx_route(locations: list[tuple[str, str, str]], path: str) -> str | None:
    """The body of the block nginx picks for `path`: exact, else the longest prefix unless a
    regex matches first (in order), as in nginx's documentation of `location`."""
    for modifier, pattern, body in locations:
        if modifier == "=" and pattern == path:
            return body
    prefixes = [
        (pattern, modifier, body)
        for modifier, pattern, body in locations
        if modifier in ("", "^~") and path.startswith(pattern)
    ]
    longest = max(prefixes, key=lambda p: len(p[0]), default=None)
    if longest is not None and longest[1] == "^~":
        return longest[2]
    for modifier, pattern, body in locations:
        flags = re.IGNORECASE if modifier == "~*" else 0
        if modifier.startswith("~") and re.search(pattern, path, flags):
            return body
    return None if longest is None else longest[2]


@pytest.mark.parametrize("where", ["README.md", "deploy/nginx-eventfeed.conf"])
def test_the_nginx_snippets_keep_metrics_private(where: str) -> None:
    text = (ROOT / where).read_text(encoding="utf-8")
    if where == "README.md":
        [text] = re.findall(r"```nginx\n(.*?)```", text, re.DOTALL)
    locations = nginx_locations(text)
    assert locations
    for path in ("/metrics", "/metrics/", "/metrics?x=1"):
        body = nginx_route(locations, path.partition("?")[0])
        assert body is None or ("proxy_pass" not in body and "deny all" in body), path
    health = nginx_route(locations, "/healthz")
    assert health is not None and "proxy_pass" in health  # still served


async def test_filtered_feeds_beyond_those_waiting_get_a_503(tmp_path: Path) -> None:
    """Two filtered feeds are made at a time and 32 wait: a burst of 60 that read a thousand
    entries each gets 503s for the rest, which never take the default thread pool."""
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    (tmp_path / "feeds").mkdir()
    try:
        base = _stored()[0]
        store.save_articles(
            [
                ArticleSave(
                    replace(base.article, path=f"n/{n}.txt", title=f"note {n}"),
                    Extraction(base.summary, ()),
                    f"https://x/{n}",
                    1,
                    n,
                    f"h{n}",
                    base.first_seen,
                    {},
                )
                for n in range(1000)
            ]
        )
        view = SiteView(store, SITE, 50, ZoneInfo("UTC"), lambda: NOW)
        app = make_app(tmp_path / "feeds", lambda: {"status": "ok"}, view)
        runner = await start_server(app, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{bound_port(runner)}"
        try:
            async with aiohttp.ClientSession() as client:

                async def get(path: str) -> int:
                    async with client.get(url + path) as response:
                        await response.read()
                        return response.status

                statuses = await asyncio.gather(
                    *(get(f"/feeds/articles.atom?q=nothing{n}") for n in range(60))
                )
                assert set(statuses) == {200, 503}
                assert statuses.count(200) >= 2 + 32
                assert await get("/healthz") == 200
        finally:
            await runner.cleanup()
    finally:
        store.close()
