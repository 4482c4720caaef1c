"""tests/support/fakebot.py as a process of its own, optionally with Telegram's flood limits.

Prints its base URL on the first line of stdout, then serves until SIGTERM. The extra method
`benchStats` answers what it saw: how many sendMessage calls, how many were answered 429, and
for each accepted message its chat, the start of its text and when it arrived
(time.monotonic(), which on Linux is the same clock in every process).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.fakebot import FakeBotApi, reply_error, reply_ok


class BenchBotApi(FakeBotApi):
    """Adds Telegram's limits (overall messages/s, messages per chat per second) and stats.

    The limits are checked over windows 5 % shorter than a second: a client that spaces its
    requests exactly right is not punished for the jitter of the path between us (Telegram's
    own enforcement is no stricter than that).
    """

    WINDOW = 0.95

    def __init__(self, flood_limit: float | None, per_chat: float | None) -> None:
        super().__init__(strict_html=True)
        self.flood_limit = flood_limit
        self.per_chat = per_chat
        self.attempts = 0
        self.refused = 0
        self.refused_overall = 0
        self.refused_chat = 0
        self._window: collections.deque[float] = collections.deque()
        self._last_by_chat: dict[Any, float] = {}
        self.arrivals: list[tuple[Any, str, float]] = []

    async def _api_sendmessage(self, params: dict[str, Any], request: web.Request) -> web.Response:
        self.attempts += 1
        now = time.monotonic()
        if self.flood_limit is not None:
            while self._window and now - self._window[0] >= self.WINDOW:
                self._window.popleft()
            # Telegram allows about `flood_limit` messages in any one-second window.
            if len(self._window) >= self.flood_limit:
                self.refused += 1
                self.refused_overall += 1
                return reply_error(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        chat = params.get("chat_id")
        if self.per_chat is not None:
            last = self._last_by_chat.get(chat)
            if last is not None and now - last < self.WINDOW / self.per_chat:
                self.refused += 1
                self.refused_chat += 1
                return reply_error(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        response = await super()._api_sendmessage(params, request)
        if response.status == 200:
            self._window.append(now)
            self._last_by_chat[chat] = now
            self.arrivals.append((chat, str(params.get("text", ""))[:1000], now))
        return response

    async def _api_benchstats(self, params: dict[str, Any], request: web.Request) -> web.Response:
        return reply_ok(
            {
                "attempts": self.attempts,
                "refused": self.refused,
                "refused_overall": self.refused_overall,
                "refused_chat": self.refused_chat,
                "arrivals": self.arrivals,
            }
        )


async def serve(flood_limit: float | None, per_chat: float | None) -> None:
    api = BenchBotApi(flood_limit, per_chat)
    await api.start()
    print(api.base_url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flood-limit", type=float, help="messages per second, all chats")
    parser.add_argument("--per-chat", type=float, help="messages per second to one chat")
    args = parser.parse_args()
    asyncio.run(serve(args.flood_limit, args.per_chat))


if __name__ == "__main__":
    main()
