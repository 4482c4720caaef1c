"""Database write faults during delivery: the real daemon, a fault on and off, nothing repeated.

Chats are subscribed to every article; while articles arrive, the state database refuses to
mark some chats' messages sent (a trigger, switched on and off by the test). The healthy
chats must get every alert exactly once while the fault lasts, the broken chats at most the
one message in flight and nothing twice, `/healthz` must keep answering at once, and once the
fault ends every alert must have arrived, each once.

`EVENTFEED_CHAOS=large` (`make chaos`) runs more chats, articles and fault periods.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections import Counter
from pathlib import Path

from support.daemon import Daemon, Layout, drop, query
from support.fakebot import FakeBotApi
from support.waiting import eventually

from bot.store import Store

LARGE = os.environ.get("EVENTFEED_CHAOS") == "large"
CHATS = 60 if LARGE else 12
BROKEN = 10 if LARGE else 3  # the first chats: their "mark sent" fails while the fault is on
PERIODS = 4 if LARGE else 2  # fault on, articles arrive, fault off
PER_PERIOD = 10 if LARGE else 4  # articles per period
FIRST_CHAT = 5_200_000
TITLE = re.compile(r"Deal (\d+) by")


def article(n: int) -> bytes:
    name = f"Fault{n}"
    return (
        f"---\ntitle: Deal {n} by {name}\ndate: 2025-04-{n % 28 + 1:02d} 09:00:00 +0000\n---\n"
        f"{name} Holdings said on Monday it agreed to acquire {name} Labs for ${n + 10} million"
        " in cash.\n"
    ).encode()


def set_fault(db: Path, chats: list[int] | None) -> None:
    """A real fault in the daemon's database: a trigger refusing to mark these chats' rows
    sent (None: no fault)."""
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER IF EXISTS chaos_fail_sent")
        if chats:
            conn.execute(
                "CREATE TRIGGER chaos_fail_sent BEFORE UPDATE ON outbox"
                f" WHEN NEW.status = 'sent' AND NEW.chat_id IN ({', '.join(map(str, chats))})"
                " BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
            )
    finally:
        conn.close()


def received(fake: FakeBotApi, chat: int) -> Counter[int]:
    """Article number → how many messages about it the chat got."""
    return Counter(
        int(found.group(1))
        for message in fake.sent(chat)
        if (found := TITLE.search(message.text)) is not None
    )


async def test_database_faults_during_delivery_repeat_nothing(
    tmp_path: Path, fake_bot: FakeBotApi
) -> None:
    layout = Layout(tmp_path)
    layout.write_config(fake_bot.base_url, interval=2, debounce=0.1)
    chats = [FIRST_CHAT + i for i in range(CHATS)]
    broken, healthy = chats[:BROKEN], chats[BROKEN:]
    store = Store(f"sqlite:///{layout.db}")
    for chat in chats:
        store.add_subscription(chat, None, "")
    store.close()
    daemon = Daemon(layout)
    await daemon.start()
    try:
        await daemon.wait_healthy()
        await fake_bot.wait_for(lambda: fake_bot.calls_to("getUpdates"), 30, "polling")
        dropped = 0
        for period in range(PERIODS):
            set_fault(layout.db, broken)
            for _ in range(PER_PERIOD):
                dropped += 1
                drop(layout.posts, f"deal-{dropped}.md", article(dropped))
            everything = set(range(1, dropped + 1))

            def healthy_done(everything: set[int] = everything) -> bool:
                return all(set(received(fake_bot, c)) == everything for c in healthy)

            await fake_bot.wait_for(healthy_done, 60, f"the healthy chats' alerts ({period})")
            started = time.monotonic()
            assert await daemon.health() is not None
            assert time.monotonic() - started < 1.0, "/healthz slow during the fault"
            for chat in chats:
                counts = received(fake_bot, chat)
                assert max(counts.values(), default=1) == 1, f"chat {chat} got a repeat: {counts}"
            set_fault(layout.db, None)

        everything = set(range(1, dropped + 1))

        def all_done() -> bool:
            return all(set(received(fake_bot, c)) == everything for c in chats)

        await fake_bot.wait_for(all_done, 120, "every alert once the fault is gone")

        async def all_marked() -> bool:
            rows = query(layout.db, "SELECT count(*) FROM outbox WHERE status != 'sent'")
            return rows[0][0] == 0

        await eventually(all_marked, "every outbox row marked sent", 30)
        for chat in chats:
            counts = received(fake_bot, chat)
            assert set(counts.values()) == {1}, f"chat {chat}: {counts}"
        assert daemon.running
        assert "Traceback" not in daemon.log_text()
    finally:
        await daemon.kill()
