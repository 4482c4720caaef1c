"""The bot as the daemon runs it: started once Telegram answers, polling for commands while
this instance leads, and draining the outbox whenever a scan queues alerts or a retry is due.

What it needs of the rest of the daemon (the current rule pack, the role, the feeds' faults)
comes in as values and callbacks, so that this side never reads the runtime's objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Coroutine
from datetime import datetime
from typing import Any

from telegram import Bot
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TimedOut
from telegram.error import RetryAfter as TelegramRetryAfter
from telegram.ext import Application, ApplicationBuilder

from bot.core.config import ConfigError, TelegramConfig
from bot.store import Store
from bot.store.base import utc_now
from bot.store.chats import DisabledSubscription
from bot.telegram.delivery import Deliverer, limits_of
from bot.telegram.handlers import CommandContext, publish_commands, register
from bot.telegram.handlers.admin import resume_broadcasts
from bot.telegram.handlers.subscriptions import check_stored_filters, tell_disabled
from bot.telegram.limits import FloodLimiter, retry_seconds, shared_limits
from bot.telegram.request import AiohttpRequest
from bot.telegram.sender import Outcome, Sender
from bot.telegram.updates import ChatLanes

log = logging.getLogger("eventfeed")

TOKEN_REJECTED = (
    "telegram rejected the bot token (check telegram.token, and telegram.base_url if set)"
)
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class TimedSender(Sender):
    """A Sender that tells `observe` how long each Telegram send took (the /metrics histogram)."""

    def __init__(self, bot: Bot, observe: Callable[[float], object], **kwargs: Any) -> None:
        super().__init__(bot, **kwargs)
        self.observe = observe

    async def send(self, chat_id: int, text: str, **kwargs: Any) -> Outcome:
        started = time.monotonic()
        try:
            return await super().send(chat_id, text, **kwargs)
        finally:
            self.observe(time.monotonic() - started)


class TelegramService:
    """The PTB application, its sender and the delivery loop; `status` is /healthz's word."""

    def __init__(
        self,
        config: TelegramConfig,
        store: Store,
        deliverer: Deliverer,
        *,
        event_types: Collection[str],
        canonical: Callable[[str], str | None],
        leading: Callable[[], bool],
        instances: Callable[[], int],
        apply_routes: Callable[[], Awaitable[None]],
        problems: Callable[[], list[str]],
        observe_send: Callable[[float], object],
        stop: asyncio.Event,
        interval: float,
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self.clock = clock  # its token, limits and admins: not reloaded (routes are)
        self.store = store
        self.deliverer = deliverer
        self._event_types = event_types  # the current pack's: they follow reloads
        self._canonical = canonical
        self._leading = leading
        self._instances = instances  # live instances: Telegram's rate is split between them
        self._apply_routes = apply_routes  # telegram.routes into the store (the leader's)
        self._problems = problems
        self._observe_send = observe_send
        self._stop = stop
        self._interval = interval  # the longest the delivery loop sleeps
        self._spawn = spawn
        self.status = "off"
        self.application: AnyApplication | None = None
        self.sender: Sender | None = None
        self._limiter: FloodLimiter | None = None
        self._lock = asyncio.Lock()  # starting the bot and toggling its polling
        self._wake = asyncio.Event()
        self._delivery: asyncio.Task[None] | None = None
        self._sent = 0  # messages sent since `take_sent`
        self._disabled: list[DisabledSubscription] = []  # told to their chats once polling

    @property
    def started(self) -> bool:
        return self.application is not None

    def wake(self) -> None:
        """Run a delivery pass now: alerts were queued, or held ones freed."""
        self._wake.set()

    def take_sent(self) -> int:
        """Messages sent since the last call (each scan's log line says how many)."""
        sent, self._sent = self._sent, 0
        return sent

    async def check_stored_filters(self) -> None:
        """Disable the stored filters that no longer parse; their chats are told once polling."""
        self._disabled = await check_stored_filters(self.store, self._event_types, self._canonical)

    # -- starting and stopping ------------------------------------------------------------

    async def start(self, poll: bool = True) -> None:
        """Build and initialize the bot (polling: see `poll`); raises PTB's errors."""
        tg = self.config
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
                event_types=self._event_types,
                canonical=self._canonical,
                admins=tg.admins,
                on_resume=self.wake,
                problems=self._problems,
                max_subscriptions=tg.max_subscriptions,
            ),
        )
        self.application = application
        self.sender = TimedSender(
            application.bot, self._observe_send, paid_broadcast=tg.paid_broadcast
        )
        if self._leading():  # the leader's to write: instances starting together would race
            await self._apply_routes()
        await application.initialize()
        if poll:  # `run --once` and followers only send; commands wait for the leader
            await self._start_polling(application)
        self.status = "on"
        log.info("telegram bot started username=%s", application.bot.username)

    async def start_when_reachable(self) -> None:
        """Telegram down, flood-controlled or refusing the token at start: keep scanning and
        writing feeds, and try again with backoff (as long as a 429 says, at least)."""
        delay = 5.0
        rejected = False  # said once at ERROR; the retries at DEBUG
        while not self._stop.is_set():
            wait = delay
            try:
                async with self._lock:
                    await self.start(poll=self._leading())
                return
            except TelegramRetryAfter as exc:
                wait = max(retry_seconds(exc), 1.0)
                log.warning("telegram flood control at start; retrying in %gs", wait)
                self.status = "rate_limited"
            except (NetworkError, TimedOut) as exc:
                log.warning("telegram unreachable at start error=%s; retrying in %ss", exc, delay)
                self.status = "unreachable"
            except InvalidToken:  # its text holds the token: not shown even masked
                level = logging.DEBUG if rejected else logging.ERROR
                log.log(level, "%s; alerts are off, feeds go on; retrying in %ss",
                        TOKEN_REJECTED, delay)  # fmt: skip
                rejected = True
                self.status = "rejected"
            await self.abandon()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)
            delay = min(delay * 2, 300.0)

    async def start_once(self) -> bool:
        """`run --once`: start without polling; False (said in the log) when Telegram is
        unavailable, a ConfigError when it refuses the token."""
        try:
            await self.start(poll=False)
        except InvalidToken:  # its text holds the token
            await self.abandon()
            raise ConfigError(f"'telegram.token': {TOKEN_REJECTED}") from None
        except (TelegramRetryAfter, NetworkError) as exc:
            await self.abandon()
            log.warning("telegram unavailable error=%s; alerts wait for the next run", exc)
            return False
        return self.sender is not None

    async def abandon(self) -> None:
        """A start that failed half-way: close what it opened (the bot's HTTP sessions too)."""
        application = self.application
        self.application, self.sender = None, None
        if application is not None:
            with contextlib.suppress(Exception):  # already failing: the cause was logged
                await _stop_application(application)
            await application.bot.shutdown()

    async def stop(self) -> None:
        if self.application is not None:
            await _stop_application(self.application)

    async def _start_polling(self, application: AnyApplication) -> None:
        try:
            await publish_commands(application)
        except (Forbidden, BadRequest) as exc:  # the menu only; commands work
            log.warning("cannot publish the command menu error=%s; going on without it", exc)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(drop_pending_updates=False)
        if self.sender is not None:  # the commands' instance finishes what a stop cut short
            self._spawn(resume_broadcasts(self.sender, self.store, self.clock))
            disabled, self._disabled = self._disabled, []
            self._spawn(
                tell_disabled(self.sender, self.store, disabled, self._event_types, self._canonical)
            )

    async def poll(self, on: bool) -> None:
        """Telegram allows one getUpdates consumer per bot: the leader's."""
        async with self._lock:
            application = self.application
            if application is None or self.status != "on":
                return  # not started yet: it will poll if this instance leads by then
            if on and not application.running:
                try:
                    await self._start_polling(application)
                except (NetworkError, TimedOut, TelegramRetryAfter) as exc:
                    log.warning("cannot start polling error=%s; retrying", exc)
                    if application.running:
                        await application.stop()
            elif not on and application.running:
                if application.updater is not None and application.updater.running:
                    await application.updater.stop()
                await application.stop()

    def _new_limiter(self) -> FloodLimiter:
        self._limiter = FloodLimiter(shared_limits(limits_of(self.config), self._instances()))
        return self._limiter

    def share_rate(self, instances: int) -> None:
        """The number of live instances changed: Telegram's rate is per bot, split it again."""
        if self._limiter is not None:
            self._limiter.limits = shared_limits(limits_of(self.config), instances)

    # -- delivery -------------------------------------------------------------------------

    def start_delivery(self) -> None:
        """Drain the outbox from now until `stop` is set (once the bot has started)."""
        if self.sender is not None:
            self._delivery = asyncio.create_task(self._deliver_forever(self.sender))

    async def finish(self, grace: float) -> None:
        """Let the message being sent finish, so the outbox stays consistent; whatever takes
        longer than `grace` seconds is cut short."""
        delivery = self._delivery
        if delivery is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(delivery), grace)
        except TimeoutError:
            log.warning("delivery did not finish in %ss; stopping it", grace)
            delivery.cancel()
            await asyncio.gather(delivery, return_exceptions=True)

    async def _deliver_forever(self, sender: Sender) -> None:
        """Drain the outbox whenever a scan queues something, and when a retry falls due."""
        interval = self._interval
        while not self._stop.is_set():
            self._wake.clear()  # before the pass: a wake during it is not lost
            try:
                report = await self.deliverer.deliver(sender, self._stop)
                self._sent += report.sent
                if report.sent or report.failed or report.retried:
                    log.info(
                        "delivery sent=%d retried=%d failed=%d",
                        report.sent,
                        report.retried,
                        report.failed,
                    )
                next_due = await self.deliverer.next_due()
            except Exception:  # the loop must survive a database hiccup
                log.exception("delivery pass failed")
                next_due = None
            timeout = interval
            if next_due is not None:
                timeout = max(0.05, min(interval, (next_due - self.clock()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def deliver_once(self) -> None:
        """`run --once`: one delivery pass, and what it left in the outbox, in the log."""
        assert self.sender is not None
        sent = await self.deliverer.deliver(self.sender)
        pending = (await asyncio.to_thread(self.store.outbox_counts)).get("pending", 0)
        log.info(
            "delivery sent=%d retried=%d failed=%d pending=%d",
            sent.sent,
            sent.retried,
            sent.failed,
            pending,
        )


async def _stop_application(application: AnyApplication) -> None:
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    await application.shutdown()
