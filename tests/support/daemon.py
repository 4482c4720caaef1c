"""The real daemon as a subprocess, for the chaos, fault and security tests.

Starts `python -m bot run` on a YAML config in a temp folder, kills it with SIGKILL or stops
it with SIGTERM, and reads what it left behind: its log, its SQLite file, its feed files. The
test's own event loop runs the fake Bot API server, so every wait here yields to the loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import feedparser

from support.waiting import eventually, free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "424242:CHAOS-SECRET-token-never-printed"
FEED_SUFFIXES = (".atom", ".rss", ".xml")


@dataclass
class Layout:
    """Where one daemon keeps everything, all under a test's tmp_path."""

    root: Path
    port: int = field(default_factory=free_port)

    @property
    def posts(self) -> Path:
        return self.root / "posts"

    @property
    def feeds(self) -> Path:
        return self.root / "feeds"

    @property
    def db(self) -> Path:
        return self.root / "state" / "eventfeed.db"

    @property
    def config(self) -> Path:
        return self.root / "eventfeed.yaml"

    @property
    def log(self) -> Path:
        return self.root / "daemon.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(
        self,
        telegram_base_url: str | None,
        *,
        max_entries: int = 50,
        max_bytes: int = 10 * 1024 * 1024,
        interval: float = 30.0,
        debounce: float = 0.2,
        extra: str = "",
    ) -> None:
        self.posts.mkdir(parents=True, exist_ok=True)
        telegram = f'telegram: {{base_url: "{telegram_base_url}"}}\n' if telegram_base_url else ""
        self.config.write_text(
            f"""
articles: {{folder: "{self.posts}", max_bytes: {max_bytes}}}
state: {{url: "sqlite:///{self.db}"}}
feeds: {{folder: "{self.feeds}", max_entries: {max_entries}}}
site: {{base_url: "https://blog.example.org/", title: "Chaos site", timezone: UTC}}
http: {{bind: "127.0.0.1:{self.port}"}}
{telegram}scan: {{interval_seconds: {interval}, debounce_seconds: {debounce}}}
{extra}""",
            encoding="utf-8",
        )


class Daemon:
    """One daemon process at a time over a Layout; its output appended to `layout.log`."""

    def __init__(
        self,
        layout: Layout,
        *,
        token: str | None = TOKEN,
        user: str | None = None,
        env: dict[str, str] | None = None,
    ):
        self.layout = layout
        self.token = token
        self.user = user  # run as this unprivileged user (setpriv), e.g. "65534"
        self.env = env or {}  # EVENTFEED_… overrides, e.g. a PostgreSQL state.url
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        env = {**os.environ, "PTB_TIMEDELTA": "true", "PYTHONUNBUFFERED": "1", **self.env}
        env.pop("EVENTFEED_TELEGRAM_TOKEN", None)
        if self.token:
            env["EVENTFEED_TELEGRAM_TOKEN"] = self.token
        argv: list[str] = [sys.executable, "-m", "bot", "run", "--config", str(self.layout.config)]
        if self.user is not None:
            argv = ["setpriv", f"--reuid={self.user}", f"--regid={self.user}", "--clear-groups"]
            argv += [sys.executable, "-m", "bot", "run", "--config", str(self.layout.config)]
        with self.layout.log.open("ab") as out:
            out.write(f"--- start {self.starts}\n".encode())
            out.flush()
            self.process = await asyncio.create_subprocess_exec(
                *argv, cwd=ROOT, env=env, stdout=out, stderr=out
            )
        self.starts += 1

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed; what is on disk is what stays."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self, within: float = 20.0) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), within)

    async def get(self, path: str) -> tuple[int, bytes]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.layout.url + path, allow_redirects=False) as response,
        ):
            return response.status, await response.read()

    async def health(self) -> dict[str, Any] | None:
        try:
            status, body = await self.get("/healthz")
        except aiohttp.ClientError:
            return None
        return json.loads(body) if status == 200 else None

    async def wait_healthy(self, within: float = 30.0) -> None:
        async def up() -> bool:
            if not self.running:
                raise AssertionError(f"the daemon exited:\n{self.log_tail()}")
            return await self.health() is not None

        await eventually(up, "the daemon's /healthz", within)

    def log_text(self) -> str:
        try:
            return self.layout.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def query(db: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Read the daemon's database (WAL: a reader never blocks the running daemon)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def feed_problems(
    folder: Path, checked: dict[Path, tuple[int, int, int]] | None = None
) -> list[str]:
    """Every feed file on disk must be XML that feedparser reads without complaint.

    `checked` remembers files already found good (by inode, size and mtime), so that a test
    checking after every kill re-reads only what changed.
    """
    problems = []
    for path in sorted(folder.rglob("*")):
        if path.suffix not in FEED_SUFFIXES or path.name.startswith("."):
            continue
        info = path.stat()
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        if checked is not None and checked.get(path) == stamp:
            continue
        parsed = feedparser.parse(path.read_bytes())
        if parsed.bozo:
            problems.append(f"{path.name}: {parsed.get('bozo_exception')!r}")
        elif checked is not None:
            checked[path] = stamp
    return problems


def drop(folder: Path, name: str, data: bytes) -> Path:
    """Put a whole file in place at once, as a publisher's rename would."""
    target = folder / name
    tmp = folder / f".{name}.incoming"
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target
