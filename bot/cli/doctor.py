"""`eventfeed doctor`: check what the daemon needs before it is started, one line per check.

Each failing line says what to do about it. Nothing is changed: no folder or database is
created, no table is added, and the Telegram check only asks `getMe`.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.request import HTTPXRequest

from bot.core.config import Config, ConfigError
from bot.core.redact import TokenRedactor
from bot.runtime.instances import default_instance, is_solo
from bot.store.base import DatabaseFailure, make_engine, shown_url, sqlite_file
from bot.store.leases import HEARTBEAT, LEADER, leases_held
from bot.store.migrations import Revisions, SchemaError, schema_state


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        status = "ok  " if self.ok else "FAIL"
        detail = " ".join(self.detail.split())  # one line, whatever the driver said
        text = f"{status} {self.name:<15} {detail}"
        return f"{text} -> {self.fix}" if self.fix and not self.ok else text


def run_checks(config_path: Path | None, env: Mapping[str, str]) -> list[Check]:
    from bot.cli.config import load_config, load_pack

    where = str(config_path) if config_path else "built-in defaults"
    try:
        config = load_config(config_path, env)
    except ConfigError as exc:
        return [Check("config", False, str(exc), "fix the file or the environment variable")]
    checks = [Check("config", True, where)]
    try:
        pack = load_pack(config)
        checks.append(Check("rule pack", True, f"{len(pack.event_types)} event types"))
    except ConfigError as exc:
        checks.append(Check("rule pack", False, str(exc), "fix the rule, alias or rate file"))
    checks.append(check_articles(config.articles.folder))
    checks.append(check_writable("feeds folder", config.feeds.folder, "feeds.folder"))
    checks.extend(check_database(config.state.url, config.state.migrate))
    checks.append(check_cluster(config))
    checks.append(check_telegram(config))
    checks.append(check_extract_model(config))
    return checks


def check_extract_model(config: Config) -> Check:
    """The extraction model's endpoint answers and has the model (its key never shown)."""
    from bot.runtime.llm import probe

    extract = config.extract
    if extract.backend == "rules":
        return Check("extract model", True, "off: extract.backend rules (the default)")
    key = extract.llm.api_key
    redactor = TokenRedactor(None, *([key.reveal()] if key is not None else []))
    try:
        detail = probe(extract.llm)
    except (OSError, ValueError) as exc:
        return Check(
            "extract model",
            False,
            redactor.redact(f"{extract.llm.base_url}: {exc}"),
            "check extract.llm.base_url, model and api_key (the rules' events are used meanwhile)",
        )
    return Check("extract model", True, f"{extract.backend}: {redactor.redact(detail)}")


def check_cluster(config: Config) -> Check:
    """This instance's name and who leads the instances sharing the database (read only)."""
    host = default_instance().rpartition("-")[0]
    instance = config.cluster.instance or f"{host}-PID (the default: host name, process id)"
    if is_solo(config.state.url):
        return Check("cluster", True, f"instance {instance}; SQLite: one instance, the leader")
    try:
        held = leases_held(config.state.url, datetime.now(UTC))
    except DatabaseFailure:  # no leases table yet, or no database: the database line says why
        return Check("cluster", True, f"instance {instance}; no instance running")
    leader = next((holder for name, holder in held if name == LEADER), None)
    live = sum(1 for name, _holder in held if name.startswith(HEARTBEAT))
    detail = f"instance {instance}; {live} running, leader {leader or 'none'}"
    if leader is not None and leader == config.cluster.instance:
        detail += " (this instance)"
    return Check("cluster", True, detail)


def check_articles(folder: Path) -> Check:
    fix = "create it, fix 'articles.folder', or give the daemon's user read access"
    if not folder.is_dir():
        return Check("articles folder", False, f"{folder} is not a folder", fix)
    try:
        with os.scandir(folder) as entries:
            count = sum(1 for _ in entries)
    except OSError as exc:
        return Check("articles folder", False, f"{folder}: {exc.strerror}", fix)
    return Check("articles folder", True, f"{folder} readable ({count} entries at the top)")


def check_writable(name: str, folder: Path, key: str) -> Check:
    fix = f"create it or fix '{key}', and give the daemon's user write access"
    if not folder.exists():
        parent = next((p for p in folder.absolute().parents if p.exists()), None)
        if parent is not None and os.access(parent, os.W_OK | os.X_OK):
            return Check(name, True, f"{folder} will be created")
        return Check(name, False, f"{folder} does not exist and cannot be created", fix)
    if not folder.is_dir():
        return Check(name, False, f"{folder} is not a folder", fix)
    try:  # os.access lies on read-only mounts and under some ACLs: really write
        with tempfile.TemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check(name, False, f"{folder} is not writable: {exc.strerror}", fix)
    return Check(name, True, f"{folder} writable")


