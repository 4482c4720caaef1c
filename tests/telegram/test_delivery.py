"""The delivery pass against the fake Bot API over real HTTP, on a real SQLite outbox.

Every fault the issue lists is injected by the fake server and the resulting outbox state is
asserted exactly; limits are measured from the fake server's receive times.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.fakebot import FakeBotApi, parse_telegram_html
from telegram.ext import ExtBot

from bot.app import Daemon
from bot.cli import main as cli
from bot.cli.config import load_pack
from bot.core.alertroutes import Route, RouteError, parse_routes
from bot.core.config import parse_config
from bot.core.model import EVENT_TYPES, Amount, Article, Event, Extraction
from bot.store import Store
from bot.store.outbox import enqueue
from bot.store.schema import outbox
from bot.telegram.delivery import Deliverer, limits_of
from bot.telegram.limits import FloodLimiter, Limits
from bot.telegram.request import AiohttpRequest
from bot.telegram.sender import Sender

T0 = datetime(2025, 6, 12, 8, 0, tzinfo=UTC)
FAST = Limits(per_second=2000.0, chat_interval=0.0, group_messages=1000, group_window=1.0)


@dataclass
class Clock:
    """The outbox's notion of now, moved by hand."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Rig:
    store: Store
    clock: Clock
    fake: FakeBotApi
    sender: Sender
    limiter: FloodLimiter
    articles: int = 0
    deliverer: Deliverer = field(init=False)

    def __post_init__(self) -> None:
        self.deliverer = Deliverer(self.store, self.clock, concurrency=16)

    def publish(
        self, chats: Sequence[int | tuple[int, int | None]], *, summary: str = "", events: int = 1
    ) -> None:
        """Store a new article with `events` events and queue an alert for each chat."""
        self.articles += 1
        n = self.articles
        found = tuple(
            Event(
                "acquisition" if i % 2 == 0 else "funding",
                (f"Buyer{n}x{i}", f"Target{n}x{i}"),
                summary or f"Buyer{n} buys Target{n} (event {i}).",
                "…",
                amount=Amount(1e9, "USD", 1e9, "$1B") if i == 0 else None,
            )
            for i in range(events)
        )
        pairs = [c if isinstance(c, tuple) else (c, None) for c in chats]
        self.store.save_article(
            Article(
                path=f"a{n}.md",
                title=f"Article {n} <b>&",
                text="…",
                lang="en",
                published=T0,
                format="jekyll",
                slug=f"a{n}",
            ),
            Extraction("Summary.", found),
            f"https://blog.example.org/a{n}.html",
            size=1,
            mtime_ns=n,
            content_hash=f"h{n}",
            now=self.clock(),
            targets={e.key: pairs for e in found},
        )

    async def deliver(self) -> Any:
        return await self.deliverer.deliver(self.sender)

    def rows(self) -> list[Any]:
        with self.store.engine.connect() as conn:
            return list(conn.execute(select(outbox).order_by(outbox.c.id)))


async def make_sender(
    fake: FakeBotApi, limits: Limits, **request: Any
) -> tuple[ExtBot[int], FloodLimiter]:
    limiter = FloodLimiter(limits)
    bot: ExtBot[int] = ExtBot(
        "123:TEST",
        base_url=fake.base_url,
        request=AiohttpRequest(connection_pool_size=16, **request),  # the daemon's
        rate_limiter=limiter,
    )
    await bot.initialize()
    return bot, limiter


@pytest.fixture
async def rig(store_url: str, fake_bot: FakeBotApi) -> AsyncIterator[Rig]:
    """A store on each backend (conftest's store_url), a sender to the fake Bot API."""
    store = Store(store_url)
    # Short enough that an injected "timeout" fault costs little, long enough that a loaded
    # machine's slow reply is no timeout: a send that times out is ambiguous and is sent again.
    bot, limiter = await make_sender(fake_bot, FAST, read_timeout=2.0)
    try:
        yield Rig(store, Clock(), fake_bot, Sender(bot), limiter)
    finally:
        await bot.shutdown()
        store.close()


