"""What `reprocess` needs: the stored articles to extract again, and who already heard of what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.core.model import StoredArticle
from bot.store.base import StoreBase, stored_article, stored_event
from bot.store.schema import articles, events, outbox


@dataclass(frozen=True, slots=True)
class Reprocessable:
    """A stored article with the file facts `save_article` needs to store it again unchanged."""

    stored: StoredArticle
    size: int
    mtime_ns: int
    content_hash: str


class ReprocessStore(StoreBase):
    def reprocessable_ids(self, since: datetime | None = None) -> list[int]:
        """Ids of the articles in the feeds (published on or after `since`), oldest first."""
        query = select(articles.c.id).where(articles.c.status == "ok")
        if since is not None:
            query = query.where(articles.c.published >= since)
        with self.engine.connect() as conn:
            return list(conn.execute(query.order_by(articles.c.id)).scalars())

    def reprocessable(self, article_id: int) -> Reprocessable | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(articles).where(articles.c.id == article_id, articles.c.status == "ok")
            ).first()
            if row is None:  # deleted or failed since the list was made
                return None
            found = conn.execute(
                select(events)
                .where(events.c.article_id == article_id, events.c.active.is_(True))
                .order_by(events.c.id)
            )
            stored = stored_article(row, tuple(stored_event(ev) for ev in found))
        return Reprocessable(stored, row.size, row.mtime_ns, row.content_hash)

    def alerted(self, article_id: int) -> set[tuple[int, int | None, str]]:
        """(chat, topic, event type) already queued or sent for this article's events."""
        query = (
            select(outbox.c.chat_id, outbox.c.thread_id, events.c.type)
            .join(events, events.c.id == outbox.c.event_id)
            .where(events.c.article_id == article_id, outbox.c.status != "failed")
        )
        with self.engine.connect() as conn:
            return {(row.chat_id, row.thread_id or None, row.type) for row in conn.execute(query)}
