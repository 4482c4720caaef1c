"""Target 4: fan-out — one event to many subscribed chats, through the real delivery path.

A real `Pipeline.scan()` queues one article's events for every chat, then the daemon's
`Deliverer` drains the outbox through the real `Sender` and python-telegram-bot, against tests/support/fakebot.py
running in a process of its own; PTB talks HTTP through the transport the daemon gives it
(bot/telegram/request.py's aiohttp one if present, else PTB's default httpx one). First the fake server
is measured alone (a bare aiohttp client, `--fake-alone` requests) so that it is known not to
be the bottleneck. Then two runs:

* limiter off: PTB's `Bot` without a rate limiter, the fake server accepting everything;
* limiter on: the rate limiter the product uses (bot.telegram.limits.FloodLimiter with Telegram's
  defaults if present, else PTB's AIORateLimiter as bot/telegram/service.py builds it), the fake server
  enforcing Telegram's limits (30 messages/s overall, one per chat per second) and counting
  every 429 it has to send.

Chats and subscriptions are inserted with bulk SQL on the store's engine (schema tables
`chats`, `subscriptions`); everything after that is the product's own code. The process
runs with the garbage-collector setting `eventfeed run` starts with (bot.cli.main.tune_gc), if
the product has one: the daemon's sends run under it.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    TOKEN,
    article_bytes,
    fake_telegram,
    figure,
    header,
    parsed_sources,
    process_cpu_seconds,
    verdict,
)

TARGET_OPEN = 800.0  # messages/s without a limiter
TELEGRAM_RATE = 30.0  # messages/s with Telegram's limits; within 5 %


def _limiter(limited: bool) -> tuple[Any, str]:
    """The rate limiter the daemon would use, or none."""
    if not limited:
        return None, "none"
    try:
        from bot.telegram.limits import FloodLimiter, Limits  # the product's own, once it exists
    except ImportError:
        from telegram.ext import AIORateLimiter

        return AIORateLimiter(), "telegram.ext.AIORateLimiter() (as the daemon builds it)"
    return FloodLimiter(
        Limits()
    ), "bot.telegram.limits.FloodLimiter(Limits()) (Telegram's defaults)"


def _request() -> tuple[Any, str]:
    """The HTTP transport the daemon gives python-telegram-bot, or None for PTB's default."""
    try:
        from bot.telegram.request import AiohttpRequest  # the product's own, once it exists
    except ImportError:
        return None, "telegram.request.HTTPXRequest (PTB's default)"
    return AiohttpRequest(), "bot.telegram.request.AiohttpRequest"


def _tune_gc(default: bool) -> str:
    """Apply the daemon's process setting for the garbage collector, if the product has one."""
    if default:
        return "CPython's default (--default-gc)"
    try:
        from bot.cli.main import tune_gc  # the product's own, once it exists
    except ImportError:
        return "CPython's default"
    tune_gc()
    return "bot.cli.main.tune_gc (as `eventfeed run`)"


def _one_event_article() -> tuple[str, bytes]:
    """A generated article with exactly one event: one message per chat."""
    from bot.cli.config import load_config, load_pack
    from bot.core.articles import parse_article
    from bot.extract import extract

    pack = load_pack(load_config(None, {}))
    sources = parsed_sources()
    now = datetime.now(UTC)
    for i in range(200):
        rel, data = article_bytes(sources, i, size=1500, when=now, tag="fanout ")
        if len(extract(parse_article(data, rel, now, UTC), pack).events) == 1:
            return rel, data
    raise SystemExit("no generated article with exactly one event")


def _seed(store: Any, chats: int) -> None:
    """`chats` private chats, each subscribed to every event (empty filter), in one transaction."""
    from sqlalchemy import insert

    from bot.store.schema import chats as chats_table
    from bot.store.schema import subscriptions

    now = datetime.now(UTC)
    ids = range(10_000_001, 10_000_001 + chats)
    with store.engine.begin() as conn:
        conn.execute(
            insert(chats_table),
            [{"id": i, "kind": "private", "active": True, "created": now} for i in ids],
        )
        conn.execute(
            insert(subscriptions),
            [{"chat_id": i, "thread_id": 0, "filter": "", "created": now} for i in ids],
        )