def most_in_window(times: Sequence[float], window: float) -> int:
    ordered = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


# -- the normal path ---------------------------------------------------------------------


async def test_events_of_one_article_go_out_as_one_message_and_once(rig: Rig) -> None:
    rig.publish([1, (-1005, 7)], events=3)

    first = await rig.deliver()
    again = await rig.deliver()

    assert (first.sent, again.sent) == (2, 0)
    [private] = rig.fake.sent(1)
    [topic] = rig.fake.sent(-1005)
    assert topic.message_thread_id == 7
    assert private.text.count("Buyer1 buys") == 3 and "$1B" in private.text
    rows = rig.rows()
    assert {(r.status, r.message_id) for r in rows if r.chat_id == 1} == {
        ("sent", private.message_id)
    }
    assert len(rows) == 6 and all(r.sent_at is not None for r in rows)


async def test_a_message_over_the_limit_is_split_at_paragraphs(rig: Rig) -> None:
    rig.store.update_settings(1, None, mode="digest", digest_at="09:00")
    for _ in range(40):
        rig.publish([1], summary="Long & winding <news> " * 12)
    await rig.deliver()  # before 09:00: held for the digest
    assert rig.fake.sent(1) == []

    rig.clock.advance(3600)
    report = await rig.deliver()

    parts = rig.fake.sent(1)
    assert report.sent == 1 and len(parts) >= 2
    for part in parts:  # the fake server checks HTML as Telegram does, and the length
        assert parse_telegram_html(part.text)[0] is None
        assert part.parse_mode == "HTML"
    assert sum(p.text.count("↳") for p in parts) == 40
    assert {r.message_id for r in rig.rows()} == {parts[0].message_id}


# -- faults ------------------------------------------------------------------------------


async def test_retry_after_holds_the_chat_and_requeues(rig: Rig) -> None:
    rig.publish([1, 2])
    rig.publish([1])
    rig.fake.fail_next("sendMessage", 1, "retry_after", retry_after=1)

    report = await rig.deliver()

    assert (report.sent, report.retried) == (1, 1)
    held = [r for r in rig.rows() if r.chat_id == 1]
    assert [r.status for r in held] == ["pending", "pending"]
    assert [r.attempts for r in held] == [1, 0]  # the second was not tried: order is kept
    assert {r.next_attempt.replace(tzinfo=UTC) for r in held} == {T0 + timedelta(seconds=1)}
    assert "retry after 1s" in held[0].last_error

    rig.clock.advance(0.5)
    assert (await rig.deliver()).sent == 0
    rig.clock.advance(1)
    assert (await rig.deliver()).sent == 2  # the limiter, too, waited out the second
    texts = [m.text for m in rig.fake.sent(1)]
    assert len(texts) == 2 and "Article 1" in texts[0] and "Article 2" in texts[1]


async def test_server_errors_hold_the_whole_queue_until_telegram_is_back(rig: Rig) -> None:
    chats = list(range(1, 101))
    rig.publish(chats)
    rig.fake.fail_next("sendMessage", None, "server_error", times=None)

    report = await rig.deliver()

    tried = len(rig.fake.calls_to("sendMessage"))
    assert report.sent == 0 and tried <= 16  # the pass stopped instead of trying 100 chats
    rows = rig.rows()
    assert all(r.status == "pending" for r in rows)
    assert min(r.next_attempt.replace(tzinfo=UTC) for r in rows) >= T0 + timedelta(seconds=5)

    rig.fake.clear_faults()
    rig.clock.advance(6)
    await rig.deliver()
    assert all(len(rig.fake.sent(chat)) == 1 for chat in chats)
    assert {r.status for r in rig.rows()} == {"sent"}


async def test_timeout_is_retried_later(rig: Rig) -> None:
    rig.publish([1])
    rig.fake.fail_next("sendMessage", 1, "timeout")

    await rig.deliver()
    [row] = rig.rows()
    assert (row.status, row.attempts) == ("pending", 1) and "TimedOut" in row.last_error

    rig.clock.advance(6)
    await rig.deliver()
    assert len(rig.fake.sent(1)) == 1 and rig.rows()[0].status == "sent"


