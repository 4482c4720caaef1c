"""`eventfeed export` / `eventfeed import`: chats, subscriptions and settings as a versioned JSON file.

The file is what moves a bot to another machine or from SQLite to PostgreSQL without its
subscribers noticing: chat ids, topics, filters and settings are kept as they were. Articles
and events are not in it; the new machine rebuilds them from the folder (and feed ids are
derived from the articles, so they come out the same).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot import __version__
from bot.runtime.progress import ProgressHook
from bot.store import BackupError, Store

FORMAT = "eventfeed-backup"
VERSION = 1  # bump when a change would make an older eventfeed misread the file


def export_document(store: Store, now: datetime) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported": now.isoformat(),
        "eventfeed": __version__,
        "chats": store.export_chats(),
        "tables": store.export_globals(),
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def parse_backup(text: str, source: str = "<backup>") -> dict[str, Any]:
    """The backup document, after checking it is one this version can read."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BackupError(f"{source}: not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BackupError(f'{source}: not an eventfeed backup (no "format": "{FORMAT}")')
    version = document.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise BackupError(
            f"{source}: backup version {version!r} is not one this eventfeed reads "
            f"(1 to {VERSION}); upgrade eventfeed on this machine"
        )
    if not isinstance(document.get("chats"), list):
        raise BackupError(f"{source}: 'chats' must be a list")
    if not isinstance(document.get("tables", {}), dict):
        raise BackupError(f"{source}: 'tables' must be an object")
    return document


def import_document(
    store: Store, document: dict[str, Any], progress: ProgressHook | None = None
) -> int:
    """Chats, subscriptions, settings and switches into `store`; returns the chats imported."""
    return store.import_chats(document["chats"], document.get("tables", {}), progress)
