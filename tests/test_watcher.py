"""The folder watcher: a complete file is handed over at once, whatever the debounce."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from bot.watcher import FULL_SCAN, FolderWatcher


async def _wait_for(found: list[set[str]], wanted: str, within: float) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not any(wanted in batch for batch in found):
        assert loop.time() - start < within, f"{wanted} not reported; got {found}"
        await asyncio.sleep(0.01)
    return loop.time() - start


async def test_a_closed_file_does_not_wait_for_the_debounce(tmp_path: Path) -> None:
    found: list[set[str]] = []

    async def on_change(paths: set[str]) -> None:
        found.append(paths)

    watcher = FolderWatcher(tmp_path, asyncio.get_running_loop(), on_change, debounce=60.0)
    watcher.start()
    try:
        # A file held open and written to is not handed over while its writer is busy...
        busy = (tmp_path / "busy.md").open("w")
        busy.write("half")
        busy.flush()
        # ...and does not hold back a file written and closed meanwhile (60 s debounce).
        (tmp_path / "post.md").write_text("done", encoding="utf-8")
        await _wait_for(found, "post.md", within=10)
        assert not any("busy.md" in batch for batch in found)
        busy.close()
        await _wait_for(found, "busy.md", within=10)
        # A rename into place is complete too.
        (tmp_path / ".tmp-edit").write_text("new", encoding="utf-8")
        (tmp_path / ".tmp-edit").rename(tmp_path / "renamed.md")
        await _wait_for(found, "renamed.md", within=10)
    finally:
        watcher.stop()


async def test_lost_events_ask_for_a_full_rescan(tmp_path: Path) -> None:
    """The kernel's queue overflowed: watchdog says so only in its log, and rebuilds its
    watches; the files changed meanwhile are for a full rescan to find."""
    found: list[set[str]] = []

    async def on_change(paths: set[str]) -> None:
        found.append(paths)

    watcher = FolderWatcher(tmp_path, asyncio.get_running_loop(), on_change, debounce=60.0)
    assert not watcher.healthy
    watcher.start()
    try:
        assert watcher.healthy
        logging.getLogger("watchdog.observers.inotify_c").warning(
            "Inotify queue overflowed; filesystem events were lost"  # watchdog's words
        )
        await _wait_for(found, FULL_SCAN, within=10)
    finally:
        watcher.stop()
    assert not watcher.healthy