def check_database(url: str, migrate: bool = True) -> list[Check]:
    checks: list[Check] = []
    shown = shown_url(url)
    database = sqlite_file(url)
    if database is not None:
        path = Path(database)
        folder = check_writable("state folder", path.parent, "state.url")
        checks.append(folder)
        if not path.exists():  # a fresh setup: the first start creates it, as the feeds folder
            checks.append(check_new_database(path, creatable=folder.ok, migrate=migrate))
            return checks
    try:
        engine = make_engine(url)
    except (DatabaseFailure, ImportError) as exc:  # ImportError: no driver for the backend
        return [*checks, Check("database", False, f"{shown}: {exc}", "fix 'state.url'")]
    try:
        state = schema_state(engine)
    except DatabaseFailure as exc:
        orig = getattr(exc, "orig", None)  # the driver's own message, without SQL or hints
        reason = str(orig) if orig is not None else str(exc)
        fix = "start the database server, or fix 'state.url' (host, port, user, database)"
        return [*checks, Check("database", False, f"{shown}: {reason.strip()}", fix)]
    except SchemaError as exc:
        return [*checks, Check("schema", False, str(exc), "run the newer eventfeed")]
    finally:
        engine.dispose()
    found, present = state.revisions, state.tables
    missing, columns = state.missing_tables, state.missing_columns
    if not present:  # a fresh database: the upgrade at start creates every table
        checks.append(Check("database", True, f"{shown} reachable, no tables yet"))
    elif not found.at_head:  # what is missing, the upgrade adds
        checks.append(Check("database", True, f"{shown} reachable, {len(present)} tables"))
    elif missing:
        fix = "start the daemon once (eventfeed run --once) to create them"
        checks.append(Check("database", False, f"tables missing: {', '.join(missing)}", fix))
    elif columns:
        fix = "the tables differ from their schema revision: export, recreate the database, import"
        checks.append(Check("database", False, f"columns missing: {', '.join(columns)}", fix))
    else:
        checks.append(Check("database", True, f"{shown} reachable, {len(present)} tables"))
    checks.append(check_schema(found, migrate))
    return checks


def check_new_database(path: Path, *, creatable: bool, migrate: bool) -> Check:
    if not creatable:
        return Check("database", False, f"{path} does not exist yet", "fix the state folder")
    if not migrate:
        fix = "run `eventfeed db upgrade` to create it ('state.migrate' is off)"
        return Check("database", False, f"{path} does not exist yet", fix)
    return Check("database", True, f"{path} will be created at the first start")


def check_schema(found: Revisions, migrate: bool) -> Check:
    if found.at_head:
        return Check("schema", True, f"revision {found.current} (the newest)")
    detail = f"revision {found.describe()}, this eventfeed's newest is {found.head}"
    if migrate:
        return Check("schema", True, f"{detail}: upgraded when the daemon starts (state.migrate)")
    return Check("schema", False, detail, "run `eventfeed db upgrade` ('state.migrate' is off)")


def check_telegram(config: Config) -> Check:
    tg = config.telegram
    if tg.token is None:
        return Check("telegram", True, "off: no token configured (feeds only)")
    token = tg.token.reveal()
    redactor = TokenRedactor(token)
    expected = token.partition(":")[0]
    where = tg.base_url or "api.telegram.org"
    try:
        me = asyncio.run(_get_me(token, tg.base_url))
    except InvalidToken:
        return Check(
            "telegram",
            False,
            "Telegram rejects the token",
            "copy the token again from @BotFather (/mybots → API Token)",
        )
    except NetworkError as exc:
        return Check(
            "telegram",
            False,
            f"cannot reach {where}: {redactor.redact(str(exc))}",
            "check the network, a proxy, or 'telegram.base_url'",
        )
    except TelegramError as exc:
        return Check("telegram", False, redactor.redact(str(exc)), "check the token")
    if str(me[0]) != expected:
        return Check(
            "telegram",
            False,
            f"getMe answered as bot id {me[0]}, the token is for bot id {expected}",
            "check 'telegram.base_url' points at the right Bot API server",
        )
    return Check("telegram", True, f"@{me[1]} (id {me[0]}) answers getMe at {where}")


async def _get_me(token: str, base_url: str | None) -> tuple[int, str]:
    request = HTTPXRequest(connect_timeout=5.0, read_timeout=10.0)
    if base_url:
        bot = Bot(token, base_url=base_url.rstrip("/"), request=request)
    else:
        bot = Bot(token, request=request)
    async with bot:  # initialize() calls getMe
        return bot.bot.id, bot.bot.username or ""
