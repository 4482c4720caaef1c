"""Target 3: parsing and extraction alone, on one core, over the corpus (no disk, no store).

Reports articles/s and MB/s for parse (bytes → Article), extract (Article → events) and both,
as the median of several timed passes. `--profile` prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import figure, header, source_files, spread, verdict

TARGET = 500.0  # articles/s, parse + extract


def run(passes: int = 7, min_seconds: float = 1.0, profile: bool = False) -> dict[str, float]:
    from bot.app import load_config, load_pack
    from bot.articles import ArticleError, parse_article
    from bot.extract import extract

    pack = load_pack(load_config(None, {}))
    now = datetime.now(UTC)
    inputs = [(p.name, p.read_bytes()) for p in source_files()]
    articles = []
    usable = []
    for name, data in inputs:
        try:
            articles.append(parse_article(data, name, now, UTC))
            usable.append((name, data))
        except ArticleError:
            continue
    megabytes = sum(len(d) for _, d in usable) / 1e6
    events = sum(len(extract(a, pack).events) for a in articles)  # warm-up and a count

    def timed(step: str) -> tuple[float, float]:
        """Wall and CPU seconds per pass over the corpus, repeated for at least min_seconds."""
        loops, start, cpu = 0, time.perf_counter(), time.process_time()
        while True:
            if step == "parse":
                for name, data in usable:
                    parse_article(data, name, now, UTC)
            elif step == "extract":
                for article in articles:
                    extract(article, pack)
            else:
                for name, data in usable:
                    extract(parse_article(data, name, now, UTC), pack)
            loops += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                return elapsed / loops, (time.process_time() - cpu) / loops

    results: dict[str, list[float]] = {"parse": [], "extract": [], "both": []}
    cpu: dict[str, list[float]] = {"parse": [], "extract": [], "both": []}
    for _ in range(passes):
        for step in results:
            wall, used = timed(step)
            results[step].append(wall)
            cpu[step].append(used)
    n = len(usable)
    header("extraction alone (one core, in memory)")
    figure("corpus", f"{n} articles, {megabytes * 1e3:.0f} kB, {events} events")
    out: dict[str, float] = {"articles": n, "events": events}
    for step, seconds in results.items():
        rates = [n / s for s in seconds]
        figure(
            f"{step}: articles/s",
            spread(rates),
            f"≥ {TARGET:.0f}, {verdict(statistics.median(rates), TARGET, higher_is_better=True)}"
            if step == "both"
            else "",
        )
        figure(
            f"{step}: articles per CPU-second (less sensitive to a busy machine)",
            spread([n / s for s in cpu[step]]),
        )
        figure(f"{step}: MB/s", f"{statistics.median(megabytes / s for s in seconds):.2f}")
        figure(f"{step}: ms/article", f"{statistics.median(seconds) / n * 1e3:.2f}")
        out[f"{step}_per_s"] = statistics.median(rates)
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(20):
            for name, data in usable:
                extract(parse_article(data, name, now, UTC), pack)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    return out


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--min-seconds", type=float, default=1.0, help="per timed pass")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    return run(args.passes, args.min_seconds, args.profile)


if __name__ == "__main__":
    main()
