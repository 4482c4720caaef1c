"""The filesystem: listing the watched folder, reading one article, writing files atomically.

One bad entry (vanished, unreadable, a symlink loop) never stops a scan: it is left out.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, NamedTuple


class FileInfo(NamedTuple):
    """One candidate article file: enough to tell whether it changed since the last scan.
    (A named tuple: a rescan makes one per file, and it is four times cheaper to make.)"""

    path: str  # relative to the watched folder, POSIX separators
    size: int
    mtime_ns: int
    inode: int = 0


class FileTooLarge(OSError):
    """The file is larger than the configured limit; it is skipped, not read."""


class OutsideRoot(OSError):
    """The path resolves outside the watched folder (a symlink or '..')."""


# Editor and downloader leftovers: never articles, often half-written.
_TEMP_SUFFIXES = ("~", ".swp", ".swx", ".swo", ".tmp", ".temp", ".part", ".crdownload", ".bak")


def is_ignored(name: str) -> bool:
    """Hidden files and folders, and editor temp files, are not articles."""
    return (
        name.startswith(".")
        or name.endswith(_TEMP_SUFFIXES)
        or (name.startswith("#") and name.endswith("#"))
        or name == "4913"  # vim's probe that a folder is writable
    )


def scan_folder(root: Path) -> list[FileInfo]:
    """Every article file under `root`, sorted by path. Symlinks are followed only while
    they stay inside `root`; each real folder and file is listed once, under its own path
    rather than a link's, so loops end and no article is read twice."""
    found = list(walk_folder(root))
    found.sort(key=lambda f: f.path)
    return found


def file_info(root: Path, rel: str) -> FileInfo | Literal[False] | None:
    """What `scan_folder` would list for `rel` alone: its FileInfo, or None when it would not
    list it (gone, ignored, not a file). False when only a whole listing can tell: a symlink
    on the way, or a file with several names (listed once, under one of them)."""
    parts = rel.split("/")
    if not rel or any(not part or part in (".", "..") or is_ignored(part) for part in parts):
        return None
    path = root
    try:
        for part in parts:
            path = path / part
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                return False
    except OSError:  # gone, or a folder on the way is not one
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    if info.st_nlink > 1:
        return False
    return FileInfo(rel, info.st_size, info.st_mtime_ns, info.st_ino)


def walk_folder(root: Path) -> Iterator[FileInfo]:
    """`scan_folder`'s files in no particular order, one at a time."""
    try:
        real_root = root.resolve(strict=True)
    except OSError:
        return
    seen: set[tuple[int, int]] = set()  # (device, inode) of folders and files already listed
    folders: list[tuple[str, str]] = [(str(root), "")]  # (path, relative prefix)
    # Whatever is reached through a link waits until every real folder is walked, so that
    # real paths claim their files first; among links the first path in order wins.
    links: list[tuple[str, str]] = []  # a heap of (relative path, path)

    def add(rel: str, info: os.stat_result) -> FileInfo | None:
        if (info.st_dev, info.st_ino) in seen:
            return None
        seen.add((info.st_dev, info.st_ino))
        return FileInfo(rel, info.st_size, info.st_mtime_ns, info.st_ino)

    ignored = is_ignored
    while folders or links:
        if folders:
            folder, prefix = folders.pop()
        else:
            rel, path = heapq.heappop(links)
            try:
                info = os.stat(path)
            except OSError:  # dangling or looping link, or gone
                continue
            if stat.S_ISREG(info.st_mode) and (listed := add(rel, info)) is not None:
                yield listed
            if not stat.S_ISDIR(info.st_mode):
                continue
            folder, prefix = path, rel + "/"
        for entry in _entries(folder, seen):
            name = entry.name
            if ignored(name):
                continue
            rel = prefix + name
            try:
                if entry.is_file(follow_symlinks=False):  # the common case first: no syscall
                    info = entry.stat(follow_symlinks=False)
                    key = (info.st_dev, info.st_ino)
                    if key not in seen:
                        seen.add(key)
                        yield FileInfo(rel, info.st_size, info.st_mtime_ns, info.st_ino)
                elif entry.is_symlink():
                    if _inside(entry.path, real_root):
                        heapq.heappush(links, (rel, entry.path))
                elif entry.is_dir(follow_symlinks=False):
                    folders.append((entry.path, rel + "/"))
            except OSError:  # vanished or unreadable
                continue


def _entries(folder: str, seen: set[tuple[int, int]]) -> list[os.DirEntry[str]]:
    """The entries of a folder not listed before (a link can lead back to one)."""
    try:
        info = os.stat(folder)
        if (info.st_dev, info.st_ino) in seen:
            return []
        seen.add((info.st_dev, info.st_ino))
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError:  # vanished or unreadable: its files are simply not listed
        return []


def _inside(path: str | Path, real_root: Path) -> bool:
    try:
        return Path(path).resolve(strict=True).is_relative_to(real_root)
    except (OSError, RuntimeError):  # dangling link or a loop
        return False


def read_file(root: Path, rel: str, max_bytes: int) -> bytes:
    """The bytes of one article. Raises FileTooLarge, OutsideRoot or another OSError."""
    real_root = root.resolve()
    target = (root / rel).resolve()
    if not target.is_relative_to(real_root):
        raise OutsideRoot(f"{rel}: resolves outside the watched folder")
    # Non-blocking, so that a named pipe put in place of the file cannot hang the scan.
    fd = os.open(target, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(f"{rel}: a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{rel}: not a regular file")
        if info.st_size > max_bytes:
            raise FileTooLarge(f"{rel}: {info.st_size} bytes, more than the limit of {max_bytes}")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew while we read
        raise FileTooLarge(f"{rel}: more than the limit of {max_bytes} bytes")
    return data


def atomic_write(path: Path, data: bytes) -> bool:
    """Replace `path` with `data` all at once (readers never see half a file). Returns False,
    touching nothing, when the file already holds exactly these bytes."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except OSError:
        pass  # missing or unreadable: write it
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(path.parent)
    return True


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; not every platform can open a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def content_hash(data: bytes) -> str:
    """sha256 of the bytes, hex: tells a real change from a touch."""
    return hashlib.sha256(data).hexdigest()
