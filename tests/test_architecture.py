"""The package's architecture, checked from its source: the layers import only what they may
(transitively, imports inside functions included), no import cycle, and the pure layers do no
I/O and read no clock."""

from __future__ import annotations

import ast
from collections import deque
from itertools import pairwise
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"

# What each layer may import (itself included), checked on every chain of imports. `bot` is the
# package's own __init__ (its version only): every layer may import it, it imports nothing. The
# `python -m bot` entry (__main__) is part of the CLI. Only the CLI may import app: it loads the
# config and builds the Daemon from it. Imports under `if TYPE_CHECKING:` count too (none is
# exempt): a type borrowed from another layer couples the layers as much as a call does.
MAY_IMPORT = {
    "bot": {"bot"},
    "core": {"core"},
    "extract": {"core", "extract"},
    "site": {"core", "site"},
    "store": {"core", "store"},
    "telegram": {"core", "store", "telegram"},
    "runtime": {"core", "extract", "site", "store", "runtime"},
    "app": {"core", "extract", "site", "store", "telegram", "runtime", "app"},
    "cli": {"core", "extract", "site", "store", "telegram", "runtime", "app", "cli"},
}
PURE_LAYERS = ("core", "site", "extract")


def layer(module: str) -> str | None:
    """The layer of a dotted module name of the package (None: a module in no layer)."""
    if module in {"bot", "bot.__main__"}:
        return "bot" if module == "bot" else "cli"
    top = module.split(".")[1]
    return top if top in MAY_IMPORT.keys() - {"bot"} else None


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package at root (`…/bot`), by dotted name."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _targets(node: ast.Import | ast.ImportFrom, name: str, known: dict[str, Path]) -> set[str]:
    """The package's modules an import statement in module `name` loads: `from pkg import sub`
    the module pkg.sub, `from pkg import Name` pkg itself."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    base = node.module or ""
    if node.level:  # relative: from the module's package, one package up per extra dot
        package = name.split(".") if known[name].name == "__init__.py" else name.split(".")[:-1]
        base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [base])])
    found = set()
    for alias in node.names:
        if f"{base}.{alias.name}" in known:
            found.add(f"{base}.{alias.name}")
        elif base in known:
            found.add(base)
    return found


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """Module -> {imported module of the package: line}, from every import statement anywhere
    in the module (in functions too), so a lazy import cannot hide a dependency."""
    known = modules(root)
    graph: dict[str, dict[str, int]] = {}
    for name, path in known.items():
        edges: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in sorted(_targets(node, name, known)):
                    edges[target] = min(edges.get(target, node.lineno), node.lineno)
        edges.pop(name, None)
        graph[name] = edges
    return graph


def _chain(parents: dict[str, str | None], end: str) -> list[str]:
    chain = [end]
    while (parent := parents[chain[-1]]) is not None:
        chain.append(parent)
    return chain[::-1]


def layer_violations(graph: dict[str, dict[str, int]]) -> list[str]:
    """For each module, the shortest import chain to each module its layer may not reach (the
    walk stops there, so one bad import is reported once per module that reaches it)."""
    found = []
    for source in sorted(graph):
        own = layer(source)
        if own is None:
            found.append(f"{source} belongs to no layer (one of {sorted(MAY_IMPORT)})")
            continue
        parents: dict[str, str | None] = {source: None}
        queue = deque([source])
        while queue:
            current = queue.popleft()
            target_layer = layer(current)
            if current != source and target_layer not in MAY_IMPORT[own] | {"bot"}:
                chain = " -> ".join(_chain(parents, current))
                allowed = ", ".join(sorted(MAY_IMPORT[own]))
                found.append(f"{chain}  ({own} may import only {allowed})")
                continue
            for target in graph.get(current, {}):
                if target not in parents:
                    parents[target] = current
                    queue.append(target)
    return found


def import_cycles(graph: dict[str, dict[str, int]]) -> list[str]:
    """One cycle per strongly connected group of modules (Tarjan), as `a -> b -> a`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(_cycle_in(graph, group) for group in groups)


def _cycle_in(graph: dict[str, dict[str, int]], group: set[str]) -> str:
    """A shortest cycle through the group's first module, with the line of each import."""
    start = min(group)
    parents: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for target in sorted(graph[current]):
            if target == start:
                chain = [*_chain(parents, current), start]
                return (
                    " -> ".join(f"{a} (line {graph[a][b]})" for a, b in pairwise(chain))
                    + f" -> {start}"
                )
            if target in group and target not in parents:
                parents[target] = current
                queue.append(target)
    raise AssertionError(f"no cycle through {start}")  # Tarjan's group always has one


def test_every_layer_imports_only_what_it_may() -> None:
    bad = layer_violations(import_graph(BOT))
    assert not bad, "imports across the layers:\n" + "\n".join(bad)


def test_no_import_cycle() -> None:
    cycles = import_cycles(import_graph(BOT))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


