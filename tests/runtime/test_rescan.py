"""The safety net's rescan by turns: what the watcher missed is found, at a stat per folder
and a share of the files per pass."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import make_pipeline

from bot.runtime.pipeline import Pipeline

PARTS = 4  # passes per round: every file is statted once a round


def later() -> datetime:
    """A clock past the moment a folder's stamp can still move (see `files.look_again`)."""
    return datetime.now(UTC) + timedelta(minutes=1)


def post(path: Path, n: int, body: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\ntitle: Post {n}\n---\n\nThe body of post {n}. {body}\n", "utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for n in range(12):
        post(tmp_path / "posts" / f"{2020 + n % 3}" / f"{n}.md", n)
    return tmp_path / "posts"


@pytest.fixture
def pipeline(tmp_path: Path, folder: Path) -> Pipeline:
    pipeline = make_pipeline(tmp_path, folder)
    pipeline.clock = later
    first = pipeline.rescan(parts=PARTS, full=True)
    assert (first.seen, first.new) == (12, 12)
    return pipeline


def test_a_quiet_folder_costs_a_share_of_the_files_per_pass(pipeline: Pipeline) -> None:
    round_ = [pipeline.rescan(parts=PARTS) for _ in range(PARTS)]
    assert all(r.new == r.changed == r.deleted == 0 for r in round_)
    assert sum(r.seen for r in round_) == 2 * 12  # statted once, listed by name once


def test_files_created_or_deleted_in_a_subfolder_are_found_at_the_next_pass(
    pipeline: Pipeline, folder: Path
) -> None:
    # The watcher is not running: only the folders' stamps tell.
    post(folder / "2021" / "deeper" / "new.md", 100)
    (folder / "2020" / "0.md").unlink()
    (folder / "2022" / "2.md").rename(folder / "2022" / "renamed.md")
    report = pipeline.rescan(parts=PARTS)
    assert (report.new, report.changed, report.deleted) == (2, 0, 2)
    states = pipeline.store.file_states()
    assert {"2021/deeper/new.md", "2022/renamed.md"} <= set(states)
    assert not {"2020/0.md", "2022/2.md"} & set(states)
    again = pipeline.rescan(parts=PARTS)
    assert (again.new, again.changed, again.deleted) == (0, 0, 0)


def test_a_folder_removed_with_its_files_is_found(pipeline: Pipeline, folder: Path) -> None:
    for path in (folder / "2021").iterdir():
        path.unlink()
    (folder / "2021").rmdir()
    report = pipeline.rescan(parts=PARTS)
    assert (report.new, report.changed, report.deleted) == (0, 0, 4)


def test_an_edit_in_place_is_found_within_one_round(pipeline: Pipeline, folder: Path) -> None:
    """Writing into a file changes no folder: its turn among the files finds it."""
    target = folder / "2020" / "3.md"
    stamp, digest = os.stat(target.parent).st_mtime_ns, _digest(pipeline, "2020/3.md")
    post(target, 3, "Edited in place.")
    assert os.stat(target.parent).st_mtime_ns == stamp
    changed = [pipeline.rescan(parts=PARTS).changed for _ in range(PARTS)]
    assert sorted(changed) == [0] * (PARTS - 1) + [1]
    assert _digest(pipeline, "2020/3.md") != digest


def _digest(pipeline: Pipeline, path: str) -> str:
    return pipeline.store.file_states()[path].content_hash


def test_a_link_in_the_tree_makes_every_pass_a_full_scan(pipeline: Pipeline, folder: Path) -> None:
    (folder / "alias").symlink_to(folder / "2020")
    target = folder / "2021" / "1.md"
    post(target, 1, "Edited in place.")
    report = pipeline.rescan(parts=PARTS)
    assert (report.seen, report.changed) == (12, 1)
