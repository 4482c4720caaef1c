"""Configuration: one YAML document plus EVENTFEED_<SECTION>_<KEY> overrides, validated into frozen dataclasses.

Pure: the caller reads the file and the environment and passes them in.

One module (~430 lines): every section's dataclass beside its validation, so the whole shape of
the config reads in one place.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.core.errors import EventfeedError

ENV_PREFIX = "EVENTFEED_"


class ConfigError(EventfeedError):
    """A configuration problem, worded for the person who edits the file."""


class Secret(str):
    """A string that never shows itself in repr, logs or tracebacks."""

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:  # str(secret) and f-strings are masked too; use .reveal()
        return "***"

    def reveal(self) -> str:
        return str.__str__(self)


@dataclass(frozen=True)
class ArticlesConfig:
    folder: Path = Path("examples/articles")
    max_bytes: int = 10 * 1024 * 1024  # larger files are recorded as skipped
    max_categories: int = 50  # per article: each name makes feeds; the rest are left out
    max_tags: int = 50


@dataclass(frozen=True)
class StateConfig:
    url: str = "sqlite:///state/eventfeed.db"
    migrate: bool = True  # upgrade the schema at start; off: refuse a database that is behind
    pool_size: int = 5  # PostgreSQL connections kept open per process
    max_overflow: int = 5  # extra connections opened under load, closed when idle


@dataclass(frozen=True)
class FeedsConfig:
    folder: Path = Path("feeds")
    max_entries: int = 50
    websub_hub: str | None = None  # WebSub hub to declare (rel="hub") and ping on changes


@dataclass(frozen=True)
class SiteConfig:
    base_url: str = "http://127.0.0.1:8080/"
    title: str = "eventfeed"
    description: str = "Headline events from the articles of this site"
    timezone: str = "UTC"  # applied to naive dates in front matter
    language: str = "zh-Hans"
    author: str | None = None  # the feeds' author (Atom requires one); None: the title
    permalink: str = "/:categories/:year/:month/:day/:title.html"  # Jekyll's "date" style

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class HttpConfig:
    bind: str = "127.0.0.1:8080"
    # Open connections at most; beyond, the one idle the longest is closed (bot/runtime/connections.py).
    max_connections: int = 512
    idle_seconds: float = 15.0  # to send a whole request head, after opening or a response

    @property
    def host(self) -> str:
        return self.bind.rpartition(":")[0].strip("[]") or "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self.bind.rpartition(":")[2])


@dataclass(frozen=True)
class TelegramConfig:
    token: Secret | None = None
    base_url: str | None = None  # e.g. http://127.0.0.1:8081/bot for a self-hosted Bot API server
    admins: tuple[int, ...] = ()
    # Flood limits (Telegram's defaults); paid_broadcast lifts the overall rate to 1000/s.
    max_per_second: float = 30.0
    chat_interval_seconds: float = 1.0
    group_per_minute: int = 20
    paid_broadcast: bool = False
    max_subscriptions: int = 50  # per chat, its topics together (routes are never refused)
    # Routing: "CHAT[/TOPIC]: filter" (optionally "| template"), subscribed from config.
    routes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScanConfig:
    interval_seconds: float = 60.0  # safety-net rescan and outbox drain
    debounce_seconds: float = 0.5  # a watched file must be quiet this long before it is read
    # The safety net stats every file at least this often, a share at each rescan (an edit in
    # place the watcher missed shows only so); the rest of a rescan is a stat per folder.
    full_interval_seconds: float = 900.0
    # A scan that finds the folder empty while several articles are known removes none
    # (an unmounted disk) unless this is true.
    allow_empty_folder: bool = False


@dataclass(frozen=True)
class LlmConfig:
    """An OpenAI-compatible chat completions endpoint (Ollama, llama.cpp, vLLM, a hosted API)."""

    base_url: str | None = None  # e.g. http://127.0.0.1:11434/v1 (Ollama)
    model: str | None = None
    api_key: Secret | None = None  # sent as a bearer token; local servers need none
    timeout_seconds: float = 60.0  # per request; then the rules' events stand
    max_concurrent: int = 2  # requests in flight at once
    max_per_day: int = 1000  # requests per UTC day (answers in the cache are free); 0: no cap


BACKENDS = ("rules", "llm", "llm+rules")


@dataclass(frozen=True)
class ExtractConfig:
    rules: Path | None = None  # None: the rule pack shipped in bot/defaults
    aliases: Path | None = None
    rates: Path | None = None
    max_chars: int = 50_000  # characters of an article's text analysed for events
    budget_seconds: float = 10.0  # the daemon stops analysing a file after this long
    # rules: the rule extractor alone. llm: the model's events, the rules' when it fails.
    # llm+rules: the rules' events at once, replaced by the model's when it answers.
    backend: str = "rules"
    llm: LlmConfig = field(default_factory=LlmConfig)


@dataclass(frozen=True)
class ClusterConfig:
    """Several instances on one PostgreSQL database (README: Running several instances)."""

    instance: str | None = None  # unique per running instance; None: HOSTNAME-PID
    lease_seconds: float = 15.0  # a dead leader is replaced, its outbox claims taken, after this


@dataclass(frozen=True)
class LogConfig:
    level: str = "INFO"  # DEBUG, INFO, WARNING or ERROR
    format: str = "keyvalue"  # keyvalue (ts=… level=… msg=…) or json (one object a line)


@dataclass(frozen=True)
class Config:
    articles: ArticlesConfig = field(default_factory=ArticlesConfig)
    state: StateConfig = field(default_factory=StateConfig)
    feeds: FeedsConfig = field(default_factory=FeedsConfig)
    site: SiteConfig = field(default_factory=SiteConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    scan: ScanConfig = field(default_factory=ScanConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    log: LogConfig = field(default_factory=LogConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)


def parse_config(text: str | None, env: Mapping[str, str], source: str = "<config>") -> Config:
    """Build a Config from YAML text (None: defaults only) and environment overrides."""
    try:
        doc = yaml.safe_load(text) if text else {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level")
    sections = _sections()
    for name in doc:
        if name not in sections:
            raise ConfigError(
                f"{source}: unknown section '{name}'; expected one of {_names(sections)}"
            )
    built: dict[str, Any] = {}
    origins: dict[str, str] = {}  # "section.key" → where its value came from, for errors
    for name, cls in sections.items():
        raw = doc.get(name) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: '{name}' must be a mapping of keys")
        built[name] = _build_section(name, cls, raw, env, source, origins)
    config = Config(**built)
    _check(config, lambda key: origins.get(key, f"{source}: '{key}'"))
    return config


def config_source(path: Path | None) -> str:
    """How errors name the config file: its path, or `<defaults>` when there is none."""
    return str(path) if path else "<defaults>"


def origin(key: str, source: str, env: Mapping[str, str]) -> str:
    """Where the value of `key` ('section.key') came from, worded as parse_config's errors."""
    env_name = f"{ENV_PREFIX}{key.replace('.', '_')}".upper()
    return f"environment variable {env_name}" if env_name in env else f"{source}: '{key}'"


