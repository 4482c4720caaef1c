"""watchdog → asyncio: report files that changed, each once it is complete or has been quiet for
the debounce time."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

log = logging.getLogger(__name__)
# watchdog < 7 reports a kernel queue overflow (events lost) only in a log record of this
# logger; watchdog 7 sends an EventsLostEvent (and logs under another name).
_INOTIFY_LOG = "watchdog.observers.inotify_c"

FULL_SCAN = ""  # in a batch: a whole folder appeared or left, rescan everything
# A file closed after writing, renamed into place, moved in from another folder or deleted is
# complete: it waits only this long, to gather the events of one save (an editor's write, rename
# and delete) in one batch.
SETTLED = 0.02
_SETTLING = ("closed", "moved", "deleted")
_LOST = "events_lost"  # watchdog ≥ 7: the kernel dropped events (its EventsLostEvent)
# watchdog holds an IN_MOVED_FROM back, waiting for the IN_MOVED_TO it may pair with, and
# every event behind it waits too (its queue is first in, first out): with its half a second,
# one file moved out of the folder held every other file back 0.5 s. A rename queues its two
# events together, so a far shorter wait still pairs them; an unpaired move is handled too
# (the path gone, the other one complete).
MOVE_PAIRING = 0.02


class FolderWatcher(FileSystemEventHandler):
    """Collects changed paths from watchdog's thread and hands them to the loop in batches.

    Each path has its own deadline. A file being written produces many events; each pushes
    its deadline back by `debounce` seconds, until the writer closes it (inotify's
    IN_CLOSE_WRITE), renames it into place, moves it in from another folder (one IN_MOVED_TO;
    a rename is atomic, so the file is whole) or deletes it: then it is handed over at once.
    A steady stream of other files never holds one back.

    When the kernel drops events (inotify's queue overflowed), it asks for a full rescan.
    """

    def __init__(
        self,
        root: Path,
        loop: asyncio.AbstractEventLoop,
        on_change: Callable[[set[str]], Coroutine[Any, Any, None]],
        debounce: float,
    ) -> None:
        self.root = root.resolve()
        self.loop = loop
        self.on_change = on_change
        self.debounce = debounce
        self._due: dict[str, float] = {}  # path → when to hand it over (loop time)
        self._timer: asyncio.TimerHandle | None = None
        self._observer: BaseObserver | None = None
        self._overflows = _OverflowHandler(self)
        self._folder: tuple[int, int] | None = None  # the folder watched: (device, inode)

    def start(self) -> None:
        logger = logging.getLogger(_INOTIFY_LOG)
        logger.addHandler(self._overflows)
        if not logger.isEnabledFor(logging.WARNING):  # a quieter log level must not hide it
            logger.setLevel(logging.WARNING)
        self._folder = _identity(self.root)
        observer = _observer()
        observer.schedule(self, str(self.root), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        logging.getLogger(_INOTIFY_LOG).removeHandler(self._overflows)
        if self._timer is not None:
            self._timer.cancel()

    @property
    def healthy(self) -> bool:
        """Watching, with watchdog's threads alive, the folder that is at its path now (a
        watch follows a folder that was moved away). What it still misses — a folder the
        kernel refused a watch for, a change made by another machine on a network mount —
        the safety net's passes find."""
        observer = self._observer
        return (
            observer is not None
            and observer.is_alive()
            and all(emitter.is_alive() for emitter in observer.emitters)
            and _identity(self.root) == self._folder
        )

    # Called on watchdog's thread.
    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.event_type == _LOST:
            self.loop.call_soon_threadsafe(self._overflowed)
            return
        if event.is_directory:
            if event.event_type in ("created", "moved", "deleted"):  # its files sent no events
                self.loop.call_soon_threadsafe(self._touch, FULL_SCAN)
            return
        settled = event.event_type in _SETTLING
        paths = [event.src_path, getattr(event, "dest_path", "")]
        for raw in paths:
            if not raw:
                continue
            rel = self._relative(os.fsdecode(raw))
            if rel is not None:
                self.loop.call_soon_threadsafe(self._touch, rel, settled)

    def _relative(self, path: str) -> str | None:
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return None

    # Called on the loop.
    def _overflowed(self) -> None:
        log.warning("watcher lost events (inotify queue overflow); rescanning everything")
        self._touch(FULL_SCAN, settled=True)

    def _touch(self, rel: str, settled: bool = False) -> None:
        wait = min(SETTLED, self.debounce) if settled else self.debounce
        self._due[rel] = self.loop.time() + wait
        self._schedule()

    def _schedule(self) -> None:
        if not self._due:
            return
        when = min(self._due.values())
        if self._timer is not None:
            if self._timer.when() <= when:  # it fires first; _flush schedules again
                return
            self._timer.cancel()
        self._timer = self.loop.call_at(when, self._flush)

    def _flush(self) -> None:
        self._timer = None
        now = self.loop.time()
        batch = {rel for rel, when in self._due.items() if when <= now}
        for rel in batch:
            del self._due[rel]
        if batch:
            task = self.loop.create_task(self.on_change(batch))
            task.add_done_callback(_log_failure)
        self._schedule()


class _OverflowHandler(logging.Handler):
    """Hears watchdog say that the kernel dropped events (on watchdog's thread)."""

    def __init__(self, watcher: FolderWatcher) -> None:
        super().__init__(logging.WARNING)
        self.watcher = watcher

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.watcher.loop.call_soon_threadsafe(self.watcher._overflowed)


def _observer() -> BaseObserver:
    """watchdog's native observer; on Linux, its inotify observer with full move events.

    By default watchdog reports a file moved in from outside the watched tree (one IN_MOVED_TO,
    no IN_MOVED_FROM) as "created", like a file just opened for writing (IN_CREATE), which is
    not complete until it is closed. With full move events it is a "moved" event with no source
    path, and a file moved out one with no destination (the path is then gone, as after a
    delete).
    """
    if Observer.__module__ == "watchdog.observers.inotify":
        from watchdog.observers.inotify import InotifyObserver

        _pair_moves_within(MOVE_PAIRING)
        return InotifyObserver(generate_full_events=True)
    return Observer()


def _pair_moves_within(seconds: float) -> None:
    """How long watchdog's inotify observer holds a move out back (see `MOVE_PAIRING`): a
    class attribute of its queue's, read when an observer starts watching."""
    for module, name in (
        ("watchdog.observers.inotify_move_event_grouper", "InotifyMoveEventGrouper"),  # ≥ 7
        ("watchdog.observers.inotify_buffer", "InotifyBuffer"),  # 4 to 6
    ):
        try:
            held = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        held.delay = seconds
        return


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("change handler failed", exc_info=task.exception())


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return info.st_dev, info.st_ino
