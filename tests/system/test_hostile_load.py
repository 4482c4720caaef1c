"""Slow input never stalls the daemon. The real daemon (tests/support/daemon.py), the fake Bot API,
one subscribed chat and one whose /pattern/ once backtracked for ever: while the slow inputs
are being processed, `/healthz` answers within 1 s and an ordinary article dropped at the
same moment is alerted within 2 s; every slow input ends as an article or a recorded error.
And a daemon killed while a file's analysis runs long does not try that file again at its
next start.

SLOW_INPUTS is the list of hostile files (file name → bytes, made at a given size): the
quadratic texts, an alias bomb and an article with 3,000 categories and 3,000 tags.
`EVENTFEED_CHAOS=large` (make chaos) makes the texts at full size.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
from support.daemon import Daemon, Layout, drop, query
from support.fakebot import FakeBotApi
from support.waiting import eventually

from bot.runtime.pipeline import UNFINISHED
from bot.store import Store

sys.path.insert(0, str(Path(__file__).parent.parent / "data" / "bad"))
from generate import ALIAS_BOMB, many_names, post, slow_bodies

LARGE = os.environ.get("EVENTFEED_CHAOS") == "large"
SIZE = 2_000_000 if LARGE else 300_000  # characters of each slow body
CHAT = 7_000_001

Maker = Callable[[int], bytes]


def _slow_post(name: str) -> Maker:
    return lambda size: post(f"Slow {name}", body=slow_bodies(size)[name])


def _slow_text(name: str) -> Maker:
    return lambda size: slow_bodies(size)[name].encode()


# (file name, bytes at a size): each a shape that once held the daemon for minutes.
SLOW_INPUTS: list[tuple[str, Maker]] = [
    *((f"slow-{name}.md", _slow_post(name)) for name in slow_bodies(100)),
    *((f"slow-{name}.txt", _slow_text(name)) for name in ("unclosed-links", "dates-one-line")),
    ("yaml-alias-bomb.md", lambda size: ALIAS_BOMB.encode()),  # 9 levels of 9 aliases
    ("many-names.md", lambda size: many_names()),  # 3,000 categories and 3,000 tags
]
# A subscription whose pattern once backtracked for ever on every event it was matched to.
HOSTILE_PATTERN = "/" + ".{0,20}" * 8 + "☃/"

ORDINARY = post(
    "Nimbus AI raises $30 million",
    body="Nimbus AI raised $30 million in a funding round led by Hazel Capital on Monday.\n",
)


async def test_slow_inputs_stall_nothing(tmp_path: Path, fake_bot: FakeBotApi) -> None:
    layout = Layout(tmp_path)
    layout.write_config(fake_bot.base_url, interval=30, debounce=0.1)
    store = Store(f"sqlite:///{layout.db}")
    store.add_subscription(CHAT, None, "Nimbus")  # not the slow inputs' own events
    store.add_subscription(CHAT + 1, None, HOSTILE_PATTERN)  # matched to every event
    store.close()
    slow = {name: make(SIZE) for name, make in SLOW_INPUTS}
    daemon = Daemon(layout)
    await daemon.start()
    try:
        await daemon.wait_healthy(60)
        await eventually(_scanned(daemon), "the first scan", 60)
        await fake_bot.wait_for(lambda: fake_bot.calls_to("getUpdates"), 30, "polling")
        slowest: list[float] = []
        probing = asyncio.create_task(_probe_health(daemon, slowest))
        for name, data in slow.items():
            drop(layout.posts, name, data)
        await asyncio.sleep(0.05)  # the watcher has seen them: being read or analysed
        dropped = time.monotonic()
        drop(layout.posts, "ordinary.md", ORDINARY)
        await fake_bot.wait_for(
            lambda: any("Nimbus" in m.text for m in fake_bot.sent(CHAT)), 30, "the alert"
        )
        alerted = next(m.at for m in fake_bot.sent(CHAT) if "Nimbus" in m.text) - dropped

        def all_recorded() -> bool:
            rows = query(layout.db, "SELECT path FROM articles WHERE status IN ('ok', 'error')")
            return {path for (path,) in rows} >= set(slow)

        await eventually(all_recorded, "every slow input stored or recorded", 120)
        probing.cancel()
        print(f"alerted after {alerted:.2f}s; /healthz at most {max(slowest):.2f}s")
        assert alerted < 2.0, f"the ordinary article was alerted {alerted:.1f}s after it came"
        assert slowest and max(slowest) < 1.0, f"/healthz took {max(slowest):.1f}s"
        assert daemon.running
    finally:
        await daemon.kill()


def _scanned(daemon: Daemon) -> Callable[[], object]:
    async def done() -> bool:
        health = await daemon.health()
        return health is not None and health["last_scan"] is not None

    return done


async def _probe_health(daemon: Daemon, took: list[float]) -> None:
    """Ask /healthz ten times a second; note how long each answer took (5 s at most)."""
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            started = time.monotonic()
            try:
                async with session.get(daemon.layout.url + "/healthz") as response:
                    await response.read()
            except (aiohttp.ClientError, TimeoutError):
                pass
            took.append(time.monotonic() - started)
            await asyncio.sleep(0.1)


async def test_a_file_killed_mid_analysis_is_not_tried_again(
    tmp_path: Path, fake_bot: FakeBotApi
) -> None:
    """Analysis past a few seconds is recorded as unfinished before it ends: a daemon killed
    meanwhile (out of memory, a watchdog) skips the file at its next start, with that error
    for /healthz, instead of dying on it again and again; it is tried when it changes."""
    layout = Layout(tmp_path)
    uncapped = "extract: {max_chars: 100000000, budget_seconds: 600}\n"
    layout.write_config(fake_bot.base_url, interval=30, debounce=0.1, extra=uncapped)
    daemon = Daemon(layout)
    await daemon.start()
    try:
        await daemon.wait_healthy(60)
        await eventually(_scanned(daemon), "the first scan", 60)
        body = slow_bodies(3_000_000)["weak-triggers-one-clause"]  # 5 MB: 5 s of analysis
        drop(layout.posts, "poison.md", post("Poison", body=body))

        def marked() -> bool:
            rows = query(layout.db, "SELECT error FROM articles WHERE path = 'poison.md'")
            return rows == [(UNFINISHED,)]

        await eventually(marked, "the analysis to be recorded as unfinished", 60)
        await daemon.kill()
        before = daemon.log_text().count("analysis is slow")
        await daemon.start()
        await daemon.wait_healthy(60)
        await eventually(_scanned(daemon), "the first scan after the restart", 60)
        health = await daemon.health()
        assert health is not None
        assert {"path": "poison.md", "status": "error", "error": UNFINISHED[:300]} in health[
            "file_errors"
        ]
        assert daemon.log_text().count("analysis is slow") == before  # not analysed again
        drop(layout.posts, "poison.md", post("Poison no more"))  # changed: tried again

        def fixed() -> bool:
            rows = query(layout.db, "SELECT status FROM articles WHERE path = 'poison.md'")
            return rows == [("ok",)]

        await eventually(fixed, "the changed file to be stored", 30)
    finally:
        await daemon.kill()
