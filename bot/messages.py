"""Telegram messages (parse_mode HTML) for events and article lists.

Pure: every piece of article text is escaped here, links are only http(s), and a message never
exceeds Telegram's limit because text is clipped before it is escaped, never after.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from bot.model import Amount, Event, StoredArticle, StoredEvent

MAX_MESSAGE_LENGTH = (
    4096  # Telegram's limit in UTF-16 units; we count the HTML source, never shorter
)
MAX_EVENTS_SHOWN = 5  # more than this no longer fits a phone screen
SUMMARY_LENGTH = 280
TITLE_LENGTH = 200
ACTORS_SHOWN = 4
HASHTAGS_SHOWN = 6

BADGES: dict[str, tuple[str, str]] = {
    "talent_move": ("🧑‍💼", "Talent move"),
    "compensation": ("💵", "Compensation"),
    "acquisition": ("🤝", "Acquisition"),
    "funding": ("💰", "Funding"),
    "product_launch": ("🚀", "Product launch"),
    "market_move": ("📈", "Market move"),
    "legal_regulatory": ("⚖️", "Legal / regulatory"),
    "partnership": ("🔗", "Partnership"),
    "other": ("📰", "Other"),
}


def render_event_message(article: StoredArticle, events: Sequence[StoredEvent]) -> str:
    """One message for the new events of one article: event blocks, then title link and tags."""
    tail = _article_tail(article, events)
    shown = list(events[:MAX_EVENTS_SHOWN])
    while True:
        hidden = len(events) - len(shown)
        more = [f"<i>+{hidden} more event{'s' if hidden > 1 else ''}</i>"] if hidden else []
        fixed = sum(units(_event_block(e.event, 0)) for e in shown) + units(tail) + 80
        per_summary = min(SUMMARY_LENGTH, (MAX_MESSAGE_LENGTH - fixed) // max(len(shown), 1))
        if per_summary >= 40 or len(shown) <= 1:
            break
        shown.pop()  # too many long blocks: show fewer, fully readable
    blocks = [_event_block(e.event, max(per_summary, 0)) for e in shown]
    text = "\n\n".join([*blocks, *more, tail]) if blocks else tail
    return text if units(text) <= MAX_MESSAGE_LENGTH else tail


def render_article_list(articles: Sequence[StoredArticle]) -> str:
    """The answer to /latest: one numbered line per article, newest first."""
    if not articles:
        return "No articles yet."
    lines: list[str] = []
    used = 0
    for number, stored in enumerate(articles, 1):
        date = stored.article.published.date().isoformat()
        kinds = " ".join(dict.fromkeys(_badge(e.event.type)[0] for e in stored.events))
        line = f"{number}. {_title_link(stored)} — {date} {kinds}".rstrip()
        if used + units(line) + 1 > MAX_MESSAGE_LENGTH:
            break
        lines.append(line)
        used += units(line) + 1
    return "\n".join(lines)


def html_to_plain(text: str) -> str:
    """The text a reader sees, to resend when Telegram rejects our HTML; links keep their URL."""
    linked = re.sub(
        r'<a\s+href="([^"]*)"\s*>(.*?)</a>',
        lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(1) else m.group(2),
        text,
        flags=re.DOTALL,
    )
    return html.unescape(re.sub(r"</?[a-zA-Z][^<>]*>", "", linked))


def format_usd(usd: float) -> str:
    """Human-readable dollars: 100_000_000 → "$100M", 1_250_000_000 → "$1.25B"."""
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(usd) >= limit:
            scaled = usd / limit
            digits = 0 if abs(scaled) >= 100 else 1 if abs(scaled) >= 10 else 2
            number = f"{scaled:.{digits}f}"
            if "." in number:
                number = number.rstrip("0").rstrip(".")
            return f"${number}{suffix}"
    return f"${usd:,.0f}"


def badge(event_type: str) -> str:
    """The emoji and label that open an event block, escaped."""
    emoji, label = _badge(event_type)
    return f"{emoji} <b>{html.escape(label)}</b>"


def _badge(event_type: str) -> tuple[str, str]:
    return BADGES.get(event_type) or ("📌", event_type.replace("_", " ").capitalize())


def _event_block(event: Event, summary_length: int) -> str:
    head = badge(event.type)
    actors = event.actors[:ACTORS_SHOWN]
    if actors:
        names = ", ".join(_clip(a, 60) for a in actors)
        extra = len(event.actors) - len(actors)
        head += f" · {names}" + (f" +{extra}" if extra > 0 else "")
    lines = [head]
    if summary_length > 0 and event.summary.strip():
        lines.append(_clip(event.summary.strip(), summary_length))
    facts = []
    if event.amount is not None:
        facts.append(f"💲 {_amount(event.amount)}")
    if event.date:
        facts.append(f"📅 {html.escape(event.date)}")
    if facts:
        lines.append(" · ".join(facts))
    return "\n".join(lines)


def _amount(amount: Amount) -> str:
    written = _clip(amount.text.strip(), 60) if amount.text.strip() else ""
    if amount.usd is None:
        return written or html.escape(f"{amount.value:,.0f} {amount.currency}")
    usd = format_usd(amount.usd)
    if not written:
        return usd if amount.currency == "USD" else f"≈ {usd}"
    if amount.currency == "USD":  # "1亿美元" still needs "$100M" for most readers; "$40B" not
        return written if "$" in written else f"{written} ({usd})"
    return f"{written} (≈ {usd})"


def _article_tail(article: StoredArticle, events: Sequence[StoredEvent]) -> str:
    tags = _hashtags([*(e.event.type for e in events), *article.article.categories])
    return _title_link(article) + (f"\n{tags}" if tags else "")


def _title_link(article: StoredArticle) -> str:
    title = _clip(article.article.title.strip() or article.article.slug, TITLE_LENGTH)
    if _is_web_url(article.url):
        return f'<a href="{html.escape(article.url, quote=True)}">{title}</a>'
    return f"<b>{title}</b>"


def _hashtags(words: Sequence[str]) -> str:
    tags: dict[str, None] = {}
    for word in words:
        tag = re.sub(r"\W+", "_", word).strip("_")
        if tag and not tag.isdigit() and len(tag) <= 40:
            tags.setdefault(tag, None)
    return " ".join(f"#{html.escape(tag)}" for tag in list(tags)[:HASHTAGS_SHOWN])


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _clip(text: str, limit: int) -> str:
    """Escape `text`, shortened with "…" so the escaped result is at most `limit` UTF-16 units."""
    escaped = html.escape(text, quote=False)
    if units(escaped) <= limit:
        return escaped
    out: list[str] = []
    used = 1  # the ellipsis
    for char in text:
        piece = html.escape(char, quote=False)
        if used + units(piece) > limit:
            break
        out.append(piece)
        used += units(piece)
    return "".join(out).rstrip() + "…"


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2
