"""Progress of long work (a first scan, `reprocess`, `import`): a bar on a terminal, log lines elsewhere.

The work reports `(done, total)` through a plain callable, possibly from a worker thread, and
knows nothing of how it is shown. On a terminal that is a rich progress bar with counts, rate
and time left; under systemd, cron or a pipe it is one log line every few seconds, and nothing
at all for work that ends before the first line is due. rich is imported only for a bar: the
daemon mostly runs without a terminal, and rich costs it ~1.5 MB.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

log = logging.getLogger("eventfeed.progress")

ProgressHook = Callable[[int, int], None]  # (done, total)


def _bar(console: Console) -> Progress:
    """A bar with counts, rate and time left."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.1f}/s" if speed else "-/s", style="progress.data.speed")

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


class ProgressReport:
    """A context manager whose `update(done, total)` shows how far the work has come."""

    def __init__(
        self,
        label: str,
        *,
        console: Console | None = None,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self._last_line = self._start
        self._lines = 0
        self._done = 0
        self._total = 0
        if console is None and sys.stderr.isatty():
            from rich.console import Console

            console = Console(stderr=True)
        self._bar = None if console is None else _bar(console)
        self._task: TaskID | None = None

    def __enter__(self) -> ProgressReport:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=None)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self._lines:  # periodic lines were shown: close them with the final count
            self._log_line("done")

    def update(self, done: int, total: int) -> None:
        with self._lock:
            self._done, self._total = done, total
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, completed=done, total=total)
                return
            now = self._clock()
            if now - self._last_line >= self.interval and done < total:
                self._last_line = now
                self._lines += 1
                self._log_line("running")

    __call__ = update

    def _log_line(self, state: str) -> None:
        elapsed = max(self._clock() - self._start, 1e-9)
        log.info(
            "progress task=%s state=%s done=%d total=%d rate=%.1f/s elapsed=%.0fs",
            self.label,
            state,
            self._done,
            self._total,
            self._done / elapsed,
            elapsed,
        )
