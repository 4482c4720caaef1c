"""The operators' commands: /stats, /pause, /resume and /broadcast.

Only for the user (or chat) ids in `telegram.admins`; everyone else gets a polite refusal.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from datetime import datetime

from telegram import Message, Update

from bot.core.i18n import t
from bot.store.broadcasts import Broadcast
from bot.telegram.handlers._common import (
    BroadcastSendStore,
    CommandContext,
    Context,
    answer,
    argument_of,
    chat_language,
)
from bot.telegram.sender import Gone, RetryAfter, Sender, Sent

logger = logging.getLogger(__name__)

FAILURES_SHOWN = 5


def _is_operator(message: Message, ctx: CommandContext) -> bool:
    user = message.from_user
    return (user is not None and user.id in ctx.admins) or message.chat.id in ctx.admins


async def _allowed(update: Update, context: Context, ctx: CommandContext) -> bool:
    message = update.effective_message
    assert message is not None
    if _is_operator(message, ctx):
        return True
    await answer(context, message, t("operators_only", await chat_language(message, ctx)))
    return False


async def stats(update: Update, context: Context, ctx: CommandContext) -> None:
    """Show chats, subscriptions, the outbox and the latest failed deliveries."""
    if not await _allowed(update, context, ctx):
        return
    message = update.effective_message
    assert message is not None
    chats = await asyncio.to_thread(ctx.store.chat_counts)
    outbox = await asyncio.to_thread(ctx.store.outbox_counts)
    failed = await asyncio.to_thread(ctx.store.failed_deliveries, FAILURES_SHOWN)
    paused = await asyncio.to_thread(ctx.store.delivery_paused)
    lines = [
        "<b>Stats</b>",
        f"chats: {chats['active_chats']} active, {chats['inactive_chats']} inactive",
        f"subscriptions: {chats['subscriptions']}",
        "outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(outbox.items())) or "empty"),
        f"delivery: {'⏸ paused' if paused else '▶️ running'}",
    ]
    lines.extend(f"⚠️ {html.escape(problem)}" for problem in ctx.problems())
    if failed:
        lines.append("\n<b>Latest failures</b>")
        lines.extend(
            f"#{f.id} chat {f.chat_id}: {f.status} — {html.escape(f.error[:120])}" for f in failed
        )
        lines.append("Retry with <code>eventfeed outbox --retry</code>.")
    await answer(context, message, "\n".join(lines))


async def pause(update: Update, context: Context, ctx: CommandContext) -> None:
    """Stop sending alerts; the outbox keeps filling and nothing is lost."""
    if not await _allowed(update, context, ctx):
        return
    await asyncio.to_thread(ctx.store.set_delivery_paused, True)
    assert update.effective_message is not None
    await answer(context, update.effective_message, "⏸ Delivery paused. /resume sends the queue.")


async def resume(update: Update, context: Context, ctx: CommandContext) -> None:
    """Send alerts again, starting with everything queued while paused."""
    if not await _allowed(update, context, ctx):
        return
    await asyncio.to_thread(ctx.store.set_delivery_paused, False)
    if ctx.on_resume is not None:
        ctx.on_resume()
    assert update.effective_message is not None
    await answer(context, update.effective_message, "▶️ Delivery resumed.")


async def broadcast(update: Update, context: Context, ctx: CommandContext) -> None:
    """Send a text to every active chat, within the flood limits, in the background. Kept in
    the store chat by chat: a restart resumes it (`resume_broadcasts`)."""
    if not await _allowed(update, context, ctx):
        return
    message = update.effective_message
    assert message is not None
    text = argument_of(message)
    if not text:
        await answer(
            context, message, "⚠️ For example: <code>/broadcast Maintenance at 22:00</code>"
        )
        return
    chats = await asyncio.to_thread(ctx.store.active_chat_ids)
    started = await asyncio.to_thread(
        ctx.store.start_broadcast, html.escape(text), message.chat.id, chats, ctx.clock()
    )
    await answer(context, message, f"📣 Sending to {len(chats)} chats…")
    context.application.create_task(
        send_broadcast(Sender(context.bot), ctx.store, started, ctx.clock)
    )


async def resume_broadcasts(
    sender: Sender, store: BroadcastSendStore, clock: Callable[[], datetime]
) -> None:
    """Finish the broadcasts a stop cut short (the chats already sent to are not sent again)."""
    for found in await asyncio.to_thread(store.unfinished_broadcasts):
        logger.info("resuming broadcast %s", found.id)
        await send_broadcast(sender, store, found, clock)


_SENDING: set[int] = set()  # the broadcasts this process is sending


async def send_broadcast(
    sender: Sender, store: BroadcastSendStore, found: Broadcast, clock: Callable[[], datetime]
) -> None:
    """One message per chat still pending, in order; flood control is waited out once,
    blocked chats retire. Each chat's outcome is recorded as it comes; then the operator
    who asked is told how it went."""
    if found.id in _SENDING:  # already on its way in this process (leadership came back)
        return
    _SENDING.add(found.id)
    try:
        await _send_pending(sender, store, found)
    finally:
        _SENDING.discard(found.id)
    sent, total = await asyncio.to_thread(store.finish_broadcast, found.id, clock())
    await sender.send(found.from_chat, f"📣 Sent to {sent} of {total} chats.")


async def _send_pending(sender: Sender, store: BroadcastSendStore, found: Broadcast) -> None:
    for chat_id in await asyncio.to_thread(store.broadcast_pending, found.id):
        outcome = await sender.send(chat_id, found.text)
        if isinstance(outcome, RetryAfter):
            await asyncio.sleep(outcome.seconds)
            outcome = await sender.send(chat_id, found.text)
        if isinstance(outcome, Sent):
            status = "sent"
        elif isinstance(outcome, Gone):
            status = "gone"
            await asyncio.to_thread(store.deactivate_chat, chat_id, outcome.reason)
        else:
            status = "failed"
            logger.warning("broadcast to chat %s: %s", chat_id, outcome)
        await asyncio.to_thread(store.broadcast_sent, found.id, chat_id, status)
