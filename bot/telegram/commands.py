"""The bot's commands: subscriptions, per chat settings, and the operators' commands.

Each answer goes to the chat (and forum topic) the command came from, in the chat's language.
In groups only the chat's administrators, and the operators listed in `telegram.admins`,
change subscriptions or settings; /stats, /pause, /resume and /broadcast are for operators
only. PTB itself drops commands addressed to another bot (``/list@otherbot``).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from telegram import (
    BotCommand,
    ChatMember,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram import error as tg
from telegram.constants import ChatType, ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes
from telegram.ext import filters as tg_filters

from bot.core.filters import Filter, FilterError, explain, parse_filter
from bot.core.i18n import language_from_code, t
from bot.core.messages import (
    MAX_MESSAGE_LENGTH,
    badge,
    clip,
    close_type,
    html_to_plain,
    render_article_list,
    split_html,
    units,
)
from bot.core.model import StoredArticle
from bot.core.modes import ChatSettings
from bot.core.templates import PLACEHOLDERS, localise
from bot.store.broadcasts import Broadcast
from bot.store.chats import DisabledSubscription, TooManySubscriptions
from bot.store.outbox import FailedDelivery
from bot.telegram.keyboards import KeyboardStore, follow_buttons, list_keyboard
from bot.telegram.sender import Sender

logger = logging.getLogger(__name__)

LATEST_DEFAULT = 5
LATEST_MAX = 20

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


class BroadcastStore(Protocol):
    """What sending a broadcast needs from `bot.store.Store` (see bot/telegram/operators.py)."""

    def broadcast_pending(self, broadcast_id: int) -> list[int]: ...

    def broadcast_sent(self, broadcast_id: int, chat_id: int, status: str) -> None: ...

    def finish_broadcast(self, broadcast_id: int, now: datetime) -> tuple[int, int]: ...

    def unfinished_broadcasts(self) -> list[Broadcast]: ...

    def deactivate_chat(self, chat_id: int, reason: str = ...) -> None: ...


class SubscriptionStore(KeyboardStore, BroadcastStore, Protocol):
    """What the handlers need from `bot.store.Store` (synchronous: called in a worker thread)."""

    def upsert_chat(
        self, chat_id: int, kind: str, title: str | None, language: str | None
    ) -> None: ...

    def remove_subscription(
        self, chat_id: int, thread_id: int | None, filter_text: str | None
    ) -> int: ...

    def latest_articles(self, limit: int) -> list[StoredArticle]: ...

    def disabled_filters(self, chat_id: int, thread_id: int | None) -> dict[str, str]: ...

    def chat_settings(self, chat_id: int, thread_id: int | None) -> ChatSettings: ...

    def update_settings(
        self, chat_id: int, thread_id: int | None, **values: Any
    ) -> ChatSettings: ...

    def release_held(self, chat_id: int, thread_id: int | None) -> int: ...

    def chat_counts(self) -> dict[str, int]: ...

    def outbox_counts(self) -> dict[str, int]: ...

    def failed_deliveries(self, limit: int = 100) -> list[FailedDelivery]: ...

    def delivery_paused(self) -> bool: ...

    def set_delivery_paused(self, paused: bool) -> None: ...

    def active_chat_ids(self) -> list[int]: ...

    def start_broadcast(
        self, text: str, from_chat: int, chat_ids: Sequence[int], now: datetime
    ) -> Broadcast: ...


class FilterCheckStore(Protocol):
    """What checking the stored filters at start needs from `bot.store.Store`."""

    def recheck_filters(
        self, problem: Callable[[str], str | None]
    ) -> list[DisabledSubscription]: ...

    def chat_settings(self, chat_id: int, thread_id: int | None) -> ChatSettings: ...


@dataclass(frozen=True)
class CommandContext:
    """Everything the handlers use besides PTB's own context."""

    store: SubscriptionStore
    event_types: Collection[str]
    canonical: Callable[[str], str | None]  # any alias → canonical actor name
    admins: Collection[int] = ()  # operators (user or chat ids): admin commands, any chat
    # Wakes the delivery loop: after /resume, and after a settings change freed held alerts.
    on_resume: Callable[[], None] | None = None
    problems: Callable[[], list[str]] = list  # the daemon's current faults, for /stats
    max_subscriptions: int = 50  # per chat, its topics together (telegram.max_subscriptions)


Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context, CommandContext], Coroutine[Any, Any, None]]


