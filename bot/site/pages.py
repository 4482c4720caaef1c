"""The HTML pages for people: the home page (feeds, latest events, a chart) and article pages.

Pure: the web server hands in what to show; no JavaScript, the chart is inline SVG, every
string is escaped and cleaned of characters HTML cannot carry.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from urllib.parse import quote, unquote

from bot.core.model import StoredArticle, StoredEvent
from bot.core.text import strip_xml_invalid
from bot.site.catalog import (
    FORMAT_LABELS,
    FORMATS,
    MEDIA_TYPES,
    amount_text,
    safe_link,
    type_label,
)
from bot.site.statics import OPML

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
    "body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#222;overflow-wrap:break-word}table{border-collapse:collapse;width:100%}"
    "td,th{border-bottom:1px solid #e5e5e5;padding:.35rem .5rem;text-align:left;"
    "vertical-align:top}td{overflow-wrap:anywhere}.type{font-weight:600}.muted{color:#666;"
    "font-size:.9rem}ul.compact{padding:0}ul.compact li{display:inline;margin-right:1rem}"
    # Feed URLs whole, wrapped anywhere rather than cut; one click selects one to copy.
    ".urls{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .6rem}"
    "code.url{font-size:.85rem;overflow-wrap:anywhere;user-select:all}"
    "td.date,td.type,tr.head th,p code{white-space:nowrap}svg{max-width:100%;height:auto}"
    # A phone: each feed and each event a block of its own, nothing wider than the screen.
    "@media (max-width:40rem){table.stack tr,table.stack td,table.stack th{display:block}"
    "table.stack tr{border-bottom:1px solid #e5e5e5;padding:.35rem 0}"
    "table.stack td,table.stack th{border:0;padding:.1rem 0}table.stack tr.head{display:none}}"
)
POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"
MAIN_FEEDS = ("articles", "events")
_GROUPS = (("actor/", "Actors"), ("category/", "Categories"), ("tag/", "Tags"))
# The chart's bars: a day each while the events fit in `days` of them, else a week, a month or
# a year, so a folder of older posts shows its history, not one bar.
_UNITS = ("day", "week", "month", "year")
_BAR_TITLES = {"day": "%Y-%m-%d", "week": "week of %Y-%m-%d", "month": "%Y-%m", "year": "%Y"}
_BAR_LABELS = {"day": "%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}


@dataclass(frozen=True)
class HomePage:
    """What the home page shows."""

    title: str
    description: str
    base_url: str  # the public address, ends with "/"
    feeds: tuple[tuple[str, str], ...] = ()  # (name, label of its actor, type or tag) per feed
    events: tuple[tuple[StoredArticle, StoredEvent], ...] = ()  # newest first
    counts: tuple[tuple[date, str, int], ...] = ()  # events per (bar's first day, type)
    last_day: date | None = None  # the day the page was made for
    days: int = 28  # bars in the chart
    unit: str = "day"  # what one bar counts: a day, week, month or year
    bars: tuple[date, ...] = ()  # each bar's first day, oldest first
    language: str = "en"  # of the type labels, as in the feeds' titles
    timezone: tzinfo = UTC  # of the dates shown


def chart_bars(oldest: date, newest: date, today: date, count: int) -> tuple[str, list[date]]:
    """The chart's unit and its `count` bars' first days, the last one holding `newest` (or
    today, if later): the smallest unit whose bars reach back to `oldest`."""
    last = min(newest, today)
    oldest = min(oldest, last)
    for unit in _UNITS:
        bars = [_bar_start(last, unit, back) for back in range(count - 1, -1, -1)]
        if bars[0] <= oldest or unit == _UNITS[-1]:
            return unit, bars
    raise AssertionError("unreachable")


def bar_end(start: date, unit: str) -> date:
    """The day after a bar's last day."""
    return _bar_start(start, unit, -1)


