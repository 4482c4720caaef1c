"""Chats, their subscriptions and settings, as plain JSON-able rows: what `export` and `import` move.

Every table that belongs to a chat (a foreign key to `chats.id`, or named in CHAT_TABLES)
travels with it, column by column, so a setting added as a column is carried without changing
this file; so do the daemon-wide switches (GLOBAL_TABLES). The outbox, articles and events stay
behind: the new machine rebuilds them from the folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Table, delete, insert, select, update

from bot.store.base import StoreBase, StoreError, aware
from bot.store.schema import chats, metadata

CHAT_TABLES = ("subscriptions", "chat_settings")  # plus any table with a foreign key to chats
GLOBAL_TABLES = ("flags",)  # key → value switches set by operators
# Flags that describe this database's own articles, not a switch: never moved (see `relink`).
LOCAL_FLAGS = frozenset({"links"})
NOT_MOVED = ("outbox",)  # deliveries belong to the machine that queued them


class BackupError(StoreError, ValueError):
    """A backup document that cannot be imported; the message says which row and why."""


def chat_tables() -> list[Table]:
    """The tables whose rows belong to a chat, in dependency order (parents first)."""
    return [
        table
        for table in metadata.sorted_tables
        if table is not chats
        and table.name not in NOT_MOVED
        and (
            table.name in CHAT_TABLES or any(fk.column.table is chats for fk in table.foreign_keys)
        )
        and _chat_column(table) is not None
    ]


def global_tables() -> list[Table]:
    return [metadata.tables[name] for name in GLOBAL_TABLES if name in metadata.tables]


def _local(table: Table, row: Mapping[Any, Any]) -> bool:
    return table.name == "flags" and row.get("key") in LOCAL_FLAGS


def _chat_column(table: Table) -> Column[Any] | None:
    for column in table.columns:
        if column.name == "chat_id" or any(fk.column.table is chats for fk in column.foreign_keys):
            return column
    return None


def _portable(table: Table, row: Mapping[Any, Any]) -> dict[str, Any]:
    """A row without its surrogate key, datetimes as ISO text."""
    out: dict[str, Any] = {}
    for column in table.columns:
        if column is table.autoincrement_column:  # a surrogate id: the new database numbers anew
            continue
        value = row[column.name]
        if isinstance(value, datetime):
            value = aware(value).isoformat()
        out[column.name] = value
    return out


def _native(table: Table, row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The columns this schema knows, datetimes parsed; unknown columns (a newer export) dropped."""
    out: dict[str, Any] = {}
    for column in table.columns:
        if column.name not in row:
            continue
        value = row[column.name]
        if isinstance(column.type, DateTime) and isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise BackupError(
                    f"{where}: '{column.name}' is not an ISO date: {value!r}"
                ) from None
        out[column.name] = value
    return out


class BackupStore(StoreBase):
    def export_chats(self) -> list[dict[str, Any]]:
        """Every chat with the rows of every chat-owned table, as JSON-able dicts."""
        owned = [(table, _chat_column(table)) for table in chat_tables()]
        with self.engine.connect() as conn:
            result: list[dict[str, Any]] = []
            for chat in conn.execute(select(chats).order_by(chats.c.id)).mappings():
                item = _portable(chats, chat)
                for table, column in owned:
                    assert column is not None
                    rows = conn.execute(
                        select(table).where(column == chat["id"]).order_by(*table.primary_key)
                    ).mappings()
                    item[table.name] = [
                        {k: v for k, v in _portable(table, row).items() if k != column.name}
                        for row in rows
                    ]
                result.append(item)
        return result

    def export_globals(self) -> dict[str, list[dict[str, Any]]]:
        """The daemon-wide switches, table by table."""
        with self.engine.connect() as conn:
            return {
                table.name: [
                    _portable(table, row)
                    for row in conn.execute(select(table).order_by(*table.primary_key)).mappings()
                    if not _local(table, row)
                ]
                for table in global_tables()
            }

    def import_chats(
        self,
        items: list[dict[str, Any]],
        tables: Mapping[str, Any] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Replace each chat (and what it owns) and each switch with the backup's copy.

        All or nothing: one transaction, so a bad row leaves the database as it was.
        Returns how many chats were imported.
        """
        owned = [(table, _chat_column(table)) for table in chat_tables()]
        with self.engine.begin() as conn:
            for table in global_tables():
                rows = (tables or {}).get(table.name, [])
                if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                    raise BackupError(f"'tables.{table.name}' must be a list of objects")
                for row in rows:
                    if _local(table, row):
                        continue
                    values = _native(table, row, f"tables.{table.name}")
                    key = [c == values.get(c.name) for c in table.primary_key]
                    conn.execute(delete(table).where(*key))
                    conn.execute(insert(table).values(**values))
            for done, item in enumerate(items, 1):
                where = f"chat #{done}"
                if not isinstance(item, dict) or not isinstance(item.get("id"), int):
                    raise BackupError(f"{where}: expected an object with an integer 'id'")
                row = _native(chats, item, f"{where} (id {item['id']})")
                if "kind" not in row or "created" not in row:
                    raise BackupError(
                        f"{where} (id {item['id']}): 'kind' and 'created' are required"
                    )
                found = conn.execute(
                    update(chats).where(chats.c.id == row["id"]).values(**row)
                ).rowcount
                if not found:
                    conn.execute(insert(chats).values(**row))
                for table, column in owned:
                    assert column is not None
                    conn.execute(delete(table).where(column == row["id"]))
                    children = item.get(table.name, [])
                    if not isinstance(children, list):
                        raise BackupError(f"{where}: '{table.name}' must be a list")
                    for child in children:
                        if not isinstance(child, dict):
                            raise BackupError(f"{where}: '{table.name}' rows must be objects")
                        values = _native(table, child, f"{where} {table.name}")
                        values.pop("id", None)
                        values[column.name] = row["id"]
                        conn.execute(insert(table).values(**values))
                if progress is not None:
                    progress(done, len(items))
        return len(items)
