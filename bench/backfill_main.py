"""Target 3's main-process half: the CPU a backfill spends per article outside the worker
processes, without them.

The articles are analysed once (in process, then kept in a pickle beside the temp folder) so
that only the main process's two jobs are timed, each by its own thread's CPU time, which the
load of a shared machine moves far less than `backfill.py`'s end-to-end figures:
* storing: `Store.save_articles`, 100 articles per call as a scan stores them, from an empty
  SQLite state (the feed index's upkeep given apart);
* the first publish of that state (`Pipeline.write_feeds`: every page; rendering is in worker
  processes, not counted).
`EVENTFEED_BENCH_PRODUCT=<tree>` times another tree on the same articles (before/after).
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import empty_state, figure, generate_folder, header

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def analysed(count: int, size: int) -> list[tuple[Any, ...]]:
    """(path, size, mtime_ns, digest, article, extraction) of `count` generated articles."""
    cache = Path(tempfile.gettempdir()) / f"eventfeed-bench-analysed-{count}-{size}.pickle"
    if cache.exists():
        return list(pickle.loads(cache.read_bytes()))
    from bot.cli.config import load_config, load_pack
    from bot.runtime import files, pool
    from bot.runtime.pipeline import build_pipeline
    from bot.store import Store

    work = Path(tempfile.mkdtemp(prefix="eventfeed-analysed-"))
    try:
        generate_folder(work, count, size=size)
        config = load_config(None, {"EVENTFEED_ARTICLES_FOLDER": str(work)})
        pack = load_pack(config)
        reader = build_pipeline(config, Store("sqlite://"), pack)
        found = []
        for info in files.walk_folder(work):
            read, job = reader._read(info, None)
            result = pool.analyse(job, pack)
            if isinstance(result, tuple):
                found.append((info.path, info.size, info.mtime_ns, read.digest, *result))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cache.write_bytes(pickle.dumps(found))
    return found


def once(items: list[tuple[Any, ...]], work: Path) -> tuple[float, float, float]:
    """Main-thread CPU seconds: storing, of which the feed index, and the first publish."""
    from bot.cli.config import load_config, load_pack
    from bot.runtime.pipeline import build_pipeline
    from bot.store import Store
    from bot.store.articles import ArticleSave

    env = empty_state(work, work)
    config = load_config(None, env)
    store = Store(config.state.url)
    store.ensure_feed_index()
    saves = [
        ArticleSave(
            a,
            e,
            f"https://example.org/{p}",
            size=s,
            mtime_ns=m,
            content_hash=d,
            now=NOW,
            targets={},
        )
        for p, s, m, d, a, e in items
    ]
    index = 0.0
    reindex = store._reindex

    def timed(*args: Any) -> Any:  # the feed index's share
        nonlocal index
        start = time.thread_time()
        try:
            return reindex(*args)
        finally:
            index += time.thread_time() - start

    store._reindex = timed  # type: ignore[method-assign]
    start = time.thread_time()
    for i in range(0, len(saves), 100):
        store.save_articles(saves[i : i + 100])
    stored = time.thread_time() - start
    pipeline = build_pipeline(config, store, load_pack(config))
    pipeline._relinked = True  # (the links are those given above)
    start = time.thread_time()
    pipeline.write_feeds()
    published = time.thread_time() - start
    store.close()
    return stored, index, published


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, default=6000, help="bytes per article, about")
    args = parser.parse_args(argv)
    items = analysed(args.count, args.size)
    header(f"the main process's CPU per article, {len(items)} analysed articles")
    work = Path(tempfile.mkdtemp(prefix="eventfeed-backfill-main-"))
    try:
        runs = [once(items, work) for _ in range(args.runs)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    per = 1000 / len(items)
    for name, i in (("storing", 0), ("  of which the feed index", 1), ("first publish", 2)):
        values = [per * run[i] for run in runs]
        spread = ", ".join(f"{v:.3f}" for v in values)
        figure(f"{name}: ms of CPU an article", f"{statistics.median(values):.3f} ({spread})")


if __name__ == "__main__":
    main()
