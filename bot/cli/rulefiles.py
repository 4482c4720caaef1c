"""Reads the rule pack, alias table and rate table shipped inside the package."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import yaml

from bot.extract import RulePackError

NAMES = ("rules.yaml", "aliases.yaml", "rates.yaml")


def default_documents() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """rules.yaml, aliases.yaml and rates.yaml as shipped in bot/defaults, parsed."""
    folder = files("bot") / "defaults"
    docs = []
    for name in NAMES:
        doc = yaml.safe_load(folder.joinpath(name).read_text(encoding="utf-8"))
        if not isinstance(doc, dict):
            raise RulePackError(f"{name}: the packaged file must hold a mapping")
        docs.append(doc)
    return docs[0], docs[1], docs[2]
