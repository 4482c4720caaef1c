"""The HTTP server: the feeds the daemon wrote, a health check and a small home page.

Serves files from the feeds folder only; everything it shows comes from disk or from the
callables it is given, so it can be started against any folder in tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Protocol
from urllib.parse import quote

from aiohttp import web
from yarl import URL

from bot.feeds import FEED_PATHS, clean_text, safe_link
from bot.model import StoredArticle

# What the daemon may write under the feeds folder, and how it is served.
CONTENT_TYPES: dict[str, str] = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
}
_DISCOVERY_TYPES = {".atom": "application/atom+xml", ".rss": "application/rss+xml"}
_FEED_LABELS = {
    FEED_PATHS["articles.atom"]: "Articles (Atom)",
    FEED_PATHS["articles.rss"]: "Articles (RSS)",
    FEED_PATHS["events.atom"]: "Events (Atom)",
    FEED_PATHS["events.rss"]: "Events (RSS)",
}
_FEED_CACHE = "public, max-age=60"  # readers poll; ETag makes the revalidation cheap
_HOME_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class HomePage:
    """What the home page says about the site beyond its list of feeds."""

    title: str
    description: str
    base_url: str  # ends with "/"; the public address, which may differ from the bound one
    recent: tuple[StoredArticle, ...] = ()


class PageSource(Protocol):
    """Supplies the home page's content (the store-backed implementation lives with the daemon)."""

    async def home(self) -> HomePage: ...


@dataclass(frozen=True)
class _FeedFile:
    body: bytes
    etag: str
    modified: datetime  # whole seconds, as HTTP dates carry


def make_app(
    feeds_folder: Path,
    health: Callable[[], Mapping[str, object]],
    pages: PageSource | None = None,
) -> web.Application:
    """The aiohttp application; nothing is read until a request arrives."""
    root = feeds_folder

    async def feed(request: web.Request) -> web.StreamResponse:
        """Serve one file the daemon wrote under the feeds folder, with validators."""
        rel = request.match_info["path"]
        found = await asyncio.to_thread(_read_feed_file, root, rel)
        if found is None:
            raise web.HTTPNotFound()
        headers = {"Cache-Control": _FEED_CACHE, "X-Content-Type-Options": "nosniff"}
        if _not_modified(request, found):
            response = web.Response(status=304, headers=headers)
        else:
            headers["Content-Type"] = CONTENT_TYPES[PurePosixPath(rel).suffix]
            response = web.Response(body=found.body, headers=headers)
        response.etag = found.etag
        response.last_modified = found.modified
        return response

    async def healthz(request: web.Request) -> web.Response:
        """Report the daemon's health as JSON."""
        body = json.dumps(dict(health()), ensure_ascii=False, default=str, sort_keys=True)
        return web.json_response(text=body, headers={"Cache-Control": "no-store"})

    async def home(request: web.Request) -> web.Response:
        """List the feeds for people, with discovery links for feed readers."""
        page = await pages.home() if pages is not None else None
        base = page.base_url if page is not None else str(request.url.with_path("/"))
        names = await asyncio.to_thread(list_feed_files, root)
        body = render_home(page, names, base)
        headers = {"Content-Security-Policy": _HOME_POLICY, "X-Content-Type-Options": "nosniff"}
        return web.Response(text=body, content_type="text/html", charset="utf-8", headers=headers)

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/feeds/{path:.+}", feed)
    return app


async def start_server(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Listen on host:port (port 0: any free port; see `bound_port`). The caller cleans up."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port the server actually listens on."""
    return int(runner.addresses[0][1])


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
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


def list_feed_files(root: Path) -> list[str]:
    """Paths (relative, POSIX) of the files `feed_file` would serve: known feeds first."""
    if not root.is_dir():
        return []
    found = {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if feed_file(root, path.relative_to(root).as_posix()) is not None
    }
    known = [name for name in _FEED_LABELS if name in found]
    return known + sorted(found - set(known))


def _read_feed_file(root: Path, rel: str) -> _FeedFile | None:
    path = feed_file(root, rel)
    if path is None:
        return None
    try:
        with path.open("rb") as handle:  # stat the handle we read, not a later file
            body = handle.read()
            mtime = os.fstat(handle.fileno()).st_mtime
    except OSError:
        return None
    # Content-based: a byte-identical rewrite keeps its ETag, so readers still get a 304.
    etag = hashlib.sha256(body).hexdigest()[:32]
    return _FeedFile(body, etag, datetime.fromtimestamp(int(mtime), UTC))


def _not_modified(request: web.Request, found: _FeedFile) -> bool:
    """RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since only when it is absent."""
    tags = request.if_none_match
    if tags is not None:
        return any(tag.value in (found.etag, "*") for tag in tags)
    since = request.if_modified_since
    return since is not None and found.modified <= since


# --- home page -----------------------------------------------------------------------------------


def render_home(page: HomePage | None, feeds: Sequence[str], base_url: str) -> str:
    """The home page: the feeds with their URLs, discovery links, and recent articles if known."""
    title = page.title if page is not None else "eventfeed"
    e = _escape
    base = URL(base_url if base_url.endswith("/") else f"{base_url}/")
    urls = [(name, str(base.join(URL(f"feeds/{quote(name)}")))) for name in feeds]
    discovery = "".join(
        f'<link rel="alternate" type="{_DISCOVERY_TYPES[suffix]}" '
        f'title="{e(_FEED_LABELS.get(name, name))}" href="{e(url)}">\n'
        for name, url in urls
        if (suffix := PurePosixPath(name).suffix) in _DISCOVERY_TYPES
    )
    items = "".join(
        f'<li>{e(_FEED_LABELS.get(name, name))}: <a href="{e(url)}">{e(url)}</a></li>\n'
        for name, url in urls
    )
    feeds_html = f"<ul>\n{items}</ul>" if items else "<p>No feeds have been written yet.</p>"
    intro = f"<p>{e(page.description)}</p>\n" if page is not None and page.description else ""
    return (
        '<!doctype html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(title)}</title>\n{discovery}</head>\n<body>\n<h1>{e(title)}</h1>\n{intro}"
        f"<h2>Feeds</h2>\n{feeds_html}\n{_recent_html(page)}</body>\n</html>\n"
    )


def _recent_html(page: HomePage | None) -> str:
    if page is None or not page.recent:
        return ""
    items = "".join(
        f'<li><a href="{_escape(link)}">{_escape(stored.article.title)}</a> '
        f"<small>{_escape(stored.article.published.date().isoformat())}</small></li>\n"
        for stored in page.recent
        if (link := safe_link(stored.url, page.base_url))
    )
    return f"<h2>Recent articles</h2>\n<ul>\n{items}</ul>\n" if items else ""


def _escape(text: str) -> str:
    return html.escape(clean_text(text), quote=True)
