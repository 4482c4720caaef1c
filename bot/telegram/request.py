"""python-telegram-bot's HTTP transport over aiohttp instead of httpx.

At fan-out rates PTB's default `HTTPXRequest` is most of the daemon's CPU: httpcore checks
the socket of every pooled connection before each request (docs/benchmarks.md, target 4).
aiohttp, already our HTTP server, learns of closed connections from the event loop instead.
PTB's `BaseRequest` turns status codes and bodies into its errors; this class only moves
bytes and maps aiohttp's failures onto `TimedOut` and `NetworkError`, never with the URL
(it carries the token) in the message.
"""

from __future__ import annotations

import base64
import functools
from typing import Any
from urllib.parse import quote_plus, urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL

_URLENCODED = {"Content-Type": "application/x-www-form-urlencoded"}


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on one `aiohttp.ClientSession`; the timeouts mean what PTB's do.

    `pool_timeout` bounds the wait for a free connection when all `connection_pool_size`
    are busy; aiohttp has no write timeout, so a request's writes are bounded by
    `write_timeout` (`media_write_timeout` for uploads) added to its overall deadline.
    """

    __slots__ = ("_defaults", "_media_write_timeout", "_pool_size", "_session", "_urls")

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._defaults = (read_timeout, write_timeout, connect_timeout, pool_timeout)
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        # One per Bot API method, parsed once: (url, proxy from the environment, its headers).
        self._urls: dict[str, tuple[URL, URL | None, dict[str, str] | None]] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._defaults[0]

    async def initialize(self) -> None:
        """Open the session (again, after a shutdown); it must be made inside the loop."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        default_read, default_write, default_connect, default_pool = self._defaults
        read = default_read if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = default_connect if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = default_pool if isinstance(pool_timeout, DefaultValue) else pool_timeout
        write = write_timeout
        if isinstance(write, DefaultValue):
            write = self._media_write_timeout if files else default_write
        timeout = _timeout(connect, pool, write, read)
        body: Any = None
        headers = None
        if files and request_data is not None:
            body = _form(request_data.json_parameters, files)
        elif request_data is not None:  # encoded here: aiohttp's form class draws a uuid4
            body = _urlencoded(request_data.json_parameters)
            headers = _URLENCODED
        try:
            found = self._urls.get(url)
            if found is None:
                found = _target(URL(url))
                if len(self._urls) < 1000:  # file URLs differ each time: only so many kept
                    self._urls[url] = found
            target, proxy, login = found
            proxy_headers = None
            if login and target.scheme == "https":  # the login goes on the tunnel's CONNECT
                proxy_headers = login
            elif login:  # a plain-HTTP proxy reads it off the request itself
                headers = {**(headers or {}), **login}
            async with self._session.request(
                method,
                target,
                data=body,
                headers=headers,
                timeout=timeout,
                proxy=proxy,
                proxy_headers=proxy_headers,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's timeouts subclass it
            raise TimedOut(_describe(exc, url) or "Timed out") from exc
        except (aiohttp.ClientError, ValueError) as exc:  # ValueError: a URL yarl refuses
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {_describe(exc, url)}") from exc


def _target(url: URL) -> tuple[URL, URL | None, dict[str, str] | None]:
    """The URL and the proxy HTTP(S)_PROXY / NO_PROXY name for it, as httpx (PTB's default)
    honours them; read once per URL, not per request."""
    if url.host is None or proxy_bypass(url.host):
        return url, None, None
    named = getproxies().get(url.scheme)
    if not named:
        return url, None, None
    proxy = URL(named)
    if proxy.user is None:
        return url, proxy, None
    login = f"{proxy.user}:{proxy.password or ''}".encode()
    headers = {"Proxy-Authorization": "Basic " + base64.b64encode(login).decode()}
    return url, proxy.with_user(None), headers


@functools.lru_cache(maxsize=64)
def _timeout(
    connect: float | None, pool: float | None, write: float | None, read: float | None
) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts for PTB's four; a handful of combinations, each built once."""
    return aiohttp.ClientTimeout(
        total=_sum(connect, pool, write, read),
        connect=_sum(connect, pool),  # aiohttp: the wait for the pool plus connecting
        sock_connect=connect,
        sock_read=read,
    )


def _urlencoded(parameters: dict[str, str]) -> bytes:
    """The form body `urllib.parse.urlencode` gives (PTB's `url_encoded_parameters`).

    A fan-out sends one text to many chats: its quoting, a Python call per byte of the
    UTF-8, is remembered instead of redone for every chat.
    """
    return "&".join(
        f"{_quoted(name)}={_quoted(value)}" for name, value in parameters.items()
    ).encode()


@functools.lru_cache(maxsize=256)
def _quoted(value: str) -> str:
    return quote_plus(value)


def _sum(*parts: float | None) -> float | None:
    """A deadline made of several waits; None (no limit) when any of them is unlimited."""
    return None if any(part is None for part in parts) else sum(p for p in parts if p is not None)


def _form(parameters: dict[str, str], files: dict[str, tuple[str, Any, str]]) -> aiohttp.FormData:
    """multipart/form-data: the parameters as fields, then each upload as a file part."""
    form = aiohttp.FormData(quote_fields=False)
    for name, value in parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form


def _describe(exc: BaseException, url: str) -> str:
    """The error's text without the URL's path: it holds the bot token."""
    parts = urlsplit(url)
    text = str(exc)
    if parts.path:
        text = text.replace(url, f"{parts.scheme}://{parts.netloc}/…").replace(parts.path, "/…")
    return text
