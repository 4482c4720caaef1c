"""Per chat delivery modes: instant or a daily digest, and quiet hours, in the chat's time zone.

Pure: `now` is always passed in. (The digest's cron schedule is in `bot.telegram.delivery`.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from bot.core.errors import EventfeedError

MODES = ("instant", "digest")
_CLOCK = re.compile(r"([01]?\d|2[0-3])[:.h]([0-5]\d)")


class ModeError(EventfeedError, ValueError):
    """A setting the user must fix: `str()` in English, `text(language)` in the chat's
    language; the message shows an example."""

    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.values = values
        super().__init__(self.text("en"))

    def text(self, language: str | None) -> str:
        """Plain text (the caller escapes it)."""
        texts = _PROBLEMS[self.key]
        return texts.get(language or "en", texts["en"]).format(**self.values)


_PROBLEMS: dict[str, dict[str, str]] = {
    "clock": {
        "en": "'{text}' is not a time of day. For example: 08:30",
        "zh-Hans": "“{text}”不是时间。例如：08:30",
        "zh-Hant": "「{text}」不是時間。例如：08:30",
    },
    "quiet_form": {
        "en": "Give the quiet hours as START-END. For example: /quiet 22:00-07:00",
        "zh-Hans": "请按“开始-结束”给出免打扰时段。例如：/quiet 22:00-07:00",
        "zh-Hant": "請按「開始-結束」給出免打擾時段。例如：/quiet 22:00-07:00",
    },
    "quiet_empty": {
        "en": "Quiet hours must not start and end at the same time.",
        "zh-Hans": "免打扰时段的开始和结束不能是同一时间。",
        "zh-Hant": "免打擾時段的開始和結束不能是同一時間。",
    },
    "zone": {
        "en": "'{text}' is not a time zone. For example: Asia/Shanghai, Europe/Berlin, UTC",
        "zh-Hans": "“{text}”不是时区。例如：Asia/Shanghai、Europe/Berlin、UTC",
        "zh-Hant": "「{text}」不是時區。例如：Asia/Taipei、Asia/Hong_Kong、UTC",
    },
}


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """How one chat (forum topic) wants its alerts; the defaults are instant, no quiet hours."""

    mode: str = "instant"
    digest_at: str = "09:00"  # local time of the daily digest
    quiet: str | None = None  # "22:00-07:00": held until it ends
    timezone: str = "UTC"
    language: str | None = None  # en | zh-Hans | zh-Hant; None: English
    template: str | None = None  # None: the default layout
    digest_last: datetime | None = None  # when the last digest went out (aware)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def parse_clock(text: str) -> time:
    """'9:30', '09:30', '21h05' → a time of day."""
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        raise ModeError("clock", text=text)
    return time(int(match[1]), int(match[2]))


def parse_quiet(text: str) -> str:
    """'22:00-07:00' → the normalised form; 'off' → ''."""
    if text.strip().lower() in ("off", "none", "no"):
        return ""
    start, sep, end = text.replace("–", "-").partition("-")
    if not sep:
        raise ModeError("quiet_form")
    first, last = parse_clock(start), parse_clock(end)
    if first == last:
        raise ModeError("quiet_empty")
    return f"{first:%H:%M}-{last:%H:%M}"


def parse_timezone(text: str) -> str:
    """An IANA zone name, in any case ('asia/shanghai' → 'Asia/Shanghai'). Looked up in the
    list of zones, never opened as a path: 'America' is a folder, a long name too long a path."""
    name = _zones().get(text.strip().casefold())
    if name is None:
        shown = text.strip() if len(text.strip()) <= 40 else text.strip()[:40] + "…"
        raise ModeError("zone", text=shown)
    return name


@cache
def _zones() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def quiet_until(settings: ChatSettings, now: datetime) -> datetime | None:
    """When the quiet hours around `now` end (aware), or None when it is not quiet now."""
    if not settings.quiet:
        return None
    start_text, _, end_text = settings.quiet.partition("-")
    start, end = parse_clock(start_text), parse_clock(end_text)
    local = now.astimezone(settings.tz)
    clock = local.time().replace(tzinfo=None)
    inside = start <= clock < end if start < end else clock >= start or clock < end
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=settings.tz)
