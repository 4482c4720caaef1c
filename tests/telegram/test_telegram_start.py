"""Telegram at start: a rejected token, flood control on getMe and setMyCommands.

The real `eventfeed` command and the real daemon as subprocesses against the fake Bot API;
everything they print is searched for the token, and the daemon must go on scanning and
serving whatever Telegram answers.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from pathlib import Path

import feedparser
from support.daemon import ROOT, TOKEN, Daemon, Layout, drop
from support.fakebot import FakeBotApi
from support.waiting import eventually, free_port

from bot.store import Store

SECRET = TOKEN.partition(":")[2]
CHAT = 7_100_001


def article(n: int) -> bytes:
    return (
        f"---\ntitle: Start deal {n}\ndate: 2025-03-0{n} 09:00:00 +0000\n---\n"
        f"Start{n} Holdings said on Monday it agreed to acquire Start{n} Labs for $40 million.\n"
    ).encode()


async def wait_watching(daemon: Daemon) -> None:
    """Past the first scan: a file dropped now is the watcher's, not the next rescan's."""

    async def watching() -> bool:
        health = await daemon.health()
        return bool(health and health["watching"])

    await eventually(watching, "the watcher")


def assert_no_token(text: str) -> None:
    assert TOKEN.lower() not in text.lower()
    assert SECRET.lower() not in text.lower()


def feed_titles(layout: Layout) -> list[str]:
    path = layout.feeds / "articles.atom"
    if not path.exists():
        return []
    return [e.title for e in feedparser.parse(path.read_bytes()).entries]


async def run_cli(*args: str, token: str = TOKEN) -> tuple[int, str]:
    """`python -m bot ARGS` with the token in the environment: exit status and all output."""
    env = {**os.environ, "PTB_TIMEDELTA": "true", "EVENTFEED_TELEGRAM_TOKEN": token}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode("utf-8", "replace")


async def test_run_once_with_a_rejected_token_says_so_without_the_token(
    tmp_path: Path, fake_bot: FakeBotApi
) -> None:
    layout = Layout(tmp_path)
    layout.write_config(fake_bot.base_url)
    drop(layout.posts, "deal-1.md", article(1))
    fake_bot.fail_next("getMe", None, "unauthorized", times=None)

    status, output = await run_cli("run", "--once", "--config", str(layout.config))

    assert_no_token(output)
    assert status == 2, output  # a configuration problem, as README says of the others
    assert "telegram.token" in output and "rejected" in output
    assert "Traceback" not in output
    assert feed_titles(layout) == ["Start deal 1"]  # the scan and the feeds were done first


async def test_run_once_under_flood_control_keeps_the_alerts_for_the_next_run(
    tmp_path: Path, fake_bot: FakeBotApi
) -> None:
    layout = Layout(tmp_path)
    layout.write_config(fake_bot.base_url)
    store = Store(f"sqlite:///{layout.db}")
    store.add_subscription(CHAT, None, "")
    store.close()
    drop(layout.posts, "deal-1.md", article(1))
    fake_bot.fail_next("getMe", None, "retry_after", times=None, retry_after=1)

    status, output = await run_cli("run", "--once", "--config", str(layout.config))

    assert status == 0, output  # the scan and the feeds were done: the alerts just wait
    assert "alerts wait for the next run" in output and "Traceback" not in output
    assert feed_titles(layout) == ["Start deal 1"]
    assert not fake_bot.sent(CHAT)
    fake_bot.clear_faults()
    status, output = await run_cli("run", "--once", "--config", str(layout.config))
    assert status == 0, output
    assert len(fake_bot.sent(CHAT)) == 1
    assert_no_token(output)


async def test_run_once_with_telegram_unreachable_is_one_warning_and_keeps_the_outbox(
    tmp_path: Path,
) -> None:
    """Nothing listens at the Bot API address: one warning line, exit 0, the alert kept."""
    layout = Layout(tmp_path)
    layout.write_config(f"http://127.0.0.1:{free_port()}/bot")
    store = Store(f"sqlite:///{layout.db}")
    store.add_subscription(CHAT, None, "")
    store.close()
    drop(layout.posts, "deal-1.md", article(1))

    status, output = await run_cli("run", "--once", "--config", str(layout.config))

    assert status == 0, output
    assert [line for line in output.splitlines() if "WARNING" in line or "ERROR" in line] == [
        line for line in output.splitlines() if "telegram unavailable" in line
    ]
    assert output.count("telegram unavailable") == 1 and "alerts wait for the next run" in output
    assert "Traceback" not in output and "Unclosed" not in output, output
    assert feed_titles(layout) == ["Start deal 1"]
    store = Store(f"sqlite:///{layout.db}")
    try:
        assert store.outbox_counts() == {"pending": 1}  # sent by the next run
    finally:
        store.close()
    assert_no_token(output)


async def test_the_daemon_with_a_rejected_token_serves_feeds_and_says_so(
    tmp_path: Path, fake_bot: FakeBotApi
) -> None:
    layout = Layout(tmp_path)
    layout.write_config(fake_bot.base_url, debounce=0.1)
    fake_bot.fail_next("getMe", None, "unauthorized", times=None)
    daemon = Daemon(layout)
    await daemon.start()
    try:
        await daemon.wait_healthy()

        async def rejected() -> bool:
            health = await daemon.health()
            return bool(health and health["telegram"] == "rejected")

        await eventually(rejected, "/healthz to say the token was rejected")
        health = await daemon.health()
        assert health is not None and health["status"] == "degraded"
        await wait_watching(daemon)
        drop(layout.posts, "deal-1.md", article(1))
        await eventually(lambda: feed_titles(layout) == ["Start deal 1"], "the feeds")
        assert daemon.running
        assert await daemon.stop() == 0
    finally:
        await daemon.kill()
    log = daemon.log_text()
    assert_no_token(log)
    assert "rejected" in log and "Traceback" not in log


async def test_an_uncaught_error_is_printed_without_the_token(tmp_path: Path) -> None:
    """Whatever escapes (a bug, here raised on purpose) reaches stderr through the redactor."""
    script = (
        "import os, sys\n"
        "from bot.cli.config import load_config\n"
        "from bot.runtime.logs import setup_logging\n"
        "setup_logging(load_config(None, os.environ))\n"
        "raise RuntimeError('the token ' + os.environ['EVENTFEED_TELEGRAM_TOKEN'].upper())\n"
    )
    env = {**os.environ, "EVENTFEED_TELEGRAM_TOKEN": TOKEN}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    text = out.decode()
    assert process.returncode == 1
    assert "RuntimeError: the token ***" in text
    assert_no_token(text)


async def test_flood_control_at_start_is_waited_out_while_feeds_go_on(
    tmp_path: Path, fake_bot: FakeBotApi
) -> None:
    layout = Layout(tmp_path)
    layout.write_config(fake_bot.base_url, debounce=0.1)
    store = Store(f"sqlite:///{layout.db}")
    store.add_subscription(CHAT, None, "")
    store.close()
    fake_bot.fail_next("getMe", None, "retry_after", times=2, retry_after=1)
    fake_bot.fail_next("setMyCommands", None, "retry_after", times=1, retry_after=1)
    fake_bot.fail_next(
        "setMyCommands", None, "blocked", times=1, description="Forbidden: not allowed"
    )
    daemon = Daemon(layout)
    await daemon.start()
    try:
        await daemon.wait_healthy()
        await wait_watching(daemon)
        drop(layout.posts, "deal-1.md", article(1))
        await eventually(lambda: feed_titles(layout) == ["Start deal 1"], "the feeds")
        await fake_bot.wait_for(lambda: fake_bot.sent(CHAT), 60, "the alert once Telegram lets us")
        assert daemon.running
        health = await daemon.health()
        assert health is not None and health["telegram"] == "on"
        get_me = [c.at for c in fake_bot.calls_to("getMe")]
        assert len(get_me) >= 3
        assert all(b - a >= 1 * 0.95 for a, b in itertools.pairwise(get_me[:3]))
        await fake_bot.wait_for(lambda: fake_bot.calls_to("getUpdates"), 30, "polling")
        assert len(fake_bot.sent(CHAT)) == 1
    finally:
        await daemon.kill()
    log = daemon.log_text()
    assert_no_token(log)
    assert "Traceback" not in log
