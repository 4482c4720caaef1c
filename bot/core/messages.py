"""Telegram messages (parse_mode HTML) for events and article lists.

Pure: every piece of article text is escaped here, links are only http(s), and a message never
exceeds Telegram's limit because text is clipped before it is escaped, never after.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Collection, Sequence
from urllib.parse import urlsplit

from bot.core.model import Amount, Event, StoredArticle, StoredEvent

MAX_MESSAGE_LENGTH = (
    4096  # Telegram's limit in UTF-16 units; we count the HTML source, never shorter
)
MAX_EVENTS_SHOWN = 5  # more than this no longer fits a phone screen
SUMMARY_LENGTH = 280
TITLE_LENGTH = 200
ACTORS_SHOWN = 4
HASHTAGS_SHOWN = 6
LATEST_EVENTS_SHOWN = 3  # per article in /latest

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


# Event type labels in the chat's interface language (English is BADGES' second element).
LABELS: dict[str, dict[str, str]] = {
    "zh-Hans": {"talent_move": "人才流动", "compensation": "薪酬", "acquisition": "收购",
                "funding": "融资", "product_launch": "产品发布", "market_move": "市场动态",
                "legal_regulatory": "法律监管", "partnership": "合作", "other": "其他"},
    "zh-Hant": {"talent_move": "人才流動", "compensation": "薪酬", "acquisition": "收購",
                "funding": "融資", "product_launch": "產品發佈", "market_move": "市場動態",
                "legal_regulatory": "法律監管", "partnership": "合作", "other": "其他"},
}  # fmt: skip
_MORE = {"en": "+{n} more event(s)", "zh-Hans": "另有 {n} 个事件", "zh-Hant": "另有 {n} 個事件"}
_NO_ARTICLES = {"en": "No articles yet.", "zh-Hans": "还没有文章。", "zh-Hant": "還沒有文章。"}


def render_event_message(
    article: StoredArticle, events: Sequence[StoredEvent], language: str = "en"
) -> str:
    """One message for the new events of one article: event blocks, then title link and tags."""
    tail = _article_tail(article, events)
    shown = list(events[:MAX_EVENTS_SHOWN])
    while True:
        hidden = len(events) - len(shown)
        more = [f"<i>{_more_events(hidden, language)}</i>"] if hidden else []
        fixed = sum(units(_event_block(e.event, 0)) for e in shown) + units(tail) + 80
        per_summary = min(SUMMARY_LENGTH, (MAX_MESSAGE_LENGTH - fixed) // max(len(shown), 1))
        if per_summary >= 40 or len(shown) <= 1:
            break
        shown.pop()  # too many long blocks: show fewer, fully readable
    blocks = [_event_block(e.event, max(per_summary, 0), language) for e in shown]
    text = "\n\n".join([*blocks, *more, tail]) if blocks else tail
    return text if units(text) <= MAX_MESSAGE_LENGTH else tail


def render_article_list(articles: Sequence[StoredArticle], language: str = "en") -> str:
    """The answer to /latest: per article, newest first, a numbered line (title, date) and a
    line per event (badge, actors, amount), in one message: articles that do not fit are
    left out. Text already in the chat's script (`templates.localise`)."""
    if not articles:
        return _NO_ARTICLES.get(language, _NO_ARTICLES["en"])
    blocks: list[str] = []
    used = 0
    for number, stored in enumerate(articles, 1):
        # A file time is not the article's date: an undated article shows none.
        date = "" if stored.article.undated else f" — {stored.article.published.date()}"
        lines = [f"{number}. {_title_link(stored)}{date}"]
        for found in stored.events[:LATEST_EVENTS_SHOWN]:
            lines.append(_event_line(found.event, language))
        hidden = len(stored.events) - LATEST_EVENTS_SHOWN
        if hidden > 0:
            lines.append(f"<i>{_more_events(hidden, language)}</i>")
        block = "\n".join(lines)
        if used + units(block) + 2 > MAX_MESSAGE_LENGTH:
            break
        blocks.append(block)
        used += units(block) + 2
    return "\n\n".join(blocks)


def _event_line(event: Event, language: str) -> str:
    """One event in a line: badge, actors, amount."""
    line = badge(event.type, language)
    actors = event.actors[:ACTORS_SHOWN]
    if actors:
        extra = len(event.actors) - len(actors)
        line += " · " + ", ".join(_clip(a, 40) for a in actors) + (f" +{extra}" if extra else "")
    if event.amount is not None:
        line += f" · 💲 {_amount(event.amount)}"
    return line


def _more_events(hidden: int, language: str) -> str:
    if language not in LABELS:
        return f"+{hidden} more event{'s' if hidden > 1 else ''}"
    return _MORE[language].format(n=hidden)


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


