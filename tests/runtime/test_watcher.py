"""The folder watcher: a complete file is handed over at once, whatever the debounce."""

from __future__ import annotations

import asyncio
import logging
import statistics
from pathlib import Path

import watchdog.events

from bot.runtime.watcher import FULL_SCAN, FolderWatcher


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


async def test_a_file_moved_in_does_not_wait_for_the_debounce(tmp_path: Path) -> None:
    """`mv` from another folder on the same disk is one IN_MOVED_TO and no close: the file is
    whole (a rename is atomic), unlike a file just created and still being written."""
    found: list[set[str]] = []

    async def on_change(paths: set[str]) -> None:
        found.append(paths)

    watched, elsewhere = tmp_path / "articles", tmp_path / "elsewhere"
    watched.mkdir()
    elsewhere.mkdir()
    (elsewhere / "moved.md").write_text("whole", encoding="utf-8")
    (elsewhere / "sub").mkdir()
    (elsewhere / "sub" / "deep.md").write_text("whole", encoding="utf-8")
    (watched / "sub").mkdir()
    watcher = FolderWatcher(watched, asyncio.get_running_loop(), on_change, debounce=30.0)
    watcher.start()
    try:
        # Created and written, not closed: it waits for its writer (here, for the debounce).
        busy = (watched / "busy.md").open("w")
        busy.write("half")
        busy.flush()
        (elsewhere / "moved.md").rename(watched / "moved.md")
        (elsewhere / "sub" / "deep.md").rename(watched / "sub" / "deep.md")
        await _wait_for(found, "moved.md", within=10)
        await _wait_for(found, "sub/deep.md", within=10)
        assert not any("busy.md" in batch for batch in found)
        busy.close()
        await _wait_for(found, "busy.md", within=10)
        # Moved out to another folder: the path is gone, handed over at once as well.
        (watched / "moved.md").rename(elsewhere / "back.md")
        count = sum("moved.md" in batch for batch in found)
        loop = asyncio.get_running_loop()
        start = loop.time()
        while sum("moved.md" in batch for batch in found) == count:
            assert loop.time() - start < 10, f"moving out not reported; got {found}"
            await asyncio.sleep(0.01)
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
        # watchdog ≥ 7 says so with an event of its own instead (on its observer's thread).
        lost = getattr(watchdog.events, "EventsLostEvent", None)
        if lost is not None:
            found.clear()
            watcher.dispatch(lost(str(tmp_path), is_directory=True))
            await _wait_for(found, FULL_SCAN, within=10)
    finally:
        watcher.stop()
    assert not watcher.healthy


async def test_a_file_moved_out_holds_no_other_back(tmp_path: Path) -> None:
    """A file moved out of the folder is one IN_MOVED_FROM that watchdog keeps a while, in case
    its IN_MOVED_TO comes, and every event behind it waits as long (it was half a second):
    a file written just after one moved out is handed over about as soon as one written alone."""
    loop = asyncio.get_running_loop()
    found: list[tuple[float, set[str]]] = []

    async def on_change(paths: set[str]) -> None:
        found.append((loop.time(), paths))

    watched, elsewhere = tmp_path / "articles", tmp_path / "elsewhere"
    watched.mkdir()
    elsewhere.mkdir()
    watcher = FolderWatcher(watched, loop, on_change, debounce=60.0)
    watcher.start()

    async def handed_over(name: str, after: float) -> float:
        while not any(name in paths for _, paths in found):
            assert loop.time() - after < 10, f"{name} not reported; got {found}"
            await asyncio.sleep(0.005)
        return next(when for when, paths in found if name in paths) - after

    alone, behind = [], []
    try:
        for i in range(5):
            written = loop.time()
            (watched / f"alone-{i}.md").write_text("whole", encoding="utf-8")
            alone.append(await handed_over(f"alone-{i}.md", written))
            (watched / f"leaving-{i}.md").write_text("whole", encoding="utf-8")
            await handed_over(f"leaving-{i}.md", written)
            moved = loop.time()
            (watched / f"leaving-{i}.md").rename(elsewhere / f"left-{i}.md")
            (watched / f"next-{i}.md").write_text("whole", encoding="utf-8")
            behind.append(await handed_over(f"next-{i}.md", moved))
    finally:
        watcher.stop()
    waited = statistics.median(behind) - statistics.median(alone)
    assert waited < 0.25, f"held back {waited:.2f}s behind a move out (alone {alone}, {behind})"
