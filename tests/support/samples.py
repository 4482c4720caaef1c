"""Stored articles the rendering tests share: three languages, hostile titles and links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.core.model import Amount, Article, Event, StoredArticle, StoredEvent
from bot.site.render import FeedSite

BASE = "https://news.example.org/"
SITE = FeedSite(BASE, "AI 头条", "Headline events <from> our articles", "zh-Hans")
SHANGHAI = timezone(timedelta(hours=8))
NEW_YORK = ZoneInfo("America/New_York")


def stored_event(uid: str, event: Event, created: datetime) -> StoredEvent:
    return StoredEvent(id=hash(uid) % 1000, uid=uid, article_id=1, event=event, created=created)


def sample_articles() -> list[StoredArticle]:
    """Three stored articles in three languages with hostile titles, links and thumbnails."""
    meta = Article(
        path="_posts/2025-06-21-meta-openai.md",
        title="扎克伯格<script>alert('x')</script>巨资\x00挖走\x0b三位研究员",
        text="根据多家媒体报道，Meta成功从OpenAI挖走三位顶尖研究员。\n\n"
        "Meta以143亿美元收购了Scale AI 49%的股份。\n第二行 & 更多",
        lang="zh-Hans",
        published=datetime(2025, 6, 21, 12, 0, tzinfo=SHANGHAI),
        format="jekyll",
        slug="meta-openai",
        categories=("Frontier Trends",),
        tags=("AI", "人才", "AI"),
        author="编辑部",
        thumbnail="/style/image/openai-meta-1_1.jpg",
    )
    acquisition = Event(
        type="acquisition",
        actors=("Meta", "Scale AI"),
        summary="Meta以143亿美元收购Scale AI 49%股份",
        evidence="Meta以143亿美元收购了Scale AI 49%的股份。",
        amount=Amount(value=1.43e10, currency="USD", usd=1.43e10, text="143亿美元"),
        date="2025-06",
        extra=(("stake", "49%"),),
    )
    talent = Event(
        type="talent_move",
        actors=("Meta", "OpenAI", "Lucas Beyer"),
        summary="Meta从OpenAI挖走三位研究员",
        evidence="Meta成功从OpenAI挖走三位顶尖研究员。",
    )
    tsmc = Article(
        path="repost/tsmc.txt",
        title="台積電宣布在亞利桑那州追加投資",
        text="台積電宣布追加投資一千億美元。",
        lang="zh-Hant",
        published=datetime(2025, 6, 21, 12, 0, tzinfo=SHANGHAI),  # same moment as `meta`
        format="text",
        slug="tsmc",
    )
    funding = Event(
        type="funding",
        actors=("Mistral AI",),
        summary="Mistral AI raises €600 million",
        evidence="Mistral AI has raised €600 million in a Series B round.",
        amount=Amount(value=6e8, currency="EUR", usd=6.5e8, text="€600 million", approximate=True),
        date="2025-06-11",
    )
    mistral = Article(
        path="en/mistral.txt",
        title="Mistral AI raises €600 million",
        text="Mistral AI has raised €600 million in a Series B round.",
        lang="en",
        published=datetime(2025, 6, 11, 9, 30, tzinfo=NEW_YORK),
        format="text",
        slug="mistral",
        author="Jane Doe",
        tags=("funding",),
        thumbnail="javascript:alert(1)",
    )
    return [
        StoredArticle(
            id=2,
            uid="b7c1e2",
            article=tsmc,
            summary="台積電宣布追加投資。",
            url=f"{BASE}repost/tsmc.html",
            first_seen=datetime(2025, 6, 21, 5, tzinfo=UTC),
            updated=datetime(2025, 6, 21, 5, tzinfo=UTC),
        ),
        StoredArticle(
            id=1,
            uid="a41f09",
            article=meta,
            summary="Meta从OpenAI挖走三位研究员，并收购Scale AI股份。",
            url=f"{BASE}frontier/2025/06/21/meta-openai.html",
            first_seen=datetime(2025, 6, 21, 4, 10, tzinfo=UTC),
            updated=datetime(2025, 6, 22, 8, 0, tzinfo=UTC),
            events=(
                stored_event("ev-acq", acquisition, datetime(2025, 6, 21, 4, 10, tzinfo=UTC)),
                stored_event("ev-talent", talent, datetime(2025, 6, 21, 4, 10, tzinfo=UTC)),
            ),
        ),
        StoredArticle(
            id=3,
            uid="c9d3aa",
            article=mistral,
            summary="Mistral AI raised €600 million.",
            url="javascript:alert(document.cookie)",
            first_seen=datetime(2025, 6, 11, 14, tzinfo=UTC),
            updated=datetime(2025, 6, 11, 14, tzinfo=UTC),
            events=(stored_event("ev-fund", funding, datetime(2025, 6, 11, 14, tzinfo=UTC)),),
        ),
    ]
