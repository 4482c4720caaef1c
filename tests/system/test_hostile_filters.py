"""Issue 15, finding 1: no /pattern/ may stall the daemon, and one stored before RE2 that RE2
refuses is disabled at start. The real daemon as a subprocess (tests/support/daemon.py), the real
bot against the fake Bot API server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from support.daemon import Daemon, Layout, drop, query
from support.fakebot import FakeBotApi

from bot.store import Store

# 57 characters after /subscribe: Python's re took 5 s on 40 characters of text, and practically
# forever on a sentence, holding the GIL: HTTP, polling, delivery and feeds all stopped.
STACKED = "/.{0,20}.{0,20}.{0,20}.{0,20}.{0,20}.{0,20}.{0,20}.{0,20}☃/"
EVERYTHING, HOSTILE, STALE = 7_100_001, 7_100_002, 7_100_003


def deal(n: int) -> bytes:
    filler = "Analysts expect the combined company to keep both brands for now. " * 12
    return (
        f"---\ntitle: Deal {n} by Pattern{n} Holdings\ndate: 2025-03-{n + 1:02d} 09:00:00 +0000\n"
        f"---\nPattern{n} Holdings said on Monday it agreed to acquire Pattern{n} Labs for "
        f"${10 + n} million in cash. {filler}\n"
    ).encode()


async def answers_quickly(daemon: Daemon) -> bool:
    """/healthz within a wide hang guard (the frozen daemon never answered at all)."""
    started = time.monotonic()
    health = await asyncio.wait_for(daemon.health(), 10)
    return health is not None and time.monotonic() - started < 5


async def test_a_stacked_repetition_pattern_does_not_stall_the_daemon(
    tmp_path: Path, fake_bot: FakeBotApi
) -> None:
    layout = Layout(tmp_path)
    layout.write_config(fake_bot.base_url, interval=30, debounce=0.1)
    store = Store(f"sqlite:///{layout.db}")
    store.add_subscription(EVERYTHING, None, "")
    store.close()
    daemon = Daemon(layout)
    await daemon.start()
    try:
        await daemon.wait_healthy()
        await fake_bot.wait_for(lambda: fake_bot.calls_to("getUpdates"), 30, "polling")
        fake_bot.inject_command(HOSTILE, f"/subscribe {STACKED}", user_id=HOSTILE)
        await fake_bot.wait_for(lambda: fake_bot.sent(HOSTILE), 20, "the /subscribe answer")
        assert "Subscribed" in fake_bot.sent(HOSTILE)[-1].text

        for n in range(3):  # each sentence, summary and title is matched against the pattern
            drop(layout.posts, f"deal-{n}.md", deal(n))
            assert await answers_quickly(daemon)
        await fake_bot.wait_for(
            lambda: len(fake_bot.sent(EVERYTHING)) >= 3, 30, "the ordinary alerts"
        )
        assert await answers_quickly(daemon)
        assert fake_bot.sent(HOSTILE)[-1].text.startswith("✅")  # no ☃ in them: no alert
        restarted = await daemon.stop()
        assert restarted == 0  # SIGTERM obeyed: nothing holds the interpreter

        polls = len(fake_bot.calls_to("getUpdates"))
        await daemon.start()  # the pattern is stored: the first scan runs it again
        await daemon.wait_healthy()
        await fake_bot.wait_for(  # polling starts after the first scan and the watcher
            lambda: len(fake_bot.calls_to("getUpdates")) > polls, 30, "polling again"
        )
        drop(layout.posts, "deal-3.md", deal(3))
        await fake_bot.wait_for(lambda: len(fake_bot.sent(EVERYTHING)) >= 4, 30, "a 4th alert")
        assert await answers_quickly(daemon)
    finally:
        await daemon.kill()


async def test_a_stored_pattern_re2_refuses_is_disabled_at_start(
    tmp_path: Path, fake_bot: FakeBotApi
) -> None:
    layout = Layout(tmp_path)
    layout.write_config(fake_bot.base_url, interval=30, debounce=0.1)
    store = Store(f"sqlite:///{layout.db}")
    store.upsert_chat(STALE, "private", None, "zh-TW")
    store.add_subscription(STALE, None, r"/deal\Z/")  # an older version took it (re has \Z)
    store.add_subscription(STALE, None, "acquisition")
    store.close()
    daemon = Daemon(layout)
    await daemon.start()
    try:
        await daemon.wait_healthy()
        await fake_bot.wait_for(lambda: fake_bot.sent(STALE), 30, "the chat told")
        told = fake_bot.sent(STALE)[0].text
        assert "這個訂閱已停用" in told and r"/subscribe /deal\Z/" in told
        assert "不是有效的正則表達式" in told  # why, in the chat's language
        rows = query(layout.db, "SELECT filter, disabled FROM subscriptions ORDER BY id")
        assert rows[0][0] == r"/deal\Z/" and "invalid escape sequence" in rows[0][1]
        assert rows[1] == ("acquisition", None)
        assert "subscription disabled" in daemon.log_text()

        drop(layout.posts, "deal-0.md", deal(0))  # the other subscription still runs
        await fake_bot.wait_for(lambda: len(fake_bot.sent(STALE)) >= 2, 30, "the alert")
        assert "Deal 0" in fake_bot.sent(STALE)[-1].text
        assert len(fake_bot.sent(STALE)) == 2

        assert await daemon.stop() == 0
        polls = len(fake_bot.calls_to("getUpdates"))
        await daemon.start()  # told once: a restart says nothing again
        await daemon.wait_healthy()
        await fake_bot.wait_for(
            lambda: len(fake_bot.calls_to("getUpdates")) > polls, 30, "polling again"
        )
        drop(layout.posts, "deal-1.md", deal(1))
        await fake_bot.wait_for(lambda: len(fake_bot.sent(STALE)) >= 3, 30, "the next alert")
        assert "Deal 1" in fake_bot.sent(STALE)[-1].text
        assert not any("停用" in m.text for m in fake_bot.sent(STALE)[1:])
    finally:
        await daemon.kill()
