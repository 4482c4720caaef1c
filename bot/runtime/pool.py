"""Parsing and extraction of a large scan in worker processes, while the scanning process
stores: on a machine with several cores a first scan of thousands of articles is then bound
by the store, not by extraction.

Each worker receives the rule pack once, when it starts; results come back in the order the
files were given, so a pooled scan stores exactly what a sequential one would. A small scan
(a file the watcher saw change) never starts a pool: it calls `analyse` in-process.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, tzinfo
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, TypeVar

import pebble

from bot.core.articles import ArticleError, parse_article
from bot.core.model import Article, Extraction, fields_reduce
from bot.extract import RulePack, extract

log = logging.getLogger(__name__)

K = TypeVar("K")
CHUNK = 8  # files per task: fewer round trips, and still a short wait for the first result
ALONE = 64 * 1024  # bytes from which a file is a task of its own: small files never wait for it
AHEAD = 4  # tasks in flight per worker: workers never wait for the scanning process


@dataclass(frozen=True, slots=True)
class Job:
    """A file's bytes and what parsing needs beside them."""

    data: bytes
    path: str
    mtime: datetime
    timezone: tzinfo
    max_chars: int | None = None  # of the text analysed for events (see `extract`)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Sent with every file: the class called with its fields, as the model's types are
        # (slots' own pickling looks the fields up on both sides: 8.4 -> 5.1 us a job to
        # pickle, 6.5 -> 3.7 to unpickle, in chunks of 8).
        return fields_reduce(self)


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a file yields no article: bad input, or (with a traceback) a bug."""

    error: str
    traceback: str = ""


Analysis = tuple[Article, Extraction] | Failure


def analyse(job: Job, pack: RulePack) -> Analysis:
    """The article in a file and its extraction, or why there is none: never raises."""
    try:
        article = parse_article(job.data, job.path, job.mtime, job.timezone)
        return article, extract(article, pack, job.max_chars)
    except ArticleError as exc:
        return Failure(str(exc))
    except Exception as exc:  # a bug must cost one file, never the scan
        return Failure(f"internal error: {type(exc).__name__}: {exc}", traceback.format_exc())


_alive: list[Connection] = []  # this process's end of the pipe its workers watch (see below)


def _owner_alive() -> Connection:
    """The end of a pipe that reads EOF once this process is gone, however it ends: its
    other end stays open, unused, for the life of the process."""
    if not _alive:
        reader, writer = multiprocessing.Pipe(duplex=False)
        _alive[:] = [reader, writer]
    return _alive[0]


def workers() -> int:
    """How many worker processes pay: one per core this process may run on."""
    if hasattr(os, "sched_getaffinity"):  # Linux: the cores this process may use
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def executor(
    processes: int, setup: Callable[..., None] | None = None, *args: Any
) -> ProcessPoolExecutor:
    """Worker processes that call `setup(*args)` once when they start, and end when the
    process that started them is killed (nothing else would end them)."""
    return ProcessPoolExecutor(
        processes,
        mp_context=_context(),
        initializer=_start_worker,
        initargs=(_owner_alive(), setup, args),
    )


def start_server() -> None:
    """Start the workers' fork server, unless it runs: it imports what they run (~0.2 s of
    one core) while the caller goes on, listing the folder, instead of when the first worker
    is wanted. Returns at once."""
    _context()
    multiprocessing.forkserver.ensure_running()


def _context() -> multiprocessing.context.ForkServerContext:
    # forkserver, not fork: the daemon has threads (a fork copies the locks they hold). The
    # server imports what workers run once, so a worker starts in milliseconds, not 0.5 s;
    # only that (analysis, and writing feed pages): not the store, which workers never use.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(
        ["bot.runtime.pool", "bot.runtime.pagefiles", "bot.runtime.heap"]
    )
    return context


class AnalysisPool:
    """Worker processes that analyse files; use it as a context manager."""

    def __init__(self, pack: RulePack, processes: int) -> None:
        self.pack = pack
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = executor(processes, _keep_pack, pack)

    def __enter__(self) -> AnalysisPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def analyse_all(
        self, items: Iterable[tuple[K, Job | None]]
    ) -> Iterator[tuple[K, Analysis | None]]:
        """Each item's key with the analysis of its job (None for no job), in the order given.

        Reads `items` ahead of what it yields, to keep the workers busy.
        """
        window: deque[tuple[list[tuple[K, Job | None]], Future[list[Analysis]] | None]] = deque()
        chunk: list[tuple[K, Job | None]] = []
        for item in items:
            job = item[1]
            if job is not None and len(job.data) >= ALONE and chunk:
                window.append((chunk, self._submit(chunk)))  # the small files before it
                chunk = []
            chunk.append(item)
            if len(chunk) < CHUNK and (job is None or len(job.data) < ALONE):
                continue
            window.append((chunk, self._submit(chunk)))
            chunk = []
            while len(window) > AHEAD * self.processes:
                yield from self._results(*window.popleft())
        if chunk:
            window.append((chunk, self._submit(chunk)))
        while window:
            yield from self._results(*window.popleft())

    def _submit(self, chunk: list[tuple[K, Job | None]]) -> Future[list[Analysis]] | None:
        jobs = [job for _key, job in chunk if job is not None]
        if not jobs or self._executor is None:
            return None
        try:
            return self._executor.submit(_analyse_chunk, jobs)
        except (BrokenProcessPool, OSError):  # a worker could not start
            self._broken()
            return None

    def _results(
        self, chunk: list[tuple[K, Job | None]], future: Future[list[Analysis]] | None
    ) -> Iterator[tuple[K, Analysis | None]]:
        found: Iterator[Analysis] | None = None
        if future is not None:
            try:
                found = iter(future.result())
            except (BrokenProcessPool, CancelledError):  # cancelled: by `_broken`, in a race
                self._broken()
        for key, job in chunk:
            if job is None:
                yield key, None
            elif found is not None:
                yield key, next(found)
            else:  # no pool (any more): in this process
                yield key, analyse(job, self.pack)

    def _broken(self) -> None:
        """A worker died (killed, out of memory): the rest of the scan runs in-process."""
        if self._executor is not None:
            log.warning("a worker process died; analysing the rest of the scan in-process")
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


class Analyser(AnalysisPool):
    """The daemon's worker processes: every file is analysed in one, within `budget` seconds.

    A file that runs over its budget (its worker is stopped) or whose worker dies (out of
    memory) gets a Failure, and the scan goes on: no file can hold the daemon, whose event
    loop never runs analysis (a regular expression holds the GIL for as long as it runs).
    `on_slow` is called with the key of a file analysed alone that is still running after
    `slow_after` seconds: the caller records it, so that a daemon killed meanwhile does not
    try it again at every start. The processes stay up between scans; `close` ends them.
    """

    def __init__(
        self,
        pack: RulePack,
        processes: int,
        budget: float,
        on_slow: Callable[[Any], None] | None = None,
        slow_after: float = 2.0,
    ) -> None:
        self.pack = pack
        self.processes = processes
        self.budget = budget
        self.on_slow = on_slow
        self.slow_after = min(slow_after, budget / 2)
        self._executor = None
        self._workers: pebble.ProcessPool | None = pebble.ProcessPool(
            processes,
            initializer=_start_worker,
            initargs=(_owner_alive(), _keep_pack, (pack,)),
            context=_context(),
        )
        self._workers.schedule(os.getpid)  # the workers start now, not with the first file

    def close(self) -> None:
        if self._workers is not None:
            self._workers.stop()  # type: ignore[no-untyped-call]  # ends a busy worker at once
            self._workers.join()
            self._workers = None

    def _submit(self, chunk: list[tuple[K, Job | None]]) -> Future[list[Analysis]] | None:
        jobs = [job for _key, job in chunk if job is not None]
        if not jobs or self._workers is None:
            return None
        # A chunk of ordinary files takes milliseconds: one budget for all of them.
        return self._workers.schedule(_analyse_chunk, args=(jobs,), timeout=self.budget)

    def _results(
        self, chunk: list[tuple[K, Job | None]], future: Future[list[Analysis]] | None
    ) -> Iterator[tuple[K, Analysis | None]]:
        given = [(key, job) for key, job in chunk if job is not None]
        alone = [given[0][0]] if len(given) == 1 else []
        found = None if future is None else self._wait(future, alone)
        results = iter(found) if isinstance(found, list) and len(found) == len(given) else None
        for key, job in chunk:
            if job is None:
                yield key, None
            elif results is not None:
                yield key, next(results)
            elif len(given) == 1 and isinstance(found, Failure):
                yield key, found
            else:  # the chunk ran over or lost its worker: which file? Each alone tells.
                yield key, self._alone(key, job)

    def _alone(self, key: K, job: Job) -> Analysis:
        if self._workers is None:
            return analyse(job, self.pack)
        future = self._workers.schedule(_analyse_chunk, args=([job],), timeout=self.budget)
        found = self._wait(future, [key])
        return found[0] if isinstance(found, list) else found

    def _wait(self, future: Future[list[Analysis]], alone: list[Any]) -> list[Analysis] | Failure:
        """The chunk's analyses, or why there are none."""
        try:
            if len(alone) == 1 and self.on_slow is not None and self._runs_long(future):
                self.on_slow(alone[0])
            return future.result()
        except TimeoutError:
            return Failure(
                f"analysis took longer than {self.budget:g} s and was stopped"
                " (tried again when the file changes)"
            )
        except pebble.ProcessExpired as exc:
            return Failure(f"analysis stopped: its worker process ended (exit code {exc.exitcode})")

    def _runs_long(self, future: Future[list[Analysis]]) -> bool:
        """Whether the task is still running `slow_after` seconds after a worker took it (a
        file waiting behind others is not slow)."""
        started: float | None = None
        while not future.done():
            if started is None and future.running():
                started = time.monotonic()
            if started is not None and time.monotonic() - started >= self.slow_after:
                return True
            with contextlib.suppress(TimeoutError):
                future.result(timeout=0.05)
        return False


# -- in the worker processes --------------------------------------------------------------

# The rule pack of this worker process, received once when it starts.
_pack: RulePack | None = None


def _start_worker(
    alive: Connection, setup: Callable[..., None] | None, args: tuple[Any, ...]
) -> None:
    threading.Thread(target=_exit_with, args=(alive,), daemon=True).start()
    if setup is not None:
        setup(*args)


def _exit_with(alive: Connection) -> None:
    """A killed daemon leaves no idle workers behind: they would wait for work forever, and
    keep the fork server alive too (it lives while any process holds its pipe)."""
    with contextlib.suppress(EOFError, OSError):
        alive.recv()  # nothing is ever sent: it raises EOFError once the owner is gone
    os._exit(0)


def _keep_pack(pack: RulePack) -> None:
    global _pack
    _pack = pack


def _analyse_chunk(jobs: list[Job]) -> list[Analysis]:
    assert _pack is not None
    return [analyse(job, _pack) for job in jobs]
