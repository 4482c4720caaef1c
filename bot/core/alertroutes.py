"""Alert routes from config: chats, channels and forum topics bound to filters without a
command (Telegram's routing; the HTTP routes are in `bot.runtime.web`).

Pure. One route per line of `telegram.routes`:

    "-1001234567890: acquisition"                 every acquisition to that channel
    "-1009876543210/42: talent_move Meta"          Meta's talent moves to topic 42 of a group
    "-1001234567890: funding amount>=100M | {badge} {summary}\\n{title}"   with a template
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from bot.core.config import ConfigError
from bot.core.filters import FilterError, parse_filter
from bot.core.templates import TemplateError, check_template

_ROUTE = re.compile(r"\s*(-?\d+)(?:/(\d+))?\s*:(.*)", re.DOTALL)


class RouteError(ConfigError, ValueError):
    """A route the operator must fix; the message names it."""


@dataclass(frozen=True, slots=True)
class Route:
    chat_id: int
    thread_id: int | None
    filter: str  # normalised, as subscriptions store it
    template: str | None = None


def parse_routes(
    lines: Sequence[str], event_types: Collection[str], canonical: Callable[[str], str | None]
) -> list[Route]:
    """Read `telegram.routes`; a bad line raises RouteError naming it and what is wrong."""
    routes: list[Route] = []
    for number, line in enumerate(lines, 1):
        where = f"'telegram.routes' item {number} ({line!r})"
        match = _ROUTE.fullmatch(line)
        if match is None:
            raise RouteError(
                f"{where}: expected 'CHAT_ID[/TOPIC_ID]: filter', e.g. '-1001234: funding'"
            )
        rest = match[3]
        filter_text, bar, template = rest.partition("|")
        try:
            wanted = parse_filter(filter_text.strip(), event_types, canonical)
            checked = check_template(template.strip()) if bar else None
        except (FilterError, TemplateError) as exc:
            raise RouteError(f"{where}: {exc}") from None
        thread = int(match[2]) if match[2] else None
        routes.append(Route(int(match[1]), thread or None, wanted.text, checked))
    return routes