def _clean(folder: Path, state: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state}{suffix}").unlink(missing_ok=True)
    folder.mkdir(parents=True)


async def fan_out(chats: int, limited: bool, work: Path) -> dict[str, float]:
    from telegram.ext import ApplicationBuilder

    from bot.cli.config import load_config, load_pack
    from bot.runtime.pipeline import build_pipeline
    from bot.store import Store
    from bot.telegram.delivery import Deliverer
    from bot.telegram.sender import Sender

    folder, state = work / "articles", work / "state.db"
    _clean(folder, state)
    env = {
        "EVENTFEED_ARTICLES_FOLDER": str(folder),
        "EVENTFEED_STATE_URL": f"sqlite:///{state}",
        "EVENTFEED_FEEDS_FOLDER": str(work / "feeds"),
    }
    config = load_config(None, env)
    store = Store(config.state.url)
    pipeline = build_pipeline(config, store, load_pack(config))
    _seed(store, chats)
    rel, data = _one_event_article()
    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
    (folder / rel).write_bytes(data)
    start = time.perf_counter()
    report = pipeline.scan(None)
    queue_seconds = time.perf_counter() - start
    assert report.events == 1 and report.queued == chats, report

    limiter, limiter_name = _limiter(limited)
    flood = TELEGRAM_RATE if limited else None
    with fake_telegram(flood_limit=flood, per_chat=1.0 if limited else None) as fake:
        builder = ApplicationBuilder().token(TOKEN).base_url(fake.base_url)
        request, request_name = _request()
        if request is not None:
            builder = builder.request(request)
        if limiter is not None:
            builder = builder.rate_limiter(limiter)
        application = builder.build()
        bot = application.bot
        await bot.initialize()
        sender = Sender(bot)
        deliverer = Deliverer(store, pipeline.clock, concurrency=64)  # the daemon's
        cpu0, fake_cpu0 = time.process_time(), process_cpu_seconds(fake.pid)
        start = time.perf_counter()
        sent = failed = retried = passes = 0
        while store.outbox_counts().get("pending", 0) and passes < 10 * chats:
            passes += 1
            result = await deliverer.deliver(sender)
            sent, failed, retried = (
                sent + result.sent,
                failed + result.failed,
                retried + result.retried,
            )
            if not (result.sent or result.failed):
                await asyncio.sleep(0.2)  # only retries left: wait for them to fall due
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        fake_cpu = process_cpu_seconds(fake.pid) - fake_cpu0
        stats = await fake.stats()
        await bot.shutdown()
    store.close()
    arrivals = sorted(float(a[2]) for a in stats["arrivals"])  # type: ignore[attr-defined]
    # Steady rate: messages between the first and the last arrival, ignoring start-up.
    steady = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
    return {
        "chats": chats,
        "queued": report.queued,
        "queue_s": queue_seconds,
        "sent": sent,
        "failed": failed,
        "retried": retried,
        "received": len(arrivals),
        "refused_429": float(stats["refused"]),  # type: ignore[arg-type]
        "refused_overall": float(stats["refused_overall"]),  # type: ignore[arg-type]
        "refused_chat": float(stats["refused_chat"]),  # type: ignore[arg-type]
        "seconds": seconds,
        "per_s": sent / seconds,
        "steady_per_s": steady,
        "cpu_ms_per_message": cpu / max(sent, 1) * 1e3,
        "fake_cpu_ms_per_message": fake_cpu / max(sent, 1) * 1e3,
        "limiter": limiter_name,  # type: ignore[dict-item]
        "transport": request_name,  # type: ignore[dict-item]
    }


