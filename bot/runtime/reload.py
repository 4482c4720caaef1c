"""Reload without a restart, on SIGHUP or when the files change: the rule pack, the alias and
rate tables, and the config file's routes (with their templates).

A reload reads and validates everything (config, pack, routes) before anything is swapped; an
invalid edit is refused with one log line naming the file and the problem, and what was in
force keeps running. Other config keys need a restart; a reload says which ones changed.
The files are polled (a stat each, once a second) rather than watched: that survives editors
that replace a file by renaming, and network filesystems.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path

from bot.core.config import Config, ConfigError
from bot.extract import RulePack

Loaded = tuple[Config, RulePack]
RELOADABLE = ("extract", "telegram.routes")  # the rest is wired once, at start
# The model client (its workers, its cache) is built once too.
NOT_RELOADABLE = ("extract.backend", "extract.llm")

log = logging.getLogger("eventfeed.reload")

Snapshot = dict[Path, tuple[int, int] | None]  # path → (mtime_ns, size), None: missing


def pack_files(config: Config) -> list[Path]:
    """The editable files the pack is built from (the packaged copies never change)."""
    extract = config.extract
    return [p for p in (extract.rules, extract.aliases, extract.rates) if p is not None]


def needs_restart(old: Config, new: Config) -> list[str]:
    """The keys that differ and that a reload does not apply."""
    changed = []
    for section in dataclasses.fields(old):
        before, after = getattr(old, section.name), getattr(new, section.name)
        for key in dataclasses.fields(before):
            name = f"{section.name}.{key.name}"
            same = getattr(before, key.name) == getattr(after, key.name)
            if same or (name.startswith(RELOADABLE) and not name.startswith(NOT_RELOADABLE)):
                continue
            changed.append(name)
    return changed


def snapshot(paths: Iterable[Path]) -> Snapshot:
    found: Snapshot = {}
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            found[path] = None
        else:
            found[path] = (info.st_mtime_ns, info.st_size)
    return found


class Reloader:
    """Reads config and pack with `load` and hands them to `apply` only if they are valid."""

    def __init__(
        self,
        load: Callable[[], Loaded],
        apply: Callable[[Loaded], Awaitable[None]],
        files: list[Path],
        poll_seconds: float = 1.0,
    ) -> None:
        self._load = load
        self._apply = apply
        self.files = files
        self.poll_seconds = poll_seconds
        self._lock = asyncio.Lock()
        self.reloads = 0
        self.refused = 0
        self._seen = snapshot(files)  # now: an edit made while the daemon starts still counts

    async def reload(self, reason: str) -> bool:
        """True when the new pack is in force; False when it was refused."""
        async with self._lock:
            self._seen = snapshot(self.files)  # this version is dealt with, by either path
            try:
                config, pack = await asyncio.to_thread(self._load)
            except Exception as exc:  # ConfigError, or a validator's bug: refuse, keep watching
                self.refused += 1
                error = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
                log.error(
                    "reload refused reason=%s error=%s; the running rules and routes stay in force",
                    reason,
                    " ".join(error.split()),  # one line, though YAML errors span several
                )
                return False
            try:
                await self._apply((config, pack))
            except Exception:  # e.g. the database, while applying routes: the next edit retries
                self.refused += 1
                log.exception("reload failed while applying reason=%s", reason)
                return False
            self.reloads += 1
            log.info(
                "reloaded reason=%s event_types=%d files=%s",
                reason,
                len(pack.event_types),
                ",".join(str(p) for p in self.files) or "packaged",
            )
            return True

    async def watch(self) -> None:
        """Reload once a changed file has stayed the same for one poll (its writer is done)."""
        changed: Snapshot | None = None
        while True:
            await asyncio.sleep(self.poll_seconds)
            now = snapshot(self.files)
            if now == self._seen:
                changed = None
                continue
            if now != changed:  # still being written: look again next time
                changed = now
                continue
            self._seen, changed = now, None
            await self.reload("file-changed")


class LiveEventTypes:
    """The current pack's event types, for parts built once (the command handlers)."""

    def __init__(self, current: Callable[[], RulePack]) -> None:
        self._current = current

    def __contains__(self, item: object) -> bool:
        return item in self._current().event_types

    def __iter__(self) -> Iterator[str]:
        return iter(self._current().event_types)

    def __len__(self) -> int:
        return len(self._current().event_types)
