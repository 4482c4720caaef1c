"""The leader's scans on the event loop: one at a time, the feeds published after them, the
watcher's changes gathered into one scan, the safety net's passes, and the state database's
outages caught up. The pipeline does each scan's work in a thread; this decides when.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.core.config import Config
from bot.runtime.files import FolderMissing
from bot.runtime.metrics import Metrics
from bot.runtime.pipeline import Pipeline, ScanReport
from bot.runtime.progress import ProgressHook
from bot.runtime.siteview import SiteView
from bot.runtime.watcher import FULL_SCAN, FolderWatcher
from bot.runtime.websub import ping_hub
from bot.store import DatabaseFailure
from bot.store.base import utc_now

log = logging.getLogger("eventfeed")

# Published first, in a turn of their own (see Scanner._publish_after): what most readers poll.
MAIN_FEEDS = frozenset({"articles", "events"})


class ScanStopped(Exception):
    """Raised between two files when the daemon is stopping: every file done so far is saved."""


@dataclass
class Health:
    """What the scans report on /healthz."""

    last_scan: str | None = None
    last_report: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None


class Scanner:
    """Runs the pipeline's scans and publishes for the daemon, while `leading()` says so."""

    def __init__(
        self,
        pipeline: Pipeline,
        config: Config,
        siteview: SiteView,
        metrics: Metrics,
        *,
        leading: Callable[[], bool],
        stop: asyncio.Event,
        on_queued: Callable[[], object],
        sent: Callable[[], int],
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.pipeline = pipeline
        self.clock = clock
        self.config = config  # its scan, feeds and articles sections: not reloaded
        self.siteview = siteview
        self.metrics = metrics
        self._leading = leading
        self._stop = stop
        self._on_queued = on_queued  # a scan queued alerts: wake the delivery
        self._sent = sent  # messages sent since it was last asked, for the scan's log line
        self._spawn = spawn
        self.health = Health()
        self.feeds_error: str | None = None  # the last feed write failed: retried every scan
        # The state database refused a scan's writes: what it did not store (None: anything
        # may be missing) is scanned again soon, with backoff, until the writes get through.
        self.state_error: str | None = None
        self._state_failures = 0  # how many times it did: a scan with none clears the error
        self._unstored: set[str] | None = set()
        self._catching_up: asyncio.Task[None] | None = None
        self._published = False  # see _feeds_exist
        # One scan at a time; a reload takes it too, so that a scan runs with one pack.
        self.lock = asyncio.Lock()
        # Publishes run one at a time, outside the scan lock, so a scan never waits for one;
        # scans that end while one runs share the next (see _publish_after).
        self._publish_lock = asyncio.Lock()
        self._scans_ended = 0
        self._scans_published = 0
        self._watching = False
        self._watcher_failed = False  # said once in the log
        self._watcher: FolderWatcher | None = None
        self._folder_missing = False  # the last scan found no articles folder
        self._changed: set[str] | None = None  # files changed meanwhile (see _on_change)

    # -- watching -------------------------------------------------------------------------

    def watch(self, on: bool) -> None:
        """Start or stop watching the articles folder (the leader's); its changes are scanned."""
        watcher = self._watcher
        if watcher is None and not on:
            return
        if watcher is None:
            scan = self.config.scan
            watcher = self._watcher = FolderWatcher(
                self.config.articles.folder,
                asyncio.get_running_loop(),
                self._on_change,
                scan.debounce_seconds,
            )
        if on and not self._watching:
            watcher.start()
        elif not on and self._watching:
            watcher.stop()
        self._watching = on

    @property
    def watching(self) -> bool:
        """Watching its folder; False while the watcher is down (see `safety_net`)."""
        return self._watching and self._watcher is not None and self._watcher.healthy

    async def _on_change(self, paths: set[str]) -> None:
        if FULL_SCAN in paths:
            await self.scan(None)
        elif self._changed is not None:  # a scan waiting for the lock takes these too
            self._changed |= paths
        else:
            mine = self._changed = set(paths)
            try:
                await self.scan(self._take_changed)
            finally:
                if self._changed is mine:  # never taken (cancelled): the next change scans
                    self._changed = None

    def _take_changed(self) -> set[str]:
        """The files changed since a scan started waiting: one scan, not one per batch (a
        file arriving behind many would wait for each of their scans)."""
        changed, self._changed = self._changed or set(), None
        return changed

    async def safety_net(self) -> None:
        """Rescan for what the watcher missed: by turns while it runs (an overflow asks for
        a full rescan itself), in full while it does not. A watcher that stopped (its folder
        was removed and made again, say) is started again, then everything is rescanned."""
        watcher, leading = self._watcher, self._leading()
        healthy = watcher is not None and watcher.healthy
        restarted = False
        if leading and self._watching and not healthy and watcher is not None:
            restarted = healthy = self._restart_watcher(watcher)
        if leading and self._watching and not healthy and not self._watcher_failed:
            log.warning("watcher stopped; the safety net rescans in full until it starts again")
        self._watcher_failed = leading and self._watching and not healthy
        await self.scan(None, safety_net=healthy and not restarted)

    def _restart_watcher(self, watcher: FolderWatcher) -> bool:
        watcher.stop()
        try:
            watcher.start()
        except OSError as exc:  # the folder is gone, or the kernel refuses a watch
            log.debug("watcher not started again error=%s", exc)
            watcher.stop()
            return False
        if watcher.healthy:
            log.warning("watcher stopped and was started again; rescanning everything")
            return True
        watcher.stop()
        return False

    @property
    def _rescan_parts(self) -> int:
        """The safety net stats every file once in this many passes (see Pipeline.rescan)."""
        scan = self.config.scan
        return max(1, int(scan.full_interval_seconds // scan.interval_seconds))

    # -- scanning -------------------------------------------------------------------------

    async def scan(
        self,
        paths: set[str] | Callable[[], set[str]] | None,
        progress: ProgressHook | None = None,
        *,
        safety_net: bool = False,
    ) -> ScanReport:
        """One scan at a time; feeds are rewritten when anything changed. `paths` None: in
        full, or with `safety_net` the cheaper pass of `Pipeline.rescan`; a function: the
        paths it gives once the scan's turn comes."""

        def checkpoint(done: int, total: int) -> None:
            if self._stop.is_set() or not self._leading():
                raise ScanStopped
            if progress is not None:
                progress(done, total)

        async with self.lock:
            if callable(paths):
                paths = paths()
            if not self._leading():  # another instance scans and writes the feeds
                return ScanReport()
            started = time.monotonic()
            failures = self._state_failures
            try:
                if paths is None:  # also stamps the folders for the safety net's passes
                    report = await asyncio.to_thread(
                        self.pipeline.rescan,
                        checkpoint,
                        parts=self._rescan_parts,
                        full=not safety_net,
                    )
                else:
                    report = await asyncio.to_thread(self.pipeline.scan, paths, checkpoint)
            except ScanStopped:
                why = "the daemon is stopping" if self._stop.is_set() else "no longer the leader"
                log.info("scan stopped: %s", why)
                return ScanReport()
            except FolderMissing as exc:
                if not self._folder_missing:  # once, not every pass
                    log.error("scan stopped error=%s", exc)
                self._folder_missing = True
                self.health.last_error = str(exc)
                return ScanReport()
            except DatabaseFailure as exc:  # the store is down or full: nothing is lost
                self._state_failed(paths, exc)
                return ScanReport()
            if self._folder_missing:
                log.info("the articles folder is back")
                self._folder_missing = False
                self.health.last_error = None
            if report.queued:  # alerts first: publishing many feed files takes longer
                self._on_queued()
            self._scans_ended += 1
            ticket = self._scans_ended
        written = 0
        if report.dirty or self.feeds_error is not None or not self._feeds_exist():
            written = await self._publish_after(ticket)
        caught_up = self._state_failures == failures and self._unstored == set()
        if self.state_error is not None and caught_up:  # this scan's publish included
            log.info("the state database takes writes again")
            self._clear_state_error()
        self.health.last_scan = self.clock().isoformat()
        self.health.last_report = vars(report) | {"feeds_written": written}
        log.info(
            "scan seen=%d new=%d changed=%d failed=%d deleted=%d events=%d queued=%d "
            "sent=%d feeds=%d",
            report.seen,
            report.new,
            report.changed,
            report.failed,
            report.deleted,
            report.events,
            report.queued,
            self._sent(),  # messages sent since the previous scan line
            written,
        )
        self.metrics.scans += 1
        self.metrics.scan_seconds.observe(time.monotonic() - started)
        return report

    def _state_failed(self, paths: set[str] | None, exc: DatabaseFailure) -> None:
        """Show the failure on /healthz and scan what was not stored again soon."""
        if paths is None:
            self._unstored = None
        elif self._unstored is not None:
            self._unstored |= paths
        cause = getattr(exc, "orig", None) or exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:300]
        if self.state_error is None:  # once per outage; the retries only at DEBUG
            log.error("cannot write the state database error=%s; retrying", reason)
        else:
            log.debug("state database still failing error=%s", reason)
        self.state_error = self.health.last_error = f"state database: {reason}"
        self._state_failures += 1
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.get_running_loop().create_task(self._catch_up())

    async def _catch_up(self) -> None:
        """Scan what failed scans did not store, after 1 s, 2 s, 4 s … (at most the scan
        interval), until it is stored: files that arrived during an outage are not left for
        the next full pass."""
        delay = 1.0
        while self.state_error is not None and not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            if self._stop.is_set():
                return
            if not self._leading():  # the new leader scans in full
                self._unstored = set()
                self._clear_state_error()
                return
            unstored, self._unstored = self._unstored, set()
            await self.scan(unstored)  # None: in full; a failure puts the paths back
            delay = min(delay * 2, self.config.scan.interval_seconds)

    def _clear_state_error(self) -> None:
        if self.health.last_error == self.state_error:
            self.health.last_error = None
        self.state_error = None

    # -- the extraction model's late answers (llm+rules) ----------------------------------

    def refine_soon(self) -> None:
        """A model answer is in (llm+rules): stored under the scan lock, then published."""
        if not self._stop.is_set():
            self._spawn(self._apply_refined())

    async def _apply_refined(self) -> None:
        async with self.lock:
            if not self._leading() or self._stop.is_set():
                return
            try:
                report = await asyncio.to_thread(self.pipeline.apply_refined)
            except DatabaseFailure as exc:  # the rules' events stand; the answer is cached
                log.error("cannot store the model's events error=%s", exc)
                return
            if not report.changed:
                return
            self._scans_ended += 1
            ticket = self._scans_ended
        await self._publish_after(ticket)

    # -- publishing -----------------------------------------------------------------------

    async def _publish_after(self, ticket: int) -> int:
        """Publish what scan number `ticket` changed, unless a publish that started after it
        ended has done so already; returns how many files changed.

        In two turns of the lock: the main feeds (`MAIN_FEEDS`), then the others. A scan that
        ends meanwhile writes its main feeds before this one writes the feeds of actors, tags
        and types (a new article touches about ten feeds; on a large site each has a full page
        to render): the main feeds never wait for those."""
        async with self._publish_lock:
            if self._scans_published >= ticket:
                return 0
            self._scans_published = self._scans_ended
            written = await self._publish_safely(MAIN_FEEDS)
        async with self._publish_lock:
            return written + await self._publish_safely(None)

    async def _publish_safely(self, only: frozenset[str] | None) -> int:
        try:
            written = await self.publish(only)
        except OSError as exc:  # full or read-only disk: the old feeds stay intact
            self.feeds_error = f"writing feeds: {exc.strerror or exc}"
            self.health.last_error = self.feeds_error
            log.error("cannot write feeds error=%s", exc.strerror or exc)
            return 0
        except DatabaseFailure as exc:  # the feed index is in the store: published later
            self.feeds_error = "writing feeds: the state database failed"
            self._state_failed(set(), exc)
            return 0
        self.feeds_error = None
        return written

    async def publish(self, only: frozenset[str] | None = None) -> int:
        """Rewrite the feeds (`only` these, see `Pipeline.publish_feeds`); tell the page cache
        and the WebSub hub what changed. Returns how many files changed."""
        changed = await asyncio.to_thread(self.pipeline.publish_feeds, only=only)
        self._published = True
        self.siteview.invalidate()
        self.metrics.feed_writes += len(changed)
        hub = self.config.feeds.websub_hub
        if hub:
            await ping_hub(hub, self.pipeline.site.topics(changed))
        return len(changed)

    def _feeds_exist(self) -> bool:
        # False until this run has published once: the first publish compares every feed file
        # with what it should hold, which also repairs files a power loss left wrong.
        return self._published and (self.config.feeds.folder / "events.atom").exists()

    async def finish(self, grace: float) -> None:
        """Let the scan and the publish under way end (at most `grace` seconds)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace), self.lock, self._publish_lock:
                pass
