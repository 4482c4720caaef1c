"""Schema migrations with Alembic, on SQLite and PostgreSQL alike, run from code (no alembic.ini).

The revisions are in `versions/`, each written by hand; `0001_baseline` is the schema every
database had before migrations, so such a database is stamped with it, not rebuilt. `upgrade`
migrates under a lock, so two processes starting at once migrate once: PostgreSQL's
transaction-scoped advisory lock, SQLite's write lock (BEGIN IMMEDIATE). On both, the stamp,
every revision and the version row commit together or not at all.

A new revision: `command.revision(alembic_config(), "what", rev_id="0004_name")` writes the
file to fill in, named by its id, numbered in order: a start reads where the schema is from
those names alone and imports Alembic only to migrate (Alembic with Mako is ~11 MB of the
daemon's memory). tests/store/test_migrations.py checks that Alembic agrees, and runs
`command.check` (a database at the head against bot/store/schema.py) on both backends.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from bot.store.base import StoreError
from bot.store.schema import metadata

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

BASELINE = "0001_baseline"
VERSION_TABLE = "alembic_version"  # Alembic's default, in the schema of the tables
# pg_advisory_xact_lock key held while migrating ("eventfee" in ASCII): one per database.
LOCK_KEY = 0x6576656E74666565
HERE = Path(__file__).resolve().parent

log = logging.getLogger(__name__)


class SchemaError(StoreError):
    """The database's schema is not the one this eventfeed needs and is not to be changed now."""


@dataclass(frozen=True)
class Revisions:
    """Where a database's schema is, and where this eventfeed's migrations end."""

    current: str | None  # None: no version table
    head: str
    legacy: bool = False  # tables made before migrations, without a version table

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        if self.current is not None:
            return self.current
        if self.legacy:
            return f"none (tables from before migrations; an upgrade stamps them {BASELINE})"
        return "none (empty database)"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, pointing into the package; migrations run on `connection`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script() -> ScriptDirectory:
    """Alembic's own view of the revisions (the tests hold `known_revisions` to it)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


@functools.cache
def known_revisions() -> tuple[str, ...]:
    """Every revision this eventfeed has, oldest first: the names of the files in versions/."""
    found = sorted(p.stem for p in (HERE / "versions").glob("[0-9]*.py"))
    assert found, "bot/store/migrations/versions has no revision"
    return tuple(found)


def head() -> str:
    """The newest revision this eventfeed knows."""
    return known_revisions()[-1]


def revisions(database: Engine | Connection) -> Revisions:
    """Where the database's schema is; reads only."""
    if isinstance(database, Connection):
        return _revisions(database)
    with database.connect() as conn:
        return _revisions(conn)


def _revisions(conn: Connection) -> Revisions:
    # Read directly: a MigrationContext would log two lines at every start.
    inspector = inspect(conn)
    current = None
    if inspector.has_table(VERSION_TABLE):
        current = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    legacy = current is None and inspector.has_table("articles")
    found = Revisions(current, head(), legacy)
    if current is not None and current not in known_revisions():
        raise SchemaError(
            f"the database schema is at revision {current}, which this eventfeed does not "
            f"know (its newest is {found.head}): a newer eventfeed upgraded it; run that one"
        )
    return found


@dataclass(frozen=True)
class SchemaState:
    """What a database holds, beside its revision, against this eventfeed's tables."""

    revisions: Revisions
    tables: frozenset[str]  # the tables present
    missing_tables: list[str]
    missing_columns: list[str]  # "table.column", of the tables present


def schema_state(engine: Engine) -> SchemaState:
    """Read only, for `eventfeed doctor`; raises SchemaError for a revision unknown here."""
    with engine.connect() as conn:
        found = _revisions(conn)
        inspector = inspect(conn)
        present = set(inspector.get_table_names())
        missing = [t.name for t in metadata.sorted_tables if t.name not in present]
        columns = [
            f"{t.name}.{c.name}"
            for t in metadata.sorted_tables
            if t.name in present
            for c in t.columns
            if c.name not in {col["name"] for col in inspector.get_columns(t.name)}
        ]
    return SchemaState(found, frozenset(present), missing, columns)


def require_head(engine: Engine) -> Revisions:
    """Refuse a database whose schema is behind, for when migrating at start is off."""
    found = revisions(engine)
    if not found.at_head:
        raise SchemaError(
            f"the database schema is at revision {found.describe()}, this eventfeed needs "
            f"{found.head}, and 'state.migrate' is off: run `eventfeed db upgrade`"
        )
    return found


def upgrade(engine: Engine) -> tuple[Revisions, Revisions]:
    """Bring the schema to the head revision; returns where it was and where it is now."""
    before = revisions(engine)
    if before.at_head:  # the usual start: no lock taken
        return before, before
    with _locked(engine) as conn:
        before = _revisions(conn)  # again: another process may have migrated meanwhile
        if not before.at_head:
            from alembic import command

            config = alembic_config(conn)
            if before.legacy:
                command.stamp(config, BASELINE)
            command.upgrade(config, "head")
    after = Revisions(before.head, before.head)
    if not before.at_head:
        log.info("schema upgraded from=%s to=%s", before.current or "none", after.current)
    return before, after


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection holding the database's migration lock; commits when the block ends."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            yield conn
            conn.commit()  # releases the lock
        elif conn.dialect.name == "sqlite":
            # A batch migration copies and drops tables, which foreign keys would refuse; the
            # pragma only changes outside a transaction, and is checked before the commit.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # waits out the busy timeout, then fails
                yield conn
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise SchemaError(f"the migration left rows with broken foreign keys: {broken}")
                conn.commit()
            finally:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        else:
            yield conn
            conn.commit()
