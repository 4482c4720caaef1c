"""`eventfeed doctor`: one line per check, what to do when one fails, non-zero on any failure."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.fakebot import FakeBotApi

from bot.cli.main import main
from bot.store import Store

TOKEN = "424242:DOCTOR-SECRET-TOKEN"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(tmp_path: Path, extra: str = "", db: str | None = None) -> Path:
    (tmp_path / "posts").mkdir(exist_ok=True)
    url = db or f"sqlite:///{tmp_path / 'state' / 'eventfeed.db'}"
    config = tmp_path / "eventfeed.yaml"
    config.write_text(
        f"articles: {{folder: {tmp_path / 'posts'}}}\n"
        f'state: {{url: "{url}"}}\n'
        f"feeds: {{folder: {tmp_path / 'feeds'}}}\n" + extra,
        encoding="utf-8",
    )
    return config


def doctor(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str]]:
    status = main(["doctor", "--config", str(config)])
    lines = capsys.readouterr().out.splitlines()
    checks = {line[5:20].strip(): line for line in lines if line[:4] in ("ok  ", "FAIL")}
    return status, checks


def test_healthy_setup_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    Store(f"sqlite:///{tmp_path / 'state' / 'eventfeed.db'}").close()
    status, checks = doctor(config, capsys)
    assert status == 0, checks
    assert set(checks) == {
        "config", "rule pack", "articles folder", "feeds folder", "state folder", "database",
        "schema", "cluster", "telegram", "extract model",
    }  # fmt: skip
    assert all(line.startswith("ok") for line in checks.values())
    assert "(the newest)" in checks["schema"]
    assert "off: no token" in checks["telegram"]
    assert "SQLite: one instance, the leader" in checks["cluster"]


def test_each_failure_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    (tmp_path / "posts").rmdir()
    (tmp_path / "feeds").write_text("a file where the folder should be")
    status, checks = doctor(config, capsys)
    assert status == 1
    assert (
        checks["articles folder"].startswith("FAIL") and "-> create it" in checks["articles folder"]
    )
    assert checks["feeds folder"].startswith("FAIL") and "not a folder" in checks["feeds folder"]
    assert not (tmp_path / "state" / "eventfeed.db").exists()  # doctor creates nothing


def test_a_fresh_setup_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No state folder, no database, no feeds folder yet: `run` creates them, nothing fails."""
    status, checks = doctor(write_config(tmp_path), capsys)
    assert status == 0, checks
    assert checks["state folder"].endswith("will be created")
    assert (
        checks["database"].startswith("ok") and "created at the first start" in checks["database"]
    )
    assert not (tmp_path / "state").exists()  # doctor creates nothing

    config = write_config(tmp_path)
    config.write_text(
        config.read_text().replace('eventfeed.db"}', 'eventfeed.db", migrate: false}')
    )
    status, checks = doctor(config, capsys)
    assert status == 1 and "eventfeed db upgrade" in checks["database"], checks


def test_database_without_tables_and_unreachable_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "eventfeed.db").touch()  # an empty SQLite file: no tables
    status, checks = doctor(write_config(tmp_path), capsys)
    assert status == 0 and "reachable, no tables yet" in checks["database"]  # made at start
    assert "upgraded when the daemon starts" in checks["schema"]

    url = f"postgresql+psycopg://nobody@127.0.0.1:{closed_port()}/none"
    status, checks = doctor(write_config(tmp_path, db=url), capsys)
    assert status == 1
    assert (
        checks["database"].startswith("FAIL") and "start the database server" in checks["database"]
    )


def test_bad_config_is_one_failing_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, "scan: {interval_seconds: -1}\n")
    status, checks = doctor(config, capsys)
    assert status == 1
    assert list(checks) == ["config"] and "scan.interval_seconds" in checks["config"]


async def run_doctor(config: Path, token: str) -> tuple[int, str]:
    env = {**os.environ, "EVENTFEED_TELEGRAM_TOKEN": token}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "doctor", "--config", str(config),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_telegram_answers_get_me_as_the_expected_bot(
    tmp_path: Path, fake_bot: FakeBotApi
) -> None:
    Store(f"sqlite:///{tmp_path / 'state' / 'eventfeed.db'}").close()
    config = write_config(tmp_path, f'telegram: {{base_url: "{fake_bot.base_url}"}}\n')
    status, out = await run_doctor(config, TOKEN)
    assert status == 0, out
    assert "@eventfeed_test_bot (id 424242) answers getMe" in out
    assert fake_bot.calls_to("getMe")
    assert "DOCTOR-SECRET" not in out


async def test_unreachable_telegram_fails_without_showing_the_token(tmp_path: Path) -> None:
    Store(f"sqlite:///{tmp_path / 'state' / 'eventfeed.db'}").close()
    base = f"http://127.0.0.1:{closed_port()}/bot"
    config = write_config(tmp_path, f'telegram: {{base_url: "{base}"}}\n')
    status, out = await run_doctor(config, TOKEN)
    assert status == 1
    [line] = [
        line
        for line in out.splitlines()
        if line.startswith(("ok", "FAIL")) and " telegram " in line
    ]
    assert line.startswith("FAIL") and "cannot reach" in line and "-> check the network" in line
    assert "DOCTOR-SECRET" not in out


def test_the_instances_sharing_a_database_are_shown(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostgreSQL: the leader and the live heartbeats, read from the leases without opening
    the store; an expired heartbeat is not counted."""
    config = write_config(tmp_path, "cluster: {instance: web-1}\n", db=postgres_url)
    empty = doctor(config, capsys)[1]["cluster"]  # no leases table yet
    assert empty.startswith("ok") and empty.endswith("instance web-1; no instance running")
    store = Store(postgres_url)
    try:
        now = datetime.now(UTC)
        assert store.take_lease("leader", "web-1", now, 60)
        assert store.take_lease("instance/web-1", "web-1", now, 60)
        assert store.take_lease("instance/web-2", "web-2", now, 60)
        assert store.take_lease("instance/web-0", "web-0", now - timedelta(minutes=5), 60)
    finally:
        store.close()
    status, checks = doctor(config, capsys)
    assert status == 0, checks
    assert checks["cluster"].endswith("instance web-1; 2 running, leader web-1 (this instance)")
