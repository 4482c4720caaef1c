"""The delivery pass: due outbox rows → one message per (chat, topic, article) → Telegram.

The outbox is the single source of truth. A row is marked sent, with the Telegram message id,
only after Telegram answered, and its sender waits for that commit (answers that arrive
together share one: `SentLog`); every other outcome leaves it pending for a later attempt or
records why there will be none (failed, gone). A crash between Telegram's answer and that
commit therefore re-sends only the messages that were in flight.

Chats are served in parallel, each chat's messages in order; the bot's FloodLimiter spaces
the requests. When Telegram is unreachable (5xx, network, timeout) the pass stops at once and
holds the whole queue with a growing backoff, instead of timing out once per chat.

Instances sharing one database each claim whole chats (`Store.claim_deliveries`) for a lease
they renew while the pass runs, and release what they did not finish when it ends: no two
instances send to one chat, and a dead instance's chats go to the others once its lease ends.

A chat whose rows the database fails to update stops alone, and backs off (5 s … 10 min):
the other chats go on and keep their claims. A message Telegram accepted but whose mark
could not be written is remembered (`SentLog.unrecorded`) and written again, never re-sent,
while this process lives: its chat waits until that write gets through.

One module (~500 lines): the outbox pass, its backoff and the order of commits are one
protocol, the crash guarantee above.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from apscheduler.triggers.cron import CronTrigger

from bot.core.alertroutes import parse_routes
from bot.core.config import TelegramConfig
from bot.core.messages import split_html
from bot.core.model import StoredEvent
from bot.core.modes import ChatSettings, parse_clock, quiet_until
from bot.core.templates import also_reported_line, render_alert, render_digest
from bot.store import Delivery, Store, retry_delay
from bot.store.base import DatabaseFailure
from bot.store.outbox import SentMark
from bot.telegram.limits import Limits
from bot.telegram.sender import Failed, Gone, Migrated, Outcome, RetryAfter, Sender, Sent

logger = logging.getLogger(__name__)

Pair = tuple[int, int | None]  # (chat, forum topic)


@dataclass
class DeliveryReport:
    sent: int = 0  # messages (one per chat, topic and article; a digest counts once)
    retried: int = 0
    failed: int = 0
    held: int = 0  # waiting for quiet hours to end or for the digest


@dataclass
class Deliverer:
    """Drains the outbox through a Sender; `clock` is the outbox's notion of now."""

    store: Store
    clock: Callable[[], datetime]
    concurrency: int = 16
    rounds: int = 50  # due rows are read 500 at a time; a pass takes at most this many reads
    instance: str = "local"  # who claims the rows: unique among instances sharing the database
    lease: timedelta = timedelta(seconds=60)  # a claim lasts this long unless renewed
    _stop: asyncio.Event | None = field(default=None, init=False)
    _unreachable: bool = field(default=False, init=False)
    _sent_log: SentLog = field(init=False)
    # chat → (until, failures): its database writes failed; not served before `until`.
    _backoff: dict[int, tuple[datetime, int]] = field(default_factory=dict, init=False)
    # One article alerting many chats alike is rendered once per round, not once per chat.
    _renders: dict[tuple[int, tuple[int, ...], ChatSettings], str] = field(
        default_factory=dict, init=False
    )
    _splits: dict[str, list[str]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._sent_log = SentLog(self.store)

    def _halted(self) -> bool:
        return self._unreachable or (self._stop is not None and self._stop.is_set())

    async def deliver(self, sender: Sender, stop: asyncio.Event | None = None) -> DeliveryReport:
        """Send every due message; returns what happened. Paused by /pause: sends nothing.

        Once `stop` is set no new message is started; those in flight finish and are recorded.
        """
        report = DeliveryReport()
        if await asyncio.to_thread(self.store.delivery_paused):
            return report
        self._stop = stop  # the caller's: shutting down
        self._unreachable = False  # set by a network failure during this pass
        await self._record_unrecorded()
        renewing = asyncio.create_task(self._renew_claims())
        try:
            for _ in range(self.rounds):
                due = await asyncio.to_thread(
                    self.store.claim_deliveries,
                    self.clock(),
                    self.instance,
                    self.lease,
                    exclude=self.waiting(),
                )
                if not due:
                    break
                await self._round(sender, due, report)
                if self._halted():
                    break
        finally:
            renewing.cancel()
            # What this pass claimed and did not finish goes back to the queue at once.
            await asyncio.shield(asyncio.to_thread(self.store.release_claims, self.instance))
        return report

    def waiting(self) -> set[int]:
        """The chats not to serve now: backing off, or with a send still to record."""
        now = self.clock()
        waiting = {chat for chat, (until, _) in self._backoff.items() if until > now}
        return waiting | self._sent_log.unrecorded.keys()

    async def next_due(self) -> datetime | None:
        """When a pass next has something to do: the store's next due row outside the chats
        that back off, or the end of a backoff."""
        waiting = self.waiting()
        ends = [until for chat, (until, _) in self._backoff.items() if chat in waiting]
        due = await asyncio.to_thread(self.store.next_due, waiting)
        return min([*([due] if due else []), *ends], default=None)

    async def _record_unrecorded(self) -> None:
        """Write the marks of sends whose chat's backoff has ended; a chat whose write fails
        again backs off longer."""
        now = self.clock()
        for chat in list(self._sent_log.unrecorded):
            until, _ = self._backoff.get(chat, (now, 0))
            if until > now:
                continue
            try:
                await self._sent_log.rewrite(chat)
            except DatabaseFailure as exc:
                await self._back_off(chat, exc)

    async def _back_off(self, chat: int, exc: Exception) -> None:
        """The database failed on one of this chat's writes: it waits, longer each time (its
        rows are held in the store too, when that write at least gets through)."""
        _, failures = self._backoff.get(chat, (self.clock(), 0))
        until = self.clock() + retry_delay(failures)
        self._backoff[chat] = (until, failures + 1)
        error = f"database: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        at = until.isoformat(timespec="seconds")
        logger.warning("chat %s waits until %s: %s", chat, at, error)
        # Remembered here anyway: this instance does not claim the chat before `until`.
        with contextlib.suppress(DatabaseFailure):
            await asyncio.to_thread(self.store.hold_chat, chat, (), until, None)

    async def _renew_claims(self) -> None:
        """Keep this pass's chats while it runs (a slow Telegram, a long queue): every third
        of the lease, so one missed renewal does not let another instance in."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            until = self.clock() + self.lease
            try:
                await asyncio.to_thread(self.store.renew_claims, self.instance, until)
            except DatabaseFailure as exc:  # the next renewal may get through; the lease allows it
                logger.warning("cannot renew outbox claims error=%s", exc)

    async def _round(self, sender: Sender, due: list[Delivery], report: DeliveryReport) -> None:
        by_pair: dict[Pair, list[Delivery]] = {}
        for delivery in due:
            by_pair.setdefault((delivery.chat_id, delivery.thread_id), []).append(delivery)
        settings = await asyncio.to_thread(self.store.settings_for, by_pair)
        told = await asyncio.to_thread(self.store.told_stories, due)
        self._renders.clear()
        self._splits.clear()
        by_chat: dict[int, list[tuple[Pair, list[Delivery]]]] = {}
        for pair, queue in by_pair.items():
            by_chat.setdefault(pair[0], []).append((pair, queue))
        gate = asyncio.Semaphore(self.concurrency)

        async def one_chat(chat_id: int, topics: list[tuple[Pair, list[Delivery]]]) -> None:
            async with gate:
                try:
                    for pair, queue in topics:
                        chat = settings[pair]
                        if not await self._serve(sender, queue, chat, told.get(pair, {}), report):
                            return  # this chat failed: the rest of it waits, in order
                except DatabaseFailure as exc:  # this chat's write failed: not the others'
                    await self._back_off(chat_id, exc)
                    return
                self._backoff.pop(chat_id, None)

        # Every chat finishes before the pass ends (and gives back its claims): a bug in one
        # surfaces only once the others' sends are recorded.
        results = await asyncio.gather(
            *(one_chat(chat, topics) for chat, topics in by_chat.items()), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _serve(
        self,
        sender: Sender,
        queue: list[Delivery],
        settings: ChatSettings,
        told: dict[str, int],
        report: DeliveryReport,
    ) -> bool:
        """Send one chat topic's due messages, or hold them; False when the chat must stop.

        `told`: story → the message that told this chat topic about it, as the round began.
        """
        now = self.clock()
        ids = [i for d in queue for i in d.ids]
        wait = quiet_until(settings, now)
        why = f"quiet hours {settings.quiet} {settings.timezone}"
        if wait is None and settings.mode == "digest":
            wait = digest_due(settings, now, min(d.queued for d in queue))
            why = f"digest at {settings.digest_at} {settings.timezone}"
        if wait is not None:
            await asyncio.to_thread(self.store.defer, ids, wait, why)
            report.held += len(queue)
            return True
        if settings.mode == "digest":
            text = render_digest([(d.article, d.events) for d in queue], settings)
            ok = await self._send(sender, queue[0], ids, text, report)
            if ok:
                await asyncio.to_thread(
                    self.store.update_settings,
                    queue[0].chat_id,
                    queue[0].thread_id,
                    digest_last=now,
                )
            return ok
        earlier: set[str] = set()  # stories of the messages before this one in the queue
        for delivery in queue:
            stories = {e.story_id for e in delivery.events if e.story_id}
            if stories & earlier:  # told by this very round, maybe: only the store knows
                repeats = await asyncio.to_thread(self.store.story_messages, delivery)
            else:
                repeats = {e.id: told[e.story_id] for e in delivery.events if e.story_id in told}
            earlier |= stories
            if repeats and not await self._also_reported(sender, delivery, repeats, settings):
                return False
            fresh = [(i, e) for i, e in zip(delivery.ids, delivery.events, strict=True)
                     if e.id not in repeats]  # fmt: skip
            if not fresh:
                continue
            text = self._render(delivery, [e for _, e in fresh], settings)
            if not await self._send(sender, delivery, [i for i, _ in fresh], text, report):
                return False
        return True

    def _render(self, delivery: Delivery, events: list[StoredEvent], settings: ChatSettings) -> str:
        key = (delivery.article.id, tuple(e.id for e in events), settings)
        text = self._renders.get(key)
        if text is None:
            text = self._renders[key] = render_alert(delivery.article, events, settings)
        return text

    async def _also_reported(
        self,
        sender: Sender,
        delivery: Delivery,
        repeats: dict[int, int],
        settings: ChatSettings,
    ) -> bool:
        """The story already reached this chat: edit that message instead of a new alert."""
        chat_id, thread_id = delivery.chat_id, delivery.thread_id
        by_message: dict[int, list[int]] = {}
        for row_id, event in zip(delivery.ids, delivery.events, strict=True):
            if event.id in repeats:
                by_message.setdefault(repeats[event.id], []).append(row_id)
        for message_id, ids in by_message.items():
            originals, merged = await asyncio.to_thread(
                self.store.message_contents, chat_id, thread_id, message_id
            )
            note: str | None = None
            if len(originals) == 1:  # a digest covers many articles: it is not edited
                article, shown = originals[0]
                if article.id == delivery.article.id:  # the same article told anew (a model's
                    # events replacing the rules', see Pipeline.apply_refined): shown as now
                    article, shown = delivery.article, _retelling(delivery, ids)
                    merged = [a for a in merged if a.id != article.id]
                else:
                    merged = [*merged, delivery.article]
                text = render_alert(article, shown, settings)
                if merged:
                    text += "\n\n" + also_reported_line(merged, settings.language)
                outcome = await sender.edit(chat_id, message_id, split_html(text)[0])
                if isinstance(outcome, RetryAfter):
                    until = self.clock() + timedelta(seconds=outcome.seconds)
                    await asyncio.to_thread(self.store.hold_chat, chat_id, ids, until, "edit: 429")
                    return False
                if isinstance(outcome, Failed) and outcome.retryable:
                    until = self.clock() + retry_delay(delivery.attempts)
                    await asyncio.to_thread(
                        self.store.hold_chat, chat_id, ids, until, outcome.reason
                    )
                    return False
                if not isinstance(outcome, Sent):  # too old to edit, deleted: still no repeat
                    note = f"edit failed: {outcome}"
            await asyncio.to_thread(self.store.mark_merged, ids, message_id, self.clock(), note)
        return True

    async def _send(
        self,
        sender: Sender,
        delivery: Delivery,
        ids: Sequence[int],
        text: str,
        report: DeliveryReport,
    ) -> bool:
        """Send one message (in parts, if too long) and record the outcome for its rows."""
        if self._halted():
            return False
        chat_id, thread_id = delivery.chat_id, delivery.thread_id
        parts = self._splits.get(text)
        if parts is None:
            parts = self._splits[text] = split_html(text)
        outcome, note = await _send_parts(sender, chat_id, thread_id, parts)
        if isinstance(outcome, Migrated):  # the subscriptions and queue move; send there now
            await asyncio.to_thread(self.store.migrate_chat, chat_id, outcome.new_chat_id)
            chat_id = outcome.new_chat_id
            outcome, note = await _send_parts(sender, chat_id, thread_id, parts)
        now = self.clock()
        if isinstance(outcome, Sent):
            mark = SentMark(tuple(ids), outcome.message_id, now, note)
            await self._sent_log.record(chat_id, mark)
            report.sent += 1
            return True
        if isinstance(outcome, RetryAfter):
            until = now + timedelta(seconds=outcome.seconds)
            error = f"rate limited: retry after {outcome.seconds:g}s"
            await asyncio.to_thread(self.store.hold_chat, chat_id, ids, until, error)
            report.retried += 1
        elif isinstance(outcome, Gone):
            await asyncio.to_thread(self.store.mark_failed, ids, outcome.reason, "gone")
            await asyncio.to_thread(self.store.deactivate_chat, chat_id, outcome.reason)
            report.failed += 1
        elif isinstance(outcome, Failed) and outcome.retryable:
            until = now + retry_delay(delivery.attempts)
            first = not self._unreachable
            # Before any await: chats waiting for a slot must not start a send meanwhile.
            self._unreachable = True  # don't time out chat after chat: stop the pass
            await asyncio.to_thread(self.store.hold_chat, chat_id, ids, until, outcome.reason)
            if first:
                held = await asyncio.to_thread(self.store.hold_all, until)
                logger.warning(
                    "telegram unreachable (%s): %d queued rows wait until %s",
                    outcome.reason,
                    held,
                    until.isoformat(timespec="seconds"),
                )
            report.retried += 1
        else:
            assert isinstance(outcome, Failed | Migrated)
            reason = outcome.reason if isinstance(outcome, Failed) else "migrated twice"
            await asyncio.to_thread(self.store.mark_failed, ids, reason)
            report.failed += 1
        return False


class SentLog:
    """Records successful sends, many to a transaction (a group commit).

    A send that is answered while no write is running starts one at once; those answered
    while it runs go together in the next. So at Telegram's 30/s each message still gets a
    transaction of its own, and in a fan-out one commit serves a dozen or more. `record`
    returns once the row is committed: a chat's next message waits for it, and what a crash
    can re-send stays what was in flight, as with one statement per message.

    A batch the database refuses is written again mark by mark, so one chat's failing write
    fails no other chat's. A mark that still fails is kept in `unrecorded` (its rows were
    sent: they must not be sent again) until `rewrite` gets it through.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._waiting: list[tuple[int, SentMark, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.unrecorded: dict[int, list[SentMark]] = {}  # chat → sends to record

    async def record(self, chat_id: int, mark: SentMark) -> None:
        """Commit `mark`; raises the database's error, the mark kept in `unrecorded`."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._waiting.append((chat_id, mark, done))
        writer = self._writer
        if writer is None or writer.done() or writer.get_loop() is not loop:
            self._writer = asyncio.create_task(self._write())
        # Shielded: a cancelled sender leaves its mark to be written with the others.
        await asyncio.shield(done)

    async def rewrite(self, chat_id: int) -> None:
        """Write the chat's unrecorded marks again; raises (and keeps them) if that fails."""
        marks = self.unrecorded.get(chat_id, [])
        await asyncio.to_thread(self._store.mark_sent_many, marks)
        self.unrecorded.pop(chat_id, None)

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await asyncio.to_thread(self._store.mark_sent_many, [m for _, m, _ in batch])
            except DatabaseFailure:
                await self._write_each(batch)
                continue
            except Exception as exc:  # every waiter of this batch sees the error
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _write_each(self, batch: list[tuple[int, SentMark, asyncio.Future[None]]]) -> None:
        for chat_id, mark, done in batch:
            try:
                await asyncio.to_thread(self._store.mark_sent_many, [mark])
            except DatabaseFailure as exc:
                self.unrecorded.setdefault(chat_id, []).append(mark)
                if not done.done():
                    done.set_exception(exc)
            else:
                if not done.done():
                    done.set_result(None)


async def _send_parts(
    sender: Sender, chat_id: int, thread_id: int | None, parts: Sequence[str]
) -> tuple[Outcome, str | None]:
    """The first part's outcome decides; a later part that fails is noted, not re-sent."""
    first: Sent | None = None
    for number, part in enumerate(parts, 1):
        outcome = await sender.send(chat_id, part, thread_id=thread_id)
        if isinstance(outcome, Sent):
            first = first or outcome
            continue
        if first is None:
            return outcome, None
        # Re-sending would repeat the parts that arrived: record the gap instead.
        return first, f"part {number} of {len(parts)} not sent: {outcome}"
    assert first is not None
    return first, None


def next_digest(settings: ChatSettings, after: datetime) -> datetime:
    """The first digest time strictly after `after` (aware)."""
    at = parse_clock(settings.digest_at)
    trigger = CronTrigger(hour=at.hour, minute=at.minute, timezone=settings.tz)
    fire: datetime | None = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    assert fire is not None  # a daily cron always fires again
    return fire


def digest_due(settings: ChatSettings, now: datetime, queued_at: datetime) -> datetime | None:
    """None when the digest may go out now; else when it will.

    The digest is due once a digest time has passed since the last digest (or since the oldest
    message waiting, for a chat that never had one).
    """
    since = settings.digest_last or queued_at
    fire = next_digest(settings, since)
    return None if fire <= now else fire


def limits_of(telegram: TelegramConfig) -> Limits:
    """The flood limits the config asks for."""
    return Limits.from_settings(
        per_second=telegram.max_per_second,
        chat_interval=telegram.chat_interval_seconds,
        group_per_minute=telegram.group_per_minute,
        paid_broadcast=telegram.paid_broadcast,
    )


class Vocabulary(Protocol):
    """What a route's filter is checked against: the rule pack's event types and entity names
    (the pack is one; the Telegram side does not depend on extraction)."""

    @property
    def event_types(self) -> Collection[str]: ...

    def canonical(self, name: str) -> str | None: ...


async def apply_routes(store: Store, lines: Sequence[str], pack: Vocabulary) -> None:
    """Subscribe the chats and topics `telegram.routes` names; a bad route is a config error."""
    routes = parse_routes(lines, pack.event_types, pack.canonical)  # RouteError is a ConfigError
    added, removed = await asyncio.to_thread(store.sync_routes, routes)
    if added or removed:
        logger.info("routes applied routes=%d added=%d removed=%d", len(routes), added, removed)


def _retelling(delivery: Delivery, ids: Sequence[int]) -> tuple[StoredEvent, ...]:
    """The events of `delivery` whose outbox rows are `ids`."""
    wanted = set(ids)
    return tuple(e for i, e in zip(delivery.ids, delivery.events, strict=True) if i in wanted)
