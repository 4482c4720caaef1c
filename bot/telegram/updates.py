"""How incoming Telegram updates are processed: chats side by side, each in order, floods dropped.

python-telegram-bot handles updates one at a time by default, so one chat sending sixty
commands (each answer paced at one message a second per chat) would hold every other chat
for a minute. Here each chat has its own lane, and a chat over its command budget has its
updates dropped before they cost anything.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(__name__)


class ChatLanes(BaseUpdateProcessor):
    """Different chats concurrently, one chat's updates in order, and a token bucket per chat."""

    def __init__(
        self,
        max_concurrent: int = 256,
        burst: int = 10,
        refill_seconds: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(max_concurrent)
        self.burst = burst
        self.refill_seconds = refill_seconds
        self.clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # chat → (tokens, as of)
        self._lanes: dict[int, tuple[asyncio.Lock, int]] = {}  # chat → (lock, users)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        if not self._take(chat.id):
            if inspect.iscoroutine(coroutine):
                coroutine.close()  # never awaited: nothing runs, nothing is answered
            log.warning("dropped an update from a flooding chat chat=%s", chat.id)
            return
        lane, users = self._lanes.get(chat.id, (asyncio.Lock(), 0))
        self._lanes[chat.id] = (lane, users + 1)
        try:
            async with lane:
                await coroutine
        finally:
            lane, users = self._lanes[chat.id]
            if users == 1:
                del self._lanes[chat.id]
            else:
                self._lanes[chat.id] = (lane, users - 1)

    def _take(self, chat_id: int) -> bool:
        now = self.clock()
        tokens, since = self._buckets.get(chat_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - since) / self.refill_seconds)
        if tokens < 1:
            self._buckets[chat_id] = (tokens, now)
            return False
        self._buckets[chat_id] = (tokens - 1, now)
        if len(self._buckets) > 10_000:  # forget chats whose bucket is full again
            refill = self.refill_seconds
            full = [
                c for c, (t, s) in self._buckets.items() if t + (now - s) / refill >= self.burst
            ]
            for chat in full:
                del self._buckets[chat]
        return True

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""