async def test_blocked_chat_is_deactivated_and_kept_until_start(rig: Rig) -> None:
    rig.store.add_subscription(1, None, "")
    rig.store.add_subscription(2, None, "")
    rig.publish([1, 2])
    rig.publish([1])
    rig.fake.fail_next("sendMessage", 1, "blocked")

    await rig.deliver()

    assert [(r.chat_id, r.status) for r in rig.rows()] == [(1, "gone"), (2, "sent"), (1, "gone")]
    assert "blocked" in rig.rows()[0].last_error
    assert [s.chat_id for s in rig.store.active_subscriptions()] == [2]
    assert rig.store.subscriptions(1, None) == [""]  # kept
    rig.store.upsert_chat(1, "private", "User", "en")  # what /start does
    assert [s.chat_id for s in rig.store.active_subscriptions()] == [1, 2]


async def test_migrated_group_moves_and_gets_the_message(rig: Rig) -> None:
    old, new = -500, -1001500
    rig.store.add_subscription(old, None, "funding")
    rig.store.update_settings(old, None, language="zh-Hans")
    rig.publish([old])
    rig.fake.fail_next("sendMessage", old, "migrated", migrate_to=new)

    report = await rig.deliver()

    assert report.sent == 1
    [message] = rig.fake.sent(new)
    assert "收购" in message.text  # the chat's settings moved too
    [row] = rig.rows()
    assert (row.chat_id, row.status, row.message_id) == (new, "sent", message.message_id)
    assert rig.store.subscriptions(new, None) == ["funding"]
    assert rig.store.subscriptions(old, None) == []
    assert [s.chat_id for s in rig.store.active_subscriptions()] == [new]


async def test_a_migration_answer_naming_the_chat_itself_keeps_its_subscriptions(
    rig: Rig,
) -> None:
    """Issue 15: "migrated to" the chat's own id deleted every subscription of the chat."""
    chat = -1001600
    rig.store.add_subscription(chat, None, "funding")
    rig.publish([chat])
    rig.fake.fail_next("sendMessage", chat, "migrated", migrate_to=chat)

    report = await rig.deliver()

    assert report.sent == 1  # sent again to the same chat, which accepts it now
    assert len(rig.fake.sent(chat)) == 1
    assert rig.store.subscriptions(chat, None) == ["funding"]
    assert [s.chat_id for s in rig.store.active_subscriptions()] == [chat]


async def test_unparsable_html_is_resent_as_plain_text(rig: Rig) -> None:
    rig.publish([1])
    rig.fake.fail_next("sendMessage", 1, "parse_entities")

    await rig.deliver()

    [message] = rig.fake.sent(1)
    assert message.parse_mode is None and "Article 1 <b>&" in message.text
    assert rig.rows()[0].status == "sent"


async def test_other_bad_request_is_recorded_listed_and_retried_on_demand(rig: Rig) -> None:
    rig.publish([1, 2])
    rig.fake.fail_next("sendMessage", 1, "bad_request", description="Bad Request: TOPIC_CLOSED")

    report = await rig.deliver()

    assert (report.sent, report.failed) == (1, 1)
    [failed] = rig.store.failed_deliveries()
    assert (failed.chat_id, failed.status, failed.attempts) == (1, "failed", 1)
    assert "Topic_closed" in failed.error or "TOPIC_CLOSED" in failed.error
    assert rig.store.outbox_counts() == {"sent": 1, "failed": 1}

    assert rig.store.retry_failed(rig.clock()) == 1
    await rig.deliver()
    assert len(rig.fake.sent(1)) == 1 and rig.store.outbox_counts() == {"sent": 2}


async def test_paused_delivery_sends_nothing_until_resumed(rig: Rig) -> None:
    rig.publish([1])
    rig.store.set_delivery_paused(True)
    assert (await rig.deliver()).sent == 0
    rig.store.set_delivery_paused(False)
    assert (await rig.deliver()).sent == 1


