"""The HTML pages for people: the home page (feeds, latest events, a chart) and article pages.

Pure: the web server hands in what to show; no JavaScript, the chart is inline SVG, every
string is escaped and cleaned of characters HTML cannot carry.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import quote

from bot.catalog import (
    FORMAT_LABELS,
    FORMATS,
    MEDIA_TYPES,
    amount_text,
    clean_text,
    safe_link,
)
from bot.model import StoredArticle, StoredEvent
from bot.statics import OPML

# One colour per default event type; others cycle through the spare ones.
_COLOURS = {
    "talent_move": "#4e79a7",
    "compensation": "#f28e2b",
    "acquisition": "#e15759",
    "funding": "#76b7b2",
    "product_launch": "#59a14f",
    "market_move": "#edc948",
    "legal_regulatory": "#b07aa1",
    "partnership": "#ff9da7",
    "other": "#9c755f",
}
_SPARE = ("#bab0ac", "#86bcb6", "#d37295", "#a0cbe8", "#8cd17d")
_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}input{width:100%;font:inherit;font-size:.85rem;border:1px solid #ccc;"
    "padding:.2rem .4rem;box-sizing:border-box}table{border-collapse:collapse;width:100%}"
    "td,th{border-bottom:1px solid #e5e5e5;padding:.35rem .5rem;text-align:left;"
    "vertical-align:top}.type{font-weight:600}.muted{color:#666;font-size:.9rem}"
    "ul.compact li{display:inline;margin-right:1rem}"
)
POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"
MAIN_FEEDS = ("articles", "events")


@dataclass(frozen=True)
class HomePage:
    """What the home page shows."""

    title: str
    description: str
    base_url: str  # the public address, ends with "/"
    feeds: tuple[tuple[str, str], ...] = ()  # (name, title) of every feed
    events: tuple[tuple[StoredArticle, StoredEvent], ...] = ()  # newest first
    counts: tuple[tuple[date, str, int], ...] = ()  # events per (day, type)
    last_day: date | None = None  # the chart's right edge
    days: int = 28


def render_home(page: HomePage) -> str:
    """The home page: feeds with copy-able URLs and the OPML, latest events, the chart."""
    e = _e
    base = page.base_url
    main = [f for f in page.feeds if f[0] in MAIN_FEEDS or f[0].startswith("events/type/")]
    other = [f for f in page.feeds if f not in main]
    rows = "".join(
        f"<tr><th>{e(title)}</th>"
        + "".join(
            f'<td>{FORMAT_LABELS[fmt]} <input readonly value="{e(_feed_url(base, name, fmt))}"'
            f' aria-label="{e(title)} {FORMAT_LABELS[fmt]}"></td>'
            for fmt in FORMATS
        )
        + "</tr>\n"
        for name, title in main
    )
    extra = "".join(
        f'<li><a href="{e(_feed_url(base, name, "atom"))}">{e(title)}</a></li>'
        for name, title in other
    )
    extra_html = f'<h3>By actor, category and tag</h3>\n<ul class="compact">{extra}</ul>\n'
    opml_url = f"{base}feeds/{OPML}"
    body = (
        f"<h1>{e(page.title)}</h1>\n<p>{e(page.description)}</p>\n"
        f'<h2>Feeds</h2>\n<p>Every feed in one file for your reader: <a href="{e(opml_url)}">'
        f"{e(opml_url)}</a> (OPML). Filters work on every feed URL: "
        "<code>?type=acquisition</code>, <code>?actor=Meta</code>, <code>?q=word</code>, "
        "<code>?limit=10</code>, <code>?script=hant</code>.</p>\n"
        f"<table>\n{rows}</table>\n{extra_html if other else ''}"
        f"<h2>Events per day</h2>\n{events_chart(page)}\n"
        f"<h2>Latest events</h2>\n{_events_table(page)}"
    )
    return _document(page.title, base, body)


def render_article(site_title: str, base_url: str, stored: StoredArticle) -> str:
    """One article as a page: its text, its events and a link to the original."""
    e = _e
    article = stored.article
    link = safe_link(stored.url, base_url)
    paragraphs = "".join(
        f"<p>{e(p.strip())}</p>\n" for p in article.text.split("\n\n") if p.strip()
    )
    events = "".join(
        f'<li><span class="type">{e(s.event.type)}</span> {e(s.event.summary)}'
        f"{_facts(s.event.actors, s)}</li>\n"
        for s in stored.events
    )
    meta = [article.published.isoformat(), article.author or "", ", ".join(article.categories)]
    body = (
        f'<p><a href="{e(base_url)}">{e(site_title)}</a></p>\n<h1>{e(article.title)}</h1>\n'
        f'<p class="muted">{e(" · ".join(m for m in meta if m))}</p>\n'
        + (f'<p>Original: <a href="{e(link)}">{e(link)}</a></p>\n' if link else "")
        + (f"<h2>Events</h2>\n<ul>\n{events}</ul>\n" if events else "")
        + f"<h2>Text</h2>\n{paragraphs}"
    )
    return _document(f"{article.title} — {site_title}", base_url, body, lang=article.lang)


def article_page_url(base_url: str, stored: StoredArticle) -> str:
    return f"{base_url}article/{quote(stored.uid, safe='')}.html"


def events_chart(page: HomePage) -> str:
    """Stacked bars of events per day by type over the last `days` days, as inline SVG."""
    if page.last_day is None:
        return '<p class="muted">No events yet.</p>'
    first = page.last_day - timedelta(days=page.days - 1)
    by_day: dict[date, dict[str, int]] = {}
    for day, kind, n in page.counts:
        if first <= day <= page.last_day:
            by_day.setdefault(day, {})[kind] = by_day.get(day, {}).get(kind, 0) + n
    types = sorted({kind for counts in by_day.values() for kind in counts})
    colours = {t: _COLOURS.get(t) or _SPARE[i % len(_SPARE)] for i, t in enumerate(types)}
    top = max((sum(c.values()) for c in by_day.values()), default=0) or 1
    bar, height, left = 18, 120, 28
    width = left + page.days * (bar + 2) + 24  # room for the last date label
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 40}" '
        f'role="img" aria-label="Events per day by type"><title>Events per day by type</title>',
        f'<text x="0" y="12" font-size="11">{top}</text>',
        f'<line x1="{left - 2}" y1="{height}" x2="{width}" y2="{height}" stroke="#999"/>',
    ]
    for i in range(page.days):
        day = first + timedelta(days=i)
        x = left + i * (bar + 2)
        y = float(height)
        for kind in types:
            n = by_day.get(day, {}).get(kind, 0)
            if not n:
                continue
            h = n / top * (height - 16)
            y -= h
            parts.append(
                f'<rect x="{x}" y="{y:.1f}" width="{bar}" height="{h:.1f}" fill="{colours[kind]}">'
                f"<title>{day.isoformat()} {_e(kind)}: {n}</title></rect>"
            )
        if i % 7 == 0 or i == page.days - 1:
            parts.append(
                f'<text x="{x}" y="{height + 14}" font-size="10">{day.strftime("%m-%d")}</text>'
            )
    for i, kind in enumerate(types):
        x = left + (i % 4) * 150
        y = height + 26 + (i // 4) * 12
        parts.append(
            f'<rect x="{x}" y="{y - 8}" width="8" height="8" fill="{colours[kind]}"/>'
            f'<text x="{x + 12}" y="{y}" font-size="10">{_e(kind)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _events_table(page: HomePage) -> str:
    if not page.events:
        return '<p class="muted">No events yet.</p>\n'
    rows = []
    for stored, stored_event in page.events:
        event = stored_event.event
        link = safe_link(stored.url, page.base_url)
        title = _e(stored.article.title)
        source = f'<a href="{_e(link)}">{title}</a>' if link else title
        own = f' (<a href="{_e(article_page_url(page.base_url, stored))}">page</a>)'
        rows.append(
            f'<tr><td class="type">{_e(event.type)}</td><td>{_e(event.summary)}<br>'
            f'<span class="muted">{source}{own}</span></td>'
            f"<td>{_e(', '.join(event.actors))}</td>"
            f"<td>{_e(amount_text(event.amount)) if event.amount else ''}</td>"
            f"<td>{_e(event.date or stored.article.published.date().isoformat())}</td></tr>\n"
        )
    head = "<tr><th>Type</th><th>Summary</th><th>Actors</th><th>Amount</th><th>Date</th></tr>\n"
    return f"<table>\n{head}{''.join(rows)}</table>\n"


def _facts(actors: Sequence[str], stored: StoredEvent) -> str:
    bits = [", ".join(actors)]
    if stored.event.amount is not None:
        bits.append(amount_text(stored.event.amount))
    if stored.event.date:
        bits.append(stored.event.date)
    shown = " · ".join(b for b in bits if b)
    return f' <span class="muted">{_e(shown)}</span>' if shown else ""


def _document(title: str, base_url: str, body: str, lang: str = "") -> str:
    discovery = "".join(
        f'<link rel="alternate" type="{MEDIA_TYPES[fmt]}" '
        f'title="{_e(name.capitalize())} ({FORMAT_LABELS[fmt]})" '
        f'href="{_e(_feed_url(base_url, name, fmt))}">\n'
        for name in MAIN_FEEDS
        for fmt in FORMATS
    )
    lang_attr = f' lang="{_e(lang)}"' if lang else ""
    return (
        f'<!doctype html>\n<html{lang_attr}>\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n{discovery}<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}</body>\n</html>\n"
    )


def _feed_url(base_url: str, name: str, fmt: str) -> str:
    return f"{base_url}feeds/{quote(f'{name}.{fmt}')}"


def _e(text: str) -> str:
    return html.escape(clean_text(text), quote=True)
