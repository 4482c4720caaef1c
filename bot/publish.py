"""Writes the feeds folder: only the files whose bytes changed, and removes the feeds that no
longer exist (an actor or a tag with no entries left), so a static host serves exactly the
current set.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePath

# The only suffixes we ever remove: nothing else someone keeps in the folder is touched.
_OURS = (".atom", ".rss", ".json")


def write_folder(folder: Path, documents: Mapping[str, bytes]) -> list[str]:
    """Write `documents` (relative POSIX path → bytes) under `folder`; returns the paths that
    changed, removed ones included, sorted."""
    changed = [rel for rel, data in sorted(documents.items()) if _write(folder / rel, data)]
    removed = _remove_stale(folder, set(documents))
    return sorted([*changed, *removed])


def _write(path: Path, data: bytes) -> bool:
    """Replace `path` atomically if its bytes differ; False when they are the same.

    Unlike `files.atomic_write` this does not fsync: a site has thousands of feed files and an
    fsync each made a full write take 20 s for 200 articles. Readers still never see half a
    file (rename is atomic); after a power loss the daemon's first publish compares every file
    with what it should hold and rewrites the ones that are not right.
    The Last-Modified (whole seconds) moves forward with every change, so a rewrite within the
    same second does not look unmodified to If-Modified-Since.
    """
    try:
        stat = path.stat()
        if stat.st_size == len(data) and path.read_bytes() == data:
            return False
        before: int | None = int(stat.st_mtime)
    except OSError:
        before = None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if before is not None and int(path.stat().st_mtime) <= before:
        os.utime(path, (before + 1, before + 1))
    return True


def _remove_stale(folder: Path, keep: set[str]) -> list[str]:
    if not folder.is_dir():
        return []
    removed: list[str] = []
    for path in sorted(folder.rglob("*")):  # symlinks are someone's own: never followed
        if _crash_leftover(path):  # one writer at a time, so no temp file here is live
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        if path.suffix not in _OURS or not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(folder).as_posix()
        if rel in keep or any(part.startswith(".") for part in rel.split("/")):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(rel)
    for directory in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):  # not empty: kept
            os.rmdir(directory)
    return removed


def _crash_leftover(path: Path) -> bool:
    """atomic_write's temp file (".name.XXXX.tmp") for one of our feeds, left by a kill."""
    name = path.name
    if not (name.startswith(".") and name.endswith(".tmp")) or path.is_symlink():
        return False
    target = name[1:].rsplit(".", 2)[0]
    return PurePath(target).suffix in (*_OURS, ".xml", ".xsl", ".opml") and path.is_file()