# -- modes -------------------------------------------------------------------------------


async def test_quiet_hours_hold_messages_until_they_end(rig: Rig) -> None:
    # 08:00 UTC is 16:00 in Shanghai: quiet from 15:00 to 17:30 local.
    rig.store.update_settings(1, None, quiet="15:00-17:30", timezone="Asia/Shanghai")
    rig.publish([1, 2])

    report = await rig.deliver()

    assert (report.sent, report.held) == (1, 1) and rig.fake.sent(1) == []
    [row] = [r for r in rig.rows() if r.chat_id == 1]
    assert row.next_attempt.replace(tzinfo=UTC) == T0 + timedelta(minutes=90)
    assert (row.attempts, row.last_error) == (0, "held: quiet hours 15:00-17:30 Asia/Shanghai")
    rig.clock.advance(89 * 60)
    assert (await rig.deliver()).sent == 0
    rig.clock.advance(60)
    assert (await rig.deliver()).sent == 1 and len(rig.fake.sent(1)) == 1


async def test_a_settings_change_frees_only_what_settings_held(rig: Rig) -> None:
    """A row waiting out a failure (flood control here) keeps its wait; one held by quiet
    hours is due again from when it was queued."""
    rig.store.update_settings(1, None, quiet="07:00-09:00")
    rig.publish([1])
    assert (await rig.deliver()).held == 1
    rig.publish([2])
    rig.fake.fail_next("sendMessage", 2, "retry_after", retry_after=30)
    assert (await rig.deliver()).retried == 1

    assert rig.store.release_held(2, None) == 0
    assert rig.store.release_held(1, 7) == 0  # another topic of the chat
    assert rig.store.release_held(1, None) == 1
    due = {(r.chat_id, r.next_attempt.replace(tzinfo=UTC)) for r in rig.rows()}
    assert due == {(1, T0), (2, T0 + timedelta(seconds=30))}


async def test_digest_collects_a_day_into_one_message(rig: Rig) -> None:
    rig.store.update_settings(1, None, mode="digest", digest_at="18:00", timezone="Asia/Shanghai")
    rig.publish([1])
    rig.clock.advance(3600)
    rig.publish([1])

    await rig.deliver()
    assert rig.fake.sent(1) == []
    rig.clock.now = datetime(2025, 6, 12, 10, 0, 1, tzinfo=UTC)  # 18:00:01 in Shanghai
    await rig.deliver()

    [digest] = rig.fake.sent(1)
    assert "Digest" in digest.text and "Article 1" in digest.text and "Article 2" in digest.text
    assert rig.store.chat_settings(1, None).digest_last == rig.clock.now
    rig.clock.advance(60)
    rig.publish([1])
    await rig.deliver()
    [row] = [r for r in rig.rows() if r.status == "pending"]
    assert row.next_attempt.replace(tzinfo=UTC) == datetime(2025, 6, 13, 10, 0, tzinfo=UTC)


# -- limits ------------------------------------------------------------------------------


async def test_fan_out_to_2000_chats_respects_the_overall_rate(
    tmp_path: Path, fake_bot: FakeBotApi
) -> None:
    rate = 500.0
    limits = Limits(per_second=rate, chat_interval=1.0, group_messages=20, group_window=60.0)
    bot, limiter = await make_sender(fake_bot, limits)
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    rig = Rig(store, Clock(), fake_bot, Sender(bot), limiter)
    chats = [*range(1, 1001), *range(-1000, 0)]  # private chats and groups
    rig.publish(chats)
    try:
        report = await rig.deliver()
    finally:
        await bot.shutdown()

    assert report.sent == 2000
    sent = fake_bot.sent()
    assert sorted(m.chat_id for m in sent) == sorted(chats)  # each chat exactly once
    times = [m.at for m in sent]
    assert most_in_window(times, 1.0) <= rate * 1.02  # measured where Telegram would see it
    assert max(times) - min(times) >= (2000 / rate) * 0.9
    assert store.outbox_counts() == {"sent": 2000}
    store.close()


