"""Targets 5 and 6: a large, unchanged folder and state — rescan time, idle CPU, peak memory.

Builds a folder of `--files` generated articles and a state that already knows every one of
them: the articles rows (real parsed articles, real stat data and hashes) and `--events-per`
events each (real extracted events), written with bulk SQL on the store's engine (schema
tables `articles` and `events`, one executemany per 5,000 rows) — processing 100,000 files
through the pipeline would take far longer than the benchmark itself.

Then measures:
* one full rescan in process (`Pipeline.scan()` with nothing changed), median of several,
  wall and CPU, with its parts (listing the folder, loading the file states); and the
  safety net's pass (`Pipeline.rescan()` by turns, default intervals: a stat per folder and
  one fifteenth of the files), over a whole round of passes;
* the real daemon on that state, Telegram on against the fake server, default intervals:
  its CPU over `--idle` seconds once started (the safety-net rescan falls inside the window),
  and its peak RSS (VmHWM) after start-up, after the idle window, and after one new article
  is scanned, written to the feeds and delivered and /healthz and the feeds are fetched.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    article_bytes,
    daemon,
    fake_telegram,
    figure,
    free_port,
    generate_folder,
    header,
    parsed_sources,
    process_cpu_seconds,
    restarted,
    rss_kib,
    spread,
    verdict,
    wait_http,
    write_config,
)

RESCAN_TARGET = 1.5  # seconds
IDLE_TARGET = 1.0  # % of one core
RSS_TARGET = 150.0  # MB


def build_state(folder: Path, state: Path, events_per: int) -> tuple[int, int]:
    """Rows for every file under `folder`, as a finished scan would have left them."""
    from sqlalchemy import insert

    from bot.cli.config import load_config, load_pack
    from bot.core.articles import ArticleError, parse_article
    from bot.core.codec import article_to_dict, event_to_dict
    from bot.extract import extract
    from bot.site.permalinks import article_url
    from bot.store import Store
    from bot.store.schema import articles, events

    pack = load_pack(load_config(None, {}))
    now = datetime.now(UTC)
    pool = []  # real events, to give every article `events_per` of them
    for source in parsed_sources()[:12]:
        rel, data = article_bytes([source], 0, size=3000, when=now)
        pool += extract(parse_article(data, rel, now, UTC), pack).events
    assert pool, "no events extracted from the sources"
    store = Store(f"sqlite:///{state}")
    has_story = "story" in events.c
    n_articles = n_events = 0
    batch_a: list[dict[str, Any]] = []
    batch_e: list[dict[str, Any]] = []

    def flush() -> None:
        with store.engine.begin() as conn:
            if batch_a:
                conn.execute(insert(articles), batch_a)
            if batch_e:
                conn.execute(insert(events), batch_e)
        batch_a.clear()
        batch_e.clear()

    for dirpath, _dirs, names in os.walk(folder):
        for name in sorted(names):
            full = Path(dirpath) / name
            rel = full.relative_to(folder).as_posix()
            data = full.read_bytes()
            info = full.stat()
            try:
                article = parse_article(data, rel, now, UTC)
            except ArticleError:
                continue
            n_articles += 1
            uid = hashlib.sha256(rel.encode()).hexdigest()[:16]
            url = article_url(article, "https://blog.example.org/")
            batch_a.append({
                "id": n_articles, "uid": uid, "path": rel, "size": info.st_size,
                "mtime_ns": info.st_mtime_ns, "content_hash": hashlib.sha256(data).hexdigest(),
                "status": "ok", "error": None, "published": article.published,
                "data": {"article": article_to_dict(article), "summary": article.title,
                         "url": url},
                "first_seen": now, "updated": now,
            })  # fmt: skip
            for j in range(events_per):
                ev = pool[(n_articles * events_per + j) % len(pool)]
                key = hashlib.sha256(f"{uid}/{j}".encode()).hexdigest()[:20]
                row = {
                    "uid": f"{uid}.{key[:12]}", "article_id": n_articles, "key": key,
                    "type": ev.type, "active": True, "data": event_to_dict(ev), "created": now,
                }  # fmt: skip
                if has_story:
                    row["story"] = "story-" + key[:12]
                batch_e.append(row)
                n_events += 1
            if len(batch_a) >= 5000:
                flush()
    flush()
    if hasattr(store, "rebuild_feed_index"):  # the feed index, as the scans would have kept it
        store.rebuild_feed_index()
    store.close()
    return n_articles, n_events


def rescans(folder: Path, state: Path, work: Path, repeat: int) -> dict[str, list[float]]:
    from bot.cli.config import load_config, load_pack
    from bot.runtime import files
    from bot.runtime.pipeline import build_pipeline
    from bot.store import Store

    env = {
        "EVENTFEED_ARTICLES_FOLDER": str(folder),
        "EVENTFEED_STATE_URL": f"sqlite:///{state}",
        "EVENTFEED_FEEDS_FOLDER": str(work / "feeds"),
    }
    config = load_config(None, env)
    store = Store(config.state.url)
    pipeline = build_pipeline(config, store, load_pack(config))
    out: dict[str, list[float]] = {
        "scan": [], "scan_cpu": [], "list": [], "states": [], "pass": [], "pass_cpu": []
    }  # fmt: skip
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        report = pipeline.scan(None)
        t1, c1 = time.perf_counter(), time.process_time()
        assert report.new == report.changed == report.deleted == 0, report
        listing = files.scan_folder(folder)
        t2 = time.perf_counter()
        states = store.file_stats() if hasattr(store, "file_stats") else store.file_states()
        t3 = time.perf_counter()
        assert len(listing) == len(states), (len(listing), len(states))
        out["scan"].append(t1 - t0)
        out["scan_cpu"].append(c1 - c0)
        out["list"].append(t2 - t1)
        out["states"].append(t3 - t2)
    if hasattr(pipeline, "rescan"):  # the safety net by turns, as the daemon runs it
        parts = int(config.scan.full_interval_seconds // config.scan.interval_seconds)
        pipeline.rescan(parts=parts, full=True)  # stamps the folders
        for _ in range(parts):
            t0, c0 = time.perf_counter(), time.process_time()
            report = pipeline.rescan(parts=parts)
            out["pass"].append(time.perf_counter() - t0)
            out["pass_cpu"].append(time.process_time() - c0)
            assert report.new == report.changed == report.deleted == 0, report
    store.close()
    return out


async def in_daemon(folder: Path, state: Path, work: Path, idle: float) -> dict[str, float]:
    from bot.store import Store

    store = Store(f"sqlite:///{state}")
    store.add_subscription(30_000_001, None, "")
    store.close()
    port = free_port()
    result: dict[str, float] = {}
    with fake_telegram() as fake:
        config = work / "eventfeed.yaml"
        write_config(
            config, folder=folder, state=state, feeds=work / "feeds", port=port,
            telegram_url=fake.base_url,
        )  # fmt: skip
        restarted(work / "feeds")
        log = work / "daemon.log"
        started = time.monotonic()
        with daemon(config, log, telegram=True) as process:
            url = f"http://127.0.0.1:{port}"
            await wait_http(url + "/healthz", within=300)
            for _ in range(3000):  # up to 10 minutes for the first scan line
                if _scans(log):
                    break
                await asyncio.sleep(0.2)
            result["startup_s"] = time.monotonic() - started
            await asyncio.sleep(3.0)  # the bot's start-up requests
            result["rss_after_start_mb"] = rss_kib(process.pid)[1] / 1024
            cpu0, t0 = process_cpu_seconds(process.pid), time.monotonic()
            scans0 = _scans(work / "daemon.log")
            await asyncio.sleep(idle)
            cpu1, t1 = process_cpu_seconds(process.pid), time.monotonic()
            load = os.getloadavg()[0]
            result["idle_cpu_pct"] = (cpu1 - cpu0) / (t1 - t0) * 100
            result["idle_scans"] = _scans(work / "daemon.log") - scans0
            result["rss_after_idle_mb"] = rss_kib(process.pid)[1] / 1024
            figure("daemon start-up to the end of its first scan", f"{result['startup_s']:.1f} s")
            figure(
                f"idle daemon CPU over {idle:.0f} s",
                f"{result['idle_cpu_pct']:.2f} % of one core ({result['idle_scans']:.0f} "
                f"safety-net rescans in the window; load average {load:.2f})",
                f"≤ {IDLE_TARGET} %, "
                f"{verdict(result['idle_cpu_pct'], IDLE_TARGET, higher_is_better=False)}",
            )
            figure(
                "peak RSS (VmHWM) after start / after idle",
                f"{result['rss_after_start_mb']:.0f} / {result['rss_after_idle_mb']:.0f} MB",
            )
            # One new article: scan, feeds, delivery; then the pages a reader asks for.
            _rel, data = article_bytes(
                parsed_sources(), 7, when=datetime.now(UTC) + timedelta(days=1), tag="big "
            )
            (folder / "new-one.md").write_bytes(data)
            sent = 0
            dropped = time.monotonic()
            deadline = dropped + 300
            while time.monotonic() < deadline and not sent:
                await asyncio.sleep(0.5)
                sent = len((await fake.stats())["arrivals"])  # type: ignore[arg-type]
            result["new_article_alerted"] = float(sent)
            result["new_article_s"] = time.monotonic() - dropped
            result["rss_after_new_mb"] = rss_kib(process.pid)[1] / 1024
            figure(
                "new article: alerted after / peak RSS then",
                f"{result['new_article_s']:.1f} s / {result['rss_after_new_mb']:.0f} MB"
                if sent
                else f"NOT alerted within {result['new_article_s']:.0f} s",
            )
            import aiohttp

            timeout = aiohttp.ClientTimeout(total=120)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                for path in ("/healthz", "/", "/feeds/articles.atom", "/feeds/events.rss"):
                    t = time.monotonic()
                    try:
                        async with session.get(url + path) as response:
                            await response.read()
                            answer = str(response.status)
                    except (aiohttp.ClientError, TimeoutError):
                        answer = "no answer"
                    print(f"   GET {path}: {answer} in {time.monotonic() - t:.2f} s", flush=True)
            current, peak = rss_kib(process.pid)
            result["rss_now_mb"] = current / 1024
            result["rss_peak_mb"] = peak / 1024
    (folder / "new-one.md").unlink(missing_ok=True)
    return result


def _scans(log: Path) -> int:
    try:
        return log.read_text(encoding="utf-8", errors="replace").count("msg=scan seen=")
    except OSError:
        return 0


def run(
    files: int = 100_000, events_per: int = 3, idle: float = 60.0, repeat: int = 5
) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="eventfeed-large-"))
    try:
        folder, state = work / "articles", work / "state.db"
        t0 = time.perf_counter()
        total = generate_folder(folder, files, size=2000, start=datetime(2015, 1, 1, tzinfo=UTC))
        t1 = time.perf_counter()
        n_articles, n_events = build_state(folder, state, events_per)
        t2 = time.perf_counter()
        header(f"large state: {n_articles} unchanged files, {n_events} events")
        figure(
            "set-up",
            f"folder {total / 1e6:.0f} MB in {t1 - t0:.0f} s; state "
            f"{state.stat().st_size / 1e6:.0f} MB by bulk SQL in {t2 - t1:.0f} s",
        )
        r = rescans(folder, state, work, repeat)
        scan = statistics.median(r["scan"])
        figure(
            "one full rescan, nothing changed (in process)",
            spread(r["scan"]) + " s",
            f"≤ {RESCAN_TARGET} s, {verdict(scan, RESCAN_TARGET, higher_is_better=False)}",
        )
        figure("  its CPU", spread(r["scan_cpu"]) + " s")
        figure("  listing the folder alone", spread(r["list"]) + " s")
        figure("  loading the file states alone", spread(r["states"]) + " s")
        if r["pass"]:
            figure(
                f"the safety net's pass by turns, one round of {len(r['pass'])}",
                spread(r["pass"]) + " s wall, CPU " + spread(r["pass_cpu"]) + " s",
            )
        figure("load average after the rescans", f"{os.getloadavg()[0]:.2f}")
        d = asyncio.run(in_daemon(folder, state, work, idle))
        figure(
            "peak RSS (VmHWM): after start / after idle / after a new article and the pages",
            f"{d['rss_after_start_mb']:.0f} / {d['rss_after_idle_mb']:.0f} / "
            f"{d['rss_peak_mb']:.0f} MB (RSS now {d['rss_now_mb']:.0f} MB)",
            f"≤ {RSS_TARGET:.0f} MB, "
            f"{verdict(d['rss_peak_mb'], RSS_TARGET, higher_is_better=False)}",
        )
        return {"rescan_s": scan, **d, "articles": n_articles, "events": n_events}
    finally:
        if os.environ.get("EVENTFEED_BENCH_KEEP"):
            print(f"   kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--events-per", type=int, default=3)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle CPU measured")
    parser.add_argument("--repeat", type=int, default=5, help="in-process rescans")
    args = parser.parse_args(argv)
    return run(args.files, args.events_per, args.idle, args.repeat)


if __name__ == "__main__":
    main()
