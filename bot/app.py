"""The composition root: builds every part of the daemon from the config and runs it.

The parts: the scans and feeds (`bot.runtime.scanner`), the bot and its delivery loop
(`bot.telegram.service`), the HTTP server, the scheduler, and the role among instances
sharing one database, which this module keeps since it tells both halves what to do. The
config and rule files are read by `bot.cli.config`, which hands the daemon a way to read them
again on reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core.config import Config, ConfigError, config_source, origin
from bot.extract import RulePack
from bot.runtime.instances import Membership, Role, default_instance, is_solo
from bot.runtime.llm import LlmExtractor
from bot.runtime.metrics import Metrics
from bot.runtime.pipeline import build_pipeline
from bot.runtime.progress import ProgressReport
from bot.runtime.reload import LiveEventTypes, Loaded, Reloader, needs_restart, pack_files
from bot.runtime.scanner import Scanner
from bot.runtime.siteview import SiteView
from bot.runtime.systemd import notify
from bot.runtime.web import bound_port, make_app, start_server
from bot.store import Store
from bot.telegram.delivery import Deliverer, apply_routes
from bot.telegram.service import TelegramService

log = logging.getLogger("eventfeed")

STOP_GRACE_SECONDS = 5.0  # SIGTERM: how long the in-flight send and scan may take to finish
DELIVERY_CONCURRENCY = 64  # chats served at once by a delivery pass


class Daemon:
    """Scanner, feed writer, HTTP server, Telegram bot and scheduler on one event loop.

    `load` reads and validates the config file at `config_path` and the rule files again
    (a reload, see `bot.runtime.reload`); without it a reload keeps what is running."""

    def __init__(
        self,
        config: Config,
        pack: RulePack,
        config_path: Path | None = None,
        load: Callable[[], Loaded] | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.pack = pack
        self.store = Store.open(config.state, _now)
        self.pipeline = build_pipeline(config, self.store, pack)
        self.pipeline.budget = config.extract.budget_seconds  # analysis in worker processes
        self.llm: LlmExtractor | None = None
        if config.extract.backend != "rules":
            self.llm = self.pipeline.llm = LlmExtractor(
                config.extract.llm, self.store, _now, config.extract.backend
            )
        self.started = _now().isoformat()
        self.metrics = Metrics()
        self.siteview = SiteView(
            self.store,
            self.pipeline.site,
            config.feeds.max_entries,
            config.site.tz,
            _now,
            pack=lambda: self.pack,  # follows reloads
        )
        self._stop = asyncio.Event()
        self.http_port: int | None = None
        self._reloads: set[asyncio.Task[bool]] = set()
        self._background: set[asyncio.Task[Any]] = set()
        # Several instances on PostgreSQL: only the leader scans, writes feeds and polls.
        self.instance = config.cluster.instance or default_instance()
        self.membership = Membership(
            self.store,
            self.instance,
            config.cluster.lease_seconds,
            _now,
            solo=is_solo(config.state.url),
        )
        self.leading = self.membership.role.leader
        self._shared_by = 1  # the live instances the flood limiter's rate is divided by
        lease = timedelta(seconds=config.cluster.lease_seconds)
        self.telegram = TelegramService(
            config.telegram,
            self.store,
            Deliverer(
                self.store,
                _now,
                concurrency=DELIVERY_CONCURRENCY,
                instance=self.instance,
                lease=lease,
            ),
            event_types=LiveEventTypes(lambda: self.pack),  # follows reloads
            canonical=lambda name: self.pack.canonical(name),
            leading=lambda: self.leading,
            instances=lambda: self.membership.role.instances,
            apply_routes=self._apply_routes,
            problems=lambda: [self.scanner.feeds_error] if self.scanner.feeds_error else [],
            observe_send=self.metrics.send_seconds.observe,
            stop=self._stop,
            interval=config.scan.interval_seconds,
            spawn=self._in_background,
            clock=_now,
        )
        self.scanner = Scanner(
            self.pipeline,
            config,
            self.siteview,
            self.metrics,
            leading=lambda: self.leading,
            stop=self._stop,
            on_queued=self.telegram.wake,
            sent=self.telegram.take_sent,
            spawn=self._in_background,
            clock=_now,
        )
        self._load = load
        self.reloader = Reloader(self._load_again, self._apply_reload, self._reload_files(config))

    def stop(self) -> None:
        self._stop.set()
        self.telegram.wake()

    def close(self) -> None:
        """End the model's and the analysis' workers and close the store."""
        if self.llm is not None:
            self.llm.close()
        self.pipeline.close()
        self.store.close()

    def _in_background(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._background.discard)

    # -- reloading ------------------------------------------------------------------------

    def request_reload(self) -> None:
        """SIGHUP: reload the rule pack, alias and rate tables and the routes; an invalid edit
        is refused and the running ones stay."""
        task = asyncio.get_running_loop().create_task(self.reloader.reload("SIGHUP"))
        self._reloads.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._reloads.discard)

    def _reload_files(self, config: Config) -> list[Path]:
        if self._load is None:
            return []
        return [*([self.config_path] if self.config_path else []), *pack_files(config)]

    def _load_again(self) -> Loaded:
        return (self.config, self.pack) if self._load is None else self._load()

    async def _apply_reload(self, loaded: Loaded) -> None:
        config, pack = loaded
        async with self.scanner.lock:  # never in the middle of a scan: one pack per scan
            self.pack = pack
            self.pipeline.use_pack(pack, config.extract.max_chars, config.extract.budget_seconds)
        routes = config.telegram.routes
        if self.telegram.started and self.leading and routes != self.config.telegram.routes:
            await apply_routes(self.store, routes, pack)
        stale = needs_restart(self.config, config)
        if stale:
            log.warning("config changed keys=%s; restart to apply them", ",".join(stale))
        telegram = dataclasses.replace(self.config.telegram, routes=config.telegram.routes)
        self.config = dataclasses.replace(self.config, extract=config.extract, telegram=telegram)
        self.reloader.files = self._reload_files(config)

    async def _apply_routes(self) -> None:
        await apply_routes(self.store, self.config.telegram.routes, self.pack)

    # -- running --------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.pipeline.on_queued = lambda: loop.call_soon_threadsafe(self.telegram.wake)
        # (From a model thread; an answer that comes in after the loop closed is dropped.)
        self.pipeline.on_refined = lambda: (
            loop.is_closed() or loop.call_soon_threadsafe(self.scanner.refine_soon)
        )
        runner = await self._serve()
        if self.membership.solo:  # the one instance: claims a crash left are nobody's
            await asyncio.to_thread(self.store.release_claims)
        await self._take_role(await self.membership.renew(), first=True)
        membership = None
        if not self.membership.solo:  # renewed from now on: the first scan may be long
            membership = asyncio.create_task(self._keep_membership())
        if self.leading:
            await self.telegram.check_stored_filters()
            # Watching first: a file that arrives after the first scan listed its folder is
            # then scanned right after it, not at the next safety-net pass.
            self.scanner.watch(True)
            with ProgressReport("scan") as progress:  # the first scan of a large folder is long
                await self.scanner.scan(None, progress)
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
        reload_watch = asyncio.create_task(self.reloader.watch())
        try:
            if not self._stop.is_set():  # SIGTERM during the first scan: just stop
                await self.telegram.start_when_reachable()
            self.telegram.start_delivery()
            await self._stop.wait()
        finally:
            log.info("stopping")
            notify("STOPPING=1")
            scheduler.shutdown(wait=False)
            self.scanner.watch(False)
            reload_watch.cancel()
            if membership is not None:
                membership.cancel()
            # The message being sent and the file being read finish, so that the outbox
            # and the store stay consistent; what takes longer than the grace is cut short.
            await self.telegram.finish(STOP_GRACE_SECONDS)
            await self.scanner.finish(STOP_GRACE_SECONDS)
            await self.membership.leave()
            await self.telegram.stop()
            await runner.cleanup()
            self.close()

    async def _serve(self) -> web.AppRunner:
        """Start the HTTP server; a port it cannot listen on is a config error."""
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
        return runner

    async def _safety_net(self) -> None:
        await self.scanner.safety_net()
        self.telegram.wake()

    # -- several instances ----------------------------------------------------------------

    async def _keep_membership(self) -> None:
        """Renew the lease every third of it; follow the role it gives."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.membership.period)
            if self._stop.is_set():
                return
            try:
                await self._take_role(await self.membership.renew())
            except Exception:  # the renewals must go on, or another instance takes over
                log.exception("taking the cluster role failed; retrying at the next renewal")
            if not self.leading:  # the leader's scans change the outbox and the feeds
                self.telegram.wake()  # look for new rows this often
                self.siteview.invalidate()  # and read the feed list again

    async def _take_role(self, role: Role, first: bool = False) -> None:
        """Start or stop what only the leader does: scanning, watching, feeds, polling."""
        if role.instances != self._shared_by:
            log.info("instances live=%d", role.instances)
            self._shared_by = role.instances
            self.telegram.share_rate(role.instances)
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
            if self.telegram.started:
                await self._apply_routes()
            self.scanner.watch(True)
            # In full: the last leader may have missed files.
            self._in_background(self.scanner.scan(None))
        elif changed:
            self.scanner.watch(False)
        await self.telegram.poll(role.leader)  # every renewal: a start that failed is tried again

    # -- /healthz and /metrics ------------------------------------------------------------

    def _health(self) -> dict[str, Any]:
        scans = self.scanner
        degraded = (
            scans.feeds_error is not None
            or scans.state_error is not None
            or self.telegram.status == "rejected"
        )
        return {
            "status": "degraded" if degraded else "ok",
            "feeds_error": scans.feeds_error,
            "started": self.started,
            "last_scan": scans.health.last_scan,
            "last_scan_report": scans.health.last_report,
            "last_error": scans.health.last_error,
            "telegram": self.telegram.status,
            "instance": self.instance,
            "leader": self.leading,
            # The leader watches its folder; False while the watcher is down.
            "watching": scans.watching,
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

    def _metrics_text(self) -> str:
        llm = None if self.llm is None else self.llm.stats
        return self.metrics.render(self.store.counts(), self.store.outbox_counts(), llm)


def _now() -> datetime:
    return datetime.now(UTC)


async def run_daemon(
    config: Config,
    pack: RulePack,
    config_path: Path | None = None,
    load: Callable[[], Loaded] | None = None,
) -> None:
    daemon = Daemon(config, pack, config_path, load)
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
            report = await daemon.scanner.scan(None, progress)
        if daemon.pipeline.refining:  # llm+rules: one run waits for the model's answers
            refined = await asyncio.to_thread(daemon.pipeline.apply_refined, True)
            if refined.changed:
                await daemon.scanner.publish()
        if config.telegram.token is not None and await daemon.telegram.start_once():
            if daemon.membership.solo:  # the one instance: claims a crash left are nobody's
                await asyncio.to_thread(daemon.store.release_claims)
            await daemon.telegram.deliver_once()
    finally:
        await daemon.telegram.stop()
        daemon.close()
    return 1 if report.failed or daemon.scanner.health.last_error else 0
