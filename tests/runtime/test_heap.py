"""The collector's thresholds are raised while the pipeline works, and always come back."""

from __future__ import annotations

import gc
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_pipeline

from bot.runtime.heap import FIRST_THRESHOLD, fewer_collections

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "articles"


@pytest.fixture(autouse=True)
def default_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_raised_inside_and_restored_after_nesting_and_errors() -> None:
    with fewer_collections():
        assert gc.get_threshold() == (FIRST_THRESHOLD, 10, 10)
        with pytest.raises(RuntimeError), fewer_collections():
            raise RuntimeError("a failing inner work")
        assert gc.get_threshold() == (FIRST_THRESHOLD, 10, 10)  # the outer one still runs
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_after_the_last_of_two_threads() -> None:
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with fewer_collections():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    assert entered.wait(10)
    with fewer_collections():
        pass
    assert gc.get_threshold()[0] == FIRST_THRESHOLD  # the other thread's work still runs
    release.set()
    thread.join(10)
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.parametrize("setting", [(0, 10, 10), (50_000, 5, 5)])
def test_a_process_setting_off_or_higher_is_kept(setting: tuple[int, int, int]) -> None:
    gc.set_threshold(*setting)
    with fewer_collections():
        assert gc.get_threshold() == setting
    assert gc.get_threshold() == setting


def test_a_scan_runs_with_fewer_collections_and_the_publish_gives_them_back(tmp_path: Path) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    for sample in sorted(SAMPLES.glob("*.txt"))[:3]:
        shutil.copy(sample, folder / sample.name)
    pipeline = make_pipeline(tmp_path, folder)
    seen: list[int] = []
    report = pipeline.scan(progress=lambda _done, _all: seen.append(gc.get_threshold()[0]))
    # Called for each file while the scan works, then once more when it is done.
    assert report.new == 3 and set(seen[:-1]) == {FIRST_THRESHOLD} and seen[-1] == 700
    assert gc.get_threshold() == (700, 10, 10)
    assert pipeline.write_feeds() > 0
    assert gc.get_threshold() == (700, 10, 10)
