"""Each chat's (topic's) settings: alert mode, digest time, quiet hours, zone, language."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from bot.core.i18n import language_from_code
from bot.core.modes import ChatSettings
from bot.store.base import StoreBase, aware
from bot.store.schema import chat_settings, chats


class ChatSettingsStore(StoreBase):
    def chat_settings(self, chat_id: int, thread_id: int | None) -> ChatSettings:
        return self.settings_for([(chat_id, thread_id)])[(chat_id, thread_id)]

    def settings_for(
        self, pairs: Iterable[tuple[int, int | None]]
    ) -> dict[tuple[int, int | None], ChatSettings]:
        """Settings of each (chat, topic); defaults where none were set."""
        wanted = set(pairs)
        found = {pair: ChatSettings() for pair in wanted}
        chat_ids = sorted({chat for chat, _ in wanted})
        with self.engine.connect() as conn:
            for start in range(0, len(chat_ids), 500):
                batch = chat_ids[start : start + 500]
                rows = conn.execute(
                    select(chat_settings).where(chat_settings.c.chat_id.in_(batch))
                ).all()
                for row in rows:
                    pair = (row.chat_id, row.thread_id or None)
                    if pair in found:
                        found[pair] = _settings(row)
                languages = {
                    row.id: row.language
                    for row in conn.execute(
                        select(chats.c.id, chats.c.language).where(chats.c.id.in_(batch))
                    )
                }
                for (chat, thread), settings in list(found.items()):
                    if chat in languages and settings.language is None and languages[chat]:
                        language = language_from_code(languages[chat])
                        found[(chat, thread)] = replace(settings, language=language)
        return found

    def update_settings(self, chat_id: int, thread_id: int | None, **values: Any) -> ChatSettings:
        """Change some settings of a chat (topic); the others keep their value."""
        unknown = set(values) - _SETTING_COLUMNS
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}")
        if isinstance(values.get("digest_last"), datetime):
            values["digest_last"] = values["digest_last"].astimezone(UTC)
        key = (chat_settings.c.chat_id == chat_id, chat_settings.c.thread_id == (thread_id or 0))
        with self.engine.begin() as conn:
            if conn.execute(select(chat_settings.c.chat_id).where(*key)).first() is None:
                conn.execute(
                    insert(chat_settings).values(
                        chat_id=chat_id, thread_id=thread_id or 0, mode="instant"
                    )
                )
            conn.execute(update(chat_settings).where(*key).values(**values))
            row = conn.execute(select(chat_settings).where(*key)).one()
        return _settings(row)

    def chat_language(self, chat_id: int) -> str | None:
        """The language_code of whoever registered the chat, for a default interface language."""
        with self.engine.connect() as conn:
            value = conn.execute(select(chats.c.language).where(chats.c.id == chat_id)).scalar()
        return str(value) if value else None


_SETTING_COLUMNS = {"mode", "digest_at", "quiet", "timezone", "language", "template", "digest_last"}


def _settings(row: Any) -> ChatSettings:
    return ChatSettings(
        mode=row.mode or "instant",
        digest_at=row.digest_at or "09:00",
        quiet=row.quiet or None,
        timezone=row.timezone or "UTC",
        language=row.language,
        template=row.template,
        digest_last=aware(row.digest_last) if row.digest_last else None,
    )