def _sections() -> dict[str, type]:
    hints = typing.get_type_hints(Config)
    return {f.name: hints[f.name] for f in dataclasses.fields(Config)}


def _names(items: Mapping[str, Any]) -> str:
    return ", ".join(sorted(items))


def _build_section(
    section: str,
    cls: type,
    raw: dict[str, Any],
    env: Mapping[str, str],
    source: str,
    origins: dict[str, str],
) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            raise ConfigError(
                f"{source}: unknown key '{section}.{key}'; expected one of {_names(fields)}"
            )
    values: dict[str, Any] = {}
    for key, hint in fields.items():
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):  # extract.llm
            inner = raw.get(key) or {}
            if not isinstance(inner, dict):
                raise ConfigError(f"{source}: '{section}.{key}' must be a mapping of keys")
            values[key] = _build_section(f"{section}.{key}", hint, inner, env, source, origins)
            continue
        env_name = f"{ENV_PREFIX}{section.replace('.', '_')}_{key}".upper()
        where = f"{source}: '{section}.{key}'"
        if env_name in env:
            where = origins[f"{section}.{key}"] = f"environment variable {env_name}"
            values[key] = _coerce(_from_env(env[env_name]), hint, where)
        elif key in raw:
            values[key] = _coerce(raw[key], hint, where)
    return cls(**values)


def _from_env(value: str) -> Any:
    """Environment values are YAML scalars or lists ('8080', 'true', '[1, 2]'); bare text stays text."""
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    return parsed if isinstance(parsed, (int, float, bool, list)) or parsed is None else value


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(value, inner, where)
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if isinstance(items, (int, float)) and not isinstance(items, bool):
            items = [items]
        if not isinstance(items, list):
            raise ConfigError(f"{where}: expected a list, got {_shown(value)}")
        return tuple(_coerce(_scalar(i), args[0], where) for i in items if str(i).strip())
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {_shown(value)}")
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {_shown(value)}")
        if not math.isfinite(value):  # YAML's .nan and .inf pass every comparison below
            raise ConfigError(f"{where}: expected a finite number, got {value}")
        if hint is int and isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{where}: expected a whole number, got {value}")
        return hint(value)
    if hint in (str, Path, Secret):
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or value == "":
            raise ConfigError(f"{where}: expected text, got {_shown(value)}")
        return hint(str(value))
    raise ConfigError(f"{where}: unsupported value {_shown(value)}")  # pragma: no cover


def _scalar(item: Any) -> Any:
    if isinstance(item, str):
        item = item.strip()
        try:
            return int(item)
        except ValueError:
            return item
    return item


def _shown(value: Any) -> str:
    kind = "nothing" if value is None else type(value).__name__
    return f"{kind} {value!r}" if value is not None else kind


# Longer waits overflow the event loop's timers (a crash at start, restarted forever by systemd).
_MAX_SECONDS = 365 * 24 * 3600
_BIND_RE = re.compile(r"(?P<host>.+):(?P<port>[0-9]{1,5})")


