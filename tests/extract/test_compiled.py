"""The extractor compiled by mypyc (setup.py) against its sources: the same output byte for
byte, and the sources run where the compiled modules are stale or EVENTFEED_PURE is set
(bot/__init__.py). Skipped where nothing is compiled (EVENTFEED_PURE=1 at install, or no
C compiler)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bot

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data"
pytestmark = pytest.mark.skipif(
    not bot.COMPILED, reason="the extractor is not compiled, or stale: `make compile`"
)


def _inputs() -> list[str]:
    folders = [DATA / "extract" / "cases", DATA / "articles", DATA / "eval" / "articles"]
    return [
        str(p)
        for folder in folders
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.endswith(".yaml")
    ]


def _extract(pure: bool) -> tuple[int, bytes]:
    """`eventfeed extract --format jsonl` in a process of its own, compiled or from sources."""
    env = {k: v for k, v in os.environ.items() if k != "EVENTFEED_PURE"}
    if pure:
        env["EVENTFEED_PURE"] = "1"
    script = (
        "import sys, bot\n"
        f"assert bot.COMPILED is {not pure}\n"
        "from bot.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    command = [sys.executable, "-c", script, "extract", "--format", "jsonl", *_inputs()]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True)
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    return done.returncode, done.stdout  # 1: a file is no article (broken-front-matter.md)


def test_compiled_and_pure_extract_the_same() -> None:
    compiled = _extract(pure=False)
    assert compiled[1].count(b"\n") >= 25  # an article a line: most of them are
    assert compiled == _extract(pure=True)


def _loaded(package_root: Path) -> str:
    """Where a copy of the package at package_root loads the rule pack's module from."""
    script = "import bot, bot.extract.rules as r; print(bot.COMPILED, r.__file__)"
    env = {k: v for k, v in os.environ.items() if k not in ("EVENTFEED_PURE", "PYTHONPATH")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=package_root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_an_edited_source_is_run_instead_of_the_stale_compiled_modules(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "bot", tmp_path / "bot", copy_function=shutil.copy2)
    for shared in ROOT.glob("*__mypyc.*"):  # the compiled modules' common library
        shutil.copy2(shared, tmp_path)
    assert _loaded(tmp_path).startswith("True ")
    source = tmp_path / "bot" / "extract" / "dates.py"
    (built,) = source.parent.glob("dates.*.so")
    later = built.stat().st_mtime_ns + 60 * 10**9
    os.utime(source, ns=(later, later))  # edited after the build
    assert _loaded(tmp_path) == f"False {tmp_path / 'bot' / 'extract' / 'rules.py'}"
