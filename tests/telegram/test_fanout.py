"""The fan-out send path: outcomes recorded many to a transaction, stories looked up per round,
one rendering per article — with the same outbox states as one statement per message.

Real SQLite (and PostgreSQL for the store methods), the real PTB over bot/telegram/request.py, and the
fake Bot API on loopback.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from support.fakebot import FakeBotApi
from telegram import Bot

from bot.core.model import Amount, Article, Event, Extraction
from bot.store import Store
from bot.store.outbox import SentMark, enqueue
from bot.store.schema import outbox
from bot.telegram.delivery import Deliverer, SentLog
from bot.telegram.limits import FloodLimiter, Limits
from bot.telegram.request import AiohttpRequest
from bot.telegram.sender import Sender

T0 = datetime(2025, 6, 12, 8, 0, tzinfo=UTC)
DEAL = Event(
    "acquisition",
    ("Microsoft", "Activision"),
    "Microsoft buys Activision.",
    "…",
    amount=Amount(6.9e10, "USD", 6.9e10, "$69B"),
)


def save(store: Store, n: int, chats: list[int], found: Event = DEAL) -> Any:
    """Article n with one event, queued for `chats`."""
    return store.save_article(
        Article(f"a{n}.md", f"Report {n}", "…", "en", T0, "jekyll", f"a{n}"),
        Extraction("Summary.", (found,)),
        f"https://blog.example.org/a{n}.html",
        size=1,
        mtime_ns=n,
        content_hash=f"h{n}",
        now=T0,
        targets={found.key: [(chat, None) for chat in chats]},
    )


def rows(store: Store) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(outbox).order_by(outbox.c.id)))


def commits(store: Store) -> list[int]:
    """A counter of the transactions committed on the store's engine from now on."""
    counter = [0]
    event.listen(store.engine, "commit", lambda conn: counter.__setitem__(0, counter[0] + 1))
    return counter


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield store
    store.close()


@pytest.fixture
async def sender(fake_bot: FakeBotApi) -> AsyncIterator[Sender]:
    async with Bot("123:TEST", base_url=fake_bot.base_url, request=AiohttpRequest()) as bot:
        yield Sender(bot)


def test_mark_sent_many_records_each_message(store_url: str) -> None:
    store = Store(store_url)
    try:
        save(store, 1, [1, 2, 3, 4])
        ids = [r.id for r in rows(store)]
        later = T0 + timedelta(seconds=5)

        store.mark_sent_many(
            [SentMark((ids[0],), 101, T0), SentMark((ids[2], ids[3]), 103, later, "part 2 lost")]
        )
        store.mark_sent_many([])

        got = [(r.status, r.message_id, r.last_error) for r in rows(store)]
        assert got == [
            ("sent", 101, None),
            ("pending", None, None),
            ("sent", 103, "part 2 lost"),
            ("sent", 103, "part 2 lost"),
        ]
        assert [r.sent_at is not None for r in rows(store)] == [True, False, True, True]
    finally:
        store.close()


async def test_marks_answered_together_share_one_transaction(store: Store) -> None:
    save(store, 1, list(range(1, 52)))
    *ids, last = [r.id for r in rows(store)]
    log = SentLog(store)
    counted = commits(store)

    await asyncio.gather(*(log.record(1, SentMark((i,), 1000 + i, T0)) for i in ids))

    assert counted[0] == 1
    assert {(r.status, r.message_id) for r in rows(store) if r.id != last} == {
        ("sent", 1000 + i) for i in ids
    }
    # Alone, a mark is written at once: nothing waits for a batch to fill.
    await asyncio.wait_for(log.record(1, SentMark((last,), 7, T0)), 5)
    assert counted[0] == 2


async def test_fan_out_records_every_message_id_in_few_transactions(
    store: Store, sender: Sender, fake_bot: FakeBotApi
) -> None:
    chats = list(range(1, 301))
    save(store, 1, chats)
    counted = commits(store)

    report = await Deliverer(store, lambda: T0, concurrency=64).deliver(sender)

    assert report.sent == 300
    sent = {m.chat_id: m.message_id for m in fake_bot.sent()}
    assert {(r.chat_id, r.status, r.message_id) for r in rows(store)} == {
        (chat, "sent", sent[chat]) for chat in chats
    }
    assert len({m.text for m in fake_bot.sent()}) == 1  # rendered once, sent to all
    assert counted[0] < 150  # 300 marks; a round's reads and releases are a few more


async def test_a_story_twice_in_one_pass_alerts_once_and_edits(
    store: Store, sender: Sender, fake_bot: FakeBotApi
) -> None:
    save(store, 1, [1])
    second = save(store, 2, [])
    [again] = second.new_events
    assert not again.first_report
    with store.engine.begin() as conn:  # both wait for the same pass, in order
        assert enqueue(conn, again.id, 1, None, T0) == 1

    report = await Deliverer(store, lambda: T0).deliver(sender)

    assert report.sent == 1
    [alert] = fake_bot.sent(1)
    assert alert.edited and "Also reported by" in alert.text and "a2.html" in alert.text
    assert [(r.status, r.message_id) for r in rows(store)] == [
        ("sent", alert.message_id),
        ("merged", alert.message_id),
    ]


def test_told_stories_matches_story_messages(store_url: str) -> None:
    """The round's one query finds what the per-delivery query finds."""
    store = Store(store_url)
    try:
        other = Event("funding", ("Nimbus",), "Nimbus raises.", "…", amount=None)
        save(store, 1, [1, 2])
        save(store, 2, [1], other)
        first = rows(store)
        store.mark_sent_many([SentMark((first[0].id,), 11, T0), SentMark((first[2].id,), 12, T0)])
        later = save(store, 3, [])
        [repeat] = later.new_events
        with store.engine.begin() as conn:
            for chat in (1, 2, 3):
                enqueue(conn, repeat.id, chat, None, T0)

        due = store.due_deliveries(T0 + timedelta(seconds=1))
        told = store.told_stories(due)

        mine = [d for d in due if d.events[0].id == repeat.id]
        assert {d.chat_id for d in mine} == {1, 2, 3}
        for delivery in mine:
            pair = (delivery.chat_id, delivery.thread_id)
            by_round = {
                e.id: told[pair][e.story_id]
                for e in delivery.events
                if e.story_id in told.get(pair, {})
            }
            assert by_round == store.story_messages(delivery)
        assert told[(1, None)][repeat.story_id] == 11
        assert (2, None) not in told and (3, None) not in told  # 2: pending; 3: never told
    finally:
        store.close()


async def test_a_stalled_event_loop_does_not_burst_past_the_overall_limit() -> None:
    """Slots that fell due while the loop was stuck go out spaced, not all at once."""
    limiter = FloodLimiter(Limits(per_second=10.0, chat_interval=0.0))
    went: list[float] = []

    async def request() -> None:
        await limiter.acquire(None)
        went.append(time.monotonic())

    tasks = [asyncio.create_task(request()) for _ in range(25)]
    await asyncio.sleep(0)  # every request has booked its slot: 0, 0.1, 0.2 … 2.4 s
    time.sleep(0.45)  # noqa: ASYNC251 - the stall itself (a busy machine): slots 0.1–0.4 fall due
    await asyncio.gather(*tasks)

    ordered = sorted(went)
    most = max(bisect.bisect_left(ordered, t + 1.0) - i for i, t in enumerate(ordered))
    assert most <= 10
    assert ordered[-1] - ordered[0] < 3.0  # spaced, not slowed down
