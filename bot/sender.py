"""Send one Telegram message and say what happened, as one of five small outcomes.

The delivery pass decides what to do with an outcome (retry later, move the chat, stop sending);
this module only maps python-telegram-bot's errors onto them. Reasons never contain the token.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import timedelta

from telegram import Bot, LinkPreviewOptions
from telegram import error as tg
from telegram.constants import ParseMode
from telegram.warnings import PTBDeprecationWarning

from bot.logs import TokenRedactor
from bot.messages import html_to_plain

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
    """Sends HTML messages through a PTB `Bot` whose lifecycle the caller owns."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self._redactor = TokenRedactor(bot.token)

    async def send(self, chat_id: int, text: str, *, thread_id: int | None = None) -> Outcome:
        """Send `text` (Telegram HTML) without link previews; fall back to plain text once."""
        outcome = await self._send(chat_id, text, thread_id, ParseMode.HTML)
        if isinstance(outcome, Failed) and "can't parse entities" in outcome.reason.lower():
            logger.warning("chat %s rejected our HTML (%s); resending as plain text", chat_id,
                           outcome.reason)  # fmt: skip
            outcome = await self._send(chat_id, html_to_plain(text), thread_id, None)
        return outcome

    async def _send(
        self, chat_id: int, text: str, thread_id: int | None, parse_mode: str | None
    ) -> Outcome:
        try:
            message = await self.bot.send_message(
                chat_id=chat_id,
                text=text,
                parse_mode=parse_mode,
                message_thread_id=thread_id,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except tg.RetryAfter as exc:
            outcome: Outcome = RetryAfter(_seconds(exc))
        except tg.ChatMigrated as exc:
            outcome = Migrated(exc.new_chat_id)
        except tg.Forbidden as exc:
            outcome = Gone(self._reason(exc))
        except tg.InvalidToken as exc:
            outcome = Failed(self._reason(exc), retryable=False)
        except tg.BadRequest as exc:  # before NetworkError: BadRequest subclasses it
            reason = self._reason(exc)
            gone = any(marker in reason.lower() for marker in _GONE_MARKERS)
            outcome = Gone(reason) if gone else Failed(reason, retryable=False)
        except tg.TimedOut as exc:  # the message may still have arrived
            outcome = Failed(self._reason(exc) or "timed out", retryable=True)
        except tg.NetworkError as exc:  # connection errors and HTTP 5xx
            outcome = Failed(self._reason(exc), retryable=True)
        except tg.TelegramError as exc:  # e.g. a response that is not JSON: the server's problem
            outcome = Failed(self._reason(exc), retryable=True)
        else:
            return Sent(message.message_id)
        if not isinstance(outcome, Failed) or outcome.retryable:
            logger.info("send to chat %s: %s", chat_id, outcome)
        else:
            logger.warning("send to chat %s failed for good: %s", chat_id, outcome.reason)
        return outcome

    def _reason(self, exc: tg.TelegramError) -> str:
        name, message = type(exc).__name__, exc.message
        reason = message if message.lower().startswith(name.lower()) else f"{name}: {message}"
        return self._redactor.redact(reason)


def _seconds(exc: tg.RetryAfter) -> float:
    # PTB 22 returns int or timedelta depending on PTB_TIMEDELTA, and warns when it is unset.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
