"""What every handler shares: the context they run with, the store they need, who may change a
chat's settings, the chat's language, and how an answer is sent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from telegram import ChatMember, LinkPreviewOptions, Message, ReplyParameters, Update
from telegram import error as tg
from telegram.constants import ChatType, ParseMode
from telegram.ext import ContextTypes

from bot.core.i18n import language_from_code, t
from bot.core.messages import split_html
from bot.core.model import StoredArticle
from bot.core.modes import ChatSettings
from bot.store.base import utc_now
from bot.store.broadcasts import Broadcast
from bot.store.outbox import FailedDelivery
from bot.telegram.keyboards import KeyboardStore

logger = logging.getLogger(__name__)


class BroadcastSendStore(Protocol):
    """What sending a broadcast needs from `bot.store.Store` (see handlers/admin.py)."""

    def broadcast_pending(self, broadcast_id: int) -> list[int]: ...

    def broadcast_sent(self, broadcast_id: int, chat_id: int, status: str) -> None: ...

    def finish_broadcast(self, broadcast_id: int, now: datetime) -> tuple[int, int]: ...

    def unfinished_broadcasts(self) -> list[Broadcast]: ...

    def deactivate_chat(self, chat_id: int, reason: str = ...) -> None: ...


class HandlerStore(KeyboardStore, BroadcastSendStore, Protocol):
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


@dataclass(frozen=True)
class CommandContext:
    """Everything the handlers use besides PTB's own context."""

    store: HandlerStore
    event_types: Collection[str]
    canonical: Callable[[str], str | None]  # any alias → canonical actor name
    admins: Collection[int] = ()  # operators (user or chat ids): admin commands, any chat
    # Wakes the delivery loop: after /resume, and after a settings change freed held alerts.
    on_resume: Callable[[], None] | None = None
    problems: Callable[[], list[str]] = list  # the daemon's current faults, for /stats
    max_subscriptions: int = 50  # per chat, its topics together (telegram.max_subscriptions)
    clock: Callable[[], datetime] = utc_now  # when a broadcast starts and ends


Context = ContextTypes.DEFAULT_TYPE


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
    settings = await asyncio.to_thread(ctx.store.chat_settings, message.chat.id, thread_of(message))
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
            message_thread_id=thread_of(message),
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


def message_of(update: Update) -> Message:
    """The command's message: CommandHandler only lets through updates that carry one."""
    message = update.effective_message
    assert message is not None
    return message


def thread_of(message: Message) -> int | None:
    """The forum topic, if any: other groups put reply-thread ids here that sends refuse."""
    return message.message_thread_id if message.is_topic_message else None


def argument_of(message: Message) -> str:
    """Everything after the command word, quotes and spacing kept."""
    parts = (message.text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""
