"""Articles and events to and from JSON-safe dicts: how the store keeps them, and what `extract` prints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.model import Amount, Article, Event


def article_to_dict(article: Article) -> dict[str, Any]:
    return {
        "path": article.path,
        "title": article.title,
        "text": article.text,
        "lang": article.lang,
        "published": article.published.isoformat(),
        "format": article.format,
        "slug": article.slug,
        "categories": list(article.categories),
        "tags": list(article.tags),
        "author": article.author,
        "thumbnail": article.thumbnail,
        "permalink": article.permalink,
        "feed_id": article.feed_id,
        "encoding": article.encoding,
        "undated": article.undated,
        "description": article.description,
    }


def article_from_dict(data: dict[str, Any]) -> Article:
    return Article(
        path=data["path"],
        title=data["title"],
        text=data["text"],
        lang=data["lang"],
        published=datetime.fromisoformat(data["published"]),
        format=data["format"],
        slug=data["slug"],
        categories=tuple(data.get("categories") or ()),
        tags=tuple(data.get("tags") or ()),
        author=data.get("author"),
        thumbnail=data.get("thumbnail"),
        permalink=data.get("permalink"),
        feed_id=data.get("feed_id"),
        encoding=data.get("encoding", "utf-8"),
        undated=bool(data.get("undated", False)),
        description=data.get("description"),
    )


def event_to_dict(event: Event) -> dict[str, Any]:
    amount = event.amount
    return {
        "type": event.type,
        "actors": list(event.actors),
        "summary": event.summary,
        "evidence": event.evidence,
        "amount": None
        if amount is None
        else {
            "value": amount.value,
            "currency": amount.currency,
            "usd": amount.usd,
            "text": amount.text,
            "approximate": amount.approximate,
        },
        "date": event.date,
        "score": event.score,
        "extra": [list(pair) for pair in event.extra],
    }


def event_from_dict(data: dict[str, Any]) -> Event:
    raw = data.get("amount")
    amount = (
        None
        if raw is None
        else Amount(
            value=float(raw["value"]),
            currency=raw["currency"],
            usd=None if raw.get("usd") is None else float(raw["usd"]),
            text=raw["text"],
            approximate=bool(raw.get("approximate", False)),
        )
    )
    return Event(
        type=data["type"],
        actors=tuple(data.get("actors") or ()),
        summary=data.get("summary", ""),
        evidence=data.get("evidence", ""),
        amount=amount,
        date=data.get("date"),
        score=float(data.get("score", 0.0)),
        extra=tuple((str(k), str(v)) for k, v in data.get("extra") or ()),
    )


def extract_record(
    article: Article,
    url: str,
    summary: str,
    events: tuple[Event, ...],
    stories: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The `eventfeed extract` contract: one object per article."""
    return {
        "path": article.path,
        "title": article.title,
        "lang": article.lang,
        "published": article.published.isoformat(),
        "url": url,
        "summary": summary,
        "events": [
            {
                "type": e.type,
                "actors": list(e.actors),
                "amount_usd": None if e.amount is None else e.amount.usd,
                "amount_text": None if e.amount is None else e.amount.text,
                "date": e.date,
                "summary": e.summary,
                "evidence": e.evidence,
                "story": stories[i] if i < len(stories) else None,
            }
            for i, e in enumerate(events)
        ],
    }
