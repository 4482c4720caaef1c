"""Operating the real daemon as a subprocess: `run --once`, reload on SIGHUP and on file change,
systemd readiness, log format and level, and a SIGTERM that loses no queued message."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from support.fakebot import FakeBotApi
from support.waiting import eventually, free_port

from bot.cli.rulefiles import default_documents
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLE = ROOT / "tests" / "data" / "articles" / "000_4fbda6de1bb3b082.txt"
TOKEN = "777777:OPERATING-SECRET-TOKEN"
CHAT = 424201


BUYERS = [("Microsoft", "Nuance Communications"), ("Google", "Wiz"), ("Apple", "Shazam"),
          ("Amazon", "Whole Foods"), ("Nvidia", "Arm"), ("Oracle", "Cerner")]  # fmt: skip


def deal(n: int) -> str:
    """A short article with one acquisition: its own title, actors and story for each n."""
    buyer, target = BUYERS[n]
    return (
        f'---\ntitle: "Deal number {n}: {buyer} buys {target}"\n'
        f"date: 2025-06-2{n} 10:00:00 +0800\n---\n"
        f"{buyer} said on Monday it would acquire {target} for {100 + n} million euros in cash."
        f"\n\nThe acquisition gives {buyer} a larger business.\n"
    )


class Site:
    """A temporary site: articles folder, state, feeds and a config file for the daemon."""

    def __init__(self, root: Path, telegram: str = "", extract: str = "") -> None:
        self.root = root
        self.posts = root / "posts"
        self.posts.mkdir()
        self.db = root / "state" / "eventfeed.db"
        self.feeds = root / "feeds"
        self.log = root / "daemon.log"
        self.port = free_port()
        self.config = root / "eventfeed.yaml"
        self.config.write_text(
            f"articles: {{folder: {self.posts}}}\n"
            f'state: {{url: "sqlite:///{self.db}"}}\n'
            f"feeds: {{folder: {self.feeds}}}\n"
            f'http: {{bind: "127.0.0.1:{self.port}"}}\n'
            f"scan: {{interval_seconds: 30, debounce_seconds: 0.1}}\n{telegram}{extract}",
            encoding="utf-8",
        )

    def store(self) -> Store:
        return Store(f"sqlite:///{self.db}")

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    async def start(
        self, *args: str, env: dict[str, str] | None = None
    ) -> asyncio.subprocess.Process:
        environment = {**os.environ, "PTB_TIMEDELTA": "true", **(env or {})}
        with self.log.open("ab") as out:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", "--config", str(self.config), *args,
                cwd=self.root, env=environment, stdout=out, stderr=out,
            )  # fmt: skip


@pytest.fixture
async def processes() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    started: list[asyncio.subprocess.Process] = []
    yield started
    for process in started:
        if process.returncode is None:
            process.kill()
            await process.wait()


def event_types(site: Site, path: str) -> set[str]:
    store = site.store()
    try:
        return {
            ev.event.type
            for stored in store.published_articles()
            if stored.article.path == path
            for ev in stored.events
        }
    finally:
        store.close()


# -- run --once -----------------------------------------------------------------------------


async def test_run_once_without_token_writes_feeds_and_exits(tmp_path: Path) -> None:
    site = Site(tmp_path)
    shutil.copy(SAMPLE, site.posts / SAMPLE.name)
    process = await site.start("--once", env={"EVENTFEED_LOG_FORMAT": "json"})
    assert await asyncio.wait_for(process.wait(), 60) == 0
    assert (site.feeds / "events.atom").is_file()
    lines = [json.loads(line) for line in site.log_text().splitlines()]  # every line is JSON
    summary = [entry["msg"] for entry in lines if entry["msg"].startswith("scan ")]
    assert len(summary) == 1
    assert "seen=1 new=1 changed=0 failed=0" in summary[0] and "sent=0" in summary[0]
    assert {"ts", "level", "logger", "msg"} <= set(lines[0])

    # Again, quietly: nothing changed, and WARNING hides the INFO lines.
    site.log.unlink()
    process = await site.start("--once", env={"EVENTFEED_LOG_LEVEL": "WARNING"})
    assert await asyncio.wait_for(process.wait(), 60) == 0
    assert "level=INFO" not in site.log_text()


async def test_run_once_with_token_sends_the_queue_and_exits(
    tmp_path: Path, fake_bot: FakeBotApi
) -> None:
    site = Site(tmp_path, telegram=f'telegram: {{base_url: "{fake_bot.base_url}"}}\n')
    store = site.store()
    store.add_subscription(CHAT, None, "")
    store.close()
    shutil.copy(SAMPLE, site.posts / SAMPLE.name)
    process = await site.start("--once", env={"EVENTFEED_TELEGRAM_TOKEN": TOKEN})
    assert await asyncio.wait_for(process.wait(), 60) == 0
    [message] = fake_bot.sent(CHAT)
    assert "OpenAI" in message.text
    assert not fake_bot.calls_to("getUpdates")  # no polling in --once
    store = site.store()
    assert store.outbox_counts() == {"sent": 2}  # two events, one message
    store.close()
    log = site.log_text()
    assert "OPERATING-SECRET" not in log
    assert message.text not in log and "Lucas Beyer" not in log  # no message text at INFO
    assert "delivery sent=1 " in log


# -- reload ---------------------------------------------------------------------------------


def write_rules(path: Path, *, compensation: bool) -> None:
    rules = copy.deepcopy(default_documents()[0])
    if not compensation:
        rules["types"]["compensation"]["triggers"] = {"zh": ["不存在的词语"], "en": ["xyzzyq"]}
        rules["types"]["compensation"]["weak"] = {"zh": [], "en": []}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    tmp.replace(path)  # as editors do: never a half-written file


async def test_reload_on_change_and_sighup_refuses_invalid_rules(
    tmp_path: Path, processes: list[asyncio.subprocess.Process]
) -> None:
    rules = tmp_path / "rules.yaml"
    write_rules(rules, compensation=False)
    site = Site(tmp_path, extract=f"extract: {{rules: {rules}}}\n")
    process = await site.start()
    processes.append(process)
    await eventually(lambda: "scan seen=0" in site.log_text(), "the first scan")

    rules.write_text("types: [this is: not valid", encoding="utf-8")
    await eventually(lambda: "reload refused reason=file-changed" in site.log_text(), "refusal")
    process.send_signal(signal.SIGHUP)
    await eventually(lambda: "reload refused reason=SIGHUP" in site.log_text(), "SIGHUP refusal")
    refusal = next(line for line in site.log_text().splitlines() if "reload refused" in line)
    assert (
        "level=ERROR" in refusal
        and str(rules) in refusal
        and "running rules and routes stay" in refusal
    )

    # The old rules still run: no compensation event.
    shutil.copy(SAMPLE, site.posts / "a.txt")
    await eventually(lambda: bool(event_types(site, "a.txt")), "article a")
    assert "compensation" not in event_types(site, "a.txt")

    write_rules(rules, compensation=True)
    process.send_signal(signal.SIGHUP)
    await eventually(lambda: "reloaded reason=" in site.log_text(), "the reload")
    shutil.copy(SAMPLE, site.posts / "b.txt")
    await eventually(lambda: bool(event_types(site, "b.txt")), "article b")
    assert "compensation" in event_types(site, "b.txt")

    health_url = f"http://127.0.0.1:{site.port}/healthz"
    async with aiohttp.ClientSession() as session, session.get(health_url) as response:
        health = await response.json()
    assert health["reloads"] == {"applied": 1, "refused": 2}

    # The config file itself: a bad route is refused; a key a reload cannot apply is named.
    config = site.config.read_text(encoding="utf-8")
    site.config.write_text(config + 'telegram: {routes: ["no colon here"]}\n', encoding="utf-8")
    await eventually(lambda: "'telegram.routes'" in site.log_text(), "the route refusal")
    site.config.write_text(config + "site: {title: Renamed}\n", encoding="utf-8")
    await eventually(lambda: "keys=site.title; restart" in site.log_text(), "restart warning")

    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 20) == 0


# -- graceful stop --------------------------------------------------------------------------


class SlowBot(FakeBotApi):
    """Each sendMessage takes a while, so that a SIGTERM lands in the middle of one."""

    delay = 0.4

    async def _api_sendmessage(self, params: dict[str, Any], request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay)
        return await super()._api_sendmessage(params, request)


def notify_socket(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    return sock


def received(sock: socket.socket, into: list[str]) -> list[str]:
    while True:
        try:
            into.append(sock.recv(4096).decode())
        except BlockingIOError:
            return into


async def test_sigterm_finishes_the_send_in_flight_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: list[asyncio.subprocess.Process]
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with SlowBot(hold_seconds=10.0) as bot:
        telegram = f'telegram: {{base_url: "{bot.base_url}", chat_interval_seconds: 0.05}}\n'
        site = Site(tmp_path, telegram=telegram)
        store = site.store()
        store.add_subscription(CHAT, None, "")
        store.close()
        for n in range(6):
            (site.posts / f"deal-{n}.md").write_text(deal(n), encoding="utf-8")
        sock = notify_socket(tmp_path / "notify.sock")
        env = {"EVENTFEED_TELEGRAM_TOKEN": TOKEN, "NOTIFY_SOCKET": str(tmp_path / "notify.sock")}
        notes: list[str] = []

        process = await site.start(env=env)
        processes.append(process)
        await eventually(lambda: "READY=1" in received(sock, notes), "READY=1 from the daemon")
        await bot.wait_for(lambda: len(bot.sent(CHAT)) >= 1, 30, "the first alert")
        await bot.wait_for(lambda: len(bot.calls_to("sendMessage")) >= 2, 10, "a second send")
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
        assert time.monotonic() - stopped_at < 5
        assert "STOPPING=1" in received(sock, notes)

        store = site.store()
        counts = store.outbox_counts()
        store.close()
        # The outbox agrees with Telegram: what arrived is marked sent, the rest is pending.
        # The send in flight at SIGTERM was finished (2), and recorded as sent.
        assert 2 <= counts.get("sent", 0) == len(bot.sent(CHAT)) < 6
        assert counts.get("sent", 0) + counts.get("pending", 0) == 6

        process = await site.start(env=env)
        processes.append(process)
        await bot.wait_for(lambda: len(bot.sent(CHAT)) >= 6, 30, "the rest of the alerts")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
        sock.close()
    texts = [m.text for m in bot.sent(CHAT)]
    assert len(texts) == 6, texts  # none twice
    for n in range(6):  # none lost
        assert sum(f"Deal number {n}:" in text for text in texts) == 1, (n, texts)
