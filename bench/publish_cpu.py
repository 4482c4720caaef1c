"""Target 1's cost in process: the CPU time of a drop's scan and publish on a large state.

Wall-clock latencies on a shared machine follow its load; the CPU time a drop costs does much
less. On `latency.py`'s cached state (`--state-articles`, `--state-cache`: the same folder and
state, built there if missing), one pipeline does what the daemon does for each new article:
a scan of that one path, then a publish of the main feeds (`articles`, `events`) and one of
the others. `--whole` renders every page whole (no kept entry fragments), for a before/after
with the same code. Then, as a check that kept fragments change no byte, every feed's current
page is rendered whole into a copy of the feeds folder: nothing may differ.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import figure, header, restarted
from latency import _drops, _large_state

MAIN = frozenset({"articles", "events"})


def run(
    count: int, state_articles: int, cache: Path, whole: bool, profile: bool = False
) -> dict[str, float]:
    from bot.cli.config import load_config, load_pack
    from bot.core.lru import Lru
    from bot.runtime.pipeline import build_pipeline
    from bot.runtime.publish import Publisher
    from bot.store import Store
    from bot.store.feedindex import FeedChanges

    work = Path(tempfile.mkdtemp(prefix="eventfeed-publish-cpu-"))
    drops = _drops(count)
    folder = _large_state(state_articles, cache, work / "state.db")
    feeds = work / "feeds"
    restarted(feeds)
    env = {
        "EVENTFEED_ARTICLES_FOLDER": str(folder),
        "EVENTFEED_STATE_URL": f"sqlite:///{work / 'state.db'}",
        "EVENTFEED_FEEDS_FOLDER": str(feeds),
        "EVENTFEED_SITE_BASE_URL": "https://blog.example.org/",  # as the state was settled
    }
    config = load_config(None, env)
    store = Store(config.state.url)
    pipeline = build_pipeline(config, store, load_pack(config))
    publisher: Publisher = pipeline._publisher
    if whole:
        publisher.fragments = None
    scans: list[float] = []
    mains: list[float] = []
    others: list[float] = []
    files: list[int] = []
    try:
        cpu = time.process_time()
        pipeline.scan(None)
        first_scan = time.process_time() - cpu
        cpu = time.process_time()
        pipeline.publish_feeds()
        first_publish = time.process_time() - cpu
        profiler = cProfile.Profile(time.process_time)
        for name, data in drops:
            (folder / name).write_bytes(data)
            t0 = time.process_time()
            pipeline.scan([name])
            t1 = time.process_time()
            if profile:
                profiler.enable()
            written = pipeline.publish_feeds(only=MAIN)
            t2 = time.process_time()
            written += pipeline.publish_feeds()
            profiler.disable()
            t3 = time.process_time()
            scans.append(t1 - t0)
            mains.append(t2 - t1)
            others.append(t3 - t2)
            files.append(len(written))
        if profile:
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(25)
        kept = publisher.fragments
        held = (len(kept), kept.weight) if isinstance(kept, Lru) else (0, 0)
        copy = work / "feeds-whole"
        shutil.copytree(feeds, copy)
        check = Publisher(
            copy, pipeline.site, store, pipeline.max_entries, fragments=None,
            event_types=lambda: pipeline.pack.event_types,
        )  # fmt: skip
        differing = check.publish(FeedChanges(), check=True)
    finally:
        for name, _data in drops:  # the folder is the cached one
            (folder / name).unlink(missing_ok=True)
        pipeline.close()
        store.close()
        shutil.rmtree(work, ignore_errors=True)
    ms = 1000.0
    header(
        f"CPU of a drop in process ({'whole pages' if whole else 'kept fragments'}), "
        f"{len(drops)} drops, {state_articles} articles"
    )
    figure("first scan / first publish (CPU s)", f"{first_scan:.1f} / {first_publish:.1f}")
    for label, values in (("scan", scans), ("main feeds' publish", mains), ("others", others)):
        figure(
            f"{label}: CPU ms p50 / p95 / max",
            f"{statistics.median(values) * ms:.0f} / "
            f"{statistics.quantiles(values, n=20)[-1] * ms:.0f} / {max(values) * ms:.0f}",
        )
    figure(
        "the first five drops: scan + main + others, CPU ms",
        ", ".join(
            f"{a * ms:.0f}+{b * ms:.0f}+{c * ms:.0f}"
            for a, b, c in list(zip(scans, mains, others, strict=True))[:5]
        ),
    )
    figure("files written a drop (median / max)", f"{statistics.median(files):.0f} / {max(files)}")
    figure("entry fragments kept at the end", f"{held[0]}, {held[1] / 1e6:.1f} MB")
    figure("current pages differing from a whole render", f"{len(differing)} {differing[:5]}")
    return {
        "scan_p50": statistics.median(scans),
        "main_p50": statistics.median(mains),
        "others_p50": statistics.median(others),
        "differing": len(differing),
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=30, help="drops")
    parser.add_argument("--state-articles", type=int, default=100_000)
    parser.add_argument("--state-cache", type=Path, default=Path("/tmp/ef-latency-100k"))
    parser.add_argument("--whole", action="store_true", help="no kept entry fragments")
    parser.add_argument("--profile", action="store_true", help="cProfile the publishes (CPU)")
    args = parser.parse_args(argv)
    return run(args.count, args.state_articles, args.state_cache, args.whole, args.profile)


if __name__ == "__main__":
    main()