# The checker itself, on a tiny package in tmp_path: each rule must catch its violation.


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "bot"
    for name, text in {"__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


ALLOWED_PACKAGE = {
    "core/a.py": "from bot.core.sub import b\n",
    "core/sub/b.py": "from ..c import X\n",
    "core/c.py": "X = 1\n",
    "extract/e.py": "from bot.core import a\n",
    "site/s.py": "import bot.core.c\n",
    "store/d.py": "from bot.core.c import X\n",
    "telegram/t.py": "from bot.store import d\nfrom bot.core.a import b\n",
    "runtime/r.py": "from bot.extract import e\nfrom bot.site import s\nfrom bot.store.d import X\n",
    "app.py": "from bot.runtime import r\nfrom bot.telegram import t\n",
    "cli/main.py": "from bot import app\n",
    "__main__.py": "from bot.cli.main import main\n",
}


def test_the_checker_passes_a_package_that_keeps_the_rules(tmp_path: Path) -> None:
    graph = import_graph(_package(tmp_path, ALLOWED_PACKAGE))
    assert graph["bot.core.sub.b"] == {"bot.core.c": 1}  # relative, two dots
    assert graph["bot.app"] == {"bot.runtime.r": 1, "bot.telegram.t": 2}
    assert layer_violations(graph) == []
    assert import_cycles(graph) == []


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("core", "site"),
        ("core", "extract"),
        ("core", "store"),
        ("extract", "site"),
        ("extract", "store"),
        ("site", "extract"),
        ("site", "store"),
        ("store", "site"),
        ("store", "telegram"),
        ("store", "runtime"),
        ("telegram", "runtime"),
        ("telegram", "extract"),
        ("telegram", "site"),
        ("runtime", "telegram"),
        ("runtime", "cli"),
        ("runtime", "app"),
        ("telegram", "cli"),
        ("store", "app"),
    ],
)
def test_the_checker_catches_an_import_across_the_layers(
    tmp_path: Path, importer: str, imported: str
) -> None:
    target = "bot.app" if imported == "app" else f"bot.{imported}.m"
    files = {f"{importer}/x.py": f"def f() -> None:\n    import {target}\n"}  # in a function
    files["app.py" if imported == "app" else f"{imported}/m.py"] = ""
    bad = layer_violations(import_graph(_package(tmp_path, files)))
    allowed = ", ".join(sorted(MAY_IMPORT[importer]))
    assert bad == [f"bot.{importer}.x -> {target}  ({importer} may import only {allowed})"]


def test_the_checker_names_the_chain_that_reaches_a_forbidden_layer(tmp_path: Path) -> None:
    files = {
        "telegram/a.py": "from bot.telegram.b import X\n",
        "telegram/b.py": "from . import c\nX = 1\n",
        "telegram/c.py": "from bot.runtime.r import Y\n",
        "runtime/r.py": "Y = 1\n",
    }
    bad = layer_violations(import_graph(_package(tmp_path, files)))
    assert bad[0].startswith("bot.telegram.a -> bot.telegram.b -> bot.telegram.c -> bot.runtime.r")
    assert len(bad) == 3  # each telegram module on the way, by its own shortest chain


def test_the_checker_catches_app_importing_the_cli_and_a_module_in_no_layer(
    tmp_path: Path,
) -> None:
    files = {"app.py": "from bot.cli.main import run\n", "cli/main.py": "", "loose.py": ""}
    bad = layer_violations(import_graph(_package(tmp_path, files)))
    assert bad[0].startswith("bot.app -> bot.cli.main  (app may import only")
    assert bad[1].startswith("bot.loose belongs to no layer")
    assert len(bad) == 2


def test_the_checker_counts_an_import_only_for_type_checking(tmp_path: Path) -> None:
    files = {
        "store/s.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
        "    from bot.site.catalog import Feed\n",
        "site/catalog.py": "Feed = int\n",
    }
    bad = layer_violations(import_graph(_package(tmp_path, files)))
    assert [line.split("  ")[0] for line in bad] == ["bot.store.s -> bot.site.catalog"]


def test_the_checker_reports_an_import_cycle_even_through_a_function(tmp_path: Path) -> None:
    files = {
        "core/a.py": "from bot.core import b\n",
        "core/b.py": "X = 1\n\n\ndef f() -> None:\n    from bot.core.c import Y\n",
        "core/c.py": "import bot.core.a\nY = 1\n",
    }
    cycles = import_cycles(import_graph(_package(tmp_path, files)))
    assert cycles == [
        "bot.core.a (line 1) -> bot.core.b (line 5) -> bot.core.c (line 1) -> bot.core.a"
    ]


# The pure layers: no I/O library, no clock, no file read.

PURE = sorted(
    p.relative_to(BOT).as_posix() for name in PURE_LAYERS for p in (BOT / name).rglob("*.py")
)
FORBIDDEN = {
    "aiohttp", "apscheduler", "asyncio", "http", "httpx", "os", "shutil", "socket", "sqlalchemy",
    "subprocess", "telegram", "threading", "time", "urllib.request", "watchdog",
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


def test_the_pure_layers_are_there() -> None:
    for name in PURE_LAYERS:
        assert any(p.startswith(f"{name}/") for p in PURE), name


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


def test_only_the_store_speaks_sql() -> None:
    """SQLAlchemy is the store's business: the rest catch `bot.store`'s names for its errors."""
    outside = {
        path.relative_to(BOT).as_posix()
        for path in BOT.rglob("*.py")
        if "store" not in path.relative_to(BOT).parts
        and any(
            m == "sqlalchemy" or m.startswith("sqlalchemy.")
            for m in _imports(ast.parse(path.read_text(encoding="utf-8")))
        )
    }
    assert outside == set()


def test_a_long_module_says_why_it_is_one() -> None:
    """Modules stay small enough to read; one that grows past ~400 lines says in its docstring
    why it is still one module ("One module (~N lines): …")."""
    unexplained = []
    for path in sorted(BOT.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > 420:
            docstring = ast.get_docstring(ast.parse(source)) or ""
            if "one module" not in docstring.lower():
                unexplained.append(path.relative_to(BOT).as_posix())
    assert unexplained == []
