"""The bot's commands: subscriptions, per chat settings, and the operators' commands.

Each answer goes to the chat (and forum topic) the command came from, in the chat's language.
In groups only the chat's administrators, and the operators listed in `telegram.admins`,
change subscriptions or settings; /stats, /pause, /resume and /broadcast are for operators
only. PTB itself drops commands addressed to another bot (``/list@otherbot``).

`subscriptions`, `settings` and `admin` hold the handlers, `_common` what they share; this
module wires them to PTB.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import BotCommand, Update
from telegram import error as tg
from telegram.ext import Application, CallbackQueryHandler, CommandHandler
from telegram.ext import filters as tg_filters

from bot.telegram.handlers._common import CommandContext, Context, answer
from bot.telegram.handlers.admin import broadcast, pause, resume, stats
from bot.telegram.handlers.settings import (
    language_command,
    mode_command,
    quiet_command,
    template_command,
    timezone_command,
)
from bot.telegram.handlers.subscriptions import (
    help_command,
    latest,
    list_subscriptions,
    on_button,
    start,
    subscribe,
    unsubscribe,
)

__all__ = ["COMMANDS", "CommandContext", "publish_commands", "register"]

logger = logging.getLogger(__name__)

COMMANDS = (
    BotCommand("subscribe", "Get alerts: /subscribe [filter]"),
    BotCommand("unsubscribe", "Stop alerts: /unsubscribe [filter]"),
    BotCommand("list", "Show this chat's subscriptions"),
    BotCommand("latest", "Show the newest articles: /latest [n]"),
    BotCommand("mode", "Instant alerts or a daily digest: /mode digest 08:30"),
    BotCommand("quiet", "Quiet hours: /quiet 22:00-07:00"),
    BotCommand("lang", "Language: /lang en | zh-Hans | zh-Hant"),
    BotCommand("help", "Explain filters and commands"),
)

Handler = Callable[[Update, Context, CommandContext], Coroutine[Any, Any, None]]


def register(application: Application[Any, Any, Any, Any, Any, Any], ctx: CommandContext) -> None:
    """Add one handler per command, the buttons' handler, and an error handler."""
    handlers: dict[str, Handler] = {
        "start": start,
        "help": help_command,
        "subscribe": subscribe,
        "unsubscribe": unsubscribe,
        "list": list_subscriptions,
        "latest": latest,
        "lang": language_command,
        "mode": mode_command,
        "quiet": quiet_command,
        "tz": timezone_command,
        "template": template_command,
        "stats": stats,
        "pause": pause,
        "resume": resume,
        "broadcast": broadcast,
    }
    for name, handler in handlers.items():
        # Only new messages: an edited "/subscribe x" must not subscribe a second time.
        application.add_handler(
            CommandHandler(name, _bind(handler, ctx), filters=tg_filters.UpdateType.MESSAGE)
        )
    application.add_handler(CallbackQueryHandler(_bind(on_button, ctx)))
    application.add_error_handler(on_error)


def _bind(
    handler: Handler, ctx: CommandContext
) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    async def callback(update: Update, context: Context) -> None:
        await handler(update, context, ctx)

    return callback


async def publish_commands(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Show the command list in Telegram's menu (call once the application is initialized)."""
    await application.bot.set_my_commands(COMMANDS)


async def on_error(update: object, context: Context) -> None:
    """Log a failed update; a bug gets a short apology in the chat, never a traceback."""
    error = context.error
    if isinstance(error, tg.TelegramError):
        logger.warning("command answer failed: %s: %s", type(error).__name__, error.message)
        return
    logger.error("command handler failed", exc_info=error)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await answer(
                context,
                update.effective_message,
                "Sorry, that failed on our side. Try again later.",
            )
        except tg.TelegramError as exc:
            logger.warning("could not apologise: %s", exc.message)
