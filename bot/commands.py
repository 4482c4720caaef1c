"""The bot's commands: /start, /help, /subscribe, /unsubscribe, /list, /latest.

Each answer goes to the chat (and forum topic) the command came from. In groups only the
chat's administrators, and the operators listed in `telegram.admins`, change subscriptions.
PTB itself drops commands addressed to another bot (``/list@otherbot``).
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from telegram import BotCommand, ChatMember, LinkPreviewOptions, Message, Update
from telegram import error as tg
from telegram.constants import ChatType, ParseMode
from telegram.ext import Application, CommandHandler, ContextTypes
from telegram.ext import filters as tg_filters

from bot.filters import FilterError, explain, parse_filter
from bot.messages import badge, render_article_list
from bot.model import StoredArticle

logger = logging.getLogger(__name__)

LATEST_DEFAULT = 5
LATEST_MAX = 20

COMMANDS = (
    BotCommand("subscribe", "Get alerts: /subscribe [filter]"),
    BotCommand("unsubscribe", "Stop alerts: /unsubscribe [filter]"),
    BotCommand("list", "Show this chat's subscriptions"),
    BotCommand("latest", "Show the newest articles: /latest [n]"),
    BotCommand("help", "Explain filters and commands"),
)


class SubscriptionStore(Protocol):
    """What the handlers need from `bot.store.Store` (synchronous: called in a worker thread)."""

    def upsert_chat(
        self, chat_id: int, kind: str, title: str | None, language: str | None
    ) -> None: ...

    def add_subscription(self, chat_id: int, thread_id: int | None, filter_text: str) -> bool: ...

    def remove_subscription(
        self, chat_id: int, thread_id: int | None, filter_text: str | None
    ) -> int: ...

    def subscriptions(self, chat_id: int, thread_id: int | None) -> list[str]: ...

    def latest_articles(self, limit: int) -> list[StoredArticle]: ...


@dataclass(frozen=True)
class CommandContext:
    """Everything the handlers use besides PTB's own context."""

    store: SubscriptionStore
    event_types: Collection[str]
    canonical: Callable[[str], str | None]  # any alias → canonical actor name
    admins: Collection[int] = ()  # operators: may change subscriptions in any chat


Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context, CommandContext], Coroutine[Any, Any, None]]


def register(application: Application[Any, Any, Any, Any, Any, Any], ctx: CommandContext) -> None:
    """Add one handler per command, and an error handler that logs (and never shows a traceback)."""
    handlers: dict[str, Handler] = {
        "start": start,
        "help": help_command,
        "subscribe": subscribe,
        "unsubscribe": unsubscribe,
        "list": list_subscriptions,
        "latest": latest,
    }
    for name, handler in handlers.items():
        # Only new messages: an edited "/subscribe x" must not subscribe a second time.
        application.add_handler(
            CommandHandler(name, _bind(handler, ctx), filters=tg_filters.UpdateType.MESSAGE)
        )
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


async def start(update: Update, context: Context, ctx: CommandContext) -> None:
    """Register the chat (again, if it had blocked us) and greet."""
    message = _message(update)
    chat, user = message.chat, message.from_user
    language = user.language_code if user else None
    await asyncio.to_thread(
        ctx.store.upsert_chat, chat.id, chat.type, chat.effective_name, language
    )
    await _answer(
        context,
        message,
        "👋 I send short alerts about headline events — deals, funding, launches, hires.\n\n"
        "Send /subscribe for every event, or narrow it down: "
        "<code>/subscribe acquisition Meta</code>. /help explains filters.",
    )


async def help_command(update: Update, context: Context, ctx: CommandContext) -> None:
    """Explain the commands and the filter syntax."""
    types = "\n".join(f"{badge(t)} <code>{html.escape(t)}</code>" for t in ctx.event_types)
    await _answer(
        context,
        _message(update),
        "<b>Commands</b>\n"
        "/subscribe [filter] — alerts for matching events\n"
        "/unsubscribe [filter] — stop one subscription, or all without a filter\n"
        "/list — this chat's subscriptions\n"
        f"/latest [n] — the newest articles (up to {LATEST_MAX})\n\n"
        "<b>Filters</b>\n"
        "• an event type: <code>acquisition funding</code> (either)\n"
        '• a company or person: <code>Meta</code>, <code>"Scale AI"</code> (any of them)\n'
        "• other words must all appear: <code>robot</code>\n"
        "• <code>-word</code> leaves out a type, name or word: <code>-rumor</code>\n\n"
        f"<b>Event types</b>\n{types}",
    )


async def subscribe(update: Update, context: Context, ctx: CommandContext) -> None:
    """Subscribe this chat (or topic) to events that match the filter."""
    message = _message(update)
    if not await _may_change(context, message, ctx):
        return
    try:
        wanted = parse_filter(_argument(message), ctx.event_types, ctx.canonical)
    except FilterError as exc:
        await _answer(context, message, f"⚠️ {html.escape(str(exc))}\nSee /help for filters.")
        return
    chat, user = message.chat, message.from_user
    language = user.language_code if user else None
    await asyncio.to_thread(
        ctx.store.upsert_chat, chat.id, chat.type, chat.effective_name, language
    )
    added = await asyncio.to_thread(
        ctx.store.add_subscription, chat.id, _thread_id(message), wanted.text
    )
    meaning = html.escape(explain(wanted))
    if added:
        await _answer(context, message, f"✅ Subscribed: {meaning}.\n{_filter_line(wanted.text)}")
    else:
        await _answer(context, message, f"Already subscribed: {meaning}.")


