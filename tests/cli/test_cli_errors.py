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


def test_eval_without_its_gold_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    gold = tmp_path / "gold.yaml"
    result = eventfeed("eval", str(gold))
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"eventfeed: {gold}: ") and "No such file" in line, line


def test_import_of_a_file_that_is_no_backup_is_one_line_and_exit_1(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    backup = tmp_path / "backup.json"
    backup.write_text("[]", encoding="utf-8")
    result = eventfeed("import", "--config", str(config), str(backup))
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if "level=" not in line]
    assert errors == [
        f'eventfeed: cannot import: {backup}: not an eventfeed backup (no "format": '
        '"eventfeed-backup")'
    ], result.stderr


def test_every_error_class_of_the_package_is_an_eventfeed_error() -> None:
    """What the command line maps to one line: a class named ...Error that is not an
    EventfeedError would end in a traceback instead."""
    import importlib
    import inspect
    import pkgutil

    import bot
    from bot.core.errors import EventfeedError

    modules = [  # not the scripts alembic or `python -m bot` run
        m.name
        for m in pkgutil.walk_packages(bot.__path__, "bot.")
        if m.name != "bot.__main__" and ".migrations." not in m.name
    ]
    found = [
        (module, name, value)
        for module in modules
        for name, value in vars(importlib.import_module(module)).items()
        if name.endswith("Error")
        and inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == module
    ]
    assert len(found) >= 10, found
    outside = [
        f"{module}.{name}" for module, name, value in found if not issubclass(value, EventfeedError)
    ]
    assert outside == []
