"""The filesystem: listing the watched folder, reading one article, writing files atomically.

One bad entry (vanished, unreadable, a symlink loop) never stops a scan: it is left out.

One module (~430 lines): the daemon's filesystem side effects (listing, reading, atomic writes)
in one place, as an I/O module of its own.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import heapq
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, NamedTuple

from bot.core.errors import EventfeedError


class FileInfo(NamedTuple):
    """One candidate article file: enough to tell whether it changed since the last scan.
    (A named tuple: a rescan makes one per file, and it is four times cheaper to make.)"""

    path: str  # relative to the watched folder, POSIX separators
    size: int
    mtime_ns: int
    inode: int = 0


class FileTooLarge(EventfeedError, OSError):
    """The file is larger than the configured limit; it is skipped, not read."""


class OutsideRoot(EventfeedError, OSError):
    """The path resolves outside the watched folder (a symlink or '..')."""


class FolderMissing(EventfeedError, OSError):
    """The watched folder itself is gone (unmounted, moved, a typo in the configuration): a
    scan then stops rather than take every article for deleted."""


class FolderEmpty(FolderMissing):
    """The watched folder lists no file while the store knows several articles (an unmounted
    disk leaves its mount point): nothing is taken for deleted unless configured to."""


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
    path = os.fspath(root)
    try:
        for part in parts:
            path = f"{path}/{part}"
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
    # (device, inode) of the folders listed, and of the files another path may lead to
    # again: those with several names, and those met through a link. A file with one name
    # in a folder walked for real cannot come twice, and not keeping 100,000 of them saves
    # ~15 MB and a tenth of the walk.
    seen: set[tuple[int, int]] = set()
    in_place: set[str] = set()  # the folders walked for real (relative prefixes)
    folders: list[tuple[str, str]] = [(str(root), "")]  # (path, relative prefix)
    # Whatever is reached through a link waits until every real folder is walked, so that
    # real paths claim their files first; among links the first path in order wins.
    links: list[tuple[str, str]] = []  # a heap of (relative path, path)
    ignored = is_ignored
    while folders or links:
        linked = not folders
        if folders:
            folder, prefix = folders.pop()
        else:
            rel, path = heapq.heappop(links)
            try:
                info = os.stat(path)
            except OSError:  # dangling or looping link, or gone
                continue
            if stat.S_ISREG(info.st_mode):
                key = (info.st_dev, info.st_ino)
                if key not in seen and not _listed_in_place(path, real_root, in_place):
                    seen.add(key)
                    yield FileInfo(rel, info.st_size, info.st_mtime_ns, info.st_ino)
                continue
            if not stat.S_ISDIR(info.st_mode):
                continue
            folder, prefix = path, rel + "/"
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in seen:  # a link led back to a folder listed
                continue
            seen.add((info.st_dev, info.st_ino))
            # Lazily: a list of a 50,000-file folder's entries, each keeping its stat, would
            # hold ~35 MB at once.
            with os.scandir(folder) as entries:
                if not linked:
                    in_place.add(prefix)
                for entry in entries:
                    name = entry.name
                    if ignored(name):
                        continue
                    rel = prefix + name
                    try:
                        if entry.is_file(follow_symlinks=False):  # the common case: no syscall
                            info = entry.stat(follow_symlinks=False)
                            if linked or info.st_nlink > 1:
                                key = (info.st_dev, info.st_ino)
                                if key in seen:
                                    continue
                                seen.add(key)
                            yield FileInfo(rel, info.st_size, info.st_mtime_ns, info.st_ino)
                        elif entry.is_symlink():
                            if _inside(entry.path, real_root):
                                heapq.heappush(links, (rel, entry.path))
                        elif entry.is_dir(follow_symlinks=False):
                            folders.append((entry.path, rel + "/"))
                    except OSError:  # vanished or unreadable
                        continue
        except OSError:  # vanished or unreadable: its files are not listed
            in_place.discard(prefix)


def _listed_in_place(path: str, real_root: Path, in_place: set[str]) -> bool:
    """Whether the file a link leads to was listed under its own path: it lies in a folder
    walked for real, under a name that is not ignored."""
    real = os.path.realpath(path)
    folder, name = os.path.split(real)
    try:
        prefix = Path(folder).relative_to(real_root).as_posix()
    except ValueError:
        return False
    return not is_ignored(name) and ("" if prefix == "." else prefix + "/") in in_place


def _inside(path: str | Path, real_root: Path) -> bool:
    try:
        return Path(path).resolve(strict=True).is_relative_to(real_root)
    except (OSError, RuntimeError):  # dangling link or a loop
        return False


# -- folder stamps: the cheap safety-net rescan -----------------------------------------

Stamp = tuple[int, int, int]  # a folder's (inode, mtime_ns, ctime_ns); mtime -1: look again
# A folder whose stamp is this recent may change again within the same tick of the
# filesystem's clock without its stamp changing: it is listed again next time.
_RECENT_NS = 3_000_000_000


class FolderLook(NamedTuple):
    """What `look_again` found."""

    stamps: dict[str, Stamp]  # every folder now ("" is the root), to compare with next time
    changed: set[str]  # folders listed in full: changed or new stamp, or gone
    files: list[FileInfo]  # the files in the changed and new folders
    names: list[str]  # the files in the folders listed again by turn (not statted)


class _LinkFound(Exception):
    """A symbolic or hard link: only a full listing knows which path lists the file."""


def folder_stamps(root: Path, now_ns: int) -> dict[str, Stamp] | None:
    """The stamp of every folder under `root`, taken before a full listing so that whatever
    changes during it shows next time; None when the tree holds a link (see `look_again`)."""
    look = _Look(root, now_ns)
    try:
        if look.stamp(""):
            look.todo.append(("", None))
        look.run()
    except _LinkFound:
        return None
    return look.stamps


def look_again(
    root: Path, stamps: dict[str, Stamp], relist: Callable[[str], bool], now_ns: int
) -> FolderLook | None:
    """The files that can have changed since `stamps` were taken, at the cost of a stat per
    folder. Creating, deleting or renaming an entry changes its folder's mtime and ctime, so
    a folder whose stamp changed is listed with a stat per file; a new folder too. An edit
    in place changes no folder: the caller stats the known files by turn. The folders for
    which `relist` says so are listed again by name (a filesystem that keeps a folder's
    mtime would hide new files otherwise). A folder changed less than a few seconds before
    `now_ns` is listed again next time. None when only a full listing can tell: a symbolic
    link (what it leads to changes, no folder of ours does) or a hard link."""
    look = _Look(root, now_ns)
    try:
        for folder, before in stamps.items():
            if not look.stamp(folder):
                look.changed.add(folder)  # gone, or no longer a folder
            elif look.stamps[folder] != before or before[1] < 0:
                look.changed.add(folder)
            elif relist(folder):
                look.todo.append((folder, False))
        look.todo.extend((folder, True) for folder in look.changed if folder in look.stamps)
        look.run()
    except _LinkFound:
        return None
    return FolderLook(look.stamps, look.changed, look.files, look.names)


class _Look:
    """One pass over folders: stamps them, lists those in `todo` (with a stat per file, or
    by name), and stamps and lists in full every folder that appeared."""

    def __init__(self, root: Path, now_ns: int) -> None:
        self.root = os.fspath(root)
        self.now = now_ns
        self.stamps: dict[str, Stamp] = {}
        self.changed: set[str] = set()
        self.files: list[FileInfo] = []
        self.names: list[str] = []
        self.todo: list[tuple[str, bool | None]] = []  # (folder, stat its files?) None: no files

    def path(self, folder: str) -> str:
        return f"{self.root}/{folder}" if folder else self.root

    def stamp(self, folder: str) -> bool:
        """Stamp a folder before it is listed; False if it is not one (any more)."""
        try:  # the root may be a link to the real folder; below it, links are not followed
            info = os.stat(self.path(folder), follow_symlinks=not folder)
        except OSError:
            return False
        if not stat.S_ISDIR(info.st_mode):
            return False
        mtime = info.st_mtime_ns
        if max(mtime, info.st_ctime_ns) > self.now - _RECENT_NS:
            mtime = -1
        self.stamps[folder] = (info.st_ino, mtime, info.st_ctime_ns)
        return True

    def run(self) -> None:
        while self.todo:
            folder, full = self.todo.pop()
            self.list(folder, full)

    def list(self, folder: str, full: bool | None) -> None:
        """List a folder: its new subfolders, and its files with a stat each (`full`), by
        name (False) or not at all (None)."""
        prefix = folder + "/" if folder else ""
        try:
            with os.scandir(self.path(folder)) as entries:
                for entry in entries:
                    if not is_ignored(entry.name):
                        self.add(prefix + entry.name, entry, full)
        except OSError:  # vanished or unreadable: none of its files, as a full listing; and
            if folder in self.stamps:  # look again next time
                inode, _mtime, ctime = self.stamps[folder]
                self.stamps[folder] = (inode, -1, ctime)

    def add(self, rel: str, entry: os.DirEntry[str], full: bool | None) -> None:
        try:
            if entry.is_symlink():
                raise _LinkFound(rel)
            if entry.is_dir(follow_symlinks=False):
                if rel not in self.stamps and self.stamp(rel):  # appeared
                    self.changed.add(rel)
                    self.todo.append((rel, None if full is None else True))
            elif full is None or not entry.is_file(follow_symlinks=False):
                return
            elif not full:
                self.names.append(rel)
            else:
                info = entry.stat(follow_symlinks=False)
                if info.st_nlink > 1:
                    raise _LinkFound(rel)
                self.files.append(FileInfo(rel, info.st_size, info.st_mtime_ns, info.st_ino))
        except OSError:  # vanished meanwhile
            return


def read_file(root: Path, rel: str, max_bytes: int) -> bytes:
    """The bytes of one article. Raises FileTooLarge, OutsideRoot or another OSError.

    A path with no link on the way is opened one folder at a time beneath the root without
    following any (`_open_plain`). Otherwise the path is resolved and checked, then opened
    the same way: a folder swapped for a link between the check and the open (to publish
    /etc/passwd) fails the open, and the path is resolved and checked again."""
    fd = _open_plain(root, rel)
    if fd is None:
        fd = _open_resolved(root, rel)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(f"{rel}: a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{rel}: not a regular file")
        if info.st_size > max_bytes:
            raise FileTooLarge(f"{rel}: {info.st_size} bytes, more than the limit of {max_bytes}")
        # As much as fstat saw (a buffer of max_bytes cost more than the read), and the
        # rest, up to the limit, of a file still growing.
        data = handle.read(info.st_size + 1)
        if len(data) > info.st_size:
            data += handle.read(max_bytes + 1 - len(data))
    if len(data) > max_bytes:  # grew while we read
        raise FileTooLarge(f"{rel}: more than the limit of {max_bytes} bytes")
    return data


def _open_plain(root: Path, rel: str) -> int | None:
    """Open root/rel when no part of `rel` is a link, '.' or '..': most files, and without
    resolving the path (two thirds of a read's cost). None when the path must be resolved:
    a link met on the way (never followed: ELOOP or ENOTDIR) is what the check is for."""
    parts = rel.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    try:
        return _open_beneath(root, tuple(parts))
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            return None
        raise


def _open_resolved(root: Path, rel: str) -> int:
    """Open the file root/rel resolves to, once checked to be beneath the root."""
    attempt = 1
    while True:
        real_root = root.resolve()
        target = (root / rel).resolve()
        if not target.is_relative_to(real_root):
            raise OutsideRoot(f"{rel}: resolves outside the watched folder")
        parts = target.relative_to(real_root).parts
        if not parts:
            raise IsADirectoryError(f"{rel}: a folder, not a file")
        try:
            return _open_beneath(real_root, parts)
        except OSError as exc:  # a link where the resolved path had none: it changed
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR) or attempt == _ATTEMPTS:
                raise
        attempt += 1


_ATTEMPTS = 3  # resolutions of a path whose folders keep changing, before giving up
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# O_PATH: a folder only traversed needs no read permission, as with a plain open().
_FOLDER = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
# Non-blocking, so that a named pipe put in place of the file cannot hang the scan.
_FILE = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _CLOEXEC


def _open_beneath(real_root: Path, parts: tuple[str, ...]) -> int:
    """Open real_root/parts, a path with no links, following none (ELOOP or ENOTDIR if one
    appeared meanwhile)."""
    folder = os.open(real_root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    try:
        for part in parts[:-1]:
            inner = os.open(part, _FOLDER, dir_fd=folder)
            os.close(folder)
            folder = inner
        return os.open(parts[-1], _FILE, dir_fd=folder)
    finally:
        os.close(folder)


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> bool:
    """Replace `path` with `data` all at once (readers never see half a file). Returns False,
    touching nothing, when the file already holds exactly these bytes.

    `durable=False` skips the fsyncs: a site has thousands of feed files and an fsync each made
    a full write take 20 s for 200 articles; after a power loss the daemon's first publish
    compares every file with what it should hold and rewrites the ones that are not right.
    The Last-Modified (whole seconds) moves forward with every change, so a rewrite within the
    same second does not look unmodified to If-Modified-Since.
    """
    try:
        info = path.stat()
        if info.st_size == len(data) and path.read_bytes() == data:
            return False
        before: int | None = int(info.st_mtime)
    except OSError:
        before = None  # missing or unreadable: write it
    prefix = f".{path.name}."
    try:  # the folder is there but for the first file written in it
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    except (FileNotFoundError, NotADirectoryError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_folder(path.parent)
    if before is not None and int(path.stat().st_mtime) <= before:
        os.utime(path, (before + 1, before + 1))
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
