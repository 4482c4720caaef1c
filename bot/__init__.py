"""eventfeed: article folder → headline events → RSS/Atom feeds and Telegram alerts.

The pure extractor may be compiled with mypyc (setup.py): its C extensions sit beside their
sources and win the import. Where one is older than its source (edited since the build) or
EVENTFEED_PURE is set, every one of them is loaded from its source instead: the compiled
modules call each other directly, so a mix would run the stale code.
"""

import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from importlib.util import spec_from_file_location
from types import ModuleType

__version__ = "0.1.0"

_HERE = os.path.dirname(__file__)
_SLACK_NS = 2_000_000_000  # a wheel's files are written one by one at install: not stale


def _compiled_sources() -> dict[str, tuple[str, bool]]:
    """Each compiled module beside its source: name → (source path, stale)."""
    found: dict[str, tuple[str, bool]] = {}
    for package in ("core", "extract"):
        folder = os.path.join(_HERE, package)
        for entry in os.scandir(folder):
            suffix = next((s for s in EXTENSION_SUFFIXES if entry.name.endswith(s)), None)
            if suffix is None:
                continue
            stem = entry.name[: -len(suffix)]
            source = os.path.join(folder, stem + ".py")
            if not os.path.exists(source):
                continue
            name = f"bot.{package}" if stem == "__init__" else f"bot.{package}.{stem}"
            stale = os.stat(source).st_mtime_ns > entry.stat().st_mtime_ns + _SLACK_NS
            found[name] = (source, stale)
    return found


class _FromSources:
    """Finds the compiled modules' sources ahead of their extensions."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.sources = sources

    def find_spec(
        self, name: str, path: object = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        source = self.sources.get(name)
        if source is None:
            return None
        package = [os.path.dirname(source)] if source.endswith("__init__.py") else None
        return spec_from_file_location(name, source, submodule_search_locations=package)


_COMPILED = _compiled_sources()
# True when the compiled modules are the ones imported (bench/extraction.py prints it).
COMPILED = bool(_COMPILED)
if _COMPILED and (os.environ.get("EVENTFEED_PURE") or any(s for _, s in _COMPILED.values())):
    sys.meta_path.insert(0, _FromSources({name: path for name, (path, _) in _COMPILED.items()}))
    COMPILED = False
