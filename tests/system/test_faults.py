"""Faults around the daemon: Telegram gone, the feeds disk full, the database locked.

The real daemon as a subprocess (tests/support/daemon.py); Telegram is the fake Bot API server,
reached through a TCP relay the test can cut, so the daemon sees real refused connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from support.daemon import Daemon, Layout, drop
from support.fakebot import FakeBotApi
from support.waiting import eventually, free_port

from bot.store import Store

BODY = "{name} Holdings said on Monday it agreed to acquire {name} Labs for ${n} million in cash.\n"


def article(n: int) -> bytes:
    name = f"Fault{n}"
    return (
        f"---\ntitle: Deal {n} by {name}\ndate: 2025-03-{n % 28 + 1:02d} 09:00:00 +0000\n---\n"
        + BODY.format(name=name, n=10 * 1.1**n)
    ).encode()


class Relay:
    """127.0.0.1:port → the fake server; `cut()` refuses and drops every connection."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        self._writers -= {writer, up_writer}


@pytest.fixture
async def relay(fake_bot: FakeBotApi) -> AsyncIterator[Relay]:
    port = int(fake_bot.base_url.split(":")[2].split("/")[0])
    relay = Relay(port)
    await relay.start()
    yield relay
    await relay.cut()


async def test_telegram_unreachable_then_back(
    tmp_path: Path, fake_bot: FakeBotApi, relay: Relay
) -> None:
    layout = Layout(tmp_path)
    layout.write_config(f"http://127.0.0.1:{relay.port}/bot", interval=2, debounce=0.1)
    chat = 6_000_001
    store = Store(f"sqlite:///{layout.db}")
    store.add_subscription(chat, None, "")
    store.close()
    daemon = Daemon(layout)
    await daemon.start()
    try:
        await daemon.wait_healthy()
        await fake_bot.wait_for(lambda: fake_bot.calls_to("getUpdates"), 30, "polling")
        await relay.cut()  # Telegram unreachable: connections refused
        for n in range(4):
            drop(layout.posts, f"deal-{n}.md", article(n))
            await asyncio.sleep(0.5)

        async def feeds_updated() -> bool:
            path = layout.feeds / "articles.atom"
            return path.exists() and len(feedparser.parse(path.read_bytes()).entries) == 4

        await eventually(feeds_updated, "the feeds to update while Telegram is down")
        await asyncio.sleep(3)  # several delivery attempts fail meanwhile
        assert not fake_bot.sent(chat)
        assert daemon.running
        await relay.start()  # back
        await fake_bot.wait_for(
            lambda: len(fake_bot.sent(chat)) >= 4, 90, "every alert after Telegram returns"
        )
        titles = sorted(m.text for m in fake_bot.sent(chat))
        assert all(any(f"Deal {n} " in t for t in titles) for n in range(4))
        assert len(fake_bot.sent(chat)) == 4  # each once
    finally:
        await daemon.kill()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "feeds"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.glob(".*.tmp")]