def register(application: Application[Any, Any, Any, Any, Any, Any], ctx: CommandContext) -> None:
    """Add one handler per command, the buttons' handler, and an error handler."""
    from bot.telegram import operators, preferences  # they share this module's helpers

    handlers: dict[str, Handler] = {
        "start": start,
        "help": help_command,
        "subscribe": subscribe,
        "unsubscribe": unsubscribe,
        "list": list_subscriptions,
        "latest": latest,
        "lang": preferences.language_command,
        "mode": preferences.mode_command,
        "quiet": preferences.quiet_command,
        "tz": preferences.timezone_command,
        "template": preferences.template_command,
        "stats": operators.stats,
        "pause": operators.pause,
        "resume": operators.resume,
        "broadcast": operators.broadcast,
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


async def start(update: Update, context: Context, ctx: CommandContext) -> None:
    """Register the chat (again, if it had blocked us), greet, and offer buttons to follow.
    In a group, only an admin's /start sets the chat's language (from the admin's own)."""
    message = _message(update)
    admin = await may_change(context, message, ctx, "en", quiet=True)
    await register_chat(message, ctx, with_language=admin)
    language = await chat_language(message, ctx)
    keyboard = await _follow_keyboard(ctx, message.chat.id, _thread_id(message), language)
    await answer(context, message, t("welcome", language), reply_markup=keyboard)


async def _follow_keyboard(
    ctx: CommandContext, chat_id: int, thread_id: int | None, language: str
) -> InlineKeyboardMarkup:
    articles = await asyncio.to_thread(ctx.store.latest_articles, 100)
    subscribed = await asyncio.to_thread(ctx.store.subscriptions, chat_id, thread_id)
    return follow_buttons(ctx.event_types, ctx.canonical, articles, subscribed, language)


async def on_button(update: Update, context: Context, ctx: CommandContext) -> None:
    """A tap on a /start toggle or a /list ✖: change the subscription, update the buttons."""
    query = update.callback_query
    assert query is not None  # CallbackQueryHandler passes only callback queries
    message = query.message
    if not isinstance(message, Message):  # too old for Telegram to show it to us
        await query.answer()
        return
    language = await chat_language(message, ctx)
    if not await may_change(context, message, ctx, language, query.from_user.id, quiet=True):
        await query.answer(t("admins_only", language), show_alert=True)
        return
    chat_id, thread_id, data = message.chat.id, _thread_id(message), query.data or ""
    if data.startswith("rm:") and data[3:].isdigit():
        removed = await asyncio.to_thread(
            ctx.store.remove_subscription_id, chat_id, thread_id, int(data[3:])
        )
        rows = await asyncio.to_thread(ctx.store.subscription_rows, chat_id, thread_id)
        await query.answer(t("toggled_off", language, name=removed) if removed else None)
        text = await _list_text(ctx, chat_id, thread_id, rows, language)
        await query.edit_message_text(
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=list_keyboard(rows, language) if rows else None,
        )
        return
    if not data.startswith("f:"):
        await query.answer()
        return
    try:
        wanted = parse_filter(data[2:], ctx.event_types, ctx.canonical).text
    except FilterError:
        await query.answer()
        return
    await asyncio.to_thread(
        ctx.store.upsert_chat,
        chat_id,
        message.chat.type,
        message.chat.effective_name,
        query.from_user.language_code,
    )
    stored = await asyncio.to_thread(ctx.store.subscriptions, chat_id, thread_id)
    if wanted in stored:
        await asyncio.to_thread(ctx.store.remove_subscription, chat_id, thread_id, wanted)
        await query.answer(t("toggled_off", language, name=wanted or t("everything", language)))
    else:
        try:
            await asyncio.to_thread(
                ctx.store.add_subscription, chat_id, thread_id, wanted, ctx.max_subscriptions
            )
        except TooManySubscriptions as exc:
            text = t("too_many_subscriptions", language, n=exc.limit)
            await query.answer(html_to_plain(text), show_alert=True)
            return
        await query.answer(t("toggled_on", language, name=wanted or t("everything", language)))
    keyboard = await _follow_keyboard(ctx, chat_id, thread_id, language)
    await query.edit_message_reply_markup(reply_markup=keyboard)


async def help_command(update: Update, context: Context, ctx: CommandContext) -> None:
    """Explain the commands and the filter syntax."""
    message = _message(update)
    language = await chat_language(message, ctx)
    types = "\n".join(
        f"{badge(t_, language)} <code>{html.escape(t_)}</code>" for t_ in ctx.event_types
    )
    placeholders = " ".join(f"<code>{{{name}}}</code>" for name in PLACEHOLDERS)
    text = t("help", language, latest_max=LATEST_MAX, placeholders=placeholders, types=types)
    await answer(context, message, text)


async def subscribe(update: Update, context: Context, ctx: CommandContext) -> None:
    """Subscribe this chat (or topic) to events that match the filter."""
    message = _message(update)
    language = await chat_language(message, ctx)
    if not await may_change(context, message, ctx, language):
        return
    try:
        wanted = parse_filter(_argument(message), ctx.event_types, ctx.canonical)
    except FilterError as exc:
        problem = html.escape(exc.text(language))
        await answer(context, message, t("filter_problem", language, problem=problem))
        return
    typo = _type_typo(_argument(message), wanted, ctx.event_types, language)
    if typo is not None:  # nothing stored: the user says which was meant
        await answer(context, message, t("did_you_mean", language, **typo))
        return
    await register_chat(message, ctx)
    thread = _thread_id(message)
    before = await asyncio.to_thread(ctx.store.subscriptions, message.chat.id, thread)
    try:
        added = await asyncio.to_thread(
            ctx.store.add_subscription,
            message.chat.id,
            thread,
            wanted.text,
            ctx.max_subscriptions,
        )
    except TooManySubscriptions as exc:
        await answer(context, message, t("too_many_subscriptions", language, n=exc.limit))
        return
    meaning = html.escape(explain(wanted, language))
    if not added:
        await answer(context, message, t("already", language, meaning=meaning))
        return
    text = t("subscribed", language, meaning=meaning, line=filter_line(wanted.text, language))
    if not before:  # the first one: say why nothing old arrives, and how to catch up
        text += "\n" + t("first_subscription", language, n=LATEST_DEFAULT)
    await answer(context, message, text)


_TERM = re.compile(r'-?(?:"[^"]*"|(\S+))')


def _type_typo(
    argument: str, wanted: Filter, event_types: Collection[str], language: str
) -> dict[str, str] | None:
    """An unquoted word read as a keyword that names or nearly spells an event type
    ("acqusition"): the answer's values, both ways to write the filter; None if none."""
    keywords = wanted.keywords | wanted.not_keywords
    for match in _TERM.finditer(argument):
        word = match.group(1)
        if word is None or " ".join(word.casefold().split()) not in keywords:
            continue
        event_type = close_type(word, event_types)
        if event_type is None:
            continue
        start, end = match.span(1)
        return {
            "word": html.escape(word),
            "badge": f"{badge(event_type, language)} (<code>{html.escape(event_type)}</code>)",
            "fixed": html.escape(argument[:start] + event_type + argument[end:]),
            "quoted": html.escape(f'{argument[:start]}"{word}"{argument[end:]}'),
        }
    return None


async def unsubscribe(update: Update, context: Context, ctx: CommandContext) -> None:
    """Remove one subscription, or all of this chat's (topic's) without a filter."""
    message = _message(update)
    language = await chat_language(message, ctx)
    if not await may_change(context, message, ctx, language):
        return
    chat_id, thread_id, argument = message.chat.id, _thread_id(message), _argument(message)
    if not argument:
        removed = await asyncio.to_thread(ctx.store.remove_subscription, chat_id, thread_id, None)
        text = (
            t("removed", language, count=_count(removed), n=removed)
            if removed
            else t("nothing_to_remove", language)
        )
        await answer(context, message, text)
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
        head = t("no_such_subscription", language, wanted=clip(wanted, 300))
        listing = fit_lines(
            [filter_line(s, language) for s in stored], MAX_MESSAGE_LENGTH - units(head), language
        )
        await answer(context, message, head + (listing or t("none", language)))
        return
    await asyncio.to_thread(ctx.store.remove_subscription, chat_id, thread_id, match)
    await answer(context, message, t("unsubscribed", language, line=filter_line(match, language)))


async def list_subscriptions(update: Update, context: Context, ctx: CommandContext) -> None:
    """List this chat's (topic's) subscriptions, each with a button that removes it."""
    message = _message(update)
    language = await chat_language(message, ctx)
    rows = await asyncio.to_thread(
        ctx.store.subscription_rows, message.chat.id, _thread_id(message)
    )
    if not rows:
        await answer(context, message, t("no_subscriptions", language))
        return
    text = await _list_text(ctx, message.chat.id, _thread_id(message), rows, language)
    await answer(context, message, text, reply_markup=list_keyboard(rows, language))


async def _list_text(
    ctx: CommandContext,
    chat_id: int,
    thread_id: int | None,
    rows: Sequence[tuple[int, str]],
    language: str,
) -> str:
    """The subscriptions, disabled ones marked with why, in one message (edits cannot split)."""
    if not rows:
        return t("no_subscriptions", language)
    disabled = await asyncio.to_thread(ctx.store.disabled_filters, chat_id, thread_id)
    lines = []
    for _, text in rows:
        line = f"• {filter_line(text, language)}"
        if text in disabled:
            problem = _problem_text(text, disabled[text], ctx.event_types, ctx.canonical, language)
            line += " " + t("disabled_mark", language, problem=problem)
        lines.append(line)
    frame = units(t("subscriptions", language, lines=""))
    return t(
        "subscriptions", language, lines=fit_lines(lines, MAX_MESSAGE_LENGTH - frame, language)
    )


def fit_lines(lines: Sequence[str], budget: int, language: str) -> str:
    """As many whole lines as fit in `budget` UTF-16 units, then "…and N more"."""
    shown: list[str] = []
    used = 0
    for n, line in enumerate(lines):
        more = t("and_more", language, n=len(lines) - n)
        rest = 0 if n == len(lines) - 1 else units(more) + 1
        if used + units(line) + rest > budget:
            shown.append(more)
            break
        shown.append(line)
        used += units(line) + 1
    return "\n".join(shown)


async def latest(update: Update, context: Context, ctx: CommandContext) -> None:
    """Show the newest articles with their events, in the chat's language and script."""
    message = _message(update)
    language = await chat_language(message, ctx)
    argument = _argument(message)
    count = LATEST_DEFAULT
    if argument:
        if not argument.isdigit() or not 1 <= int(argument) <= LATEST_MAX:
            await answer(context, message, t("latest_usage", language, n=LATEST_MAX))
            return
        count = int(argument)
    articles = await asyncio.to_thread(ctx.store.latest_articles, count)
    local = [localise(a, (), language)[0] for a in articles]
    await answer(context, message, render_article_list(local, language))


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


# -- stored filters, checked again at start ------------------------------------------------


async def check_stored_filters(
    store: FilterCheckStore, event_types: Collection[str], canonical: Callable[[str], str | None]
) -> list[DisabledSubscription]:
    """Disable, with the reason, every stored filter that no longer passes (a /pattern/ stored
    before RE2 that RE2 refuses): it must never run. Returns those disabled now."""

    def problem(text: str) -> str | None:
        try:
            parse_filter(text, event_types, canonical)
        except FilterError as exc:
            return str(exc)
        return None

    disabled = await asyncio.to_thread(store.recheck_filters, problem)
    for found in disabled:
        logger.warning(
            "subscription disabled chat=%s thread=%s filter=%r reason=%s",
            found.chat_id,
            found.thread_id,
            found.filter,
            found.reason,
        )
    return disabled


async def tell_disabled(
    sender: Sender,
    store: FilterCheckStore,
    disabled: Sequence[DisabledSubscription],
    event_types: Collection[str],
    canonical: Callable[[str], str | None],
) -> None:
    """Tell each chat, once and in its language, which of its subscriptions stopped and why;
    a chat that cannot be told still sees it in /list."""
    for found in disabled:
        settings = await asyncio.to_thread(store.chat_settings, found.chat_id, found.thread_id)
        language = settings.language or "en"
        problem = _problem_text(found.filter, found.reason, event_types, canonical, language)
        text = t(
            "filter_disabled", language, line=filter_line(found.filter, language), problem=problem
        )
        outcome = await sender.send(found.chat_id, text, thread_id=found.thread_id)
        logger.info("told chat=%s its subscription is disabled: %s", found.chat_id, outcome)


def _problem_text(
    filter_text: str,
    reason: str,
    event_types: Collection[str],
    canonical: Callable[[str], str | None],
    language: str,
) -> str:
    """Why a stored filter is disabled, in `language` when it still fails; escaped."""
    try:
        parse_filter(filter_text, event_types, canonical)
    except FilterError as exc:
        return html.escape(exc.text(language))
    return html.escape(reason)


# -- shared by the handlers -----------------------------------------------------------------


def is_operator(message: Message, ctx: CommandContext) -> bool:
    user = message.from_user
    return (user is not None and user.id in ctx.admins) or message.chat.id in ctx.admins


async def may_change(
    context: Context,
    message: Message,
    ctx: CommandContext,
    language: str,
    user_id: int | None = None,
    quiet: bool = False,
    refusal: str = "admins_only",
) -> bool:
    """Private chats are their user's; in groups, ask Telegram whether the sender is an admin.
    `refusal`: the text key of the answer to others (subscriptions, or settings)."""
    chat = message.chat
    user = message.from_user if user_id is None else None
    uid = user_id if user_id is not None else (user.id if user is not None else None)
    if chat.type == ChatType.PRIVATE:
        return True
    if user_id is None and message.sender_chat is not None and message.sender_chat.id == chat.id:
        return True  # an anonymous administrator posting as the group
    if uid is not None and (uid in ctx.admins or chat.id in ctx.admins):
        return True
    allowed = False
    if uid is not None:
        try:
            member = await context.bot.get_chat_member(chat.id, uid)
        except (tg.BadRequest, tg.Forbidden) as exc:
            logger.warning("could not check admin rights in chat %s: %s", chat.id, exc.message)
        else:
            allowed = member.status in (ChatMember.ADMINISTRATOR, ChatMember.OWNER)
    if not allowed and not quiet:
        await answer(context, message, t(refusal, language))
    return allowed


async def chat_language(message: Message, ctx: CommandContext) -> str:
    """The chat's chosen language, else the one of the user who wrote."""
    settings = await asyncio.to_thread(
        ctx.store.chat_settings, message.chat.id, _thread_id(message)
    )
    if settings.language:
        return settings.language
    user = message.from_user
    return language_from_code(user.language_code if user else None)


async def answer(context: Context, message: Message, text: str, reply_markup: Any = None) -> None:
    """Reply in the chat (topic); over Telegram's limit, in several messages, the buttons on
    the last. In a group the answer replies to the command, so its sender sees which is theirs
    (sent anyway if the command was deleted meanwhile)."""
    parts = split_html(text) or [text]
    quote = None
    if message.chat.type != ChatType.PRIVATE:
        quote = ReplyParameters(message.message_id, allow_sending_without_reply=True)
    for n, part in enumerate(parts, 1):
        await context.bot.send_message(
            chat_id=message.chat.id,
            text=part,
            parse_mode=ParseMode.HTML,
            message_thread_id=_thread_id(message),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            reply_markup=reply_markup if n == len(parts) else None,
            reply_parameters=quote if n == 1 else None,
        )


async def register_chat(message: Message, ctx: CommandContext, with_language: bool = True) -> None:
    """Record the chat; `with_language`: take the sender's language as the chat's default."""
    chat, user = message.chat, message.from_user
    language = user.language_code if user and with_language else None
    await asyncio.to_thread(
        ctx.store.upsert_chat, chat.id, chat.type, chat.effective_name, language
    )


def _message(update: Update) -> Message:
    # CommandHandler only lets through updates that carry a message.
    message = update.effective_message
    assert message is not None
    return message


def _thread_id(message: Message) -> int | None:
    """The forum topic, if any: other groups put reply-thread ids here that sends refuse."""
    return message.message_thread_id if message.is_topic_message else None


thread_of = _thread_id
message_of = _message


def _argument(message: Message) -> str:
    """Everything after the command word, quotes and spacing kept."""
    parts = (message.text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


argument_of = _argument


def filter_line(filter_text: str, language: str) -> str:
    if not filter_text:
        return t("everything_line", language)
    return f"<code>/subscribe {html.escape(filter_text)}</code>"


def _count(removed: int) -> str:
    return f"{removed} subscription{'s' if removed != 1 else ''}"
