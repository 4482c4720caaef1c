"""Per chat settings commands: /lang, /mode, /quiet, /tz and /template.

In groups only admins (and operators) change them; each answers in the chat's language.
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

from telegram import Message, Update

from bot.core.i18n import LANGUAGE_NAMES, parse_language, t
from bot.core.modes import MODES, ChatSettings, ModeError, parse_clock, parse_quiet, parse_timezone
from bot.core.templates import PLACEHOLDERS, TemplateError, check_template
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

_REFUSAL = "admins_only_settings"  # these are settings, not subscriptions


async def language_command(update: Update, context: Context, ctx: CommandContext) -> None:
    """Set the chat's language and Chinese script: /lang en | zh-Hans | zh-Hant."""
    message = message_of(update)
    current = await chat_language(message, ctx)
    wanted = parse_language(argument_of(message))
    if wanted is None:
        names = ", ".join(LANGUAGE_NAMES.values())
        await answer(context, message, t("language_usage", current) + f"\n({names})")
        return
    if not await may_change(context, message, ctx, current, refusal=_REFUSAL):
        return
    await _settings(message, ctx, language=wanted)
    await answer(context, message, t("language_set", wanted))


async def mode_command(update: Update, context: Context, ctx: CommandContext) -> None:
    """Choose instant alerts or a daily digest: /mode instant | /mode digest 08:30."""
    message = message_of(update)
    language = await chat_language(message, ctx)
    words = argument_of(message).split()
    if not words or words[0].casefold() not in MODES:
        await answer(context, message, t("mode_usage", language))
        return
    if not await may_change(context, message, ctx, language, refusal=_REFUSAL):
        return
    mode = words[0].casefold()
    values: dict[str, Any] = {"mode": mode}
    if mode == "digest" and len(words) > 1:
        try:
            values["digest_at"] = f"{parse_clock(words[1]):%H:%M}"
        except ModeError as exc:
            await answer(context, message, f"⚠️ {html.escape(exc.text(language))}")
            return
    settings = await _settings(message, ctx, **values)
    if mode == "instant":
        await answer(context, message, t("mode_instant", language))
    else:
        text = t("mode_digest", language, at=settings.digest_at, zone=settings.timezone)
        await answer(context, message, text)


async def quiet_command(update: Update, context: Context, ctx: CommandContext) -> None:
    """Hold alerts during quiet hours: /quiet 22:00-07:00, or /quiet off."""
    message = message_of(update)
    language = await chat_language(message, ctx)
    argument = argument_of(message)
    try:
        quiet = parse_quiet(argument) if argument else None
    except ModeError as exc:
        await answer(context, message, f"⚠️ {html.escape(exc.text(language))}")
        return
    if quiet is None:
        await answer(context, message, t("quiet_example", language))
        return
    if not await may_change(context, message, ctx, language, refusal=_REFUSAL):
        return
    settings = await _settings(message, ctx, quiet=quiet or None)
    if not quiet:
        await answer(context, message, t("quiet_off", language))
    else:
        await answer(
            context, message, t("quiet_set", language, quiet=quiet, zone=settings.timezone)
        )


async def timezone_command(update: Update, context: Context, ctx: CommandContext) -> None:
    """Set the time zone of the digest and the quiet hours: /tz Asia/Shanghai."""
    message = message_of(update)
    language = await chat_language(message, ctx)
    argument = argument_of(message)
    if not argument:  # a question, not a setting: anyone may ask
        settings = await asyncio.to_thread(
            ctx.store.chat_settings, message.chat.id, thread_of(message)
        )
        await answer(
            context, message, t("timezone_current", language, zone=html.escape(settings.timezone))
        )
        return
    try:
        zone = parse_timezone(argument)
    except ModeError as exc:
        await answer(context, message, f"⚠️ {html.escape(exc.text(language))}")
        return
    if not await may_change(context, message, ctx, language, refusal=_REFUSAL):
        return
    await _settings(message, ctx, timezone=zone)
    await answer(context, message, t("timezone_set", language, zone=html.escape(zone)))


async def template_command(update: Update, context: Context, ctx: CommandContext) -> None:
    """Set this chat's message template (/template {badge} {summary}), or 'off' for the default."""
    message = message_of(update)
    language = await chat_language(message, ctx)
    argument = argument_of(message)
    if not argument:
        settings = await asyncio.to_thread(
            ctx.store.chat_settings, message.chat.id, thread_of(message)
        )
        current = settings.template or "(default)"
        names = " ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        text = t("template_current", language, template=html.escape(current), names=names)
        await answer(context, message, text)
        return
    try:
        template = None if argument.casefold() == "off" else check_template(argument)
    except TemplateError as exc:
        await answer(context, message, f"⚠️ {html.escape(str(exc))}")
        return
    if not await may_change(context, message, ctx, language, refusal=_REFUSAL):
        return
    await _settings(message, ctx, template=template)
    await answer(context, message, t("template_set" if template else "template_default", language))


# The settings that decide when an alert may go out: changing one frees what they held.
_TIMING = frozenset({"mode", "digest_at", "quiet", "timezone"})


async def _settings(message: Message, ctx: CommandContext, **values: Any) -> ChatSettings:
    await register_chat(message, ctx)
    chat_id, thread_id = message.chat.id, thread_of(message)
    settings = await asyncio.to_thread(ctx.store.update_settings, chat_id, thread_id, **values)
    if _TIMING & values.keys():
        released = await asyncio.to_thread(ctx.store.release_held, chat_id, thread_id)
        if released and ctx.on_resume is not None:
            ctx.on_resume()
    return settings
