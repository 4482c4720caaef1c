"""Inline keyboards: follow an event type or a company from /start, remove one from /list.

A button's callback data says what it does: ``f:<filter>`` toggles the subscription with that
(normalised) filter, ``rm:<id>`` removes subscription <id> of the chat the button is in. The
handler checks the filter again and, in groups, the presser's admin rights, so forged callback
data can do no more than the same user could type.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from typing import Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.filters import FilterError, parse_filter
from bot.core.i18n import t
from bot.core.messages import badge_parts
from bot.core.model import StoredArticle

TOP_ACTORS = 6
MAX_DATA_BYTES = 64  # Telegram's limit on callback data
MAX_BUTTONS = 100  # Telegram refuses a keyboard of more buttons


class KeyboardStore(Protocol):
    def subscriptions(self, chat_id: int, thread_id: int | None) -> list[str]: ...

    def add_subscription(
        self, chat_id: int, thread_id: int | None, filter_text: str, limit: int | None = ...
    ) -> bool: ...

    def subscription_rows(self, chat_id: int, thread_id: int | None) -> list[tuple[int, str]]: ...

    def remove_subscription_id(
        self, chat_id: int, thread_id: int | None, subscription_id: int
    ) -> str | None: ...


def top_actors(articles: Sequence[StoredArticle], count: int = TOP_ACTORS) -> list[str]:
    """The companies and people named most often in these articles' events."""
    seen: Counter[str] = Counter()
    for article in articles:
        for stored in article.events:
            seen.update(set(stored.event.actors))
    return [name for name, _ in seen.most_common(count)]


def follow_buttons(
    event_types: Collection[str],
    canonical: Callable[[str], str | None],
    articles: Sequence[StoredArticle],
    subscribed: Collection[str],
    language: str,
) -> InlineKeyboardMarkup:
    """Event types, then the most frequent actors, as toggles; ✅ marks what is followed."""
    buttons: list[InlineKeyboardButton] = []
    for event_type in event_types:
        emoji, label = badge_parts(event_type, language)
        buttons.append(_toggle(f"{emoji} {label}", event_type, subscribed))
    for actor in top_actors(articles):
        try:
            text = parse_filter(f'"{actor}"', event_types, canonical).text
        except FilterError:
            continue
        if len(f"f:{text}".encode()) <= MAX_DATA_BYTES:
            buttons.append(_toggle(f"👤 {actor}", text, subscribed))
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return InlineKeyboardMarkup(rows)


def list_keyboard(rows: Sequence[tuple[int, str]], language: str = "en") -> InlineKeyboardMarkup:
    """One ✖ button per subscription, the first MAX_BUTTONS (Telegram refuses more)."""
    everything = t("everything", language)
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(f"✖ {text or everything}"[:60], callback_data=f"rm:{sid}")]
            for sid, text in rows[:MAX_BUTTONS]
        ]
    )


def _toggle(label: str, filter_text: str, subscribed: Collection[str]) -> InlineKeyboardButton:
    mark = "✅ " if filter_text in subscribed else ""
    return InlineKeyboardButton(f"{mark}{label}", callback_data=f"f:{filter_text}")
