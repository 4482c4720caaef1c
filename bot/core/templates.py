"""What a chat receives: the default alert layout or its own template, in its language and script.

Pure. A template is text with `{placeholder}`s (the list is `PLACEHOLDERS`, documented in the
README), rendered once per event; the blocks of one article's events are joined by a blank
line. Values are escaped Telegram HTML; the template's own text is escaped too, so a template
can never produce HTML that Telegram rejects. A line whose placeholders are all empty is left
out ("💲 {amount}" disappears for an event without an amount). `{{` and `}}` are literal braces.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Sequence

from bot.core.errors import EventfeedError
from bot.core.messages import (
    ACTORS_SHOWN,
    MAX_MESSAGE_LENGTH,
    amount_text,
    badge,
    clip,
    clip_html,
    hashtags,
    render_event_message,
    title_link,
)
from bot.core.model import Event, StoredArticle, StoredEvent
from bot.core.modes import ChatSettings
from bot.core.text import to_simplified, to_traditional

LANGUAGES = ("en", "zh-Hans", "zh-Hant")
MAX_TEMPLATE_LENGTH = 1000

PLACEHOLDERS: dict[str, str] = {
    "badge": "emoji and event type, bold: 🤝 Acquisition",
    "type": "event type name: acquisition",
    "summary": "the event in one sentence",
    "actors": "companies and people, comma separated",
    "amount": "the amount as written, with its USD value",
    "date": "the event's date (ISO 8601), if known",
    "title": "the article's title, linked to the article",
    "title_text": "the article's title, not linked",
    "url": "the article's address",
    "hashtags": "#type and #category tags",
    "published": "the article's publication date",
}
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z_]*)\}")
_DIGEST_TITLE = {"en": "Digest", "zh-Hans": "摘要", "zh-Hant": "摘要"}
_ALSO = {"en": "Also reported by", "zh-Hans": "其他报道", "zh-Hant": "其他報道"}


class TemplateError(EventfeedError, ValueError):
    """A template the user must fix; the message names the problem."""


def check_template(template: str) -> str:
    """Validate a template as typed after /template; return it unchanged."""
    if not template.strip():
        raise TemplateError("The template is empty. For example: {badge} {summary}\\n{title}")
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise TemplateError(f"The template is longer than {MAX_TEMPLATE_LENGTH} characters.")
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name is not None and name not in PLACEHOLDERS:
            raise TemplateError(
                f"Unknown placeholder {{{name}}}. Known: "
                + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            )
    stray = _PLACEHOLDER.sub("", template)
    if "{" in stray or "}" in stray:
        raise TemplateError("A brace is not closed: write {summary}, or {{ for a brace.")
    return template


def localise(
    article: StoredArticle, events: Sequence[StoredEvent], language: str | None
) -> tuple[StoredArticle, tuple[StoredEvent, ...]]:
    """What a chat reads in the chat's script, simplified or traditional (OpenCC): titles,
    summaries, categories, actors and amounts as written ("750万美元" → "750萬美元"); the
    article's own events too, for /latest."""
    convert: Callable[[str], str] | None = {
        "zh-Hans": to_simplified,
        "zh-Hant": to_traditional,
    }.get(language or "")
    if convert is None:
        return article, tuple(events)
    text = dataclasses.replace(
        article.article,
        title=convert(article.article.title),
        categories=tuple(map(convert, article.article.categories)),
    )
    article = dataclasses.replace(
        article,
        article=text,
        summary=convert(article.summary),
        events=tuple(_converted(e, convert) for e in article.events),
    )
    return article, tuple(_converted(e, convert) for e in events)


def _converted(stored: StoredEvent, convert: Callable[[str], str]) -> StoredEvent:
    event = stored.event
    amount = event.amount
    if amount is not None:
        amount = dataclasses.replace(amount, text=convert(amount.text))
    return dataclasses.replace(
        stored,
        event=dataclasses.replace(
            event,
            summary=convert(event.summary),
            actors=tuple(map(convert, event.actors)),
            amount=amount,
        ),
    )


