"""Reading the config file and the rule files: every command's first step, and the daemon's
reloads (`load_again`, handed to `bot.app.Daemon`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bot.cli.rulefiles import default_documents
from bot.core.alertroutes import parse_routes
from bot.core.config import Config, ConfigError, config_source, origin, parse_config
from bot.extract import RulePack, RulePackError, load_rule_pack

DEFAULT_CONFIG = Path("config/eventfeed.yaml")  # every command's --config default


def load_config(path: Path | None, env: Mapping[str, str]) -> Config:
    """Read the config file (None: built-in defaults) and apply environment overrides."""
    text = None
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    return parse_config(text, env, config_source(path))


def check_folders(config: Config, path: Path | None, env: Mapping[str, str]) -> None:
    """The daemon's folders must exist before it starts: say which one is missing, and where
    it was set (the config file at `path`, or an environment variable), as config errors do."""
    folder = config.articles.folder
    where = origin("articles.folder", config_source(path), env)
    if not folder.is_dir():
        raise ConfigError(f"{where}: {folder} is not a folder (create it or fix the path)")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise ConfigError(f"{where}: {folder} is not readable")


def load_pack(config: Config) -> RulePack:
    """The rule pack, alias table and rate table: the files in config, else the packaged ones."""
    rules, aliases, rates = default_documents()
    docs: list[dict[str, Any]] = []
    for key, path, default in (
        ("extract.rules", config.extract.rules, rules),
        ("extract.aliases", config.extract.aliases, aliases),
        ("extract.rates", config.extract.rates, rates),
    ):
        if path is None:
            docs.append(default)
            continue
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"'{key}': cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"'{key}': {path} is not valid YAML: {exc}") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"'{key}': {path} must hold a mapping")
        docs.append(doc)
    try:
        return load_rule_pack(docs[0], docs[1], docs[2])
    except RulePackError as exc:
        raise ConfigError(str(exc)) from None


def load_again(path: Path, env: Mapping[str, str]) -> tuple[Config, RulePack]:
    """A reload: config, pack and routes, all validated (ConfigError) before anything changes."""
    config = load_config(path, env)
    pack = load_pack(config)
    parse_routes(
        config.telegram.routes, pack.event_types, pack.canonical
    )  # RouteError: a ConfigError
    return config, pack
