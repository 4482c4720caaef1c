"""The engine and the row-to-dataclass helpers every part of the store shares."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, TextClause, create_engine, event, text
from sqlalchemy.engine import URL, Connection, CursorResult, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.core.codec import article_from_dict, event_from_dict
from bot.core.errors import EventfeedError
from bot.core.model import Article, StoredArticle, StoredEvent


class StoreError(EventfeedError):
    """What the store refuses on purpose: a schema it may not run on, a backup it cannot
    import, a subscription too many; the message is written for the user."""


# The database failing under a store call (down, locked, full, a connection lost) comes as
# SQLAlchemy raised it, with the driver's own message; these names are what the rest of the
# program catches, so nothing outside bot/store imports SQLAlchemy.
DatabaseFailure = SQLAlchemyError
DataRefused = IntegrityError  # a write the schema refuses: a constraint, a value it cannot hold


class StoreBase:
    """Holds the engine and the clock; the parts of the store are mixins over it."""

    engine: Engine
    # Stamps what no caller dates (a chat's or subscription's creation); the rest of the
    # store is handed `now` by its callers.
    clock: Callable[[], datetime]


def utc_now() -> datetime:
    """The system clock, in UTC: the store's clock unless one is given."""
    return datetime.now(UTC)


def database_url(url: str) -> URL:
    """The URL with its driver: a plain postgresql:// (or Heroku-style postgres://) gets psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def shown_url(url: str) -> str:
    """The URL as messages show it: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def backend_name(url: str) -> str:
    """Which database the URL names: sqlite, postgresql, …"""
    return make_url(url).get_backend_name()


def sqlite_file(url: str) -> str | None:
    """The file a SQLite URL names; None for a server or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return parsed.database
    return None


def make_engine(url: str, pool_size: int = 5, max_overflow: int = 5) -> Engine:
    """The engine; the pool sizes apply to a server database (SQLite's file needs no pool)."""
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        # Fail fast on an unreachable server, and name ourselves in pg_stat_activity; the URL's
        # own ?connect_timeout=… or ?application_name=… win.
        connect_args = {
            key: value
            for key, value in (("connect_timeout", 10), ("application_name", "eventfeed"))
            if key not in parsed.query
        }
    return create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,  # a server restart or an idle-killed connection is replaced, not an error
        pool_recycle=1800,  # before firewalls and poolers drop idle connections
        connect_args=connect_args,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def article_uid(article: Article) -> str:
    """Derived once from the first path and date, then kept: renames and edits don't change it."""
    seed = f"{article.path}\x1f{article.published.date().isoformat()}"
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def chunked(items: Iterable[Any], size: int = 500) -> Iterator[list[Any]]:
    """`items` in lists of `size`: what one IN (…) may list on every backend."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def first_events(conn: Connection, stories: Iterable[str], *, shown: bool) -> dict[str, int]:
    """story → the id of its first event (`shown`: its first active one of an article in the
    feeds), for the stories that have one. Each story is looked up alone, down its index to
    the first event that qualifies: a group's minimum read every report of a story, a cost
    that grew with the site."""
    found: dict[str, int] = {}
    for chunk in chunked(sorted(stories)):
        # Padded to a multiple of 50 (the last story again): a few statements to compile.
        padded = chunk + chunk[-1:] * (-len(chunk) % 50)
        query = _first_events_sql(len(padded), shown)
        params = {f"s{i}": story for i, story in enumerate(padded)}
        found |= {story: first for story, first in conn.execute(query, params) if first is not None}
    return found


@functools.cache
def _first_events_sql(count: int, shown: bool) -> TextClause:
    # Written out: SQLAlchemy caches no statement built on a VALUES list (compiling it cost
    # more than running it). `wanted` is a common table expression both backends have.
    rows = ", ".join(f"(:s{i})" for i in range(count))
    join, where = "", ""
    if shown:
        join = " JOIN articles ON articles.id = events.article_id"
        where = " AND events.active AND articles.status = 'ok'"
    return text(
        f"WITH wanted(story) AS (VALUES {rows}) "
        f"SELECT wanted.story, (SELECT events.id FROM events{join} "
        f"WHERE events.story = wanted.story{where} ORDER BY events.id LIMIT 1) FROM wanted"
    )


def inserted_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def utc(moment: datetime) -> datetime:
    """SQLite keeps no UTC offset: every time is stored as UTC so comparisons hold."""
    return moment.astimezone(UTC)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def stored_event(row: Any, first_report: bool = True) -> StoredEvent:
    return StoredEvent(
        id=row.id,
        uid=row.uid,
        article_id=row.article_id,
        event=event_from_dict(row.data),
        created=aware(row.created),
        story_id=row.story or "",
        first_report=first_report,
    )


def stored_article(row: Any, stored_events: tuple[StoredEvent, ...]) -> StoredArticle:
    data = row.data if isinstance(row.data, dict) else json.loads(row.data)
    return StoredArticle(
        id=row.id,
        uid=row.uid,
        article=article_from_dict(data["article"]),
        summary=data.get("summary", ""),
        url=data.get("url", ""),
        first_seen=aware(row.first_seen),
        updated=aware(row.updated),
        events=stored_events,
    )
