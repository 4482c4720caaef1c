"""Config contract: keys, environment overrides, and clear errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.config import ConfigError, Secret, parse_config

ROOT = Path(__file__).resolve().parent.parent.parent


def test_defaults_are_the_embedded_setup() -> None:
    config = parse_config(None, {})
    assert config.articles.folder == Path("examples/articles")
    assert config.state.url == "sqlite:///state/eventfeed.db"
    assert config.feeds.folder == Path("feeds")
    assert config.http.bind == "127.0.0.1:8080"
    assert (config.http.host, config.http.port) == ("127.0.0.1", 8080)
    assert config.telegram.token is None


def test_repository_config_is_valid_and_names_every_contract_key() -> None:
    text = (ROOT / "config/eventfeed.yaml").read_text(encoding="utf-8")
    config = parse_config(text, {}, "config/eventfeed.yaml")
    assert config.site.timezone == "Asia/Shanghai"
    for key in (
        "folder:",
        "url:",
        "base_url:",
        "title:",
        "timezone:",
        "bind:",
        "token:",
        "admins:",
        "interval_seconds:",
    ):
        assert key in text


def test_environment_overrides_any_key() -> None:
    env = {
        "EVENTFEED_ARTICLES_FOLDER": "/srv/posts",
        "EVENTFEED_TELEGRAM_BASE_URL": "http://127.0.0.1:9000/bot",
        "EVENTFEED_TELEGRAM_ADMINS": "1, 22",
        "EVENTFEED_SCAN_INTERVAL_SECONDS": "5",
        "EVENTFEED_HTTP_BIND": "0.0.0.0:9090",
    }
    config = parse_config("articles: {folder: elsewhere}\n", env)
    assert config.articles.folder == Path("/srv/posts")
    assert config.telegram.base_url == "http://127.0.0.1:9000/bot"
    assert config.telegram.admins == (1, 22)
    assert config.scan.interval_seconds == 5.0
    assert config.http.port == 9090


@pytest.mark.parametrize(
    ("text", "env", "needle"),
    [
        ("artciles: {folder: x}", {}, "unknown section 'artciles'"),
        ("articles: {fodler: x}", {}, "unknown key 'articles.fodler'"),
        ("scan: {interval_seconds: soon}", {}, "'scan.interval_seconds': expected a number"),
        ("telegram: {admins: nobody}", {}, "'telegram.admins'"),
        ("site: {timezone: Mars/Olympus}", {}, "'site.timezone' must be an IANA time zone"),
        ("http: {bind: localhost}", {}, "'http.bind' must be HOST:PORT"),
        ("- a list", {}, "expected a mapping"),
        ("feeds: {max_entries: 0}", {}, "'feeds.max_entries' must be at least 1"),
        ("articles: {max_tags: -1}", {}, "'articles.max_tags' must not be negative"),
        ("scan: {full_interval_seconds: 0}", {}, "'scan.full_interval_seconds' must be more"),
        ("telegram: {max_subscriptions: 0}", {}, "'telegram.max_subscriptions' must be from 1"),
        ("", {"EVENTFEED_SCAN_INTERVAL_SECONDS": "often"}, "EVENTFEED_SCAN_INTERVAL_SECONDS"),
    ],
)
def test_bad_values_name_the_key_and_what_was_expected(
    text: str, env: dict[str, str], needle: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, env, "my.yaml")
    assert needle in str(info.value)


def test_token_never_shows_itself() -> None:
    config = parse_config("telegram: {token: '123456:SECRET-token'}", {})
    token = config.telegram.token
    assert isinstance(token, Secret)
    assert token.reveal() == "123456:SECRET-token"
    for shown in (repr(config), str(config), f"{token}", repr(token)):
        assert "SECRET" not in shown


def _eventfeed(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "EVENTFEED_TELEGRAM_TOKEN": "999:TOPSECRET"},
    )


def test_run_with_a_bad_config_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "eventfeed.yaml"
    config.write_text("scan:\n  interval_seconds: []\n", encoding="utf-8")
    result = _eventfeed("run", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "scan.interval_seconds" in result.stderr
    assert str(config) in result.stderr
    assert "TOPSECRET" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_run_with_a_missing_folder_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "eventfeed.yaml"
    config.write_text(f"articles:\n  folder: {tmp_path / 'nope'}\n", encoding="utf-8")
    result = _eventfeed("run", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "articles.folder" in result.stderr and "nope" in result.stderr
