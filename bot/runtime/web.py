"""The HTTP server: the feeds the daemon wrote, filtered feeds, pages for people, health and
metrics.

Feed files come from disk (the same files a static host would serve) with ETag, Last-Modified,
304s, gzip and a Cache-Control that matches the scan interval. Everything else comes from the
`SiteSource` it is given, so the server can be started against any folder in tests.

One module (~470 lines): the routes and the caching headers they share; the pages themselves
are rendered in site/pages.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Generic, Protocol, TypeVar
from urllib.parse import quote, urlencode

from aiohttp import web

from bot.core.lru import Lru
from bot.core.text import to_simplified
from bot.runtime.connections import ConnectionGuard, allowed_connections, mark_busy
from bot.site.catalog import FeedQuery
from bot.site.pages import POLICY, HomePage, render_home

# What the daemon may write under the feeds folder, and how it is served.
CONTENT_TYPES: dict[str, str] = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".xsl": "text/xsl; charset=utf-8",
    ".png": "image/png",
}
FEED_SUFFIXES = (".atom", ".rss", ".json")
QUERY_KEYS = frozenset({"limit", "type", "actor", "q", "script"})
_GZIP_MIN = 512  # smaller bodies gain nothing from gzip
_GZIP_CACHE = 256  # compressed bodies kept, by ETag
# ... and their bytes at most: 120 distinct `?limit=1000&q=` feeds, gzipped, took 100 MB.
GZIP_CACHE_BYTES = 16 * 1024 * 1024
_GZIP_IN_THREAD = 64 * 1024  # larger bodies are compressed off the event loop
# Filtered feeds computed at once (each reads up to `SiteView.searched` entries in a thread),
# and waiting: beyond, a 503, so that they never take every thread of the default pool.
_FILTERS_AT_ONCE = 2
_FILTERS_WAITING = 32
_KNOWN_FILES = 4096  # validators of served files kept, by path
_LIMIT_RE = re.compile(r"[0-9]{1,9}")  # more asks for the most anyway (MAX_QUERY_LIMIT)


class SiteSource(Protocol):
    """What the server needs beyond the feeds folder (the daemon's lives in `siteview`)."""

    base_url: str  # the public address, ends with "/"

    async def home(self) -> HomePage: ...

    async def article(self, uid: str | None, stem: str | None) -> str | None:
        """The article page's HTML, by uid or by its path without extension."""

    async def query_feed(
        self, name: str, fmt: str, query: FeedQuery, self_url: str
    ) -> bytes | None:
        """A feed filtered by `query`, or None if there is no such feed."""

    def resolve(self, query: FeedQuery) -> FeedQuery | str:
        """The query's type and actor as events name them, or what is wrong with them."""


@dataclass(frozen=True)
class _Body:
    body: bytes
    etag: str
    modified: datetime | None  # whole seconds, as HTTP dates carry


@dataclass(frozen=True)
class _Known:
    """A file served before: while one stat of it shows the same inode, size and mtime, its
    validators still hold, so a conditional GET costs no read and no hash."""

    path: Path
    stat: tuple[int, int, int]
    etag: str
    modified: datetime


GZIPPED = web.AppKey("gzipped", Lru[str, bytes])  # the compressed bodies kept


def make_app(
    feeds_folder: Path,
    health: Callable[[], Mapping[str, object]],
    source: SiteSource | None = None,
    metrics: Callable[[], str] | None = None,
    max_age: int = 60,
    gzip_cache_bytes: int = GZIP_CACHE_BYTES,
) -> web.Application:
    """The aiohttp application; nothing is read until a request arrives.

    `health` and `metrics` run in a thread (they read the store), one call at a time: requests
    arriving meanwhile share its answer."""
    root = feeds_folder
    cache_control = f"public, max-age={max(int(max_age), 0)}"
    compressed: Lru[str, bytes] = Lru(_GZIP_CACHE, weigh=len, max_weight=gzip_cache_bytes)
    known: OrderedDict[str, _Known] = OrderedDict()
    current_health = _Shared(health)
    current_metrics = None if metrics is None else _Shared(metrics)
    filtering = asyncio.Semaphore(_FILTERS_AT_ONCE)
    waiting = 0  # filtered feeds asked for and not yet computing

    async def respond(
        request: web.Request, found: _Body, content_type: str, size: int | None = None
    ) -> web.Response:
        headers = {
            "Cache-Control": cache_control,
            "X-Content-Type-Options": "nosniff",
            "Vary": "Accept, Accept-Encoding",
            "Access-Control-Allow-Origin": "*",  # web-based readers fetch feeds cross-origin
        }
        size = len(found.body) if size is None else size
        gzipped = size >= _GZIP_MIN and _accepts_gzip(request)
        # A gzipped body is a different representation: it gets its own ETag (RFC 9110 §8.8.3).
        etag = f"{found.etag}-gz" if gzipped else found.etag
        if _not_modified(request, found):
            response = web.Response(status=304, headers=headers)
        else:
            headers["Content-Type"] = content_type
            body = found.body
            if gzipped:
                body = await _gzip(compressed, found)
                headers["Content-Encoding"] = "gzip"
            response = web.Response(body=body, headers=headers)
        response.etag = etag
        if found.modified is not None:
            response.last_modified = found.modified
        return response

    async def feed(request: web.Request) -> web.StreamResponse:
        """Serve one file the daemon wrote under the feeds folder, or a filtered feed."""
        rel = request.match_info["path"]
        suffix = PurePosixPath(rel).suffix
        if suffix in FEED_SUFFIXES and QUERY_KEYS & set(request.query) and source is not None:
            return await filtered(request, rel, suffix)
        if suffix not in CONTENT_TYPES:
            raise web.HTTPNotFound()
        content_type = _content_type(request, suffix)
        cached = _unchanged(known.get(rel))
        if cached is not None:  # a 304, or a gzipped body made before: no thread, no read
            head = _Body(b"", cached.etag, cached.modified)
            if _not_modified(request, head) or (
                cached.stat[1] >= _GZIP_MIN
                and _accepts_gzip(request)
                and compressed.get(cached.etag) is not None
            ):
                return await respond(request, head, content_type, size=cached.stat[1])
        read = await asyncio.to_thread(_read_file, root, rel)
        if read is None:
            known.pop(rel, None)
            moved = to_simplified(rel)  # slugs fold to simplified Chinese since issue 16
            if moved != rel and await asyncio.to_thread(_read_file, root, moved) is not None:
                query = f"?{request.query_string}" if request.query_string else ""
                raise web.HTTPMovedPermanently(quote(f"/feeds/{moved}") + query)
            raise web.HTTPNotFound()
        found, known[rel] = read
        known.move_to_end(rel)
        while len(known) > _KNOWN_FILES:
            known.popitem(last=False)
        return await respond(request, found, content_type)

    async def filtered(request: web.Request, rel: str, suffix: str) -> web.Response:
        assert source is not None
        query = parse_query(request.query)
        if not isinstance(query, str):
            query = source.resolve(query)
        if isinstance(query, str):
            raise web.HTTPBadRequest(text=query)
        name = rel.removesuffix(suffix)
        self_url = f"{source.base_url}feeds/{quote(rel)}?{canonical_query(query)}"
        nonlocal waiting
        if waiting >= _FILTERS_WAITING:
            raise web.HTTPServiceUnavailable(
                text="too many filtered feeds asked for at once; try again shortly",
                headers={"Retry-After": "5"},
            )
        waiting += 1
        try:
            await filtering.acquire()
        finally:
            waiting -= 1  # acquired, or the client went away while waiting
        try:
            body = await source.query_feed(name, suffix[1:], query, self_url)
        finally:
            filtering.release()
        if body is None:
            raise web.HTTPNotFound()
        on_disk = await asyncio.to_thread(_read_file, root, rel)
        modified = on_disk[0].modified if on_disk is not None else None
        found = _Body(body, hashlib.sha256(body).hexdigest()[:32], modified)
        return await respond(request, found, _content_type(request, suffix))

    async def healthz(request: web.Request) -> web.Response:
        """Report the daemon's health as JSON."""
        report = await current_health()
        body = json.dumps(dict(report), ensure_ascii=False, default=str, sort_keys=True)
        return web.json_response(text=body, headers={"Cache-Control": "no-store"})

    async def metrics_text(request: web.Request) -> web.Response:
        """Prometheus text format."""
        if current_metrics is None:
            raise web.HTTPNotFound()
        text = await current_metrics()
        headers = {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
        return web.Response(text=text, headers=headers | {"Cache-Control": "no-store"})

    async def home(request: web.Request) -> web.Response:
        """The home page for people, with discovery links for feed readers."""
        if source is None:
            page = HomePage("eventfeed", "", str(request.url.with_path("/").with_query(None)))
        else:
            page = await source.home()
        return _html(render_home(page))

    async def article(request: web.Request) -> web.Response:
        """One article as a page."""
        if source is None:
            raise web.HTTPNotFound()
        if "uid" in request.match_info:
            found = await source.article(request.match_info["uid"], None)
        else:
            found = await source.article(None, request.match_info["stem"])
        if found is None:
            raise web.HTTPNotFound()
        return _html(found)

    app = web.Application()
    app[GZIPPED] = compressed
    app.router.add_get("/", home)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_text)
    app.router.add_get("/feeds/{path:.+}", feed)
    app.router.add_get("/article/{uid}.html", article)
    # Not '.+': '.' matches no newline, and a file name may hold one (its link was dead).
    app.router.add_get(r"/articles/{stem:[\s\S]+}.html", article)
    return app


async def start_server(
    app: web.Application,
    host: str,
    port: int,
    *,
    max_connections: int = 512,
    idle_seconds: float = 15.0,
) -> web.AppRunner:
    """Listen on host:port (port 0: any free port; see `bound_port`). The caller cleans up.

    At most `max_connections` are open at once, and each must send a whole request head
    within `idle_seconds` of opening or of its last response (see `bot.runtime.connections`)."""
    app.middlewares.append(mark_busy)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        assert runner.server is not None
        guard = ConnectionGuard(
            runner.server,
            allowed_connections(max_connections),
            idle_seconds,
            keepalive_timeout=idle_seconds,
        )
        await _GuardedSite(runner, host, port, guard).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


class _GuardedSite(web.BaseSite):
    """A TCP site whose connections the guard makes and counts."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, guard: ConnectionGuard):
        super().__init__(runner)
        self._host, self._port, self._guard = host, port, guard

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        # asyncio accepts up to `backlog` connections a turn before the guard sees any: a
        # backlog in proportion to the cap keeps those descriptors from running out first.
        backlog = min(self._backlog, max(16, self._guard.limit // 4))
        self._server = await loop.create_server(
            self._guard, self._host, self._port, backlog=backlog
        )


def bound_port(runner: web.AppRunner) -> int:
    """The port the server actually listens on."""
    return int(runner.addresses[0][1])


def parse_query(params: Mapping[str, str]) -> FeedQuery | str:
    """The RSSHub-style filters of a feed URL, or what is wrong with them."""
    limit = None
    if params.get("limit"):
        # ASCII digits only: str.isdigit() also passes '²' and '٣', which int() rejects or reads.
        if not _LIMIT_RE.fullmatch(params["limit"]) or int(params["limit"]) < 1:
            return "limit must be a whole number of at least 1, in digits 0-9"
        limit = int(params["limit"])
    script = params.get("script") or None
    if script not in (None, "hans", "hant"):
        return "script must be hans or hant"
    return FeedQuery(
        limit=limit,
        type=params.get("type") or None,
        actor=params.get("actor") or None,
        q=params.get("q") or None,
        script="hant" if script == "hant" else "hans" if script == "hans" else None,
    )


def canonical_query(query: FeedQuery) -> str:
    """The query in a fixed order, so equal filters give one self URL."""
    pairs = [(k, getattr(query, k)) for k in ("type", "actor", "q", "limit", "script")]
    return urlencode([(k, str(v)) for k, v in pairs if v is not None])


# --- files ---------------------------------------------------------------------------------------


def feed_file(root: Path, rel: str) -> Path | None:
    """The file `rel` names under `root`, or None if it is not one we serve.

    `rel` is the already percent-decoded request path: `..`, empty or hidden segments, absolute
    paths, backslashes, NULs, unknown suffixes and symlinks that leave the folder all give None.
    """
    parts = rel.split("/")
    if (
        "\\" in rel
        or "\x00" in rel
        or any(not part or part.startswith(".") for part in parts)
        or PurePosixPath(rel).suffix not in CONTENT_TYPES
    ):
        return None
    try:
        base = root.resolve(strict=True)
        target = base.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


def _read_file(root: Path, rel: str) -> tuple[_Body, _Known] | None:
    path = feed_file(root, rel)
    if path is None:
        return None
    try:
        with path.open("rb") as handle:  # stat the handle we read, not a later file
            body = handle.read()
            info = os.fstat(handle.fileno())
    except OSError:
        return None
    # Content-based: a byte-identical rewrite keeps its ETag, so readers still get a 304.
    etag = hashlib.sha256(body).hexdigest()[:32]
    modified = datetime.fromtimestamp(int(info.st_mtime), UTC)
    stat = (info.st_ino, info.st_size, info.st_mtime_ns)
    return _Body(body, etag, modified), _Known(path, stat, etag, modified)


def _unchanged(known: _Known | None) -> _Known | None:
    """`known`, if one stat shows the file is still the one it describes."""
    if known is None:
        return None
    try:
        info = os.stat(known.path)
    except OSError:
        return None
    return known if (info.st_ino, info.st_size, info.st_mtime_ns) == known.stat else None


def _not_modified(request: web.Request, found: _Body) -> bool:
    """RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since only when it is absent."""
    tags = request.if_none_match
    if tags is not None:
        return any(tag.value.removesuffix("-gz") in (found.etag, "*") for tag in tags)
    since = request.if_modified_since
    return since is not None and found.modified is not None and found.modified <= since


def _content_type(request: web.Request, suffix: str) -> str:
    """A browser opening a feed gets it as application/xml: Chromium shows application/atom+xml
    and application/rss+xml as plain text (or downloads them) instead of applying the feed's
    XSL stylesheet. Feed readers, which ask for feed types or anything, get the feed type."""
    accept = request.headers.get("Accept", "")
    feed_types = ("application/atom+xml", "application/rss+xml")
    if (
        suffix in (".atom", ".rss")
        and "text/html" in accept
        and not any(kind in accept for kind in feed_types)
    ):
        return CONTENT_TYPES[".xml"]
    return CONTENT_TYPES[suffix]


def _accepts_gzip(request: web.Request) -> bool:
    for part in request.headers.get("Accept-Encoding", "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


async def _gzip(cache: Lru[str, bytes], found: _Body) -> bytes:
    body = cache.get(found.etag)
    if body is None:
        assert found.body, "only a body made before is served from its validators"
        if len(found.body) >= _GZIP_IN_THREAD:
            body = await asyncio.to_thread(_compress, found.body)
        else:
            body = _compress(found.body)
        cache.put(found.etag, body)
    return body


def _compress(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6, mtime=0)  # mtime=0: stable bytes


T = TypeVar("T")


class _Shared(Generic[T]):
    """`make()` run in a thread, one call at a time: callers arriving while it runs share its
    answer (a burst of health checks runs the store's counts once, never on the event loop)."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._running: asyncio.Future[T] | None = None

    async def __call__(self) -> T:
        if self._running is None:
            self._running = asyncio.ensure_future(asyncio.to_thread(self._make))
            self._running.add_done_callback(self._done)
        return await asyncio.shield(self._running)

    def _done(self, made: asyncio.Future[T]) -> None:
        self._running = None
        if not made.cancelled():
            made.exception()  # its callers saw it; none left is no reason for a warning


def _html(body: str) -> web.Response:
    headers = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff"}
    return web.Response(text=body, content_type="text/html", charset="utf-8", headers=headers)
