"""Long work shows progress: a bar with counts and rate on a terminal, periodic log lines elsewhere."""

from __future__ import annotations

import io
import logging
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from bot.cli.config import load_config, load_pack
from bot.runtime.pipeline import build_pipeline
from bot.runtime.progress import ProgressReport
from bot.store import Store

SAMPLE = Path(__file__).resolve().parent.parent / "data/articles/000_4fbda6de1bb3b082.txt"


def test_terminal_shows_a_bar_with_counts_and_rate() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with ProgressReport("reprocess", console=console) as progress:
        for done in range(0, 251):
            progress(done, 250)
    text = out.getvalue()
    assert "reprocess" in text
    assert "250/250" in text
    assert "/s" in text


def test_without_terminal_logs_a_line_every_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    caplog.set_level(logging.INFO, logger="eventfeed.progress")
    with ProgressReport("scan", interval=5.0, clock=lambda: now[0]) as progress:
        for done in range(0, 101):
            now[0] = done * 0.2  # 20 s for the whole job: one line every 5 s
            progress(done, 100)
    lines = [r.getMessage() for r in caplog.records]
    assert len([line for line in lines if "state=running" in line]) == 3
    assert lines[0].startswith("progress task=scan state=running done=25 total=100 rate=5.0/s")
    assert lines[-1].startswith("progress task=scan state=done done=100 total=100")


def test_short_work_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="eventfeed.progress")
    with ProgressReport("import", interval=5.0, clock=lambda: 0.0) as progress:
        progress(3, 3)
    assert caplog.records == []


def test_scan_reports_each_file_and_the_end(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    posts.mkdir()
    for n in range(3):
        shutil.copy(SAMPLE, posts / f"{n}.txt")
    config = load_config(None, {"EVENTFEED_ARTICLES_FOLDER": str(posts)})
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    seen: list[tuple[int, int]] = []
    build_pipeline(config, store, load_pack(config)).scan(None, lambda d, t: seen.append((d, t)))
    store.close()
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]
