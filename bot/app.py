"""The composition root: reads the config once, builds every part and runs the daemon."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from bot.commands import CommandContext, publish_commands, register
from bot.config import Config, ConfigError, parse_config
from bot.extract import RulePack, RulePackError, load_rule_pack
from bot.feeds import FeedSite
from bot.pipeline import Pipeline, ScanReport, Source
from bot.rulefiles import default_documents
from bot.sender import Sender
from bot.store import Store
from bot.watcher import FULL_SCAN, FolderWatcher
from bot.web import bound_port, make_app, start_server

log = logging.getLogger("eventfeed")


def load_config(path: Path | None, env: Mapping[str, str]) -> Config:
    """Read the config file (None: built-in defaults) and apply environment overrides."""
    text = None
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    return parse_config(text, env, str(path) if path else "<defaults>")


def check_folders(config: Config) -> None:
    """The daemon's folders must exist before it starts: say which one is missing."""
    folder = config.articles.folder
    if not folder.is_dir():
        raise ConfigError(
            f"'articles.folder': {folder} is not a folder (create it or fix the path)"
        )
    if not os.access(folder, os.R_OK | os.X_OK):
        raise ConfigError(f"'articles.folder': {folder} is not readable")


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
            timezone=site.tz,
            base_url=site.base_url,
            permalink=site.permalink,
        ),
        store=store,
        pack=pack,
        site=FeedSite(
            base_url=site.base_url,
            title=site.title,
            description=site.description,
            language=site.language,
        ),
        feeds_folder=config.feeds.folder,
        max_entries=config.feeds.max_entries,
        clock=lambda: datetime.now(UTC),
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

    def __init__(self, config: Config, pack: RulePack) -> None:
        self.config = config
        self.pack = pack
        self.store = Store(config.state.url)
        self.pipeline = build_pipeline(config, self.store, pack)
        self.health = Health()
        self._scan_lock = asyncio.Lock()
        self._wake_delivery = asyncio.Event()
        self._stop = asyncio.Event()
        self.sender: Sender | None = None
        self.application: Application[Any, Any, Any, Any, Any, Any] | None = None
        self.http_port: int | None = None

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        runner = await start_server(
            make_app(self.config.feeds.folder, self._health),
            self.config.http.host,
            self.config.http.port,
        )
        self.http_port = bound_port(runner)
        log.info("serving feeds url=http://%s:%s/", self.config.http.host, self.http_port)
        await self.scan(None)
        watcher = FolderWatcher(
            self.config.articles.folder, loop, self._on_change, self.config.scan.debounce_seconds
        )
        watcher.start()
        scheduler = AsyncIOScheduler(event_loop=loop)
        scheduler.add_job(
            self._safety_net,
            "interval",
            seconds=self.config.scan.interval_seconds,
            id="rescan",
            max_instances=1,
            coalesce=True,
        )
        scheduler.start()
        delivery: asyncio.Task[None] | None = None
        try:
            await self._start_telegram()
            if self.sender is not None:
                delivery = asyncio.create_task(self._delivery_loop(self.sender))
            await self._stop.wait()
        finally:
            log.info("stopping")
            scheduler.shutdown(wait=False)
            watcher.stop()
            if delivery is not None:
                delivery.cancel()
                await asyncio.gather(delivery, return_exceptions=True)
            await self._stop_telegram()
            await runner.cleanup()
            self.store.close()

    async def scan(self, paths: set[str] | None) -> ScanReport:
        """One scan at a time; feeds are rewritten when anything changed."""
        async with self._scan_lock:
            report = await asyncio.to_thread(self.pipeline.scan, paths)
            written = 0
            if report.dirty or not self._feeds_exist():
                try:
                    written = await asyncio.to_thread(self.pipeline.write_feeds)
                except OSError as exc:  # full or read-only disk: the old feeds stay intact
                    self.health.last_error = f"writing feeds: {exc.strerror or exc}"
                    log.error("cannot write feeds error=%s", exc.strerror or exc)
            self.health.last_scan = datetime.now(UTC).isoformat()
            self.health.last_report = vars(report) | {"feeds_written": written}
            log.info(
                "scan seen=%d new=%d changed=%d failed=%d deleted=%d events=%d queued=%d feeds=%d",
                report.seen,
                report.new,
                report.changed,
                report.failed,
                report.deleted,
                report.events,
                report.queued,
                written,
            )
            if report.queued:
                self._wake_delivery.set()
            return report

    def _feeds_exist(self) -> bool:
        return (self.config.feeds.folder / "events.atom").exists()

    async def _on_change(self, paths: set[str]) -> None:
        await self.scan(None if FULL_SCAN in paths else paths)

    async def _safety_net(self) -> None:
        await self.scan(None)
        self._wake_delivery.set()

    def _health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "started": self.health.started,
            "last_scan": self.health.last_scan,
            "last_scan_report": self.health.last_report,
            "last_error": self.health.last_error,
            "telegram": self.health.telegram,
            "outbox": self.store.outbox_counts(),
            **self.store.counts(),
        }

    # -- Telegram -----------------------------------------------------------------------

    async def _start_telegram(self) -> None:
        tg = self.config.telegram
        if tg.token is None:
            log.warning(
                "telegram delivery is off: no bot token configured "
                "(set telegram.token or EVENTFEED_TELEGRAM_TOKEN); feeds are still written"
            )
            return
        builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder().token(tg.token.reveal()).rate_limiter(AIORateLimiter())
        )
        if tg.base_url:
            base = tg.base_url.rstrip("/")
            builder = builder.base_url(base).base_file_url(base.removesuffix("/bot") + "/file/bot")
        application = builder.build()
        register(
            application,
            CommandContext(
                store=self.store,
                event_types=self.pack.event_types,
                canonical=self.pack.canonical,
                admins=tg.admins,
            ),
        )
        self.application = application
        self.sender = Sender(application.bot)
        await application.initialize()
        await publish_commands(application)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(drop_pending_updates=False)
        self.health.telegram = "on"
        log.info("telegram bot started username=%s", application.bot.username)

    async def _stop_telegram(self) -> None:
        application = self.application
        if application is None:
            return
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()

    async def _delivery_loop(self, sender: Sender) -> None:
        """Drain the outbox whenever a scan queues something, and when a retry falls due."""
        interval = self.config.scan.interval_seconds
        while True:
            self._wake_delivery.clear()  # before the pass: a wake during it is not lost
            try:
                report = await self.pipeline.deliver(sender)
                if report.sent or report.failed or report.retried:
                    log.info(
                        "delivery sent=%d retried=%d failed=%d",
                        report.sent,
                        report.retried,
                        report.failed,
                    )
                next_due = await asyncio.to_thread(self.store.next_due)
            except Exception:  # the loop must survive a database hiccup
                log.exception("delivery pass failed")
                next_due = None
            timeout = interval
            if next_due is not None:
                timeout = max(0.05, min(interval, (next_due - datetime.now(UTC)).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_delivery.wait(), timeout)


async def run_daemon(config: Config, pack: RulePack) -> None:
    daemon = Daemon(config, pack)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.stop)
    await daemon.run()