def _check(config: Config, where: Callable[[str], str]) -> None:
    """Checks that need more than a type: values in range, URLs, time zones, folders. `where`
    names a key's origin: the file and key, or the environment variable that set it."""

    def require(ok: bool, key: str, wanted: str) -> None:
        if not ok:
            raise ConfigError(f"{where(key)} {wanted}")

    require(config.feeds.max_entries >= 1, "feeds.max_entries", "must be at least 1")
    require(config.articles.max_bytes >= 1, "articles.max_bytes", "must be at least 1")
    require(config.extract.max_chars >= 1_000, "extract.max_chars", "must be at least 1000")
    require(config.extract.budget_seconds > 0, "extract.budget_seconds", "must be more than 0")
    require(config.extract.budget_seconds <= 3600, "extract.budget_seconds", "must be at most 3600")
    require(config.scan.interval_seconds > 0, "scan.interval_seconds", "must be more than 0")
    require(config.scan.debounce_seconds >= 0, "scan.debounce_seconds", "must not be negative")
    require(
        config.scan.full_interval_seconds > 0, "scan.full_interval_seconds", "must be more than 0"
    )
    require(
        config.telegram.chat_interval_seconds >= 0,
        "telegram.chat_interval_seconds",
        "must not be negative",
    )
    require(config.cluster.lease_seconds >= 1, "cluster.lease_seconds", "must be at least 1")
    for section in dataclasses.fields(config):
        values = getattr(config, section.name)
        for item in dataclasses.fields(values):
            if item.name.endswith("_seconds"):
                seconds = getattr(values, item.name)
                dotted = f"{section.name}.{item.name}"
                require(seconds <= _MAX_SECONDS, dotted, f"must be at most {_MAX_SECONDS}")
    for key, url in (
        ("site.base_url", config.site.base_url),
        ("feeds.websub_hub", config.feeds.websub_hub),
        ("telegram.base_url", config.telegram.base_url),
    ):
        require(
            not url or url.startswith(("http://", "https://")),
            key,
            "must start with http:// or https://",
        )
    try:
        ZoneInfo(config.site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{where('site.timezone')} must be an IANA time zone such as 'Asia/Shanghai', "
            f"got {config.site.timezone!r}"
        ) from None
    require(config.telegram.max_per_second > 0, "telegram.max_per_second", "must be positive")
    require(config.telegram.group_per_minute >= 1, "telegram.group_per_minute", "must be positive")
    require(  # /list has a ✖ button for each
        1 <= config.telegram.max_subscriptions <= 100,
        "telegram.max_subscriptions",
        "must be from 1 to 100",
    )
    instance = config.cluster.instance
    require(
        instance is None or len(instance) <= 100,
        "cluster.instance",
        "must be at most 100 characters",
    )
    require(
        config.log.level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR"),
        "log.level",
        "must be DEBUG, INFO, WARNING or ERROR",
    )
    require(config.log.format in ("keyvalue", "json"), "log.format", "must be keyvalue or json")
    bind = _BIND_RE.fullmatch(config.http.bind)
    require(
        bind is not None and 0 < int(bind["port"]) < 65536,
        "http.bind",
        "must be HOST:PORT such as '127.0.0.1:8080'",
    )
    require(
        1 <= config.http.max_connections <= 100_000, "http.max_connections", "must be 1 to 100000"
    )
    require(config.http.idle_seconds > 0, "http.idle_seconds", "must be more than 0")
    require(config.state.pool_size >= 1, "state.pool_size", "must be at least 1")
    require(config.state.max_overflow >= 0, "state.max_overflow", "must not be negative")
    require(
        "://" in config.state.url,
        "state.url",
        "must be a database URL such as 'sqlite:///state/eventfeed.db'",
    )
    for key in ("max_categories", "max_tags"):
        require(getattr(config.articles, key) >= 0, f"articles.{key}", "must not be negative")
    _check_llm(config.extract, require)


def _check_llm(extract: ExtractConfig, require: Callable[[bool, str, str], None]) -> None:
    llm = extract.llm
    require(extract.backend in BACKENDS, "extract.backend", "must be rules, llm or llm+rules")
    if extract.backend != "rules":
        require(
            llm.base_url is not None,
            "extract.llm.base_url",
            f"is needed for extract.backend {extract.backend}",
        )
        require(llm.model is not None, "extract.llm.model", "is needed for extract.backend llm")
    require(
        not llm.base_url or llm.base_url.startswith(("http://", "https://")),
        "extract.llm.base_url",
        "must start with http:// or https://",
    )
    require(
        0 < llm.timeout_seconds <= 3600, "extract.llm.timeout_seconds", "must be from 0 to 3600"
    )
    require(1 <= llm.max_concurrent <= 64, "extract.llm.max_concurrent", "must be from 1 to 64")
    require(llm.max_per_day >= 0, "extract.llm.max_per_day", "must not be negative")
