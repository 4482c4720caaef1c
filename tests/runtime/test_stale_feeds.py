"""A whole publish removes the feeds that no longer exist, and nothing that is someone else's."""

from __future__ import annotations

import os
from pathlib import Path

from bot.runtime.publish import _remove_stale


def _files(folder: Path) -> set[str]:
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() or path.is_symlink()
    }


def test_stale_feeds_go_and_nothing_else(tmp_path: Path) -> None:
    feeds, outside = tmp_path / "feeds", tmp_path / "outside"
    kept = {"articles.atom", "tag/ai.rss", "archive/tag/ai/1.json"}
    stale = {"tag/gone.atom", "archive/tag/old/1.rss", "archive/tag/old/2.json", "x/y/z.json"}
    theirs = {
        "notes.txt",
        "tag/readme.md",
        ".hidden.rss",
        ".git/objects/a.json",
        "tag/.drafts/b.atom",
        "archive/x.rss.bak",
    }
    leftovers = {"tag/.ai.rss.k3j9x2.tmp", ".articles.atom.abc.tmp", ".git/.c.json.q.tmp"}
    for rel in kept | stale | theirs | leftovers | {".notes.tmp", "tag/.x.md.q.tmp"}:
        path = feeds / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    (feeds / "empty" / "deeper").mkdir(parents=True)
    # Links are someone's own: neither they nor what they lead to are removed.
    (outside / "linked").mkdir(parents=True)
    (outside / "linked" / "inside.rss").write_bytes(b"x")
    (outside / "file.atom").write_bytes(b"x")
    os.symlink(outside / "linked", feeds / "category")
    os.symlink(outside / "file.atom", feeds / "link.atom")
    os.symlink(outside / "missing.rss", feeds / "dangling.rss")
    os.symlink(outside / "file.atom", feeds / ".link.atom.q.tmp")

    assert sorted(_remove_stale(feeds, kept)) == sorted(stale)

    links = {"category", "link.atom", "dangling.rss", ".link.atom.q.tmp"}
    left = kept | theirs | {".notes.tmp", "tag/.x.md.q.tmp"} | links
    assert _files(feeds) == left
    assert (outside / "linked" / "inside.rss").exists() and (outside / "file.atom").exists()
    assert not (feeds / "empty").exists() and not (feeds / "x").exists()
    assert not (feeds / "archive" / "tag" / "old").exists()
    assert _remove_stale(tmp_path / "none", kept) == []