def render_alert(
    article: StoredArticle, events: Sequence[StoredEvent], settings: ChatSettings
) -> str:
    """The message for one article's new events, as this chat wants it."""
    language = settings.language or "en"
    article, local = localise(article, events, settings.language)
    if not settings.template:
        return render_event_message(article, local, language)
    blocks = [fill(settings.template, article, e.event, local, language) for e in local]
    return "\n\n".join(b for b in blocks if b.strip()) or render_event_message(
        article, local, language
    )


def also_reported_line(articles: Sequence[StoredArticle], language: str | None) -> str:
    """The line an alert gains when more articles report its story."""
    label = _ALSO.get(language or "en", _ALSO["en"])
    links = ", ".join(title_link(localise(a, (), language)[0]) for a in articles[-5:])
    more = len(articles) - 5
    return f"📎 <i>{label}:</i> {links}" + (f" +{more}" if more > 0 else "")


def render_digest(
    items: Sequence[tuple[StoredArticle, Sequence[StoredEvent]]], settings: ChatSettings
) -> str:
    """One message for everything queued since the last digest: a line per event."""
    language = settings.language or "en"
    lines = [f"<b>🗞 {_DIGEST_TITLE.get(language, 'Digest')}</b>"]
    for article, events in items:
        article, local = localise(article, events, settings.language)
        for stored in local:
            event = stored.event
            line = f"{badge(event.type, language)} {clip(event.summary.strip(), 200)}"
            if event.amount is not None:
                line += f" · 💲 {amount_text(event.amount)}"
            lines.append(line)
        lines.append(f"↳ {title_link(article)}\n")
    text = "\n".join(lines).rstrip()
    return text  # the sender splits it at paragraph boundaries when over the limit


def fill(
    template: str,
    article: StoredArticle,
    event: Event,
    events: Sequence[StoredEvent],
    language: str = "en",
) -> str:
    """Render `template` for one event; lines whose placeholders are all empty are dropped."""
    values = _values(article, event, events, language)
    out: list[str] = []
    for line in template.replace("\\n", "\n").split("\n"):
        names = [m.group(1) for m in _PLACEHOLDER.finditer(line) if m.group(1)]
        if names and not any(values.get(n) for n in names):
            continue
        out.append(_PLACEHOLDER.sub(lambda m: _substitute(m, values), _escape_literals(line)))
    text = "\n".join(out).strip()
    return clip_html(text, MAX_MESSAGE_LENGTH)  # escaped already: `clip` would escape it twice


def _escape_literals(line: str) -> str:
    """Escape the template's own text, leaving the placeholders for the substitution."""
    pieces: list[str] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(line):
        pieces.append(html.escape(line[pos : match.start()], quote=False))
        pieces.append(match.group(0))
        pos = match.end()
    pieces.append(html.escape(line[pos:], quote=False))
    return "".join(pieces)


def _substitute(match: re.Match[str], values: dict[str, str]) -> str:
    token = match.group(0)
    if token == "{{":
        return "{"
    if token == "}}":
        return "}"
    return values.get(match.group(1) or "", "")


def _values(
    article: StoredArticle, event: Event, events: Sequence[StoredEvent], language: str
) -> dict[str, str]:
    actors = event.actors[:ACTORS_SHOWN]
    return {
        "badge": badge(event.type, language),
        "type": html.escape(event.type),
        "summary": clip(event.summary.strip(), 400),
        "actors": ", ".join(clip(a, 60) for a in actors),
        "amount": amount_text(event.amount) if event.amount is not None else "",
        "date": html.escape(event.date or ""),
        "title": title_link(article),
        "title_text": clip(article.article.title.strip() or article.article.slug, 200),
        "url": html.escape(article.url),
        "hashtags": hashtags(article, events),
        "published": article.article.published.date().isoformat(),
    }
