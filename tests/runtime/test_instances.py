"""Several instances on one PostgreSQL database: they share the outbox, none sends a row twice.

Store level: two stores claiming at once from threads never get one row or one chat; a claim
that expired is taken over. Daemon level: real daemons as subprocesses on one PostgreSQL
schema and one fake Bot API server; every chat gets its alert exactly once, a SIGKILLed
instance's chats are finished by the others, and a new leader scans when the old one dies.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from support.daemon import Daemon, Layout
from support.fakebot import FakeBotApi
from support.waiting import eventually

from bot.cli.doctor import check_cluster
from bot.core.config import ClusterConfig, ConfigError, parse_config
from bot.core.model import Article, Event, Extraction
from bot.store import Store
from bot.store.leases import LEADER
from bot.store.schema import outbox
from bot.telegram.limits import Limits, shared_limits

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLES = ROOT / "tests" / "data" / "articles"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
CONCURRENCY = 64  # Pipeline.deliver's: at most this many messages in flight per instance


def queue_alert(store: Store, n: int, chats: list[int], now: datetime = NOW) -> None:
    """A new article with one event, queued for every chat in `chats`."""
    event = Event("acquisition", (f"Buyer{n}", f"Target{n}"), f"Buyer{n} buys Target{n}.", "…")
    store.save_article(
        Article(
            path=f"a{n}.md",
            title=f"Article {n}",
            text="…",
            lang="en",
            published=NOW,
            format="jekyll",
            slug=f"a{n}",
        ),
        Extraction("Summary.", (event,)),
        f"https://blog.example.org/a{n}.html",
        size=1,
        mtime_ns=n,
        content_hash=f"h{n}",
        now=now,
        targets={event.key: [(chat, None) for chat in chats]},
    )


@pytest.fixture
def stores(postgres_url: str) -> Iterator[tuple[Store, Store]]:
    one, two = Store(postgres_url), Store(postgres_url)
    try:
        yield one, two
    finally:
        one.close()
        two.close()


def test_two_instances_claiming_at_once_never_share_a_row_or_a_chat(
    stores: tuple[Store, Store],
) -> None:
    chats = list(range(1, 401))
    for n in range(3):  # three rows a chat: a chat's rows must all go to one instance
        queue_alert(stores[0], n, chats)
    claimed: dict[str, list[tuple[int, int]]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def claim(store: Store, name: str) -> None:
        start.wait()
        while due := store.claim_deliveries(NOW, name, LEASE, limit=40):
            claimed[name] += [(d.chat_id, i) for d in due for i in d.ids]
            for delivery in due:  # as if sent: the next claim moves on
                store.mark_sent(delivery.ids, 1, NOW)

    threads = [
        threading.Thread(target=claim, args=(store, name))
        for store, name in zip(stores, claimed, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    rows_a = {row for _, row in claimed["a"]}
    rows_b = {row for _, row in claimed["b"]}
    assert not rows_a & rows_b, "a row was claimed twice"
    assert len(rows_a | rows_b) == 3 * len(chats)
    assert not {c for c, _ in claimed["a"]} & {c for c, _ in claimed["b"]}, "a chat was split"
    assert claimed["a"] and claimed["b"], "both instances got work"


def test_a_claim_expires_and_is_taken_over_and_a_live_one_keeps_its_chat(
    stores: tuple[Store, Store],
) -> None:
    one, two = stores
    queue_alert(one, 1, [7, 8])
    short = timedelta(seconds=5)
    assert {d.chat_id for d in one.claim_deliveries(NOW, "a", short)} == {7, 8}
    assert two.claim_deliveries(NOW, "b", short) == []

    queue_alert(one, 2, [7], now=NOW)  # a new alert for a chat "a" is sending to
    later = NOW + timedelta(seconds=2)
    assert two.claim_deliveries(later, "b", short) == [], "chat 7 is a's while its claim lasts"
    assert two.next_due() == NOW + short  # the others wait for the claim, not busy-poll

    after = NOW + short + timedelta(seconds=1)  # "a" died: its claims expired
    taken = two.claim_deliveries(after, "b", short)
    assert sorted(d.chat_id for d in taken) == [7, 7, 8]  # chat 7: two articles, two messages
    two.mark_sent(taken[0].ids, 1, after)  # marking a row ends its claim
    with one.engine.connect() as conn:
        rows = set(conn.execute(select(outbox.c.status, outbox.c.claimed_by)).all())
    assert rows == {("sent", None), ("pending", "b")}
    assert two.release_claims("b") == 2  # a pass that ends gives back what it did not send
    assert sorted(d.chat_id for d in one.claim_deliveries(after, "a", short)) == [7, 8]


def test_one_leader_at_a_time_and_an_expired_lease_is_taken(stores: tuple[Store, Store]) -> None:
    one, two = stores
    assert one.take_lease(LEADER, "a", NOW, 3)
    assert not two.take_lease(LEADER, "b", NOW + timedelta(seconds=1), 3)
    assert one.take_lease(LEADER, "a", NOW + timedelta(seconds=2), 3)  # renewed
    assert not two.take_lease(LEADER, "b", NOW + timedelta(seconds=4), 3)
    assert two.take_lease(LEADER, "b", NOW + timedelta(seconds=6), 3)  # a stopped renewing
    assert not one.take_lease(LEADER, "a", NOW + timedelta(seconds=6), 3)
    assert one.lease_holder(LEADER, NOW + timedelta(seconds=6)) == ("b", NOW + timedelta(seconds=9))
    two.drop_lease(LEADER, "b")  # a clean stop hands over at once
    assert one.take_lease(LEADER, "a", NOW + timedelta(seconds=7), 3)


def test_cluster_config_and_the_rate_split() -> None:
    env = {"EVENTFEED_CLUSTER_LEASE_SECONDS": "3", "EVENTFEED_CLUSTER_INSTANCE": "web-1"}
    assert parse_config("cluster: {lease_seconds: 20}", env).cluster == ClusterConfig("web-1", 3.0)
    assert parse_config(None, {}).cluster == ClusterConfig(None, 15.0)
    with pytest.raises(ConfigError, match=r"cluster\.lease_seconds"):
        parse_config("cluster: {lease_seconds: 0.5}", {})
    limits = Limits(per_second=30.0, chat_interval=1.0, group_messages=20)
    assert shared_limits(limits, 3) == Limits(10.0, 1.0, 20)  # per chat and group: whole
    assert shared_limits(limits, 0) == limits


# -- real daemons ------------------------------------------------------------------------


class Cluster:
    """N daemons on one PostgreSQL schema, one shared articles and feeds folder."""

    def __init__(self, root: Path, url: str, fake: FakeBotApi, lease: float) -> None:
        self.url = url
        self.posts = root / "posts"
        self.feeds = root / "feeds"
        self.posts.mkdir()
        self.fake = fake
        self.lease = lease
        self.daemons: list[Daemon] = []
        self.root = root

    def add(self, name: str) -> Daemon:
        layout = Layout(self.root / name)
        layout.write_config(self.fake.base_url, interval=30.0)
        env = {
            "EVENTFEED_STATE_URL": self.url,
            "EVENTFEED_ARTICLES_FOLDER": str(self.posts),
            "EVENTFEED_FEEDS_FOLDER": str(self.feeds),
            "EVENTFEED_CLUSTER_INSTANCE": name,
            "EVENTFEED_CLUSTER_LEASE_SECONDS": str(self.lease),
            # Fast enough for a test: a high overall rate, no wait between a chat's messages.
            "EVENTFEED_TELEGRAM_MAX_PER_SECOND": "100000",
            "EVENTFEED_TELEGRAM_CHAT_INTERVAL_SECONDS": "0",
        }
        daemon = Daemon(layout, env=env)
        self.daemons.append(daemon)
        return daemon

    async def start(self, names: list[str]) -> list[Daemon]:
        daemons = [self.add(name) for name in names]
        await asyncio.gather(*(d.start() for d in daemons))
        await asyncio.gather(*(d.wait_healthy(60) for d in daemons))
        return daemons

    async def leader(self) -> Daemon | None:
        for daemon in self.daemons:
            if daemon.running and (health := await daemon.health()) and health["leader"]:
                return daemon
        return None

    async def stop(self) -> None:
        for daemon in self.daemons:
            await daemon.kill()

    def logs(self) -> str:
        return "\n".join(f"== {d.layout.root.name}\n{d.log_tail(30)}" for d in self.daemons)


@pytest.fixture
async def cluster(
    tmp_path: Path, postgres_url: str, fake_bot: FakeBotApi
) -> AsyncIterator[Cluster]:
    running = Cluster(tmp_path, postgres_url, fake_bot, lease=3.0)
    try:
        yield running
    finally:
        await running.stop()


def subscribe(url: str, count: int) -> list[int]:
    """`count` private chats, each subscribed to every event, through the store's own API."""
    store = Store(url + "%20-csynchronous_commit%3Doff")  # seeding need not wait for fsync
    try:
        chats = list(range(5_000_001, 5_000_001 + count))
        for chat in chats:
            store.add_subscription(chat, None, "")
        return chats
    finally:
        store.close()