def _bar_start(day: date, unit: str, back: int) -> date:
    """The first day of the bar `back` bars before the one holding `day`."""
    if unit == "day":
        return day - timedelta(days=back)
    if unit == "week":
        return day - timedelta(days=day.weekday() + 7 * back)
    if unit == "month":
        months = day.year * 12 + day.month - 1 - back
        return date(months // 12, months % 12 + 1, 1)
    return date(day.year - back, 1, 1)


def render_home(page: HomePage) -> str:
    """The home page: feeds with copy-able URLs and the OPML, latest events, the chart."""
    e = _e
    base = page.base_url
    main = [f for f in page.feeds if f[0] in MAIN_FEEDS or f[0].startswith("events/type/")]
    rows = "".join(
        f'<tr><th>{e(_feed_label(name, label, page.language))}</th><td><div class="urls">'
        + "".join(
            f'<a href="{e(_feed_url(base, name, fmt))}">{FORMAT_LABELS[fmt]}</a>'
            f'<code class="url">{e(_feed_url(base, name, fmt))}</code>'
            for fmt in FORMATS
        )
        + "</div></td></tr>\n"
        for name, label in main
    )
    extra = ""
    for prefix, heading in _GROUPS:
        links = "".join(
            f'<li><a href="{e(_feed_url(base, name, "atom"))}">{e(label or name)}</a></li>'
            for name, label in page.feeds
            if name.startswith(prefix)
        )
        extra += f'<h3>{heading}</h3>\n<ul class="compact">{links}</ul>\n' if links else ""
    opml_url = f"{base}feeds/{OPML}"
    body = (
        f"<h1>{e(page.title)}</h1>\n<p>{e(page.description)}</p>\n"
        f'<h2>Feeds</h2>\n<p>Every feed in one file for your reader: <a href="{e(opml_url)}">'
        f"{e(opml_url)}</a> (OPML). Filters work on every feed URL: "
        "<code>?type=acquisition</code>, <code>?actor=Meta</code>, <code>?q=word</code>, "
        "<code>?limit=10</code>, <code>?script=hant</code>.</p>\n"
        f'<table class="stack feeds">\n{rows}</table>\n{extra}'
        f"<h2>Events per {page.unit}</h2>\n{events_chart(page)}\n"
        f"<h2>Latest events</h2>\n{_events_table(page)}"
    )
    return _document(page.title, base, body)


def render_article(
    site_title: str, base_url: str, stored: StoredArticle, timezone: tzinfo = UTC
) -> str:
    """One article as a page: its text, its events and a link to the original (unless the
    original is this page)."""
    e = _e
    article = stored.article
    link = safe_link(stored.url, base_url)
    paragraphs = "".join(
        f"<p>{e(p.strip())}</p>\n" for p in article.text.split("\n\n") if p.strip()
    )
    events = "".join(
        f'<li><span class="type">{e(type_label(s.event.type, article.lang))}</span> '
        f"{e(s.event.summary)}{_facts(s.event.actors, s)}</li>\n"
        for s in stored.events
    )
    when = "" if article.undated else _time(article.published.astimezone(timezone))
    meta = [when, e(article.author or ""), e(", ".join(article.categories))]
    original = link and not _is_own_page(link, base_url, stored)
    body = (
        f'<p><a href="{e(base_url)}">{e(site_title)}</a></p>\n<h1>{e(article.title)}</h1>\n'
        f'<p class="muted">{" · ".join(m for m in meta if m)}</p>\n'
        + (f'<p>Original: <a href="{e(link)}">{e(link)}</a></p>\n' if original and link else "")
        + (f"<h2>Events</h2>\n<ul>\n{events}</ul>\n" if events else "")
        + f"<h2>Text</h2>\n{paragraphs}"
    )
    # One page, two addresses (/article/UID.html, /articles/PATH.html): the article's link
    # (its original, or the one of them feeds give) is the canonical one.
    canonical = link or article_page_url(base_url, stored)
    return _document(
        f"{article.title} — {site_title}", base_url, body, lang=article.lang, canonical=canonical
    )


def article_page_url(base_url: str, stored: StoredArticle) -> str:
    return f"{base_url}article/{quote(stored.uid, safe='')}.html"


def events_chart(page: HomePage) -> str:
    """Stacked bars of events per day (week, month, year) by type, as inline SVG."""
    if not page.bars:
        return '<p class="muted">No events yet.</p>'
    index = {start: i for i, start in enumerate(page.bars)}
    by_bar: dict[int, dict[str, int]] = {}
    for start, kind, n in page.counts:
        if start in index:
            counts = by_bar.setdefault(index[start], {})
            counts[kind] = counts.get(kind, 0) + n
    types = sorted({kind for counts in by_bar.values() for kind in counts})
    colours = {t: _COLOURS.get(t) or _SPARE[i % len(_SPARE)] for i, t in enumerate(types)}
    labels = {t: type_label(t, page.language) for t in types}
    top = max((sum(c.values()) for c in by_bar.values()), default=0) or 1
    bar, height, left = 18, 120, 28
    width = left + len(page.bars) * (bar + 2) + 48  # room for the last date label
    legend_rows = (len(types) + 3) // 4
    full = height + 30 + legend_rows * 14
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{full}" '
        f'viewBox="0 0 {width} {full}" role="img" aria-label="Events per {page.unit} by type">'
        f"<title>Events per {page.unit} by type</title>",
        f'<text x="0" y="12" font-size="11">{top}</text>',
        f'<line x1="{left - 2}" y1="{height}" x2="{width}" y2="{height}" stroke="#999"/>',
    ]
    for i, start in enumerate(page.bars):
        x = left + i * (bar + 2)
        y = float(height)
        for kind in types:
            n = by_bar.get(i, {}).get(kind, 0)
            if not n:
                continue
            h = n / top * (height - 16)
            y -= h
            when = start.strftime(_BAR_TITLES[page.unit])
            parts.append(
                f'<rect x="{x}" y="{y:.1f}" width="{bar}" height="{h:.1f}" fill="{colours[kind]}">'
                f"<title>{when} {_e(labels[kind])}: {n}</title></rect>"
            )
        if i % 7 == 0 or (i == len(page.bars) - 1 and i % 7 >= 4):
            label = start.strftime(_BAR_LABELS[page.unit])
            parts.append(f'<text x="{x}" y="{height + 14}" font-size="10">{label}</text>')
    for i, kind in enumerate(types):
        x = left + (i % 4) * 150
        y = height + 30 + (i // 4) * 14
        parts.append(
            f'<rect x="{x}" y="{y - 8}" width="8" height="8" fill="{colours[kind]}"/>'
            f'<text x="{x + 12}" y="{y}" font-size="10">{_e(labels[kind])}</text>'
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
        own_url = article_page_url(page.base_url, stored)
        title = _e(stored.article.title)
        source = f'<a href="{_e(link)}">{title}</a>' if link else title
        own = f' (<a href="{_e(own_url)}">page</a>)'
        if not link or _is_own_page(link, page.base_url, stored):
            source, own = f'<a href="{_e(link or own_url)}">{title}</a>', ""
        # The event's own date, else its article's; never a file's time.
        day = event.date or (
            ""
            if stored.article.undated
            else stored.article.published.astimezone(page.timezone).date().isoformat()
        )
        rows.append(
            f'<tr><td class="type">{_e(type_label(event.type, page.language))}</td>'
            f'<td>{_e(event.summary)}<br><span class="muted">{source}{own}</span></td>'
            f"<td>{_e(', '.join(event.actors))}</td>"
            f"<td>{_e(amount_text(event.amount)) if event.amount else ''}</td>"
            f'<td class="date">{_e(day)}</td></tr>\n'
        )
    head = (
        '<tr class="head"><th>Type</th><th>Summary</th><th>Actors</th><th>Amount</th>'
        "<th>Date</th></tr>\n"
    )
    return f'<table class="stack events">\n{head}{"".join(rows)}</table>\n'


def _facts(actors: Sequence[str], stored: StoredEvent) -> str:
    bits = [", ".join(actors)]
    if stored.event.amount is not None:
        bits.append(amount_text(stored.event.amount))
    if stored.event.date:
        bits.append(stored.event.date)
    shown = " · ".join(b for b in bits if b)
    return f' <span class="muted">{_e(shown)}</span>' if shown else ""


def _feed_label(name: str, label: str, language: str) -> str:
    """A feed as the home page names it: what it holds, without the site's title."""
    if name == "articles":
        return "Articles"
    if name == "events":
        return "All events"
    if name.startswith("events/type/"):
        return type_label(label or name.removeprefix("events/type/"), language)
    return label or name


def _is_own_page(link: str, base_url: str, stored: StoredArticle) -> bool:
    """Whether the link is one of the two addresses this daemon serves the article at."""
    if not link.startswith(base_url):
        return False
    rest = unquote(link.removeprefix(base_url))
    if rest == f"article/{stored.uid}.html":
        return True
    if not (rest.startswith("articles/") and rest.endswith(".html")):
        return False
    stem, path = rest.removeprefix("articles/").removesuffix(".html"), stored.article.path
    return path == stem or path.startswith(f"{stem}.")  # as the server looks it up


def _time(moment: datetime) -> str:
    """A date people read, with the machine-readable instant beside it."""
    offset = moment.strftime("%z")
    shown = f"{moment.day} {moment:%B %Y, %H:%M} (UTC{offset[:3]}:{offset[3:]})"
    return f'<time datetime="{moment.isoformat(timespec="seconds")}">{_e(shown)}</time>'


def _document(title: str, base_url: str, body: str, lang: str = "", canonical: str = "") -> str:
    discovery = "".join(
        f'<link rel="alternate" type="{MEDIA_TYPES[fmt]}" '
        f'title="{_e(name.capitalize())} ({FORMAT_LABELS[fmt]})" '
        f'href="{_e(_feed_url(base_url, name, fmt))}">\n'
        for name in MAIN_FEEDS
        for fmt in FORMATS
    )
    if canonical:
        discovery = f'<link rel="canonical" href="{_e(canonical)}">\n{discovery}'
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
    return html.escape(strip_xml_invalid(text), quote=True)