async def unsubscribe(update: Update, context: Context, ctx: CommandContext) -> None:
    """Remove one subscription, or all of this chat's (topic's) without a filter."""
    message = _message(update)
    if not await _may_change(context, message, ctx):
        return
    chat_id, thread_id, argument = message.chat.id, _thread_id(message), _argument(message)
    if not argument:
        removed = await asyncio.to_thread(ctx.store.remove_subscription, chat_id, thread_id, None)
        text = f"Removed {_count(removed)}." if removed else "There were no subscriptions here."
        await _answer(context, message, text)
        return
    try:
        wanted = parse_filter(argument, ctx.event_types, ctx.canonical).text
    except FilterError:
        wanted = argument  # it may have been stored before the rules changed
    stored = await asyncio.to_thread(ctx.store.subscriptions, chat_id, thread_id)
    match = next((s for s in stored if s == wanted), None) or next(
        (s for s in stored if s.casefold() == wanted.casefold()), None
    )
    if match is None:
        listing = "\n".join(_filter_line(s) for s in stored) or "(none)"
        await _answer(
            context,
            message,
            f"No subscription <code>{html.escape(wanted)}</code> here. This chat has:\n{listing}",
        )
        return
    await asyncio.to_thread(ctx.store.remove_subscription, chat_id, thread_id, match)
    await _answer(context, message, f"Unsubscribed: {_filter_line(match)}")


async def list_subscriptions(update: Update, context: Context, ctx: CommandContext) -> None:
    """List this chat's (topic's) subscriptions."""
    message = _message(update)
    stored = await asyncio.to_thread(ctx.store.subscriptions, message.chat.id, _thread_id(message))
    if not stored:
        text = "No subscriptions here. Send /subscribe for every event, or /help for filters."
    else:
        lines = "\n".join(f"• {_filter_line(s)}" for s in stored)
        text = f"<b>Subscriptions</b>\n{lines}\n\nRemove one with /unsubscribe and its filter."
    await _answer(context, message, text)


async def latest(update: Update, context: Context, ctx: CommandContext) -> None:
    """Show the newest articles, with the kinds of events found in each."""
    message = _message(update)
    argument = _argument(message)
    count = LATEST_DEFAULT
    if argument:
        if not argument.isdigit() or not 1 <= int(argument) <= LATEST_MAX:
            await _answer(
                context,
                message,
                f"⚠️ Give a number from 1 to {LATEST_MAX}. For example: <code>/latest 10</code>",
            )
            return
        count = int(argument)
    articles = await asyncio.to_thread(ctx.store.latest_articles, count)
    await _answer(context, message, render_article_list(articles))


async def on_error(update: object, context: Context) -> None:
    """Log a failed update; a bug gets a short apology in the chat, never a traceback."""
    error = context.error
    if isinstance(error, tg.TelegramError):
        logger.warning("command answer failed: %s: %s", type(error).__name__, error.message)
        return
    logger.error("command handler failed", exc_info=error)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await _answer(
                context,
                update.effective_message,
                "Sorry, that failed on our side. Try again later.",
            )
        except tg.TelegramError as exc:
            logger.warning("could not apologise: %s", exc.message)


async def _may_change(context: Context, message: Message, ctx: CommandContext) -> bool:
    """Private chats are their user's; in groups, ask Telegram whether the sender is an admin."""
    chat, user = message.chat, message.from_user
    if chat.type == ChatType.PRIVATE:
        return True
    if message.sender_chat is not None and message.sender_chat.id == chat.id:
        return True  # an anonymous administrator posting as the group
    if user is not None and user.id in ctx.admins:
        return True
    allowed = False
    if user is not None:
        try:
            member = await context.bot.get_chat_member(chat.id, user.id)
        except (tg.BadRequest, tg.Forbidden) as exc:
            logger.warning("could not check admin rights in chat %s: %s", chat.id, exc.message)
        else:
            allowed = member.status in (ChatMember.ADMINISTRATOR, ChatMember.OWNER)
    if not allowed:
        await _answer(context, message, "Only this group's admins can change its subscriptions.")
    return allowed


async def _answer(context: Context, message: Message, text: str) -> None:
    await context.bot.send_message(
        chat_id=message.chat.id,
        text=text,
        parse_mode=ParseMode.HTML,
        message_thread_id=_thread_id(message),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


def _message(update: Update) -> Message:
    # CommandHandler only lets through updates that carry a message.
    message = update.effective_message
    assert message is not None
    return message


def _thread_id(message: Message) -> int | None:
    """The forum topic, if any: other groups put reply-thread ids here that sends refuse."""
    return message.message_thread_id if message.is_topic_message else None


def _argument(message: Message) -> str:
    """Everything after the command word, quotes and spacing kept."""
    parts = (message.text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def _filter_line(filter_text: str) -> str:
    if not filter_text:
        return "everything (<code>/subscribe</code>)"
    return f"<code>/subscribe {html.escape(filter_text)}</code>"


def _count(removed: int) -> str:
    return f"{removed} subscription{'s' if removed != 1 else ''}"
