"""The filesystem shell, on real temporary folders."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.runtime.files import (
    FileInfo,
    FileTooLarge,
    OutsideRoot,
    atomic_write,
    content_hash,
    file_info,
    folder_stamps,
    look_again,
    read_file,
    scan_folder,
)


def later() -> int:
    """A clock past the moment a folder's stamp can still move (read when used: the suite
    may run this test minutes after importing it)."""
    return time.time_ns() + 60 * 10**9


def write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def paths(root: Path) -> list[str]:
    return [f.path for f in scan_folder(root)]


def test_scan_lists_articles_recursively_with_size_and_mtime(tmp_path: Path) -> None:
    a = write(tmp_path / "a.md", b"hello")
    write(tmp_path / "sub" / "deeper" / "b.txt", b"hi")
    write(tmp_path / "中文" / "文章.html")
    found = scan_folder(tmp_path)
    assert [f.path for f in found] == ["a.md", "sub/deeper/b.txt", "中文/文章.html"]
    first = found[0]
    assert isinstance(first, FileInfo)
    assert first.size == 5
    assert first.mtime_ns == a.stat().st_mtime_ns
    assert first.inode == a.stat().st_ino


@pytest.mark.parametrize(
    "name",
    [
        ".hidden.md",
        ".git/config",
        ".obsidian/x/y.md",
        "post.md~",
        ".post.md.swp",
        "post.md.swx",
        "#post.md#",
        "upload.tmp",
        "download.md.part",
        "4913",
        "sub/.draft.md",
    ],
)
def test_scan_ignores_hidden_and_temporary_files(tmp_path: Path, name: str) -> None:
    write(tmp_path / "real.md")
    write(tmp_path / name)
    assert paths(tmp_path) == ["real.md"]


def test_scan_survives_symlink_loops(tmp_path: Path) -> None:
    write(tmp_path / "a" / "post.md")
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")  # a/loop -> a
    os.symlink("self", tmp_path / "self")  # a link to itself
    os.symlink(tmp_path / "missing", tmp_path / "dangling.md")
    assert paths(tmp_path) == ["a/post.md"]


def test_scan_follows_symlinks_only_inside_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = write(tmp_path / "outside" / "secret.md").parent
    write(root / "inside" / "post.md")
    os.symlink(outside, root / "escape")
    os.symlink(outside / "secret.md", root / "secret-link.md")
    os.symlink(root / "inside" / "post.md", root / "alias.md")
    os.symlink(root / "inside", root / "again")
    os.symlink(root / "inside", root / "zz-again")
    # Each file once, under its real path: the links inside the root add nothing.
    assert paths(root) == ["inside/post.md"]


def test_scan_lists_a_file_reached_only_through_a_link(tmp_path: Path) -> None:
    write(tmp_path / ".store" / "post.md")  # hidden: never walked itself
    os.symlink(tmp_path / ".store", tmp_path / "posts")
    os.symlink(tmp_path / ".store" / "post.md", tmp_path / "b.md")
    assert paths(tmp_path) == ["b.md"]


LIST = (
    "import sys; from pathlib import Path; from bot.runtime.files import scan_folder; "
    "print(*sorted(info.path for info in scan_folder(Path(sys.argv[1]))))"
)


def paths_without_overrides(root: Path) -> list[str]:
    """`paths`, listed by root without the capabilities that let it read any folder."""
    no_override = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    done = subprocess.run(
        [*no_override, sys.executable, "-c", LIST, str(root)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent.parent,
    )
    return done.stdout.split()


def test_scan_skips_unreadable_folders(tmp_path: Path) -> None:
    write(tmp_path / "ok.md")
    locked = write(tmp_path / "locked" / "x.md").parent
    locked.chmod(0)
    try:
        listed = paths_without_overrides(tmp_path) if os.geteuid() == 0 else paths(tmp_path)
        assert listed == ["ok.md"]
    finally:
        locked.chmod(0o755)


def test_scan_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert scan_folder(tmp_path / "nope") == []


def test_scan_lists_thousands_of_files(tmp_path: Path) -> None:
    """How fast is bench/large_state.py's to say; this checks that none is lost."""
    for d in range(20):
        folder = tmp_path / f"d{d}"
        folder.mkdir()
        for i in range(250):
            (folder / f"{i}.md").write_bytes(b"x")
    found = scan_folder(tmp_path)
    assert sorted(info.path for info in found) == sorted(
        f"d{d}/{i}.md" for d in range(20) for i in range(250)
    )