async def test_per_chat_and_per_group_limits(tmp_path: Path, fake_bot: FakeBotApi) -> None:
    limits = Limits(per_second=200.0, chat_interval=0.25, group_messages=3, group_window=1.0)
    bot, limiter = await make_sender(fake_bot, limits)
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    rig = Rig(store, Clock(), fake_bot, Sender(bot), limiter)
    for _ in range(5):
        rig.publish([7, -100700])
    try:
        await rig.deliver()
    finally:
        await bot.shutdown()

    private = [m.at for m in fake_bot.sent(7)]
    group = [m.at for m in fake_bot.sent(-100700)]
    assert len(private) == len(group) == 5
    gaps = [b - a for a, b in itertools.pairwise(private)]
    assert min(gaps) >= 0.25 * 0.95
    assert most_in_window(group, 1.0) <= 3
    assert group[-1] - group[0] >= 1.0  # five messages, three a second: a second wait at least
    store.close()


async def test_restart_mid_fan_out_sends_every_message_once_but_in_flight(
    store_url: str, fake_bot: FakeBotApi
) -> None:
    limits = Limits(per_second=400.0, chat_interval=1.0)
    store = Store(store_url)
    chats = list(range(1, 601))
    bot, limiter = await make_sender(fake_bot, limits)
    rig = Rig(store, Clock(), fake_bot, Sender(bot), limiter)
    rig.publish(chats)
    task = asyncio.create_task(rig.deliver())
    await fake_bot.wait_for(lambda: len(fake_bot.sent()) >= 200, 10, "200 messages")
    task.cancel()  # the process dies mid fan-out
    await asyncio.gather(task, return_exceptions=True)
    await bot.shutdown()
    before = len(fake_bot.sent())
    assert before < 600

    # A new process: new bot, new limiter, the same database.
    store.close()
    store = Store(store_url)
    bot, limiter = await make_sender(fake_bot, limits)
    rig = Rig(store, Clock(), fake_bot, Sender(bot), limiter)
    try:
        await rig.deliver()
    finally:
        await bot.shutdown()

    per_chat = {chat: len(fake_bot.sent(chat)) for chat in chats}
    assert all(n >= 1 for n in per_chat.values())  # nothing lost
    repeated = [chat for chat, n in per_chat.items() if n > 1]
    assert len(repeated) <= 16  # at most the messages that were in flight (the concurrency)
    assert max(per_chat.values()) <= 2
    assert store.outbox_counts() == {"sent": 600}
    store.close()


# -- routing and the outbox command ------------------------------------------------------


def canonical(name: str) -> str | None:
    return {"meta": "Meta"}.get(name.casefold())


def test_routes_are_parsed_and_bad_ones_named() -> None:
    routes = parse_routes(
        ["-1001: acquisition amount>=1B", "-1002/42: funding | {badge} {summary}"],
        EVENT_TYPES,
        canonical,
    )
    assert routes == [
        Route(-1001, None, "acquisition amount>=1B"),
        Route(-1002, 42, "funding", "{badge} {summary}"),
    ]
    for line, problem in [
        ("acquisitions to my channel", "expected 'CHAT_ID[/TOPIC_ID]: filter'"),
        ('-1: "Scale AI', "quote is not closed"),
        ("-1: funding | {nope}", "Unknown placeholder {nope}"),
    ]:
        with pytest.raises(RouteError, match=re.escape(problem)):
            parse_routes([line], EVENT_TYPES, canonical)


async def test_routes_subscribe_channels_and_topics_and_follow_config(rig: Rig) -> None:
    rig.store.add_subscription(-1002, 42, "Meta")  # typed in the topic: not the config's
    first = parse_routes(
        ["-1001: acquisition", "-1002/42: funding | {type}: {summary}"], EVENT_TYPES, canonical
    )
    assert rig.store.sync_routes(first) == (2, 0)
    assert rig.store.sync_routes(first) == (0, 0)

    rig.publish([(-1002, 42)], events=2)  # event 0 acquisition, event 1 funding
    await rig.deliver()
    [message] = rig.fake.sent(-1002)
    assert message.message_thread_id == 42
    assert message.text.startswith("acquisition: Buyer1 buys")  # the route's template

    later = parse_routes(["-1001: funding"], EVENT_TYPES, canonical)
    assert rig.store.sync_routes(later) == (1, 2)
    subs = {(s.chat_id, s.thread_id, s.filter) for s in rig.store.active_subscriptions()}
    assert subs == {(-1001, None, "funding"), (-1002, 42, "Meta")}


