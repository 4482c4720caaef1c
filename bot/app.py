"""The composition root: reads the config once, builds every part and runs the daemon."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import SQLAlchemyError
from telegram.error import BadRequest as TelegramBadRequest
from telegram.error import Forbidden as TelegramForbidden
from telegram.error import InvalidToken as TelegramInvalidToken
from telegram.error import NetworkError as TelegramNetworkError
from telegram.error import RetryAfter as TelegramRetryAfter
from telegram.error import TimedOut as TelegramTimedOut
from telegram.ext import Application, ApplicationBuilder

from bot.cli.rulefiles import default_documents
from bot.core.alertroutes import RouteError, parse_routes
from bot.core.config import Config, ConfigError, origin, parse_config
from bot.extract import RulePack, RulePackError, load_rule_pack
from bot.runtime.files import FolderMissing
from bot.runtime.instances import Membership, Role, default_instance, is_solo, shared_limits
from bot.runtime.llm import LlmExtractor
from bot.runtime.metrics import Metrics, TimedSender
from bot.runtime.pipeline import Pipeline, ScanReport, Source
from bot.runtime.progress import ProgressHook, ProgressReport
from bot.runtime.reload import LiveEventTypes, Reloader, needs_restart, pack_files
from bot.runtime.siteview import SiteView
from bot.runtime.systemd import notify
from bot.runtime.watcher import FULL_SCAN, FolderWatcher
from bot.runtime.web import bound_port, make_app, start_server
from bot.runtime.websub import ping_hub
from bot.site.permalinks import is_daemon_url
from bot.site.render import FeedSite
from bot.store import Store
from bot.store.chats import DisabledSubscription
from bot.telegram.delivery import apply_routes, limits_of
from bot.telegram.handlers import CommandContext, publish_commands, register
from bot.telegram.handlers.admin import resume_broadcasts
from bot.telegram.handlers.subscriptions import check_stored_filters, tell_disabled
from bot.telegram.limits import FloodLimiter, retry_seconds
from bot.telegram.request import AiohttpRequest
from bot.telegram.sender import Sender
from bot.telegram.updates import ChatLanes

log = logging.getLogger("eventfeed")

# Published first, in a turn of their own (see Daemon._publish_after): what most readers poll.
MAIN_FEEDS = frozenset({"articles", "events"})
STOP_GRACE_SECONDS = 5.0  # SIGTERM: how long the in-flight send and scan may take to finish
TOKEN_REJECTED = (
    "telegram rejected the bot token (check telegram.token, and telegram.base_url if set)"
)


class ScanStopped(Exception):
    """Raised between two files when the daemon is stopping: every file done so far is saved."""


def load_config(path: Path | None, env: Mapping[str, str]) -> Config:
    """Read the config file (None: built-in defaults) and apply environment overrides."""
    text = None
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    return parse_config(text, env, config_source(path))


def config_source(path: Path | None) -> str:
    return str(path) if path else "<defaults>"


def check_folders(config: Config, path: Path | None, env: Mapping[str, str]) -> None:
    """The daemon's folders must exist before it starts: say which one is missing, and where
    it was set (the config file at `path`, or an environment variable), as config errors do."""
    folder = config.articles.folder
    where = origin("articles.folder", config_source(path), env)
    if not folder.is_dir():
        raise ConfigError(f"{where}: {folder} is not a folder (create it or fix the path)")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise ConfigError(f"{where}: {folder} is not readable")


def load_pack(config: Config) -> RulePack:
    """The rule pack, alias table and rate table: the files in config, else the packaged ones."""
    rules, aliases, rates = default_documents()
    docs: list[dict[str, Any]] = []
    for key, path, default in (
        ("extract.rules", config.extract.rules, rules),
        ("extract.aliases", config.extract.aliases, aliases),
        ("extract.rates", config.extract.rates, rates),
    ):
        if path is None:
            docs.append(default)
            continue
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"'{key}': cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"'{key}': {path} is not valid YAML: {exc}") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"'{key}': {path} must hold a mapping")
        docs.append(doc)
    try:
        return load_rule_pack(docs[0], docs[1], docs[2])
    except RulePackError as exc:
        raise ConfigError(str(exc)) from None


def build_pipeline(config: Config, store: Store, pack: RulePack) -> Pipeline:
    site = config.site
    return Pipeline(
        source=Source(
            folder=config.articles.folder,
            max_bytes=config.articles.max_bytes,
            max_categories=config.articles.max_categories,
            max_tags=config.articles.max_tags,
            allow_empty_folder=config.scan.allow_empty_folder,
            timezone=site.tz,
            base_url=site.base_url,
            permalink=site.permalink,
            own_pages=is_daemon_url(site.base_url, config.http.bind),
        ),
        store=store,
        pack=pack,
        site=FeedSite(
            base_url=site.base_url,
            title=site.title,
            description=site.description,
            language=site.language,
            hub=config.feeds.websub_hub,
            author=site.author,
        ),
        feeds_folder=config.feeds.folder,
        max_entries=config.feeds.max_entries,
        clock=lambda: datetime.now(UTC),
        max_chars=config.extract.max_chars,
    )


@dataclass
class Health:
    """What /healthz reports: the daemon's last scan, queue and errors."""

    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    last_scan: str | None = None
    last_report: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None
    telegram: str = "off"