def alerts(fake: FakeBotApi, chats: list[int]) -> Counter[Any]:
    wanted = set(chats)
    return Counter(m.chat_id for m in fake.sent() if m.chat_id in wanted)


async def test_three_instances_send_each_alert_exactly_once(
    cluster: Cluster, fake_bot: FakeBotApi
) -> None:
    begun = time.monotonic()
    # Seeding and starting at once: the chats are read when the article is scanned.
    chats, daemons = await asyncio.gather(
        asyncio.to_thread(subscribe, cluster.url, 3000), cluster.start(["a", "b", "c"])
    )
    await eventually(cluster.leader, "a leader")
    print(f"seeded 3000 chats and started 3 instances in {time.monotonic() - begun:.1f}s")
    assert sum([bool((await d.health() or {}).get("leader")) for d in daemons]) == 1

    started = time.monotonic()
    shutil.copy(SAMPLES / "000_4fbda6de1bb3b082.txt", cluster.posts / "one.txt")
    await eventually(
        lambda: len(alerts(fake_bot, chats)) == len(chats), "every chat's alert", within=120
    )
    seconds = time.monotonic() - started
    await eventually(lambda: _pending(cluster.url) == 0, "an empty outbox", within=30)
    counts = alerts(fake_bot, chats)  # nothing is left to send: no later message can come
    assert set(counts.values()) == {1}, counts.most_common(3)
    assert all(d.running for d in daemons), cluster.logs()
    await eventually(  # each pass logs what it sent once it ends
        lambda: sum(_sent_by(d) for d in daemons) == len(chats), "the passes' log lines"
    )
    shares = [_sent_by(d) for d in daemons]
    print(f"3000 chats by 3 instances in {seconds:.1f}s, sent per instance {shares}")
    assert sum(1 for n in shares if n) >= 2, f"one instance did all the work: {shares}"