async def test_outbox_command_lists_and_retries_failures(
    rig: Rig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rig.publish([1, 2])
    rig.fake.fail_next("sendMessage", 1, "bad_request", description="Bad Request: TOPIC_CLOSED")
    await rig.deliver()
    config = tmp_path / "eventfeed.yaml"
    config.write_text(f"state: {{url: '{rig.store.url}'}}\n", encoding="utf-8")

    assert cli.main(["outbox", "--config", str(config)]) == 0
    listing = capsys.readouterr().out
    assert "outbox: failed=1 sent=1" in listing
    assert "\tfailed\tchat 1\t" in listing and "TOPIC_CLOSED" in listing.upper()

    assert cli.main(["outbox", "--config", str(config), "--retry"]) == 0
    assert "queued again: 1" in capsys.readouterr().out
    rig.clock.now = datetime.now(UTC) + timedelta(seconds=1)  # the command queues for now
    await rig.deliver()
    assert len(rig.fake.sent(1)) == 1 and rig.store.outbox_counts() == {"sent": 2}


def test_paid_broadcast_lifts_the_overall_rate() -> None:
    config = parse_config("telegram: {paid_broadcast: true, group_per_minute: 10}", {})
    limits = limits_of(config.telegram)
    assert (limits.per_second, limits.group_messages, limits.paid_broadcast) == (1000, 10, True)
    assert limits_of(parse_config("", {}).telegram).per_second == 30


async def test_a_story_reported_again_edits_the_first_alert(rig: Rig) -> None:
    deal = Event(
        "acquisition",
        ("Microsoft", "Activision"),
        "Microsoft buys Activision.",
        "…",
        amount=Amount(6.9e10, "USD", 6.9e10, "$69B"),
    )

    def save(n: int, targets: Any) -> Any:
        return rig.store.save_article(
            Article(f"s{n}.md", f"Report {n}", "…", "en", T0, "jekyll", f"s{n}"),
            Extraction("Summary.", (deal,)),
            f"https://blog.example.org/s{n}.html",
            size=1,
            mtime_ns=n,
            content_hash=f"s{n}",
            now=rig.clock(),
            targets=targets,
        )

    save(1, {deal.key: [(1, None)]})
    await rig.deliver()
    [first] = rig.fake.sent(1)
    second = save(2, {})  # the same story, from another article
    [event] = second.new_events
    assert not event.first_report
    with rig.store.engine.begin() as conn:  # queued like any alert; delivery decides
        assert enqueue(conn, event.id, 1, None, rig.clock()) == 1

    report = await rig.deliver()

    assert report.sent == 0 and len(rig.fake.sent(1)) == 1  # no second alert
    [edited] = rig.fake.sent(1)
    assert edited.edited and edited.message_id == first.message_id
    assert "Also reported by" in edited.text and "s2.html" in edited.text
    assert edited.text.startswith(first.text)
    assert [(r.status, r.message_id) for r in rig.rows()] == [
        ("sent", first.message_id),
        ("merged", first.message_id),
    ]


async def test_only_messages_count_toward_a_chats_limit(fake_bot: FakeBotApi) -> None:
    limits = Limits(per_second=100.0, chat_interval=0.5)
    bot, _ = await make_sender(fake_bot, limits)
    try:
        await bot.send_message(9, "one")
        before = time.monotonic()
        await bot.get_chat_member(9, 1)  # e.g. the admin check before an answer
        assert time.monotonic() - before < 0.3
        await bot.send_message(9, "two")
    finally:
        await bot.shutdown()
    first, second = (m.at for m in fake_bot.sent(9))
    assert second - first >= 0.5 * 0.95


async def test_daemon_waits_for_an_unreachable_telegram_and_routes_on_start(
    tmp_path: Path, fake_bot: FakeBotApi
) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    config = parse_config(
        f"articles: {{folder: {folder}}}\n"
        f"state: {{url: 'sqlite:///{tmp_path / 'db.sqlite'}'}}\n"
        f"feeds: {{folder: {tmp_path / 'feeds'}}}\n"
        f"telegram: {{token: '123:TEST', base_url: '{fake_bot.base_url}',"
        " routes: ['-1001: acquisition']}\n",
        {},
    )
    daemon = Daemon(config, load_pack(config))
    fake_bot.fail_next("getMe", None, "server_error")  # Telegram is down at start

    starting = asyncio.create_task(daemon.telegram.start_when_reachable())
    await fake_bot.wait_for(lambda: daemon.telegram.status == "unreachable", 5, "a failure")
    await asyncio.wait_for(starting, 15)  # tried again after the backoff

    try:
        assert daemon.telegram.status == "on" and daemon.telegram.sender is not None
        assert len(fake_bot.calls_to("getMe")) == 2
        subs = daemon.store.active_subscriptions()
        assert [(s.chat_id, s.filter) for s in subs] == [(-1001, "acquisition")]
    finally:
        await daemon.telegram.stop()
        daemon.store.close()


# -- database faults during delivery -------------------------------------------------------


def fail_marking_sent(store: Store, chats: Sequence[int] | None) -> None:
    """A real fault: the database refuses to mark these chats' rows sent (None: anyone's)."""
    only = "" if chats is None else f" AND NEW.chat_id IN ({', '.join(map(str, chats))})"
    with store.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER fail_sent BEFORE UPDATE ON outbox"
                f" WHEN NEW.status = 'sent'{only}"
                " BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION fail_sent() RETURNS trigger LANGUAGE plpgsql"
                " AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER fail_sent BEFORE UPDATE ON outbox FOR EACH ROW"
                f" WHEN (NEW.status = 'sent'{only}) EXECUTE FUNCTION fail_sent()"
            )


