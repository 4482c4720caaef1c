"""The extraction model's answers, by the hash of what was asked (see bot/runtime/llm.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.store.base import StoreBase
from bot.store.schema import llm_answers


class LlmCacheStore(StoreBase):
    def llm_answers(self, keys: Sequence[str]) -> dict[str, str]:
        """key → the answer kept for it, for those of `keys` that have one."""
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):
                query = select(llm_answers.c.key, llm_answers.c.answer).where(
                    llm_answers.c.key.in_(keys[start : start + 500])
                )
                found |= {row.key: row.answer for row in conn.execute(query)}
        return found

    def save_llm_answer(self, key: str, model: str, answer: str, now: datetime) -> None:
        """Keep an answer; one another instance kept first for the same key stands."""
        try:
            with self.engine.begin() as conn:
                _insert(conn, key, model, answer, now)
        except IntegrityError:  # the same text asked by two instances at once
            pass

    def llm_answers_since(self, since: datetime) -> int:
        """How many answers were kept since then (the daily cap counts them after a restart)."""
        query = select(func.count()).select_from(llm_answers).where(llm_answers.c.created >= since)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)


def _insert(conn: Connection, key: str, model: str, answer: str, now: datetime) -> None:
    conn.execute(
        insert(llm_answers), {"key": key, "model": model, "answer": answer, "created": now}
    )