def test_file_info_agrees_with_the_listing_or_defers_to_it(tmp_path: Path) -> None:
    """A watcher batch stats its own paths; what only a whole listing can tell, it leaves."""
    write(tmp_path / "a" / "post.md")
    write(tmp_path / ".hidden" / "post.md")
    write(tmp_path / "a" / "post.md~")
    (tmp_path / "linked").symlink_to(tmp_path / "a")
    os.link(tmp_path / "a" / "post.md", tmp_path / "twin.md")
    write(tmp_path / "single.md")
    listed = {info.path: info for info in scan_folder(tmp_path)}
    assert file_info(tmp_path, "single.md") == listed["single.md"]
    for ignored in (".hidden/post.md", "a/post.md~", "gone.md", "a", "../x.md", ""):
        assert file_info(tmp_path, ignored) is None, ignored
    assert file_info(tmp_path, "linked/post.md") is False  # a symlink on the way
    assert file_info(tmp_path, "twin.md") is False  # listed once, under one of its names


def test_read_file(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "a.md", b"12345")
    assert read_file(tmp_path, "sub/a.md", 5) == b"12345"
    with pytest.raises(FileTooLarge, match=r"sub/a.md: 5 bytes, more than the limit of 4"):
        read_file(tmp_path, "sub/a.md", 4)
    with pytest.raises(FileNotFoundError):
        read_file(tmp_path, "sub/missing.md", 10)
    with pytest.raises(IsADirectoryError):
        read_file(tmp_path, "sub", 10)
    os.mkfifo(tmp_path / "pipe.md")  # would block a plain open() forever
    with pytest.raises(OSError, match="not a regular file"):
        read_file(tmp_path, "pipe.md", 10)
    assert paths(tmp_path) == ["sub/a.md"]


def test_read_file_reads_a_file_that_grows_after_its_size_was_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read asks for the size fstat gave: a file still being written has more by then,
    read up to the limit, and one grown past the limit is too large."""
    write(tmp_path / "a.md", b"0123456789")
    fstat = os.fstat

    def earlier_size(fd: int) -> os.stat_result:  # as when only four bytes were written
        found = list(fstat(fd))
        found[stat.ST_SIZE] = 4
        return os.stat_result(found)

    monkeypatch.setattr(os, "fstat", earlier_size)
    assert read_file(tmp_path, "a.md", 20) == b"0123456789"
    with pytest.raises(FileTooLarge, match="more than the limit of 8 bytes"):
        read_file(tmp_path, "a.md", 8)


def test_read_file_refuses_paths_outside_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(tmp_path / "secret.md", b"secret")
    write(root / "a.md")
    os.symlink(tmp_path / "secret.md", root / "link.md")
    for rel in ("../secret.md", "link.md", str(tmp_path / "secret.md")):
        with pytest.raises(OutsideRoot, match="outside the watched folder"):
            read_file(root, rel, 100)


def swap_after_resolving(
    monkeypatch: pytest.MonkeyPatch, name: str, swap: Callable[[], None]
) -> list[Path]:
    """Run `swap` once, right after the first resolution of a path ending in `name`: the
    moment between read_file's check and its open, where the race was."""
    resolve = Path.resolve
    done: list[Path] = []

    def resolve_then_swap(self: Path, strict: bool = False) -> Path:
        found = resolve(self, strict)
        if found.name == name and not done:
            done.append(found)
            swap()
        return found

    monkeypatch.setattr(Path, "resolve", resolve_then_swap)
    return done