def heal(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP TRIGGER fail_sent"
            if conn.dialect.name == "sqlite"
            else "DROP TRIGGER fail_sent ON outbox; DROP FUNCTION fail_sent()"
        )


@pytest.mark.parametrize("broken", ["one chat", "every chat"])
async def test_failing_to_record_a_send_repeats_nothing(rig: Rig, broken: str) -> None:
    """The database refuses to mark sent one chat's rows (or everybody's) for a while: no
    healthy chat gets a message twice, and a broken chat gets the one message in flight and
    then waits (backs off) instead of getting it again every pass; once the database takes
    the writes, the messages already sent are recorded, not sent again."""
    chats = [666, 701, 702, 703, 704, 705]
    for _ in range(8):
        rig.publish(chats)
    fail_marking_sent(rig.store, [666] if broken == "one chat" else None)
    failing = [666] if broken == "one chat" else chats

    for _ in range(10):  # 20 s of passes; the daemon's loop outlives a pass that raises
        with contextlib.suppress(Exception):
            await rig.deliver()
        rig.clock.advance(2)

    for chat in chats:
        texts = [m.text for m in rig.fake.sent(chat)]
        assert len(texts) == len(set(texts)), f"chat {chat} got a message twice"
        if chat in failing:  # the one in flight, then nothing more until its mark is written
            assert len(texts) == 1, f"chat {chat} got {len(texts)} messages"
        else:
            assert len(texts) == 8
    due = await rig.deliverer.next_due()  # the daemon's loop sleeps till then: no busy loop
    assert due is not None and due > rig.clock()
    heal(rig.store)
    rig.clock.advance(700)  # past the longest backoff
    await rig.deliver()

    for chat in chats:
        texts = [m.text for m in rig.fake.sent(chat)]
        assert len(texts) == len(set(texts)) == 8, f"chat {chat}: {len(texts)} messages"
    assert rig.store.outbox_counts() == {"sent": 48}
