"""What the store remembers of each file (size, mtime, hash, status), so a scan skips the
unchanged ones without reading them; and the files that failed or went away."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, insert, select, update
from sqlalchemy.engine import Connection

from bot.store.base import chunked
from bot.store.feedindex import FeedChanges, FeedIndexStore
from bot.store.schema import articles


@dataclass(frozen=True, slots=True)
class FileState:
    """What the store remembers of a file, to skip unchanged ones without reading them."""

    path: str
    size: int
    mtime_ns: int
    content_hash: str
    status: str


def _file_states() -> Select[Any]:
    """The columns of a FileState, in its order."""
    c = articles.c
    return select(c.path, c.size, c.mtime_ns, c.content_hash, c.status)


def pack_stat(size: int, mtime_ns: int) -> int:
    """A file's size and mtime as one int, equal only for equal pairs (0 <= size < 2**64),
    negative exactly when the mtime is: the daemon keeps one for every file it knows, and
    one int is ~70 bytes less than a tuple of two (7 MB at 100,000 files)."""
    return mtime_ns * 2**64 + size


class FileStateStore(FeedIndexStore):
    """The files behind the articles: what a scan compares, and those that failed or left."""

    def file_states(self) -> dict[str, FileState]:
        query = _file_states().where(articles.c.status != "deleted")
        with self.engine.connect() as conn:
            return {row.path: FileState(*row) for row in conn.execute(query)}

    def file_stats(self) -> dict[str, int]:
        """path → `pack_stat(size, mtime_ns)` of every file the store knows: all a rescan
        compares."""
        query = select(articles.c.path, articles.c.size, articles.c.mtime_ns).where(
            articles.c.status != "deleted"
        )
        with self.engine.connect() as conn:
            return {path: pack_stat(size, mtime_ns) for path, size, mtime_ns in conn.execute(query)}

    def file_states_of(self, paths: Sequence[str]) -> dict[str, FileState]:
        """path → what the store remembers of it, for those of `paths` it knows."""
        found: dict[str, FileState] = {}
        with self.engine.connect() as conn:
            for chunk in chunked(paths):
                query = _file_states().where(
                    articles.c.path.in_(chunk), articles.c.status != "deleted"
                )
                found |= {row.path: FileState(*row) for row in conn.execute(query)}
        return found

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        """Remember new stat data for a file whose content did not change."""
        with self.engine.begin() as conn:
            conn.execute(
                update(articles).where(articles.c.path == path).values(size=size, mtime_ns=mtime_ns)
            )

    def record_failure(
        self,
        path: str,
        *,
        status: str,
        error: str,
        size: int,
        mtime_ns: int,
        content_hash: str,
        now: datetime,
    ) -> None:
        """Remember a file that could not be read or parsed, so it is retried only when it changes."""
        with self.engine.begin() as conn:
            values = {
                "size": size,
                "mtime_ns": mtime_ns,
                "content_hash": content_hash,
                "status": status,
                "error": error[:2000],
                "updated": now,
            }
            found = conn.execute(
                select(articles.c.id).where(articles.c.path == path)
            ).scalar_one_or_none()
            changes = FeedChanges()
            if found is not None:
                conn.execute(update(articles).where(articles.c.id == found).values(**values))
                changes = self._reindex(conn, [found])  # a published article that now fails
            else:
                uid = "failed-" + hashlib.sha256(path.encode()).hexdigest()[:16]
                conn.execute(
                    insert(articles).values(
                        uid=free_uid(conn, uid), path=path, first_seen=now, **values
                    )
                )
        self._note(changes)

    def mark_deleted(self, paths: Iterable[str], now: datetime) -> int:
        """The files are gone: their entries leave the feeds; their events stay in history."""
        paths = list(paths)
        if not paths:
            return 0
        deleted: list[int] = []
        with self.engine.begin() as conn:
            for path in paths:
                row = conn.execute(
                    select(articles.c.id, articles.c.status).where(articles.c.path == path)
                ).first()
                if row is None:
                    continue
                # Free the path for a new file while keeping the row for rename detection;
                # a relative path never starts with "/" (PostgreSQL text cannot hold a NUL).
                conn.execute(
                    update(articles)
                    .where(articles.c.id == row.id)
                    .values(status="deleted", path=f"/deleted/{row.id}/{path}", updated=now)
                )
                deleted.append(row.id)
            changes = self._reindex(conn, deleted) if deleted else FeedChanges()
        self._note(changes)
        return len(paths)


def free_uid(conn: Connection, uid: str) -> str:
    """Two files with the same front-matter id still get distinct feed ids."""
    base, n = uid, 1
    while conn.execute(select(articles.c.id).where(articles.c.uid == uid)).first():
        n += 1
        uid = f"{base}-{n}"
    return uid
