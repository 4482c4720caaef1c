"""The HTTP server's connections: a bounded number, and none held open without a request.

aiohttp accepts every connection and, before 3.14, gave one that never sends a request no
deadline at all: 1,100 silent sockets took every file descriptor of a daemon under systemd's
default limit (1,024), and the database, the watcher and the feed writes failed with it. Here
each connection must send a whole request head within `idle_seconds` of opening (and, through
aiohttp's keep-alive timeout, of its last response), and at most `limit` are open at once: a
new one beyond that closes the connection idle the longest, or, when every one is busy with a
request, is answered 503 and closed, so the descriptors left stay the daemon's own.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

# Descriptors kept for the daemon itself (database, watcher, feed writes, Telegram, workers).
RESERVED_DESCRIPTORS = 256
_SAY_EVERY = 60.0  # seconds between two log lines about connections closed at the limit
_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def allowed_connections(wanted: int) -> int:
    """`wanted`, or fewer if the process may not open that many descriptors beside its own.
    Raises the soft limit towards the hard one first (systemd's default soft limit is 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + RESERVED_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    allowed = max(soft - RESERVED_DESCRIPTORS, soft // 2, 1)
    if wanted <= allowed:
        return wanted
    log.warning(
        "http.max_connections=%d lowered to %d: the process may open %d files "
        "(raise LimitNOFILE or ulimit -n)",
        wanted,
        allowed,
        soft,
    )
    return allowed


class ConnectionGuard:
    """The protocol factory the listening socket uses: aiohttp's request handlers, counted."""

    def __init__(
        self, server: web.Server, limit: int, idle_seconds: float, **handler_args: Any
    ) -> None:
        self.server = server
        self.limit = limit
        self.idle_seconds = idle_seconds
        self.handler_args = handler_args
        # Open connections, the one idle the longest first (opened or last answered).
        self.open: OrderedDict[GuardedHandler, None] = OrderedDict()
        self.closed_idle = 0  # connections closed to make room, since the last log line
        self.refused = 0  # connections refused while every open one was busy, likewise
        self._said = -_SAY_EVERY

    def __call__(self) -> asyncio.Protocol:
        if len(self.open) >= self.limit and not self._make_room():
            self.refused += 1
            self._say()
            return _Refused()
        handler = GuardedHandler(self, self.server, **self.handler_args)
        self.open[handler] = None
        return handler

    def _make_room(self) -> bool:
        idle = next((handler for handler in self.open if not handler.busy), None)
        if idle is None:
            return False
        self.forget(idle)
        idle.force_close()
        self.closed_idle += 1
        self._say()
        return True

    def forget(self, handler: GuardedHandler) -> None:
        self.open.pop(handler, None)

    def answered(self, handler: GuardedHandler) -> None:
        if handler in self.open:
            self.open.move_to_end(handler)

    def _say(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._said < _SAY_EVERY:
            return
        self._said = now
        log.warning(
            "http connections at the limit of %d (http.max_connections): the longest idle "
            "closed to make room; since the last such line closed=%d refused_all_busy=%d",
            self.limit,
            self.closed_idle,
            self.refused,
        )
        self.closed_idle = self.refused = 0


class GuardedHandler(web.RequestHandler):
    """aiohttp's handler, closed if no request head arrives in time, and known to its guard."""

    def __init__(self, guard: ConnectionGuard, server: web.Server, **kwargs: Any) -> None:
        super().__init__(server, loop=asyncio.get_running_loop(), **kwargs)
        self.guard = guard
        self.busy = False  # a request is being answered: never closed to make room
        self.started = False  # a request head arrived
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self.guard.idle_seconds, self._overdue)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.guard.forget(self)
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _overdue(self) -> None:
        if not self.started:
            self.guard.forget(self)
            self.force_close()

    def begin(self) -> None:
        self.started = self.busy = True
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        try:
            return await super().finish_response(request, resp, start_time)
        finally:
            self.busy = False
            self.guard.answered(self)


@web.middleware
async def mark_busy(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A request head arrived: its connection is answering it until the response is sent."""
    protocol = request.protocol
    if isinstance(protocol, GuardedHandler):
        protocol.begin()
    return await handler(request)


class _Refused(asyncio.Protocol):
    """Answers 503 and closes: the descriptor is back at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_REFUSED)
        transport.close()
