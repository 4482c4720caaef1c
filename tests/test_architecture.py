"""Keeps the pure core pure: no I/O library imported, no clock read, in the modules that must not."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"

PURE = sorted(
    p.relative_to(BOT).as_posix()
    for layer in ("core", "site", "extract")
    for p in (BOT / layer).glob("*.py")
)

FORBIDDEN = {
    "aiohttp", "apscheduler", "asyncio", "http", "httpx", "os", "shutil", "socket", "sqlalchemy",
    "subprocess", "telegram", "threading", "time", "urllib.request", "watchdog",
    "bot.app", "bot.cli", "bot.telegram", "bot.runtime", "bot.store",
}  # fmt: skip
# A lock is not I/O: the cache is shared by the scanning thread and the server's.
ALLOWED = {"core/lru.py": {"threading"}}
CLOCK_CALLS = {"now", "today", "utcnow", "monotonic", "perf_counter"}


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("name", PURE)
def test_pure_module_imports_no_io(name: str) -> None:
    tree = ast.parse((BOT / name).read_text(encoding="utf-8"))
    bad = {
        module
        for module in _imports(tree) - ALLOWED.get(name, set())
        if any(module == f or module.startswith(f + ".") for f in FORBIDDEN)
    }
    assert not bad, f"bot/{name} imports {sorted(bad)}"


@pytest.mark.parametrize("name", PURE)
def test_pure_module_reads_no_clock_and_opens_no_file(name: str) -> None:
    tree = ast.parse((BOT / name).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            reads_clock = isinstance(func, ast.Attribute) and (
                called in CLOCK_CALLS
                or (called == "time" and getattr(func.value, "id", "") == "time")  # not dt.time()
            )
            assert not reads_clock, f"bot/{name}:{node.lineno} reads the clock"
            assert called not in {"open", "read_text", "read_bytes"}, (
                f"bot/{name}:{node.lineno} reads a file"
            )


def test_the_pure_module_list_is_complete() -> None:
    assert (BOT / "extract" / "__init__.py").exists()
    for name in PURE:
        assert (BOT / name).exists(), name


def _examples_paths(tree: ast.AST) -> list[int]:
    """Lines building a path into examples/ (`X / "examples…"`), the folder the README invites
    users to fill: a test reading it fails once they do."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Div)
        and isinstance(node.right, ast.Constant)
        and str(node.right.value).startswith("examples")
    ]


def test_no_test_reads_the_live_examples_folder() -> None:
    tests = Path(__file__).resolve().parent
    found = {
        path.relative_to(tests).as_posix(): lines
        for path in sorted(tests.rglob("*.py"))
        if "data" not in path.relative_to(tests).parts
        and (lines := _examples_paths(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert found == {}, "use the copies in tests/data/articles/"
    for path in tests.rglob("test_*.py"):  # `make run`'s config: its articles folder moved
        text = path.read_text(encoding="utf-8")
        if '"config/eventfeed.yaml"' in text and '"bot", "run"' in text:
            assert "EVENTFEED_ARTICLES_FOLDER" in text, path.name