def test_read_file_never_follows_a_folder_swapped_for_a_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check passed for root/sub/passwd (reached through the link root/via); then sub
    became a link to a folder outside: the old open() followed it and the secret was
    published."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    write(root / "sub" / "passwd", b"inside")
    (root / "via").symlink_to(root / "sub")  # a link on the way: the path is resolved
    write(outside / "passwd", b"root:x:0:0:secret")

    def swap() -> None:
        (root / "sub").rename(tmp_path / "old-sub")
        (root / "sub").symlink_to(outside)

    done = swap_after_resolving(monkeypatch, "passwd", swap)
    with pytest.raises(OutsideRoot, match="outside the watched folder"):
        read_file(root, "via/passwd", 100)
    assert done  # the swap happened between the check and the open


def test_read_file_follows_a_folder_swapped_for_a_link_inside_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deploy that swaps a folder for a link to a new release inside the root: read from
    where the link leads now, checked again."""
    root = tmp_path / "root"
    write(root / "releases" / "1" / "a.md", b"release 1")
    write(root / "releases" / "2" / "a.md", b"release 2")
    (root / "current").symlink_to(root / "releases" / "1")

    def swap() -> None:
        shutil.rmtree(root / "releases" / "1")
        (root / "releases" / "1").symlink_to(root / "releases" / "2")

    done = swap_after_resolving(monkeypatch, "a.md", swap)
    assert read_file(root, "current/a.md", 100) == b"release 2"
    assert done


def test_read_file_refuses_a_file_swapped_for_a_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    write(root / "real" / "a.md", b"inside")
    (root / "via").symlink_to(root / "real")
    write(tmp_path / "secret.md", b"secret")

    def swap() -> None:
        (root / "real" / "a.md").unlink()
        (root / "real" / "a.md").symlink_to(tmp_path / "secret.md")

    done = swap_after_resolving(monkeypatch, "a.md", swap)
    with pytest.raises(OutsideRoot):
        read_file(root, "via/a.md", 100)
    assert done


def test_read_file_opens_a_path_without_links_unresolved_and_follows_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path with no link is opened without being resolved; a folder on it swapped for a
    link to outside while it is opened is not followed: the path is then resolved and
    refused."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    write(root / "sub" / "deeper" / "passwd", b"inside")
    write(outside / "deeper" / "passwd", b"root:x:0:0:secret")
    resolved: list[Path] = []
    resolve = Path.resolve

    def counted(self: Path, strict: bool = False) -> Path:
        resolved.append(self)
        return resolve(self, strict)

    monkeypatch.setattr(Path, "resolve", counted)
    assert read_file(root, "sub/deeper/passwd", 100) == b"inside"
    assert resolved == []
    opened: list[str] = []
    real_open = os.open

    def swap_then_open(path: str | Path, flags: int, *args: object, **kwargs: object) -> int:
        opened.append(str(path))
        if path == "deeper" and not (root / "sub" / "deeper").is_symlink():  # sub is open
            (root / "sub" / "deeper").rename(tmp_path / "old-deeper")
            (root / "sub" / "deeper").symlink_to(outside / "deeper")
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", swap_then_open)
    with pytest.raises(OutsideRoot, match="outside the watched folder"):
        read_file(root, "sub/deeper/passwd", 100)
    assert "deeper" in opened and resolved  # swapped during the plain open, then resolved


def test_atomic_write_creates_replaces_and_skips_identical(tmp_path: Path) -> None:
    target = tmp_path / "feeds" / "nested" / "rss.xml"
    assert atomic_write(target, b"one") is True
    assert target.read_bytes() == b"one"
    before = target.stat()
    assert atomic_write(target, b"one") is False
    after = target.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert atomic_write(target, b"two") is True
    assert target.read_bytes() == b"two"
    assert target.stat().st_ino != before.st_ino  # replaced, not rewritten in place
    assert sorted(p.name for p in target.parent.iterdir()) == ["rss.xml"]  # no temp file left
    assert target.stat().st_mode & 0o777 == 0o644  # readable by the web server, whatever umask
    with pytest.raises(FileExistsError):  # a file where its folder should be
        atomic_write(target / "inside.xml", b"one")


@pytest.mark.parametrize("durable", [True, False])
def test_a_change_within_the_same_second_still_moves_last_modified(
    tmp_path: Path, durable: bool
) -> None:
    target = tmp_path / "feeds" / "a.atom"
    atomic_write(target, b"1", durable=durable)
    first = int(target.stat().st_mtime)
    atomic_write(target, b"2", durable=durable)
    assert int(target.stat().st_mtime) > first


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()  # a folder in the way: os.replace fails
    with pytest.raises(OSError):
        atomic_write(target, b"data")
    assert list(tmp_path.iterdir()) == [target]
    assert list(target.iterdir()) == []


def test_content_hash() -> None:
    assert content_hash(b"abc") == hashlib.sha256(b"abc").hexdigest()
    assert content_hash(b"abc") != content_hash(b"abd")


def _nothing(folder: str) -> bool:
    return False


def test_look_again_lists_just_the_folders_whose_entries_changed(tmp_path: Path) -> None:
    write(tmp_path / "a" / "x.md")
    write(tmp_path / "a" / "b" / "y.md")
    write(tmp_path / "c" / "z.md")
    write(tmp_path / ".git" / "config")
    stamps = folder_stamps(tmp_path, later())
    assert stamps is not None and set(stamps) == {"", "a", "a/b", "c"}
    look = look_again(tmp_path, stamps, _nothing, later())
    assert look is not None and (look.changed, look.files, look.names) == (set(), [], [])

    write(tmp_path / "a" / "b" / "new.md")  # created: its folder changes
    (tmp_path / "c" / "z.md").unlink()  # deleted: its folder changes
    (tmp_path / "a" / "x.md").write_bytes(b"edited in place")  # its folder does not change
    write(tmp_path / "d" / "e" / "f.md")  # a new folder: listed in full
    look = look_again(tmp_path, stamps, _nothing, later())
    assert look is not None
    assert look.changed == {"", "a/b", "c", "d", "d/e"}
    listed = {info.path: info for info in scan_folder(tmp_path)}
    assert sorted(look.files) == [listed[p] for p in ("a/b/new.md", "a/b/y.md", "d/e/f.md")]
    assert set(look.stamps) == {"", "a", "a/b", "c", "d", "d/e"}

    shutil.rmtree(tmp_path / "a" / "b")  # gone with its files
    again = look_again(tmp_path, look.stamps, _nothing, later())
    assert again is not None and again.changed == {"a", "a/b"}
    assert [info.path for info in again.files] == ["a/x.md"]
    assert set(again.stamps) == {"", "a", "c", "d", "d/e"}


def test_look_again_lists_the_folders_asked_for_by_name(tmp_path: Path) -> None:
    write(tmp_path / "a" / "x.md")
    write(tmp_path / "b" / "y.md")
    stamps = folder_stamps(tmp_path, later())
    assert stamps is not None
    look = look_again(tmp_path, stamps, lambda folder: folder == "b", later())
    assert look is not None and (look.changed, look.files, look.names) == (set(), [], ["b/y.md"])


def test_a_folder_that_changed_just_now_is_listed_again(tmp_path: Path) -> None:
    """Its stamp may not move for a change within the same tick of the filesystem's clock."""
    write(tmp_path / "a" / "x.md")
    stamps = folder_stamps(tmp_path, time.time_ns())
    assert stamps is not None
    look = look_again(tmp_path, stamps, _nothing, later())
    assert look is not None and look.changed == {"", "a"}
    assert [info.path for info in look.files] == ["a/x.md"]


def test_look_again_leaves_links_to_a_full_listing(tmp_path: Path) -> None:
    write(tmp_path / "a" / "x.md")
    write(tmp_path / "b" / "y.md")
    stamps = folder_stamps(tmp_path, later())
    assert stamps is not None
    os.link(tmp_path / "a" / "x.md", tmp_path / "a" / "twin.md")
    assert look_again(tmp_path, stamps, _nothing, later()) is None
    os.symlink(tmp_path / "a", tmp_path / "b" / "link")
    assert look_again(tmp_path, stamps, _nothing, later()) is None
    assert folder_stamps(tmp_path, later()) is None
