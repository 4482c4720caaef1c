"""Send one Telegram message and say what happened, as one of five small outcomes.

The delivery pass decides what to do with an outcome (retry later, move the chat, stop sending);
this module only maps python-telegram-bot's errors onto them. Reasons never contain the token.

Messages go out through `Bot.do_api_request`, which returns Telegram's answer as a dict: a
fan-out only needs the message id, and `send_message` (two dozen optional parameters in, a
`telegram.Message` built from each answer) was about a quarter of the sender's CPU
(docs/benchmarks.md, target 4). The request and its errors are PTB's as with `send_message`:
the same form fields on the wire, the same rate limiter, the same exceptions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram import error as tg
from telegram.constants import ParseMode
from telegram.ext import ExtBot

from bot.core.messages import html_to_plain
from bot.core.redact import TokenRedactor
from bot.telegram.limits import ONE_ATTEMPT, retry_seconds

logger = logging.getLogger(__name__)

# BadRequest descriptions that mean the chat will not take messages from us again.
_GONE_MARKERS = (
    "chat not found",
    "group chat was deactivated",
    "user is deactivated",
    "bot was kicked",
    "not enough rights to send text",
    "have no rights to send a message",
)
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # frozen: one object for every request
_NO_PREVIEW_JSON = _NO_PREVIEW.to_json()  # as PTB would encode it, once rather than per send
# Bot API method names are case-insensitive (the server lowercases them); PTB warns when
# do_api_request is given the spelling of a method it wraps ("sendMessage").
_SEND_MESSAGE = "sendmessage"


@dataclass(frozen=True, slots=True)
class Sent:
    message_id: int


@dataclass(frozen=True, slots=True)
class RetryAfter:
    """Flood control: nothing more to this chat (or at all) for this long."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Migrated:
    """The group became a supergroup; send to the new id from now on."""

    new_chat_id: int


@dataclass(frozen=True, slots=True)
class Gone:
    """Blocked, kicked, or the chat no longer exists: stop sending until the chat /starts again."""

    reason: str


@dataclass(frozen=True, slots=True)
class Failed:
    """Not sent. `retryable`: the same message may succeed later (network, timeout, 5xx)."""

    reason: str
    retryable: bool


Outcome = Sent | RetryAfter | Migrated | Gone | Failed


class Sender:
    """Sends HTML messages through a PTB `Bot` whose lifecycle the caller owns.

    With a `FloodLimiter` on the bot, each send waits for its slot and makes one attempt: a
    429 comes back as `RetryAfter` and the outbox, not a sleeping worker, waits it out.
    """

    def __init__(self, bot: Bot, *, paid_broadcast: bool = False) -> None:
        self.bot = bot
        self.paid_broadcast = paid_broadcast
        self._redactor = TokenRedactor(bot.token)
        limited = isinstance(bot, ExtBot) and bot.rate_limiter is not None
        # ExtBot.do_api_request takes rate_limit_args; a plain Bot's has no such argument.
        self._limit: dict[str, Any] = {"rate_limit_args": ONE_ATTEMPT} if limited else {}
        self._extra: dict[str, Any] = {"allow_paid_broadcast": True} if paid_broadcast else {}

    async def send(
        self,
        chat_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> Outcome:
        """Send `text` (Telegram HTML) without link previews; fall back to plain text once."""
        outcome = await self._send(chat_id, text, thread_id, ParseMode.HTML, reply_markup)
        if isinstance(outcome, Failed) and "can't parse entities" in outcome.reason.lower():
            logger.warning("chat %s rejected our HTML (%s); resending as plain text", chat_id,
                           outcome.reason)  # fmt: skip
            outcome = await self._send(chat_id, html_to_plain(text), thread_id, None, reply_markup)
        return outcome

    async def edit(self, chat_id: int, message_id: int, text: str) -> Outcome:
        """Replace the text of a message we sent (e.g. to add "also reported by")."""
        try:
            await self.bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                link_preview_options=_NO_PREVIEW,
            )
        except tg.BadRequest as exc:
            if "not modified" in (exc.message or "").lower():
                return Sent(message_id)
            return self._classify(chat_id, exc)
        except tg.TelegramError as exc:
            return self._classify(chat_id, exc)
        return Sent(message_id)

    async def _send(
        self,
        chat_id: int,
        text: str,
        thread_id: int | None,
        parse_mode: str | None,
        reply_markup: InlineKeyboardMarkup | None,
    ) -> Outcome:
        parameters = {  # PTB drops the None ones and JSON-encodes the rest, as for send_message
            "chat_id": chat_id,
            "text": text,
            "parse_mode": parse_mode,
            "message_thread_id": thread_id,
            "link_preview_options": _NO_PREVIEW_JSON,
            "reply_markup": reply_markup,
            **self._extra,
        }
        try:
            answer = await self.bot.do_api_request(_SEND_MESSAGE, parameters, **self._limit)
        except tg.TelegramError as exc:
            return self._classify(chat_id, exc)
        return Sent(answer["message_id"])

    def _classify(self, chat_id: int, exc: tg.TelegramError) -> Outcome:
        """Map python-telegram-bot's error classes onto our outcomes (subclasses first)."""
        if isinstance(exc, tg.EndPointNotFound) and isinstance(exc.__cause__, tg.InvalidToken):
            exc = exc.__cause__  # do_api_request's name for a 401/404 once the bot is running
        outcome: Outcome
        if isinstance(exc, tg.RetryAfter):
            outcome = RetryAfter(retry_seconds(exc))
        elif isinstance(exc, tg.ChatMigrated):
            outcome = Migrated(exc.new_chat_id)
        elif isinstance(exc, tg.Forbidden):
            outcome = Gone(self._reason(exc))
        elif isinstance(exc, tg.InvalidToken):
            outcome = Failed(self._reason(exc), retryable=False)
        elif isinstance(exc, tg.BadRequest):  # before NetworkError: BadRequest subclasses it
            reason = self._reason(exc)
            gone = any(marker in reason.lower() for marker in _GONE_MARKERS)
            outcome = Gone(reason) if gone else Failed(reason, retryable=False)
        elif isinstance(exc, tg.TimedOut):  # the message may still have arrived
            outcome = Failed(self._reason(exc) or "timed out", retryable=True)
        else:  # NetworkError (connection, HTTP 5xx) or a response that is not JSON
            outcome = Failed(self._reason(exc), retryable=True)
        if not isinstance(outcome, Failed) or outcome.retryable:
            logger.info("send to chat %s: %s", chat_id, outcome)
        else:
            logger.warning("send to chat %s failed for good: %s", chat_id, outcome.reason)
        return outcome

    def _reason(self, exc: tg.TelegramError) -> str:
        name, message = type(exc).__name__, exc.message
        reason = message if message.lower().startswith(name.lower()) else f"{name}: {message}"
        return self._redactor.redact(reason)
