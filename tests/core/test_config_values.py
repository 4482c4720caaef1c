"""Numbers and environment overrides the config must refuse clearly (issue 15, finding 16):
YAML's .nan and .inf passed every range check and crashed the daemon at start (exit 1,
restarted forever by systemd), and a bad override was blamed on the YAML file."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from bot.core.config import Config, ConfigError, parse_config

ROOT = Path(__file__).resolve().parent.parent.parent


def numeric_keys() -> list[tuple[str, str, type]]:
    """Every number in the config: (section, key, int or float)."""
    found = []
    for section in dataclasses.fields(Config):
        cls = typing.get_type_hints(Config)[section.name]
        for name, hint in typing.get_type_hints(cls).items():
            if hint in (int, float):
                found.append((section.name, name, hint))
    return found


def test_the_config_has_numbers_to_check() -> None:
    keys = {f"{s}.{k}" for s, k, _ in numeric_keys()}
    assert {"scan.interval_seconds", "articles.max_bytes", "cluster.lease_seconds"} <= keys


@pytest.mark.parametrize(("section", "key", "kind"), numeric_keys())
@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN", "1.0e+400"])
def test_no_number_may_be_nan_or_infinite(section: str, key: str, kind: type, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(f"{section}: {{{key}: {value}}}\n", {}, "my.yaml")
    message = str(info.value)
    assert f"my.yaml: '{section}.{key}'" in message
    env = f"EVENTFEED_{section}_{key}".upper()
    with pytest.raises(ConfigError) as info:
        parse_config(None, {env: value}, "my.yaml")
    assert f"environment variable {env}" in str(info.value)


@pytest.mark.parametrize(
    ("section", "key"), [(s, k) for s, k, _ in numeric_keys() if k.endswith("_seconds")]
)
def test_waits_are_at_most_a_year(section: str, key: str) -> None:
    with pytest.raises(ConfigError, match=f"'{section}.{key}' must be at most"):
        parse_config(f"{section}: {{{key}: 1.0e+300}}\n", {}, "my.yaml")
    assert parse_config(f"{section}: {{{key}: 3600}}\n", {}, "my.yaml")


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("EVENTFEED_HTTP_BIND", "localhost"),
        ("EVENTFEED_HTTP_BIND", "127.0.0.1:²"),
        ("EVENTFEED_HTTP_BIND", "127.0.0.1:99999"),
        ("EVENTFEED_FEEDS_MAX_ENTRIES", "0"),
        ("EVENTFEED_ARTICLES_MAX_BYTES", "0"),
        ("EVENTFEED_SCAN_INTERVAL_SECONDS", "0"),
        ("EVENTFEED_SCAN_DEBOUNCE_SECONDS", "-1"),
        ("EVENTFEED_SCAN_FULL_INTERVAL_SECONDS", "0"),
        ("EVENTFEED_SITE_BASE_URL", "ftp://x/"),
        ("EVENTFEED_SITE_TIMEZONE", "Mars/Olympus"),
        ("EVENTFEED_FEEDS_WEBSUB_HUB", "hub"),
        ("EVENTFEED_TELEGRAM_BASE_URL", "bot"),
        ("EVENTFEED_TELEGRAM_MAX_PER_SECOND", "0"),
        ("EVENTFEED_TELEGRAM_GROUP_PER_MINUTE", "0"),
        ("EVENTFEED_TELEGRAM_CHAT_INTERVAL_SECONDS", "-1"),
        ("EVENTFEED_CLUSTER_LEASE_SECONDS", "0.5"),
        ("EVENTFEED_CLUSTER_INSTANCE", "x" * 101),
        ("EVENTFEED_LOG_LEVEL", "LOUD"),
        ("EVENTFEED_LOG_FORMAT", "xml"),
        ("EVENTFEED_STATE_POOL_SIZE", "0"),
        ("EVENTFEED_STATE_MAX_OVERFLOW", "-1"),
        ("EVENTFEED_STATE_URL", "state.db"),
        ("EVENTFEED_HTTP_MAX_CONNECTIONS", "0"),
        ("EVENTFEED_HTTP_IDLE_SECONDS", "0"),
    ],
)
def test_a_bad_override_names_the_environment_variable(env: str, value: str) -> None:
    # The file holds a valid value for the same key: the override is what is wrong.
    with pytest.raises(ConfigError) as info:
        parse_config("http: {bind: '127.0.0.1:8080'}\n", {env: value}, "my.yaml")
    message = str(info.value)
    assert message.startswith(f"environment variable {env} "), message
    assert "my.yaml" not in message


def _run(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "run", "--once", "--config", str(config)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **env},
    )


@pytest.mark.parametrize(
    ("yaml", "env", "named"),
    [
        ("scan: {interval_seconds: .nan}", {}, "'scan.interval_seconds'"),
        ("scan: {debounce_seconds: .inf}", {}, "'scan.debounce_seconds'"),
        ("", {"EVENTFEED_HTTP_BIND": "127.0.0.1:²"}, "environment variable EVENTFEED_HTTP_BIND"),
    ],
)
def test_run_refuses_them_with_exit_2_and_no_traceback(
    tmp_path: Path, yaml: str, env: dict[str, str], named: str
) -> None:
    (tmp_path / "posts").mkdir()
    config = tmp_path / "eventfeed.yaml"
    config.write_text(
        f"articles: {{folder: {tmp_path / 'posts'}}}\n"
        f"state: {{url: 'sqlite:///{tmp_path / 'state.db'}'}}\n"
        f"feeds: {{folder: {tmp_path / 'feeds'}}}\n{yaml}\n",
        encoding="utf-8",
    )
    result = _run(config, env)
    assert result.returncode == 2, result.stderr
    assert named in result.stderr
    assert "Traceback" not in result.stderr
