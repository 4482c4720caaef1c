"""Memory: the collector's thresholds raised while the pipeline works (and always given back),
the known files' stat data packed, fewer malloc arenas, freed memory kept by a publish's workers."""

from __future__ import annotations

import gc
import os
import platform
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_pipeline
from hypothesis import given
from hypothesis import strategies as st

from bot.runtime.heap import FIRST_THRESHOLD, fewer_collections
from bot.store.filestates import pack_stat

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


@given(
    st.integers(0, 2**64 - 1), st.integers(-(2**70), 2**70),
    st.integers(0, 2**64 - 1), st.integers(-(2**70), 2**70),
)  # fmt: skip
def test_a_packed_stat_is_equal_only_for_equal_pairs_and_negative_with_the_mtime(
    size: int, mtime_ns: int, other_size: int, other_mtime_ns: int
) -> None:
    packed = pack_stat(size, mtime_ns)
    assert (packed == pack_stat(other_size, other_mtime_ns)) == (
        (size, mtime_ns) == (other_size, other_mtime_ns)
    )
    assert pack_stat(size, mtime_ns) == pack_stat(size, mtime_ns)
    assert (packed < 0) == (mtime_ns < 0)  # -1: unreadable last time, read on every pass


def test_fewer_malloc_arenas_runs_and_leaves_a_set_environment_alone() -> None:
    code = "from bot.runtime.heap import fewer_malloc_arenas; fewer_malloc_arenas(); print('ok')"
    for env in ({}, {"MALLOC_ARENA_MAX": "4"}):
        done = subprocess.run(
            [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True
        )
        assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


FAULTS_OF_FREED_BLOCKS = """
import resource, sys
from bot.runtime import heap
if sys.argv[1] == "keep":
    heap.keep_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    len([bytes(400_000) for _ in range(6)])  # a page's documents and their copies, then freed
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_a_worker_keeping_freed_memory_does_not_fault_it_in_again() -> None:
    """A publish's worker makes a page's documents (~400 KB each, and their copies) and frees
    them: glibc's defaults hand the freed top of the heap back each time and fault it in again
    for the next page (a fault every 4 KB); kept memory is faulted in once."""
    faults = {}
    for mode in ("default", "keep"):
        done = subprocess.run(
            [sys.executable, "-c", FAULTS_OF_FREED_BLOCKS, mode], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        faults[mode] = int(done.stdout)
    assert faults["default"] > 50 * 100  # ~170 a page: the freed top given back, then again
    assert faults["keep"] < faults["default"] / 10, faults
