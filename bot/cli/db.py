"""`eventfeed db`: the database schema's revision, and upgrading it.

    eventfeed db current   the database's revision and this eventfeed's newest (exit 1: behind)
    eventfeed db upgrade   migrate to the newest, under a lock (also done at start by default)

`upgrade` is what the daemon does at start when `state.migrate` is on; with it off, run it
once after installing a new eventfeed, before starting the new daemons.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from bot.cli.config import load_config
from bot.cli.operate import config_option


def add_command(commands: Any) -> None:
    """Add `db current` and `db upgrade` to the `eventfeed` parser's subparsers."""
    parser = commands.add_parser("db", help="the database schema: its revision, upgrading it")
    actions = parser.add_subparsers(dest="db_action", required=True)
    for name, what in (
        ("current", "print the schema revision of the database and the newest one"),
        ("upgrade", "upgrade the database schema to the newest revision"),
    ):
        action = actions.add_parser(name, help=what)
        config_option(action)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bot.store.base import DatabaseFailure, make_engine, shown_url
    from bot.store.migrations import BASELINE, Revisions, head, revisions, upgrade

    config = load_config(args.config, os.environ)
    shown = shown_url(config.state.url)
    if args.db_action == "current" and _missing_sqlite_file(config.state.url):
        # Connecting would create the file: asking for the revision must not change anything.
        print(f"current: {Revisions(None, head()).describe()}")
        print(f"head:    {head()}")
        return 1
    engine = make_engine(config.state.url, pool_size=1, max_overflow=0)
    try:
        if args.db_action == "current":
            found = revisions(engine)
            print(f"current: {found.describe()}")
            print(f"head:    {found.head}")
            return 0 if found.at_head else 1
        before, after = upgrade(engine)
        if before.at_head:
            print(f"already at the newest revision: {after.current}")
        elif before.legacy:
            print(
                f"stamped {BASELINE} (tables from before migrations), upgraded to {after.current}"
            )
        else:
            print(f"upgraded from {before.current or 'none'} to {after.current}")
        return 0
    except DatabaseFailure as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        print(f"eventfeed: database {shown}: {reason}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()


def _missing_sqlite_file(url: str) -> bool:
    from bot.store.base import sqlite_file

    database = sqlite_file(url)  # None: a server, or in memory
    return database is not None and not database.startswith("file:") and not Path(database).exists()
