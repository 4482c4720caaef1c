"""Fewer garbage collections while the pipeline works through many files.

A scan or a publish of thousands of articles allocates millions of short-lived objects and
keeps few. With CPython's default thresholds (700, 10, 10) each filling of the oldest
generation makes the collector walk every long-lived object (the modules, SQLAlchemy's
mappers, the articles kept for the publish): ~0.85 s of the scanning process's ~5 s of CPU in
a backfill of 10,000 articles (docs/benchmarks.md, 2026-12-07). A larger first threshold while
the work runs makes those walks rare; the collector still runs, so cycles are freed as before.
`eventfeed run` sets the same threshold for the daemon's whole life (`cli.main.tune_gc`); this
gives it to every other caller of the pipeline (reprocess, import, the benchmarks, tests).

`fewer_malloc_arenas`: the daemon's peak memory; `keep_freed_memory`: a publish's workers.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import threading
from collections.abc import Callable, Iterator

FIRST_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)

_lock = threading.Lock()
_depth = 0  # works running: the thresholds come back when the last one ends
_saved = gc.get_threshold()


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the collector's first threshold for the duration (nested or from several
    threads: the thresholds before the first come back after the last). A process that
    turned collection off (threshold 0) or raised it further keeps its setting."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            first, *rest = _saved
            if 0 < first < FIRST_THRESHOLD:
                gc.set_threshold(FIRST_THRESHOLD, *rest)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved)


M_ARENA_MAX = -8  # glibc's mallopt parameter


def fewer_malloc_arenas(arenas: int = 2) -> None:
    """Let glibc's malloc keep at most `arenas` arenas. By default each thread that allocates
    may get one of its own (up to 8 per core), and each keeps what it once held; the daemon's
    threads (HTTP, Telegram, the scheduler, the watcher) each allocate a little. Two keep its
    peak RSS ~4 MB lower at 100,000 articles (docs/benchmarks.md, 2026-12-07). Call it before
    threads start. A MALLOC_ARENA_MAX in the environment wins; other C libraries: nothing."""
    mallopt = _mallopt()
    if mallopt is not None and "MALLOC_ARENA_MAX" not in os.environ:
        mallopt(M_ARENA_MAX, arenas)


M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters
M_MMAP_THRESHOLD = -3


def keep_freed_memory() -> None:
    """For a process that lives for one large job, a publish's worker: glibc maps each block
    of 128 KB or more on its own and hands the top of its heap back to the kernel once 128 KB
    of it are free (both limits rise with what it sees), so a worker writing pages of ~400 KB
    had its buffers faulted in again page after page (~100,000 page faults a worker in a
    backfill's publish: 0.45 -> 0.15 s of kernel CPU). It keeps what it frees for the next
    page instead, and gives it all back when it ends with the publish. Other C libraries:
    nothing."""
    mallopt = _mallopt()
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, 32 << 20)  # glibc's largest
        mallopt(M_TRIM_THRESHOLD, 256 << 20)


def _mallopt() -> Callable[[int, int], int] | None:
    """glibc's `mallopt`, or None under another C library."""
    try:
        return ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
