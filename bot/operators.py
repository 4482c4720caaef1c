"""The operators' commands: /stats, /pause, /resume and /broadcast.

Only for the user (or chat) ids in `telegram.admins`; everyone else gets a polite refusal.
"""

from __future__ import annotations

import asyncio
import html
import logging

from telegram import Update

from bot.commands import CommandContext, Context, answer, argument_of, chat_language, is_operator
from bot.i18n import t
from bot.sender import Gone, RetryAfter, Sender, Sent

logger = logging.getLogger(__name__)

FAILURES_SHOWN = 5


async def _allowed(update: Update, context: Context, ctx: CommandContext) -> bool:
    message = update.effective_message
    assert message is not None
    if is_operator(message, ctx):
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
    """Send a text to every active chat, within the flood limits, in the background."""
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
    await answer(context, message, f"📣 Sending to {len(chats)} chats…")

    async def run() -> None:
        sent = await send_to_all(Sender(context.bot), ctx, chats, html.escape(text))
        await answer(context, message, f"📣 Sent to {sent} of {len(chats)} chats.")

    context.application.create_task(run(), update=update)


async def send_to_all(sender: Sender, ctx: CommandContext, chats: list[int], text: str) -> int:
    """One message per chat, in order; flood control is waited out once, blocked chats retire."""
    sent = 0
    for chat_id in chats:
        outcome = await sender.send(chat_id, text)
        if isinstance(outcome, RetryAfter):
            await asyncio.sleep(outcome.seconds)
            outcome = await sender.send(chat_id, text)
        if isinstance(outcome, Sent):
            sent += 1
        elif isinstance(outcome, Gone):
            await asyncio.to_thread(ctx.store.deactivate_chat, chat_id, outcome.reason)
        else:
            logger.warning("broadcast to chat %s: %s", chat_id, outcome)
    return sent