async def test_an_instance_killed_mid_fan_out_leaves_its_chats_to_the_others(
    cluster: Cluster, fake_bot: FakeBotApi
) -> None:
    chats, daemons = await asyncio.gather(
        asyncio.to_thread(subscribe, cluster.url, 1000), cluster.start(["a", "b", "c"])
    )
    await eventually(cluster.leader, "a leader")

    shutil.copy(SAMPLES / "000_4fbda6de1bb3b082.txt", cluster.posts / "one.txt")
    await eventually(lambda: len(alerts(fake_bot, chats)) >= 150, "the fan-out under way")
    claims = _claims(cluster.url)
    victim = next(d for d in daemons if d.layout.root.name == max(claims, key=claims.__getitem__))
    await victim.kill()  # SIGKILL while it holds claims: they expire after the lease

    await eventually(
        lambda: len(alerts(fake_bot, chats)) == len(chats), "every chat's alert", within=120
    )
    await eventually(lambda: _pending(cluster.url) == 0, "an empty outbox", within=30)
    counts = alerts(fake_bot, chats)
    assert all(d.running for d in daemons if d is not victim), cluster.logs()
    repeats = sum(counts.values()) - len(chats)
    print(f"killed {victim.layout.root.name} holding {claims}; repeats {repeats}")
    # Only what the dead instance had in flight can go out twice.
    assert 0 <= repeats <= CONCURRENCY, counts.most_common(3)


async def test_the_leader_killed_another_scans_within_the_lease(
    cluster: Cluster, fake_bot: FakeBotApi
) -> None:
    await cluster.start(["a", "b"])
    await eventually(cluster.leader, "a leader")
    old = await cluster.leader()
    assert old is not None

    await old.kill()
    killed = time.monotonic()
    shutil.copy(SAMPLES / "003_5530165580ebcf3e.txt", cluster.posts / "two.txt")
    store = Store(cluster.url)
    try:
        await eventually(
            lambda: "two.txt" in store.file_states(),
            "the new leader's scan",
            within=cluster.lease * 2 + 10,
        )
    finally:
        store.close()
    took = time.monotonic() - killed
    new = await cluster.leader()
    assert new is not None and new is not old
    name = new.layout.root.name
    env = {"EVENTFEED_STATE_URL": cluster.url, "EVENTFEED_CLUSTER_INSTANCE": name}
    line = check_cluster(parse_config(None, env)).line()
    assert f"instance {name};" in line and f"leader {name} (this instance)" in line, line
    print(f"scanned by the new leader {took:.1f}s after the kill (lease {cluster.lease}s)")
    assert took <= cluster.lease + cluster.lease / 3 + 5  # the lease, one renewal, one scan


def _pending(url: str) -> int:
    store = Store(url)
    try:
        return store.outbox_counts().get("pending", 0)
    finally:
        store.close()


def _claims(url: str) -> dict[str, int]:
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT claimed_by, count(*) FROM outbox "
                    "WHERE status = 'pending' AND claimed_by IS NOT NULL GROUP BY claimed_by"
                )
            ).all()
        return {str(name): int(n) for name, n in rows} or {"a": 0}
    finally:
        store.close()


def _sent_by(daemon: Daemon) -> int:
    total = 0
    for line in daemon.log_text().splitlines():
        if "msg=delivery sent=" in line:
            total += int(line.split("sent=")[1].split()[0])
    return total
