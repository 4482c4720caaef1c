"""What the `eventfeed` command prints when something is wrong: one line a person can act on.

The real command as a subprocess; its whole output is checked, stdout and stderr apart.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from bot.store import Store


def write_config(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "posts").mkdir(exist_ok=True)
    config = tmp_path / "eventfeed.yaml"
    config.write_text(
        f"articles: {{folder: {tmp_path / 'posts'}}}\n"
        f"state: {{url: 'sqlite:///{tmp_path / 'state.db'}'}}\n"
        f"feeds: {{folder: {tmp_path / 'feeds'}}}\n{extra}",
        encoding="utf-8",
    )
    return config


def eventfeed(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EVENTFEED_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**environ, **(env or {})},
    )


def test_a_missing_articles_folder_names_the_config_file(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "posts").rmdir()
    result = eventfeed("run", "--config", str(config))
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert f"{config}: 'articles.folder': {tmp_path / 'posts'} is not a folder" in line, line

    env = {"EVENTFEED_ARTICLES_FOLDER": str(tmp_path / "elsewhere")}
    result = eventfeed("run", "--once", "--config", str(config), env=env)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert "environment variable EVENTFEED_ARTICLES_FOLDER: " in line and str(config) not in line


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, f"http: {{bind: '127.0.0.1:{port}'}}\n")
        result = eventfeed("run", "--config", str(config))
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if "level=INFO" not in line]
    assert errors == [
        f"eventfeed: configuration error: {config}: 'http.bind': cannot listen on "
        f"127.0.0.1:{port}: Address already in use"
    ], result.stderr


def test_outbox_tells_its_state_on_standard_output_only(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    Store(f"sqlite:///{tmp_path / 'state.db'}").close()
    result = eventfeed("outbox", "--config", str(config))
    assert (result.returncode, result.stdout, result.stderr) == (0, "outbox: empty\n", "")