class Daemon:
    """Scanner, feed writer, HTTP server, Telegram bot and scheduler on one event loop."""

    def __init__(self, config: Config, pack: RulePack, config_path: Path | None = None) -> None:
        self.config = config
        self.config_path = config_path  # read again on reload
        self.pack = pack
        self.store = Store.open(config.state)
        self.pipeline = build_pipeline(config, self.store, pack)
        self.pipeline.budget = config.extract.budget_seconds  # analysis in worker processes
        self.llm: LlmExtractor | None = None
        if config.extract.backend != "rules":
            self.llm = self.pipeline.llm = LlmExtractor(
                config.extract.llm, self.store, lambda: datetime.now(UTC), config.extract.backend
            )
        self.health = Health()
        self._feeds_error: str | None = None  # the last feed write failed: retried every scan
        # The state database refused a scan's writes: what it did not store (None: anything
        # may be missing) is scanned again soon, with backoff, until the writes get through.
        self._state_error: str | None = None
        self._state_failures = 0  # how many times it did: a scan with none clears the error
        self._unstored: set[str] | None = set()
        self._catching_up: asyncio.Task[None] | None = None
        self.metrics = Metrics()
        self._published = False  # see _feeds_exist
        self.siteview = SiteView(
            self.store,
            self.pipeline.site,
            config.feeds.max_entries,
            config.site.tz,
            lambda: datetime.now(UTC),
            pack=lambda: self.pack,  # follows reloads
        )
        self._scan_lock = asyncio.Lock()
        # Publishes run one at a time, outside the scan lock, so a scan never waits for one;
        # scans that end while one runs share the next (see _publish_after).
        self._publish_lock = asyncio.Lock()
        self._scans_ended = 0
        self._scans_published = 0
        self._wake_delivery = asyncio.Event()
        self._stop = asyncio.Event()
        self.sender: Sender | None = None
        self.application: Application[Any, Any, Any, Any, Any, Any] | None = None
        self.http_port: int | None = None
        self._sent_since_summary = 0
        self._reloads: set[asyncio.Task[bool]] = set()
        self._disabled: list[DisabledSubscription] = []  # told to their chats once polling
        # Several instances on PostgreSQL: only the leader scans, writes feeds and polls.
        self.instance = config.cluster.instance or default_instance()
        self.membership = Membership(
            self.store,
            self.instance,
            config.cluster.lease_seconds,
            lambda: datetime.now(UTC),
            solo=is_solo(config.state.url),
        )
        self.leading = self.membership.role.leader
        self._shared_by = 1  # the live instances the flood limiter's rate is divided by
        self._limiter: FloodLimiter | None = None
        self._telegram_lock = asyncio.Lock()  # starting the bot and toggling its polling
        self._background: set[asyncio.Task[Any]] = set()
        self._watching = False
        self._watcher_failed = False  # said once in the log
        self._watcher: FolderWatcher | None = None
        self._folder_missing = False  # the last scan found no articles folder
        self._changed: set[str] | None = None  # files changed meanwhile (see _on_change)
        self.reloader = Reloader(self._load_again, self._apply_reload, self._reload_files(config))

    @property
    def _claim_lease(self) -> timedelta:
        return timedelta(seconds=self.config.cluster.lease_seconds)

    def stop(self) -> None:
        self._stop.set()
        self._wake_delivery.set()

    def request_reload(self) -> None:
        """SIGHUP: reload the rule pack, alias and rate tables and the routes; an invalid edit
        is refused and the running ones stay."""
        task = asyncio.get_running_loop().create_task(self.reloader.reload("SIGHUP"))
        self._reloads.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._reloads.discard)

    def _reload_files(self, config: Config) -> list[Path]:
        return [*([self.config_path] if self.config_path else []), *pack_files(config)]

    def _load_again(self) -> tuple[Config, RulePack]:
        """Config, pack and routes, all validated (ConfigError) before anything changes."""
        config = load_config(self.config_path, os.environ) if self.config_path else self.config
        pack = load_pack(config)
        try:
            parse_routes(config.telegram.routes, pack.event_types, pack.canonical)
        except RouteError as exc:
            raise ConfigError(str(exc)) from None
        return config, pack

    async def _apply_reload(self, loaded: tuple[Config, RulePack]) -> None:
        config, pack = loaded
        async with self._scan_lock:  # never in the middle of a scan: one pack per scan
            self.pack = pack
            self.pipeline.pack = pack
            self.pipeline._filters.clear()  # filters resolve aliases and types with the pack
            self.pipeline.max_chars = config.extract.max_chars
            self.pipeline.budget = config.extract.budget_seconds
        routes = config.telegram.routes
        if self.application is not None and self.leading and routes != self.config.telegram.routes:
            await apply_routes(self.store, routes, pack)
        stale = needs_restart(self.config, config)
        if stale:
            log.warning("config changed keys=%s; restart to apply them", ",".join(stale))
        telegram = dataclasses.replace(self.config.telegram, routes=config.telegram.routes)
        self.config = dataclasses.replace(self.config, extract=config.extract, telegram=telegram)
        self.reloader.files = self._reload_files(config)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.pipeline.on_queued = lambda: loop.call_soon_threadsafe(self._wake_delivery.set)
        # (From a model thread; an answer that comes in after the loop closed is dropped.)
        self.pipeline.on_refined = lambda: (
            loop.is_closed() or loop.call_soon_threadsafe(self._refine_soon)
        )
        http = self.config.http
        try:
            runner = await start_server(
                make_app(
                    self.config.feeds.folder,
                    self._health,
                    self.siteview,
                    self._metrics_text,
                    max_age=round(self.config.scan.interval_seconds),
                ),
                http.host,
                http.port,
                max_connections=http.max_connections,
                idle_seconds=http.idle_seconds,
            )
        except OSError as exc:  # the port is taken, or the address is not this machine's
            self.pipeline.close()
            self.store.close()
            # errno's own words: asyncio's message repeats the address; gaierror's are negative
            reason = os.strerror(exc.errno) if exc.errno and exc.errno > 0 else exc.strerror or exc
            where = origin("http.bind", config_source(self.config_path), os.environ)
            raise ConfigError(
                f"{where}: cannot listen on {http.host}:{http.port}: {reason}"
            ) from None
        self.http_port = bound_port(runner)
        log.info("serving feeds url=http://%s:%s/", self.config.http.host, self.http_port)
        notify("READY=1")  # systemd (Type=notify): serving; the first scan may take a while
        watcher = self._watcher = FolderWatcher(
            self.config.articles.folder, loop, self._on_change, self.config.scan.debounce_seconds
        )
        if self.membership.solo:  # the one instance: claims a crash left are nobody's
            await asyncio.to_thread(self.store.release_claims)
        await self._take_role(await self.membership.renew(), watcher, first=True)
        membership = None
        if not self.membership.solo:  # renewed from now on: the first scan may be long
            membership = asyncio.create_task(self._keep_membership(watcher))
        if self.leading:
            pack = self.pack
            self._disabled = await check_stored_filters(
                self.store, pack.event_types, pack.canonical
            )
            # Watching first: a file that arrives after the first scan listed its folder is
            # then scanned right after it, not at the next safety-net pass.
            self._watch(watcher, True)
            with ProgressReport("scan") as progress:  # the first scan of a large folder is long
                await self.scan(None, progress)
        scheduler = AsyncIOScheduler(event_loop=loop)
        scheduler.add_job(
            self._safety_net,
            "interval",
            args=[watcher],
            seconds=self.config.scan.interval_seconds,
            id="rescan",
            max_instances=1,
            coalesce=True,
        )
        scheduler.start()
        reload_watch = asyncio.create_task(self.reloader.watch())
        delivery: asyncio.Task[None] | None = None
        try:
            if not self._stop.is_set():  # SIGTERM during the first scan: just stop
                await self._start_telegram_when_reachable()
            if self.sender is not None:
                delivery = asyncio.create_task(self._delivery_loop(self.sender))
            await self._stop.wait()
        finally:
            log.info("stopping")
            notify("STOPPING=1")
            scheduler.shutdown(wait=False)
            self._watch(watcher, False)
            reload_watch.cancel()
            if membership is not None:
                membership.cancel()
            await self._finish(delivery)
            await self.membership.leave()
            await self._stop_telegram()
            await runner.cleanup()
            self._close()

    def _close(self) -> None:
        if self.llm is not None:
            self.llm.close()
        self.pipeline.close()
        self.store.close()

    def _refine_soon(self) -> None:
        """A model answer is in (llm+rules): stored under the scan lock, then published."""
        if not self._stop.is_set():
            self._in_background(self._apply_refined())

    async def _apply_refined(self) -> None:
        async with self._scan_lock:
            if not self.leading or self._stop.is_set():
                return
            try:
                report = await asyncio.to_thread(self.pipeline.apply_refined)
            except SQLAlchemyError as exc:  # the rules' events stand; the answer is cached
                log.error("cannot store the model's events error=%s", exc)
                return
            if not report.changed:
                return
            self._scans_ended += 1
            ticket = self._scans_ended
        await self._publish_after(ticket)

    async def _finish(self, delivery: asyncio.Task[None] | None) -> None:
        """Let the message being sent and the file being read finish, so the outbox and the
        store stay consistent; whatever takes longer than the grace period is cut short."""
        if delivery is not None:
            try:
                await asyncio.wait_for(asyncio.shield(delivery), STOP_GRACE_SECONDS)
            except TimeoutError:
                log.warning("delivery did not finish in %ss; stopping it", STOP_GRACE_SECONDS)
                delivery.cancel()
                await asyncio.gather(delivery, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_GRACE_SECONDS), self._scan_lock, self._publish_lock:
                pass

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
            if self._stop.is_set() or not self.leading:
                raise ScanStopped
            if progress is not None:
                progress(done, total)

        async with self._scan_lock:
            if callable(paths):
                paths = paths()
            if not self.leading:  # another instance scans and writes the feeds
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
            except SQLAlchemyError as exc:  # the store is down or full: nothing is lost
                self._state_failed(paths, exc)
                return ScanReport()
            if self._folder_missing:
                log.info("the articles folder is back")
                self._folder_missing = False
                self.health.last_error = None
            if report.queued:  # alerts first: publishing many feed files takes longer
                self._wake_delivery.set()
            self._scans_ended += 1
            ticket = self._scans_ended
        written = 0
        if report.dirty or self._feeds_error is not None or not self._feeds_exist():
            written = await self._publish_after(ticket)
        caught_up = self._state_failures == failures and self._unstored == set()
        if self._state_error is not None and caught_up:  # this scan's publish included
            log.info("the state database takes writes again")
            self._clear_state_error()
        self.health.last_scan = datetime.now(UTC).isoformat()
        self.health.last_report = vars(report) | {"feeds_written": written}
        sent, self._sent_since_summary = self._sent_since_summary, 0
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
            sent,  # messages sent since the previous scan line
            written,
        )
        self.metrics.scans += 1
        self.metrics.scan_seconds.observe(time.monotonic() - started)
        return report

    def _state_failed(self, paths: set[str] | None, exc: SQLAlchemyError) -> None:
        """Show the failure on /healthz and scan what was not stored again soon."""
        if paths is None:
            self._unstored = None
        elif self._unstored is not None:
            self._unstored |= paths
        cause = getattr(exc, "orig", None) or exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:300]
        if self._state_error is None:  # once per outage; the retries only at DEBUG
            log.error("cannot write the state database error=%s; retrying", reason)
        else:
            log.debug("state database still failing error=%s", reason)
        self._state_error = self.health.last_error = f"state database: {reason}"
        self._state_failures += 1
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.get_running_loop().create_task(self._catch_up())

    async def _catch_up(self) -> None:
        """Scan what failed scans did not store, after 1 s, 2 s, 4 s … (at most the scan
        interval), until it is stored: files that arrived during an outage are not left for
        the next full pass."""
        delay = 1.0
        while self._state_error is not None and not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            if self._stop.is_set():
                return
            if not self.leading:  # the new leader scans in full
                self._unstored = set()
                self._clear_state_error()
                return
            unstored, self._unstored = self._unstored, set()
            await self.scan(unstored)  # None: in full; a failure puts the paths back
            delay = min(delay * 2, self.config.scan.interval_seconds)

    def _clear_state_error(self) -> None:
        if self.health.last_error == self._state_error:
            self.health.last_error = None
        self._state_error = None

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
            written = await self._publish(only)
        except OSError as exc:  # full or read-only disk: the old feeds stay intact
            self._feeds_error = f"writing feeds: {exc.strerror or exc}"
            self.health.last_error = self._feeds_error
            log.error("cannot write feeds error=%s", exc.strerror or exc)
            return 0
        except SQLAlchemyError as exc:  # the feed index is in the store: published later
            self._feeds_error = "writing feeds: the state database failed"
            self._state_failed(set(), exc)
            return 0
        self._feeds_error = None
        return written

    async def _publish(self, only: frozenset[str] | None = None) -> int:
        """Rewrite the feeds (`only` these, see `Pipeline.publish_feeds`); tell the page cache
        and the WebSub hub what changed."""
        changed = await asyncio.to_thread(self.pipeline.publish_feeds, only=only)
        self._published = True
        self.siteview.invalidate()
        self.metrics.feed_writes += len(changed)
        hub = self.config.feeds.websub_hub
        if hub:
            await ping_hub(hub, self.pipeline.site.topics(changed))
        return len(changed)

    def _metrics_text(self) -> str:
        llm = None if self.llm is None else self.llm.stats
        return self.metrics.render(self.store.counts(), self.store.outbox_counts(), llm)

    def _feeds_exist(self) -> bool:
        # False until this run has published once: the first publish compares every feed file
        # with what it should hold, which also repairs files a power loss left wrong.
        return self._published and (self.config.feeds.folder / "events.atom").exists()

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

    @property
    def _rescan_parts(self) -> int:
        """The safety net stats every file once in this many passes (see Pipeline.rescan)."""
        scan = self.config.scan
        return max(1, int(scan.full_interval_seconds // scan.interval_seconds))

    async def _safety_net(self, watcher: FolderWatcher) -> None:
        """Rescan for what the watcher missed: by turns while it runs (an overflow asks for
        a full rescan itself), in full while it does not. A watcher that stopped (its folder
        was removed and made again, say) is started again, then everything is rescanned."""
        healthy = watcher.healthy
        restarted = False
        if self.leading and self._watching and not healthy:
            restarted = healthy = self._restart_watcher(watcher)
        if self.leading and self._watching and not healthy and not self._watcher_failed:
            log.warning("watcher stopped; the safety net rescans in full until it starts again")
        self._watcher_failed = self.leading and self._watching and not healthy
        await self.scan(None, safety_net=healthy and not restarted)
        self._wake_delivery.set()

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

    def _health(self) -> dict[str, Any]:
        degraded = (
            self._feeds_error is not None
            or self._state_error is not None
            or self.health.telegram == "rejected"
        )
        return {
            "status": "degraded" if degraded else "ok",
            "feeds_error": self._feeds_error,
            "started": self.health.started,
            "last_scan": self.health.last_scan,
            "last_scan_report": self.health.last_report,
            "last_error": self.health.last_error,
            "telegram": self.health.telegram,
            "instance": self.instance,
            "leader": self.leading,
            # The leader watches its folder; False while the watcher is down (see _safety_net).
            "watching": self._watching and self._watcher is not None and self._watcher.healthy,
            "instances": self.membership.role.instances,
            "reloads": {"applied": self.reloader.reloads, "refused": self.reloader.refused},
            # The extraction model (extract.backend llm, llm+rules): its answers and fallbacks.
            "extract_model": None
            if self.llm is None
            else {
                "backend": self.llm.backend,
                "model": self.llm.model,
                "refining": self.pipeline.refining,
                **self.llm.stats.health(),
            },
            "outbox": self.store.outbox_counts(),
            # The files that failed, so an operator sees which ones without reading logs.
            "file_errors": [
                {"path": path, "status": status, "error": error[:300]}
                for path, status, error in self.store.article_errors()[:20]
            ],
            **self.store.counts(),
        }

    # -- Telegram -----------------------------------------------------------------------

    async def _start_telegram(self, poll: bool = True) -> None:
        tg = self.config.telegram
        if tg.token is None:
            log.warning(
                "telegram delivery is off: no bot token configured "
                "(set telegram.token or EVENTFEED_TELEGRAM_TOKEN); feeds are still written"
            )
            return
        builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(tg.token.reveal())
            .request(
                AiohttpRequest()
            )  # far less CPU per request than httpx: see bot/telegram/request.py
            .get_updates_request(AiohttpRequest(connection_pool_size=1))
            .rate_limiter(self._new_limiter())
            .concurrent_updates(ChatLanes())
        )
        if tg.base_url:
            base = tg.base_url.rstrip("/")
            builder = builder.base_url(base).base_file_url(base.removesuffix("/bot") + "/file/bot")
        application = builder.build()
        register(
            application,
            CommandContext(
                store=self.store,
                event_types=LiveEventTypes(lambda: self.pack),  # follows reloads
                canonical=lambda name: self.pack.canonical(name),
                admins=tg.admins,
                on_resume=self._wake_delivery.set,
                problems=lambda: [self._feeds_error] if self._feeds_error else [],
                max_subscriptions=tg.max_subscriptions,
            ),
        )
        self.application = application
        self.sender = TimedSender(
            application.bot, self.metrics.send_seconds, paid_broadcast=tg.paid_broadcast
        )
        if self.leading:  # the leader's to write: instances starting together would race
            await apply_routes(self.store, tg.routes, self.pack)
        await application.initialize()
        if poll:  # `run --once` and followers only send; commands wait for the leader
            await self._start_polling(application)
        self.health.telegram = "on"
        log.info("telegram bot started username=%s", application.bot.username)

    async def _start_telegram_when_reachable(self) -> None:
        """Telegram down, flood-controlled or refusing the token at start: keep scanning and
        writing feeds, and try again with backoff (as long as a 429 says, at least)."""
        delay = 5.0
        rejected = False  # said once at ERROR; the retries at DEBUG
        while not self._stop.is_set():
            wait = delay
            try:
                async with self._telegram_lock:
                    await self._start_telegram(poll=self.leading)
                return
            except TelegramRetryAfter as exc:
                wait = max(retry_seconds(exc), 1.0)
                log.warning("telegram flood control at start; retrying in %gs", wait)
                self.health.telegram = "rate_limited"
            except (TelegramNetworkError, TelegramTimedOut) as exc:
                log.warning("telegram unreachable at start error=%s; retrying in %ss", exc, delay)
                self.health.telegram = "unreachable"
            except TelegramInvalidToken:  # its text holds the token: not shown even masked
                level = logging.DEBUG if rejected else logging.ERROR
                log.log(level, "%s; alerts are off, feeds go on; retrying in %ss",
                        TOKEN_REJECTED, delay)  # fmt: skip
                rejected = True
                self.health.telegram = "rejected"
            await self._abandon_telegram()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)
            delay = min(delay * 2, 300.0)

    async def _abandon_telegram(self) -> None:
        """A start that failed half-way: close what it opened (the bot's HTTP sessions too)."""
        application = self.application
        self.application, self.sender = None, None
        if application is not None:
            with contextlib.suppress(Exception):  # already failing: the cause was logged
                await self._stop_application(application)
            await application.bot.shutdown()

    async def _start_polling(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        try:
            await publish_commands(application)
        except (TelegramForbidden, TelegramBadRequest) as exc:  # the menu only; commands work
            log.warning("cannot publish the command menu error=%s; going on without it", exc)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(drop_pending_updates=False)
        if self.sender is not None:  # the commands' instance finishes what a stop cut short
            self._in_background(resume_broadcasts(self.sender, self.store))
            disabled, self._disabled = self._disabled, []
            pack = self.pack
            self._in_background(
                tell_disabled(self.sender, self.store, disabled, pack.event_types, pack.canonical)
            )

    async def _poll(self, on: bool) -> None:
        """Telegram allows one getUpdates consumer per bot: the leader's."""
        async with self._telegram_lock:
            application = self.application
            if application is None or self.health.telegram != "on":
                return  # not started yet: it will poll if this instance leads by then
            if on and not application.running:
                try:
                    await self._start_polling(application)
                except (TelegramNetworkError, TelegramTimedOut, TelegramRetryAfter) as exc:
                    log.warning("cannot start polling error=%s; retrying", exc)
                    if application.running:
                        await application.stop()
            elif not on and application.running:
                if application.updater is not None and application.updater.running:
                    await application.updater.stop()
                await application.stop()

    def _new_limiter(self) -> FloodLimiter:
        self._limiter = FloodLimiter(
            shared_limits(limits_of(self.config.telegram), self.membership.role.instances)
        )
        return self._limiter

    # -- several instances ----------------------------------------------------------------

    async def _keep_membership(self, watcher: FolderWatcher) -> None:
        """Renew the lease every third of it; follow the role it gives."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.membership.period)
            if self._stop.is_set():
                return
            try:
                await self._take_role(await self.membership.renew(), watcher)
            except Exception:  # the renewals must go on, or another instance takes over
                log.exception("taking the cluster role failed; retrying at the next renewal")
            if not self.leading:  # the leader's scans change the outbox and the feeds
                self._wake_delivery.set()  # look for new rows this often
                self.siteview.invalidate()  # and read the feed list again

    async def _take_role(self, role: Role, watcher: FolderWatcher, first: bool = False) -> None:
        """Start or stop what only the leader does: scanning, watching, feeds, polling."""
        if role.instances != self._shared_by:
            log.info("instances live=%d", role.instances)
            self._shared_by = role.instances
            if self._limiter is not None:  # Telegram's rate is per bot: split it again
                limits = shared_limits(limits_of(self.config.telegram), role.instances)
                self._limiter.limits = limits
        changed = role.leader != self.leading
        self.leading = role.leader
        if self.membership.solo:
            return
        if changed or first:
            name = "leader" if role.leader else "follower"
            log.info("cluster role=%s instance=%s", name, self.instance)
        if first:
            return  # run() does the first scan and starts watching, polling comes with the bot
        if changed and role.leader:
            if self.application is not None:
                await apply_routes(self.store, self.config.telegram.routes, self.pack)
            self._watch(watcher, True)
            self._in_background(self.scan(None))  # in full: the last leader may have missed files
        elif changed:
            self._watch(watcher, False)
        await self._poll(role.leader)  # every renewal: a start that failed is tried again

    def _watch(self, watcher: FolderWatcher, on: bool) -> None:
        if on and not self._watching:
            watcher.start()
        elif not on and self._watching:
            watcher.stop()
        self._watching = on

    def _in_background(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._background.discard)

    async def _stop_telegram(self) -> None:
        application = self.application
        if application is None:
            return
        await self._stop_application(application)

    async def _stop_application(
        self, application: Application[Any, Any, Any, Any, Any, Any]
    ) -> None:
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()

    async def _delivery_loop(self, sender: Sender) -> None:
        """Drain the outbox whenever a scan queues something, and when a retry falls due."""
        interval = self.config.scan.interval_seconds
        while not self._stop.is_set():
            self._wake_delivery.clear()  # before the pass: a wake during it is not lost
            try:
                report = await self.pipeline.deliver(
                    sender, stop=self._stop, instance=self.instance, lease=self._claim_lease
                )
                self._sent_since_summary += report.sent
                if report.sent or report.failed or report.retried:
                    log.info(
                        "delivery sent=%d retried=%d failed=%d",
                        report.sent,
                        report.retried,
                        report.failed,
                    )
                next_due = await self.pipeline.next_delivery()
            except Exception:  # the loop must survive a database hiccup
                log.exception("delivery pass failed")
                next_due = None
            timeout = interval
            if next_due is not None:
                timeout = max(0.05, min(interval, (next_due - datetime.now(UTC)).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_delivery.wait(), timeout)


async def run_daemon(config: Config, pack: RulePack, config_path: Path | None = None) -> None:
    daemon = Daemon(config, pack, config_path)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.stop)
    loop.add_signal_handler(signal.SIGHUP, daemon.request_reload)
    await daemon.run()


async def run_once(config: Config, pack: RulePack) -> int:
    """`run --once`: one scan, one feed write, one delivery pass; 1 if a file or the feeds failed.

    Telegram unreachable is not a failure: the scan and the feeds are done, the alerts stay in
    the outbox for the next run (as the daemon keeps them until Telegram is back).
    """
    daemon = Daemon(config, pack)
    daemon.leading = True  # one run does everything; not meant beside running instances
    try:
        with ProgressReport("scan") as progress:
            report = await daemon.scan(None, progress)
        if daemon.pipeline.refining:  # llm+rules: one run waits for the model's answers
            refined = await asyncio.to_thread(daemon.pipeline.apply_refined, True)
            if refined.changed:
                await daemon._publish()
        if config.telegram.token is not None:
            await _deliver_once(daemon)
    finally:
        await daemon._stop_telegram()
        daemon._close()
    return 1 if report.failed or daemon.health.last_error else 0


async def _deliver_once(daemon: Daemon) -> None:
    try:
        await daemon._start_telegram(poll=False)
    except TelegramInvalidToken:  # its text holds the token
        await daemon._abandon_telegram()
        raise ConfigError(f"'telegram.token': {TOKEN_REJECTED}") from None
    except (TelegramRetryAfter, TelegramNetworkError) as exc:
        await daemon._abandon_telegram()
        log.warning("telegram unavailable error=%s; alerts wait for the next run", exc)
        return
    assert daemon.sender is not None
    if daemon.membership.solo:  # the one instance: claims a crash left are nobody's
        await asyncio.to_thread(daemon.store.release_claims)
    sent = await daemon.pipeline.deliver(
        daemon.sender, instance=daemon.instance, lease=daemon._claim_lease
    )
    pending = (await asyncio.to_thread(daemon.store.outbox_counts)).get("pending", 0)
    log.info(
        "delivery sent=%d retried=%d failed=%d pending=%d",
        sent.sent,
        sent.retried,
        sent.failed,
        pending,
    )
