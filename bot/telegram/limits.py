"""Telegram's flood limits, kept before each request: overall, per chat, and per group.

python-telegram-bot's AIORateLimiter limits the overall rate and groups, but not private chats,
and by default does not retry a 429. This limiter plugs into the same place (`BaseRateLimiter`),
so command answers and deliveries share one budget. Each request books the earliest slot that
respects every limit and sleeps until then, so concurrent senders never exceed a limit and
nobody busy-waits. A 429 holds its chat (or everything, when no chat is named) for as long as
Telegram asks; the request is then retried in place up to its attempt budget. Deliveries ask
for one attempt (`ONE_ATTEMPT`): the outbox re-queues them instead of holding a worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import warnings
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

logger = logging.getLogger(__name__)

ONE_ATTEMPT = 1  # rate_limit_args for a request whose caller retries by itself
PAID_BROADCAST_PER_SECOND = 1000.0  # Telegram's ceiling with allow_paid_broadcast
_MESSAGE_ENDPOINTS = ("send", "copy", "forward", "edit")  # requests that post to a chat


@dataclass(frozen=True, slots=True)
class Limits:
    """How fast we may send. Telegram's documented defaults; tests shrink the windows."""

    per_second: float = 30.0  # all chats together
    chat_interval: float = 1.0  # seconds between two messages to the same chat
    group_messages: int = 20  # at most this many messages to one group or channel …
    group_window: float = 60.0  # … in any window of this many seconds
    paid_broadcast: bool = False  # allow_paid_broadcast: Telegram lets us go up to 1000/s

    @classmethod
    def from_settings(
        cls,
        *,
        per_second: float,
        chat_interval: float,
        group_per_minute: int,
        paid_broadcast: bool,
    ) -> Limits:
        overall = PAID_BROADCAST_PER_SECOND if paid_broadcast else per_second
        return cls(overall, chat_interval, group_per_minute, 60.0, paid_broadcast)


def shared_limits(limits: Limits, instances: int) -> Limits:
    """Telegram's overall rate is per bot token: each live instance gets an equal share.

    Per-chat and per-group limits stay whole: a chat is served by one instance at a time.
    """
    return dataclasses.replace(limits, per_second=limits.per_second / max(1, instances))


def is_group(chat_id: int | str) -> bool:
    """Groups, supergroups and channels have negative ids (or an @username, for channels)."""
    return isinstance(chat_id, str) or chat_id < 0


class FloodLimiter(BaseRateLimiter[int]):
    """Spaces requests to stay within `Limits`; `rate_limit_args` is the number of attempts."""

    def __init__(
        self,
        limits: Limits,
        *,
        attempts: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self.attempts = attempts
        self._clock = clock
        self._next_slot = 0.0  # earliest time of the next request, all chats together
        self._held_until = 0.0  # a 429 without a chat holds everything until then
        self._chat_next: dict[int | str, float] = {}
        self._group_slots: dict[int | str, deque[list[float]]] = {}
        # When the last `per_second` requests really went out (see `_window_wait`).
        self._went_out: deque[float] = deque(maxlen=max(1, int(limits.per_second)))

    async def initialize(self) -> None:
        """Nothing to set up: the state is in memory."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat = data.get("chat_id")
        chat_id: int | str | None = chat if isinstance(chat, int | str) and chat != "" else None
        attempts = max(1, rate_limit_args or self.attempts)
        # Telegram's per-chat limits are on messages; reading (getChatMember) is not spaced.
        # Method names are case-insensitive: bot/telegram/sender.py sends as "sendmessage".
        spaced = chat_id if endpoint.lower().startswith(_MESSAGE_ENDPOINTS) else None
        for attempt in range(1, attempts + 1):
            booking = await self.acquire(spaced)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                seconds = retry_seconds(exc)
                self.hold(chat_id, seconds)
                if attempt == attempts:
                    raise
                logger.info("flood control on %s: waiting %.1fs (chat %s)", endpoint, seconds, chat)
            finally:
                self.release(spaced, booking)
        raise AssertionError("unreachable")  # pragma: no cover

    async def acquire(self, chat_id: int | str | None) -> list[float]:
        """Wait until a request to `chat_id` (None: no chat) may go out, and book its slot.

        Returns the booking, to hand to `release` once the request is answered.
        """
        while True:
            now = self._clock()
            ready = self._ready_at(chat_id, now)
            if ready <= now:
                break
            await asyncio.sleep(ready - now)
        # No await between the check and the booking: concurrent callers see this slot taken.
        slot = max(now, self._next_slot)
        self._next_slot = slot + 1.0 / self.limits.per_second
        booking = [slot]
        if chat_id is not None:
            self._book_chat(chat_id, booking)
        if slot > now:
            await asyncio.sleep(slot - now)
        while True:
            wait = self._window_wait()
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        self._went_out.append(self._clock())
        return booking

    def _window_wait(self) -> float:
        """How long until fewer than `per_second` requests went out in the last second.

        Slots are booked 1/per_second apart, but a stalled event loop (a busy machine) wakes
        the sleepers of several slots at once: without this they would go out in a burst
        and a one-second window could hold more than Telegram allows.
        """
        went = self._went_out
        if len(went) < (went.maxlen or 1):
            return 0.0
        return went[0] + 1.0 - self._clock()

    def release(self, chat_id: int | str | None, booking: list[float]) -> None:
        """The request was answered: count the chat's spacing from now, not from the slot.

        Telegram received the request somewhere between the slot and the answer; counting
        from the answer keeps the per-chat and per-group limits whatever the latency.
        """
        done = self._clock()
        booking[0] = max(booking[0], done)
        if chat_id is not None:
            following = done + self.limits.chat_interval
            self._chat_next[chat_id] = max(self._chat_next.get(chat_id, 0.0), following)

    def hold(self, chat_id: int | str | None, seconds: float) -> None:
        """Telegram said "retry after": nothing more to this chat (None: to anyone) until then."""
        until = self._clock() + max(0.0, seconds)
        if chat_id is None:
            self._held_until = max(self._held_until, until)
        else:
            self._chat_next[chat_id] = max(self._chat_next.get(chat_id, 0.0), until)

    def _ready_at(self, chat_id: int | str | None, now: float) -> float:
        ready = self._held_until
        if chat_id is None:
            return ready
        ready = max(ready, self._chat_next.get(chat_id, 0.0))
        window = self._group_slots.get(chat_id)
        if window is not None:
            while window and window[0][0] <= now - self.limits.group_window:
                window.popleft()
            recent = sorted(t for (t,) in window)
            if len(recent) >= self.limits.group_messages:
                oldest = recent[-self.limits.group_messages]
                ready = max(ready, oldest + self.limits.group_window)
        return ready

    def _book_chat(self, chat_id: int | str, booking: list[float]) -> None:
        self._chat_next[chat_id] = booking[0] + self.limits.chat_interval
        if is_group(chat_id):
            window = self._group_slots.setdefault(
                chat_id, deque(maxlen=4 * self.limits.group_messages)
            )
            window.append(booking)
        if len(self._chat_next) > 50_000:  # forget chats whose spacing has long passed
            horizon = booking[0] - max(self.limits.chat_interval, self.limits.group_window)
            for key in [k for k, t in self._chat_next.items() if t < horizon]:
                del self._chat_next[key]
                self._group_slots.pop(key, None)


def retry_seconds(exc: RetryAfter) -> float:
    """PTB 22 gives int or timedelta depending on PTB_TIMEDELTA; read either without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