async def test_full_disk_keeps_the_old_feed(
    tmp_path: Path, tiny_disk: Path, fake_bot: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = 4242
    monkeypatch.setenv("EVENTFEED_TELEGRAM_ADMINS", str(operator))
    layout = Layout(tmp_path)
    layout.write_config(fake_bot.base_url, interval=1, debounce=0.1)
    drop(layout.posts, "deal-0.md", article(0))
    daemon = Daemon(layout)
    await daemon.start()
    try:
        await daemon.wait_healthy()
        atom = tiny_disk / "articles.atom"
        await eventually(atom.exists, "the first feeds")
        before = atom.read_bytes()
        filler = tiny_disk / "filler.bin"
        with contextlib.suppress(OSError), filler.open("wb") as out:
            while True:
                out.write(b"\0" * 65536)
        for n in range(1, 4):
            drop(layout.posts, f"deal-{n}.md", article(n))

        async def degraded() -> bool:
            health = await daemon.health()
            return bool(health and health.get("feeds_error"))

        await eventually(degraded, "/healthz to report the failed feed write")
        health = await daemon.health()
        assert health is not None and health["status"] == "degraded"
        assert "No space" in health["feeds_error"]
        assert atom.read_bytes() == before  # the old feed intact, not half a file
        assert feedparser.parse(before).bozo == 0
        assert not temp_files(tiny_disk)
        assert "cannot write feeds" in daemon.log_text()
        fake_bot.inject_command(operator, "/stats", user_id=operator)
        await fake_bot.wait_for(lambda: fake_bot.sent(operator), 20, "the /stats answer")
        assert "writing feeds" in fake_bot.sent(operator)[-1].text  # surfaced in /stats too

        filler.unlink()  # space returns: the next scan writes, with no new article needed

        async def recovered() -> bool:
            health = await daemon.health()
            parsed = feedparser.parse(atom.read_bytes())
            return bool(health and health["feeds_error"] is None and len(parsed.entries) == 4)

        await eventually(recovered, "the feeds to be written once space returns")
        assert daemon.running
    finally:
        await daemon.kill()


@pytest.fixture
def tiny_state_disk(tmp_path: Path) -> Iterator[Path]:
    """The state folder on a small tmpfs of its own, to fill."""
    folder = tmp_path / "state"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


async def test_a_state_database_write_outage_is_shown_and_caught_up(
    tmp_path: Path, tiny_state_disk: Path
) -> None:
    """The state database cannot be written (its disk is full): /healthz says so, and the
    files that arrived meanwhile are stored soon after it can be written again, not at the
    next full pass (here the safety net is five minutes away)."""
    layout = Layout(tmp_path)
    layout.write_config(None, interval=300, debounce=0.1)
    daemon = Daemon(layout, token=None)
    await daemon.start()
    try:
        await daemon.wait_healthy()

        async def health(key: str, wanted: object) -> bool:
            found = await daemon.health()
            return bool(found and found.get(key) == wanted)

        await eventually(lambda: health("watching", True), "the watcher running")
        drop(layout.posts, "deal-1.md", article(1))
        await eventually(lambda: health("articles", 1), "the first article")
        filler = tiny_state_disk / "filler.bin"
        with contextlib.suppress(OSError), filler.open("wb") as out:
            while True:
                out.write(b"\0" * 65536)
        for n in range(2, 4):
            drop(layout.posts, f"deal-{n}.md", article(n))

        async def failing() -> bool:
            found = await daemon.health()
            return bool(found and found["status"] != "ok" and found["last_error"])

        await eventually(failing, "/healthz to report the failed database write")
        found = await daemon.health()
        assert found is not None and "database or disk is full" in found["last_error"]
        assert found["articles"] == 1
        drop(layout.posts, "deal-4.md", article(4))  # during the outage, once it is known

        filler.unlink()  # the database can be written again
        await eventually(lambda: health("articles", 4), "the files that arrived meanwhile", 20)
        await eventually(lambda: health("last_error", None), "the error cleared")
        assert await health("status", "ok")
        assert daemon.running
    finally:
        await daemon.kill()


@contextlib.asynccontextmanager
async def without_telegram(tmp_path: Path) -> AsyncIterator[tuple[Layout, Daemon]]:
    """A daemon with no bot token, rescanning every second, up and answering /healthz."""
    layout = Layout(tmp_path)
    layout.write_config(None, interval=1, debounce=0.1)
    daemon = Daemon(layout, token=None)
    await daemon.start()
    try:
        await daemon.wait_healthy()
        yield layout, daemon
    finally:
        await daemon.kill()


async def test_database_locked_by_another_process(tmp_path: Path) -> None:
    async with without_telegram(tmp_path) as (layout, daemon):
        holder = sqlite3.connect(layout.db, timeout=30, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            drop(layout.posts, "deal-1.md", article(1))
            await asyncio.sleep(4)  # several scans want the lock meanwhile
            assert daemon.running
            assert await daemon.health() is not None  # still answering
        finally:
            holder.execute("ROLLBACK")
            holder.close()

        async def stored() -> bool:
            health = await daemon.health()
            return bool(health and health.get("articles") == 1)

        await eventually(stored, "the article once the lock is released")
        assert "Traceback" not in daemon.log_text()


async def test_folder_gone_and_back(tmp_path: Path) -> None:
    """The folder is moved away (unmounted, a typo in a reload) and later replaced by a copy
    (a fresh checkout): nothing is taken for deleted meanwhile, the error is on /healthz,
    and the watcher follows the new folder, not the one moved away."""
    async with without_telegram(tmp_path) as (layout, daemon):

        async def health(key: str, wanted: object) -> bool:
            found = await daemon.health()
            return bool(found and found.get(key) == wanted)

        drop(layout.posts, "deal-1.md", article(1))
        await eventually(lambda: health("articles", 1), "the first article")
        await eventually(lambda: health("watching", True), "the watcher running")
        away = tmp_path / "away"
        layout.posts.rename(away)
        await eventually(lambda: health("watching", False), "the watcher stopped")

        async def missing() -> bool:
            found = await daemon.health()
            return bool(found and "is missing" in (found.get("last_error") or ""))

        await eventually(missing, "the missing folder on /healthz")
        assert await health("articles", 1)  # the passes since deleted nothing
        shutil.copytree(away, layout.posts)
        await eventually(lambda: health("watching", True), "the watcher started again")
        await eventually(lambda: health("last_error", None), "the error cleared")
        assert "watcher stopped and was started again" in daemon.log_text()
        drop(layout.posts, "deal-2.md", article(2))
        await eventually(lambda: health("articles", 2), "the article dropped into the copy")
        assert daemon.log_text().count("is missing") == 1  # said once, not every pass
        assert "Traceback" not in daemon.log_text()


async def test_folder_emptied_and_back(tmp_path: Path) -> None:
    """The disk is unmounted and leaves an empty mount point: no article is taken for
    deleted, the error is on /healthz and said once in the log, and it clears when the
    files are back."""
    async with without_telegram(tmp_path) as (layout, daemon):

        async def health(key: str, wanted: object) -> bool:
            found = await daemon.health()
            return bool(found and found.get(key) == wanted)

        drop(layout.posts, "deal-1.md", article(1))
        drop(layout.posts, "deal-2.md", article(2))
        await eventually(lambda: health("articles", 2), "the first articles")
        away = tmp_path / "away"
        away.mkdir()
        for name in ("deal-1.md", "deal-2.md"):
            (layout.posts / name).rename(away / name)

        async def empty() -> bool:
            found = await daemon.health()
            return bool(found and "is empty but 2 articles" in (found.get("last_error") or ""))

        await eventually(empty, "the empty folder on /healthz")
        assert "set scan.allow_empty_folder: true" in daemon.log_text()
        assert await health("articles", 2)  # the passes since removed nothing
        for name in ("deal-1.md", "deal-2.md"):
            (away / name).rename(layout.posts / name)
        await eventually(lambda: health("last_error", None), "the error cleared")
        assert await health("articles", 2)
        assert daemon.log_text().count("is empty but") == 1  # said once, not every pass
        assert "Traceback" not in daemon.log_text()


async def test_a_broadcast_a_stop_cut_short_goes_on_at_the_next_start(
    tmp_path: Path, fake_bot: FakeBotApi
) -> None:
    """The daemon stopped in the middle of an operator's /broadcast: its next start sends to
    the chats that are left, and to them only."""
    layout = Layout(tmp_path)
    layout.write_config(fake_bot.base_url, interval=30, debounce=0.1)
    store = Store(f"sqlite:///{layout.db}")
    for chat in (7_000_001, 7_000_002, 7_000_003):
        store.upsert_chat(chat, "private", None, None)
    cut = store.start_broadcast(
        "Maintenance at 22:00", 7_000_009, [7_000_001, 7_000_002, 7_000_003], datetime.now(UTC)
    )
    store.broadcast_sent(cut.id, 7_000_001, "sent")
    store.close()
    daemon = Daemon(layout)
    await daemon.start()
    try:
        await fake_bot.wait_for(
            lambda: bool(fake_bot.sent(7_000_009)), 60, "the operator told it is done"
        )
        assert fake_bot.sent(7_000_009)[-1].text == "📣 Sent to 3 of 3 chats."
        assert fake_bot.sent(7_000_001) == []
        assert [m.text for m in fake_bot.sent(7_000_002)] == ["Maintenance at 22:00"]
        assert [m.text for m in fake_bot.sent(7_000_003)] == ["Maintenance at 22:00"]
    finally:
        await daemon.kill()