async def fake_alone(messages: int, concurrency: int = 64) -> dict[str, float]:
    """The fake server by itself: `messages` sendMessage requests (the form body PTB sends,
    the same text as the fan-out) from a bare aiohttp client, `concurrency` at a time.

    Its rate must stay well above the target, or the fan-out measures the fake server.
    """
    import aiohttp

    text = "🤝 <b>Acquisition</b> Meta · Scale AI\n" + "Meta 收购 Scale AI 49% 股份。" * 8
    with fake_telegram() as fake:
        url = f"{fake.base_url}{TOKEN}/sendMessage"
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        queue = iter(range(messages))
        async with aiohttp.ClientSession() as session:

            async def worker() -> None:
                for i in queue:
                    body = urlencode(
                        {"chat_id": str(10_000_001 + i), "text": text, "parse_mode": "HTML",
                         "link_preview_options": '{"is_disabled": true}'}
                    ).encode()  # fmt: skip
                    async with session.post(url, data=body, headers=headers) as response:
                        assert response.status == 200, await response.text()
                        await response.read()

            cpu0 = process_cpu_seconds(fake.pid)
            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            seconds = time.perf_counter() - start
            cpu = process_cpu_seconds(fake.pid) - cpu0
    return {"per_s": messages / seconds, "fake_cpu_ms_per_message": cpu / messages * 1e3}


def run(
    chats: int = 10_000, limited_chats: int = 900, alone: int = 0, default_gc: bool = False
) -> dict[str, dict[str, float]]:
    work = Path(tempfile.mkdtemp(prefix="eventfeed-fanout-"))
    try:
        header(f"fan-out of one article to {chats} chats (limiter off), {limited_chats} (on)")
        print(f"   garbage collector: {_tune_gc(default_gc)}")
        results: dict[str, dict[str, float]] = {}
        if alone > 0:
            r = results["fake_alone"] = asyncio.run(fake_alone(alone))
            figure(
                f"  fake server alone, {alone} sendMessage from a bare client",
                f"{r['per_s']:.0f} messages/s, {r['fake_cpu_ms_per_message']:.2f} ms CPU each",
            )
        for name, count, limited in (("off", chats, False), ("on", limited_chats, True)):
            if count <= 0:
                continue
            r = asyncio.run(fan_out(count, limited, work))
            results[name] = r
            print(f"   limiter {name}: {r['limiter']}; transport: {r['transport']}")
            figure(f"  queueing {r['queued']:.0f} outbox rows in the scan", f"{r['queue_s']:.2f} s")
            figure(
                "  sent / received / failed / retried / 429 answered",
                f"{r['sent']:.0f} / {r['received']:.0f} / {r['failed']:.0f} / "
                f"{r['retried']:.0f} / {r['refused_429']:.0f}",
            )
            if r["refused_429"]:
                figure(
                    "  429s for the overall limit / for one chat",
                    f"{r['refused_overall']:.0f} / {r['refused_chat']:.0f}",
                )
            if limited:
                off = abs(r["steady_per_s"] - TELEGRAM_RATE) / TELEGRAM_RATE
                ok = off <= 0.05 and r["refused_429"] == 0
                figure(
                    "  messages/s (steady, first to last arrival)",
                    f"{r['steady_per_s']:.2f} ({off * 100:.1f} % from 30), "
                    f"overall {r['per_s']:.2f}",
                    f"30 ± 5 % and no 429, {'MET' if ok else 'MISSED'}",
                )
            else:
                figure(
                    "  messages/s",
                    f"{r['per_s']:.0f} (steady {r['steady_per_s']:.0f})",
                    f"≥ {TARGET_OPEN:.0f}, {verdict(r['per_s'], TARGET_OPEN, higher_is_better=True)}",
                )
            figure(
                "  CPU per message",
                f"sender process {r['cpu_ms_per_message']:.2f} ms, "
                f"fake server {r['fake_cpu_ms_per_message']:.2f} ms",
            )
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chats", type=int, default=10_000, help="chats, limiter off")
    parser.add_argument(
        "--limited-chats", type=int, default=900, help="chats with the limiter on (30/s: 30 s)"
    )
    parser.add_argument(
        "--fake-alone", type=int, default=5_000, help="requests to the fake server alone (0: skip)"
    )
    parser.add_argument(
        "--default-gc", action="store_true", help="keep CPython's collector settings (to compare)"
    )
    args = parser.parse_args(argv)
    return run(args.chats, args.limited_chats, args.fake_alone, args.default_gc)


if __name__ == "__main__":
    main()
