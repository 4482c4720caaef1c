"""Operators' broadcasts: the text, and which chats it still has to reach."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update

from bot.store.base import StoreBase
from bot.store.schema import broadcast_chats, broadcasts


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    text: str  # Telegram HTML
    from_chat: int


class BroadcastLog(StoreBase):
    """Each broadcast and what reaching each of its chats gave (the Protocol of what sending one
    needs of the whole store is telegram's `BroadcastStore`)."""

    def start_broadcast(
        self, text: str, from_chat: int, chat_ids: Sequence[int], now: datetime
    ) -> Broadcast:
        """Record a broadcast and every chat it goes to, in one transaction."""
        with self.engine.begin() as conn:
            found = conn.execute(
                insert(broadcasts).values(text=text, from_chat=from_chat, created=now)
            ).inserted_primary_key
            assert found is not None
            broadcast_id = int(found[0])
            if chat_ids:
                conn.execute(
                    insert(broadcast_chats),
                    [
                        {"broadcast_id": broadcast_id, "chat_id": chat, "status": "pending"}
                        for chat in dict.fromkeys(chat_ids)
                    ],
                )
        return Broadcast(broadcast_id, text, from_chat)

    def broadcast_pending(self, broadcast_id: int) -> list[int]:
        """The chats it has not been sent to yet, in id order."""
        query = (
            select(broadcast_chats.c.chat_id)
            .where(
                broadcast_chats.c.broadcast_id == broadcast_id,
                broadcast_chats.c.status == "pending",
            )
            .order_by(broadcast_chats.c.chat_id)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def broadcast_sent(self, broadcast_id: int, chat_id: int, status: str) -> None:
        """What sending it to one chat gave: sent, gone (the chat left) or failed."""
        with self.engine.begin() as conn:
            conn.execute(
                update(broadcast_chats)
                .where(
                    broadcast_chats.c.broadcast_id == broadcast_id,
                    broadcast_chats.c.chat_id == chat_id,
                )
                .values(status=status)
            )

    def finish_broadcast(self, broadcast_id: int, now: datetime) -> tuple[int, int]:
        """Mark it done; (chats it reached, chats it was for)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(broadcasts).where(broadcasts.c.id == broadcast_id).values(finished=now)
            )
            rows = conn.execute(
                select(broadcast_chats.c.status, func.count())
                .where(broadcast_chats.c.broadcast_id == broadcast_id)
                .group_by(broadcast_chats.c.status)
            )
            counts: dict[str, int] = {status: n for status, n in rows}
        return counts.get("sent", 0), sum(counts.values())

    def unfinished_broadcasts(self) -> list[Broadcast]:
        """Broadcasts a stop cut short, oldest first."""
        query = (
            select(broadcasts.c.id, broadcasts.c.text, broadcasts.c.from_chat)
            .where(broadcasts.c.finished.is_(None))
            .order_by(broadcasts.c.id)
        )
        with self.engine.connect() as conn:
            return [Broadcast(*row) for row in conn.execute(query)]
