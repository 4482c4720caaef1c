"""Subscriptions: /start and its buttons, /help, /subscribe, /unsubscribe, /list and /latest;
and the stored filters, checked again at start.

In groups only the chat's administrators (and the operators) change subscriptions.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Callable, Collection, Sequence
from typing import Protocol

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode

from bot.core.filters import Filter, FilterError, explain, parse_filter
from bot.core.i18n import t
from bot.core.messages import (
    MAX_MESSAGE_LENGTH,
    badge,
    clip,
    close_type,
    html_to_plain,
    render_article_list,
    units,
)
from bot.core.modes import ChatSettings
from bot.core.templates import PLACEHOLDERS, localise
from bot.store.chats import DisabledSubscription, TooManySubscriptions
from bot.telegram.handlers._common import (
    CommandContext,
    Context,
    answer,
    argument_of,
    chat_language,
    may_change,
    message_of,
    register_chat,
    thread_of,
)
from bot.telegram.keyboards import follow_buttons, list_keyboard
from bot.telegram.sender import Sender

logger = logging.getLogger(__name__)

LATEST_DEFAULT = 5
LATEST_MAX = 20


async def start(update: Update, context: Context, ctx: CommandContext) -> None:
    """Register the chat (again, if it had blocked us), greet, and offer buttons to follow.
    In a group, only an admin's /start sets the chat's language (from the admin's own)."""
    message = message_of(update)
    admin = await may_change(context, message, ctx, "en", quiet=True)
    await register_chat(message, ctx, with_language=admin)
    language = await chat_language(message, ctx)
    keyboard = await _follow_keyboard(ctx, message.chat.id, thread_of(message), language)
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
    chat_id, thread_id, data = message.chat.id, thread_of(message), query.data or ""
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
    message = message_of(update)
    language = await chat_language(message, ctx)
    types = "\n".join(
        f"{badge(t_, language)} <code>{html.escape(t_)}</code>" for t_ in ctx.event_types
    )
    placeholders = " ".join(f"<code>{{{name}}}</code>" for name in PLACEHOLDERS)
    text = t("help", language, latest_max=LATEST_MAX, placeholders=placeholders, types=types)
    await answer(context, message, text)


async def subscribe(update: Update, context: Context, ctx: CommandContext) -> None:
    """Subscribe this chat (or topic) to events that match the filter."""
    message = message_of(update)
    language = await chat_language(message, ctx)
    if not await may_change(context, message, ctx, language):
        return
    try:
        wanted = parse_filter(argument_of(message), ctx.event_types, ctx.canonical)
    except FilterError as exc:
        problem = html.escape(exc.text(language))
        await answer(context, message, t("filter_problem", language, problem=problem))
        return
    typo = _type_typo(argument_of(message), wanted, ctx.event_types, language)
    if typo is not None:  # nothing stored: the user says which was meant
        await answer(context, message, t("did_you_mean", language, **typo))
        return
    await register_chat(message, ctx)
    thread = thread_of(message)
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
    text = t("subscribed", language, meaning=meaning, line=_filter_line(wanted.text, language))
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
    message = message_of(update)
    language = await chat_language(message, ctx)
    if not await may_change(context, message, ctx, language):
        return
    chat_id, thread_id, argument = message.chat.id, thread_of(message), argument_of(message)
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
        listing = _fit_lines(
            [_filter_line(s, language) for s in stored], MAX_MESSAGE_LENGTH - units(head), language
        )
        await answer(context, message, head + (listing or t("none", language)))
        return
    await asyncio.to_thread(ctx.store.remove_subscription, chat_id, thread_id, match)
    await answer(context, message, t("unsubscribed", language, line=_filter_line(match, language)))


async def list_subscriptions(update: Update, context: Context, ctx: CommandContext) -> None:
    """List this chat's (topic's) subscriptions, each with a button that removes it."""
    message = message_of(update)
    language = await chat_language(message, ctx)
    rows = await asyncio.to_thread(ctx.store.subscription_rows, message.chat.id, thread_of(message))
    if not rows:
        await answer(context, message, t("no_subscriptions", language))
        return
    text = await _list_text(ctx, message.chat.id, thread_of(message), rows, language)
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
        line = f"• {_filter_line(text, language)}"
        if text in disabled:
            problem = _problem_text(text, disabled[text], ctx.event_types, ctx.canonical, language)
            line += " " + t("disabled_mark", language, problem=problem)
        lines.append(line)
    frame = units(t("subscriptions", language, lines=""))
    return t(
        "subscriptions", language, lines=_fit_lines(lines, MAX_MESSAGE_LENGTH - frame, language)
    )


def _fit_lines(lines: Sequence[str], budget: int, language: str) -> str:
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
    message = message_of(update)
    language = await chat_language(message, ctx)
    argument = argument_of(message)
    count = LATEST_DEFAULT
    if argument:
        if not argument.isdigit() or not 1 <= int(argument) <= LATEST_MAX:
            await answer(context, message, t("latest_usage", language, n=LATEST_MAX))
            return
        count = int(argument)
    articles = await asyncio.to_thread(ctx.store.latest_articles, count)
    local = [localise(a, (), language)[0] for a in articles]
    await answer(context, message, render_article_list(local, language))


# -- stored filters, checked again at start ------------------------------------------------


class FilterCheckStore(Protocol):
    """What checking the stored filters at start needs from `bot.store.Store`."""

    def recheck_filters(
        self, problem: Callable[[str], str | None]
    ) -> list[DisabledSubscription]: ...

    def chat_settings(self, chat_id: int, thread_id: int | None) -> ChatSettings: ...


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
            "filter_disabled", language, line=_filter_line(found.filter, language), problem=problem
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


def _filter_line(filter_text: str, language: str) -> str:
    if not filter_text:
        return t("everything_line", language)
    return f"<code>/subscribe {html.escape(filter_text)}</code>"


def _count(removed: int) -> str:
    return f"{removed} subscription{'s' if removed != 1 else ''}"