def badge(event_type: str, language: str = "en") -> str:
    """The emoji and label that open an event block, escaped."""
    emoji, label = _badge(event_type)
    label = LABELS.get(language, {}).get(event_type, label)
    return f"{emoji} <b>{html.escape(label)}</b>"


def badge_parts(event_type: str, language: str = "en") -> tuple[str, str]:
    """(emoji, label) of an event type in the chat's language, unescaped: for buttons."""
    emoji, label = _badge(event_type)
    return emoji, LABELS.get(language, {}).get(event_type, label)


def close_type(word: str, event_types: Collection[str]) -> str | None:
    """The event type `word` names or nearly spells ("acqusition", "收購"), by its id or its
    label in any language; None when none is close enough to be a typo."""
    names: dict[str, str] = {}
    for event_type in event_types:
        names[event_type] = names[event_type.replace("_", " ")] = event_type
        names[_badge(event_type)[1].casefold()] = event_type
        for labels in LABELS.values():
            names.setdefault(labels.get(event_type, event_type), event_type)
    found = difflib.get_close_matches(" ".join(word.casefold().split()), names, n=1, cutoff=0.8)
    return names[found[0]] if found else None


def _badge(event_type: str) -> tuple[str, str]:
    return BADGES.get(event_type) or ("📌", event_type.replace("_", " ").capitalize())


def _event_block(event: Event, summary_length: int, language: str = "en") -> str:
    head = badge(event.type, language)
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


def amount_text(amount: Amount) -> str:
    """The amount as written, with its value in dollars when that helps; escaped."""
    return _amount(amount)


def title_link(article: StoredArticle) -> str:
    """The article's title linking to it (bold when it has no web address); escaped."""
    return _title_link(article)


def hashtags(article: StoredArticle, events: Sequence[StoredEvent]) -> str:
    return _hashtags([*(e.event.type for e in events), *article.article.categories])


def clip(text: str, limit: int) -> str:
    """Escaped and shortened to `limit` UTF-16 units."""
    return _clip(text, limit)


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


_ATOM = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^<>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);|.", re.DOTALL)


def split_html(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Cut Telegram HTML into messages of at most `limit` units, at paragraph boundaries.

    A paragraph too long for one message is cut at a line break, else between words, else
    anywhere: but never inside a tag or an entity, and tags still open at a cut are closed
    there and reopened in the next part, so every part is valid HTML on its own.
    """
    return [part for part in _split(text, limit, ("\n\n", "\n", " ")) if part.strip()]


def _split(text: str, limit: int, separators: tuple[str, ...]) -> list[str]:
    if units(text) <= limit:
        return [text]
    if not separators:
        return _hard_split(text, limit)
    separator, finer = separators[0], separators[1:]
    parts: list[str] = []
    current = ""
    for piece in _pieces(text, separator):
        if units(piece) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.extend(_split(piece, limit, finer))
            continue
        joined = f"{current}{separator}{piece}" if current else piece
        if current and units(joined) > limit:
            parts.append(current)
            current = piece
        else:
            current = joined
    if current:
        parts.append(current)
    return parts


def clip_html(text: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """Telegram HTML (already escaped) shortened with "…" to at most `limit` UTF-16 units:
    cut between atoms, tags still open closed, nothing escaped again."""
    if units(text) <= limit:
        return text
    return _hard_split(text, limit - 1)[0] + "…"


def _pieces(text: str, separator: str) -> list[str]:
    """Split at `separator` only where no tag is open, so each piece is balanced HTML."""
    pieces: list[str] = []
    depth, start, pos = 0, 0, 0
    for match in _ATOM.finditer(text):
        if match.group(2):
            depth += -1 if match.group(1) else 1
        pos = match.end()
        if depth == 0 and text.startswith(separator, pos):
            pieces.append(text[start:pos])
            start = pos + len(separator)
    pieces.append(text[start:])
    return pieces


def _hard_split(text: str, limit: int) -> list[str]:
    """Cut between atoms (a tag, an entity or a character), closing and reopening open tags."""
    parts: list[str] = []
    open_tags: list[tuple[str, str]] = []  # (name, the opening tag as written)
    current = ""
    for match in _ATOM.finditer(text):
        atom = match.group(0)
        closing = "".join(f"</{name}>" for name, _ in reversed(open_tags))
        if current and units(current) + units(atom) + units(closing) + 8 > limit:
            parts.append(current + closing)
            current = "".join(tag for _, tag in open_tags)
        current += atom
        if match.group(2):
            if match.group(1):
                if open_tags:
                    open_tags.pop()
            else:
                open_tags.append((match.group(2).lower(), atom))
    if current:
        parts.append(current)
    return parts
