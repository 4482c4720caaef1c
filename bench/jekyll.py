"""Issue 19, target 2: new post → feed updated, Jekyll + jekyll-feed against eventfeed, one run.

For each size, one folder of generated Jekyll posts (`_posts/`, `bench/common.py`'s articles,
front matter and all) is both a Jekyll site (`_config.yml` with the jekyll-feed plugin) and
eventfeed's articles folder (`_posts/`). Then, `--repeat` times, a new post is written:

* Jekyll: `jekyll build --incremental` is run after the write (a site already built once), and
  the time from the post's close to the end of the build is taken, `_site/feed.xml` checked to
  hold the post;
* eventfeed: the real daemon (`python -m bot run`, no Telegram) watches the folder, having
  stored the whole folder at its start; the time from the post's close to the post appearing
  in the served `/feeds/articles.atom` (conditional GETs every 20 ms) is taken.

Needs `jekyll` (Debian: `apt-get install jekyll ruby-jekyll-feed`); without it, it says so
and stops. Posts are dated in the future (`future: true` for Jekyll) so that each new one is
the newest and on both feeds' first page.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    Source,
    article_bytes,
    daemon,
    figure,
    free_port,
    header,
    parsed_sources,
    spread,
    wait_http,
    write_config,
)
from latency import _first_scan, _poll_feed

CONFIG = """title: Bench
url: "https://blog.example.org"
plugins: [jekyll-feed]
future: true
exclude: [eventfeed.yaml, state.db, feeds, daemon.log]
"""


def _posts(
    sources: list[Source], count: int, start: int, when: datetime, tag: str = ""
) -> list[tuple[str, bytes]]:
    """`count` Jekyll posts (name in `_posts/`, bytes) from the generator's Jekyll kinds."""
    found: list[tuple[str, bytes]] = []
    i = start
    while len(found) < count:
        rel, data = article_bytes(sources, i, size=3000, when=when, tag=tag)
        i += 1
        if rel.endswith(".md"):
            found.append((rel.rsplit("/", 1)[-1], data))
    return found


def _site(folder: Path, count: int, sources: list[Source]) -> None:
    posts = folder / "_posts"
    posts.mkdir(parents=True)
    (folder / "_config.yml").write_text(CONFIG, encoding="utf-8")
    start = datetime(2020, 1, 1, 8, tzinfo=UTC)
    i = 0
    for n in range(count):  # Jekyll takes only posts named YYYY-MM-DD-slug
        [(name, data)] = _posts(sources, 1, i, start + timedelta(hours=n))
        i = int(name.rsplit("-", 1)[-1].removesuffix(".md")) + 1
        (posts / name).write_bytes(data)


def _jekyll(folder: Path) -> float:
    """One `jekyll build --incremental`; its wall time."""
    t0 = time.monotonic()
    subprocess.run(
        ["jekyll", "build", "--incremental", "--quiet"],
        cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return time.monotonic() - t0


def measure_jekyll(folder: Path, news: list[tuple[str, bytes]]) -> tuple[float, list[float]]:
    first = _jekyll(folder)
    out: list[float] = []
    for n, (name, data) in enumerate(news):
        path = folder / "_posts" / name
        path.write_bytes(data)
        closed = time.monotonic()
        _jekyll(folder)
        out.append(time.monotonic() - closed)
        feed = (folder / "_site" / "feed.xml").read_text(encoding="utf-8")
        assert f"zj{n}k" in feed, f"the new post {name} is not in Jekyll's feed.xml"
        path.unlink()  # eventfeed's turn writes it again, as a new post
    return first, out


async def measure_eventfeed(folder: Path, work: Path, news: list[tuple[str, bytes]]) -> list[float]:
    port = free_port()
    config = work / "eventfeed.yaml"
    write_config(
        config, folder=folder / "_posts", state=work / "state.db", feeds=work / "feeds", port=port
    )
    seen: dict[int, float] = {}
    closed: dict[int, float] = {}
    with daemon(config, work / "daemon.log", telegram=False):
        url = f"http://127.0.0.1:{port}"
        await wait_http(url + "/healthz", within=900)
        await _first_scan(work / "daemon.log", within=900)
        await wait_http(url + "/feeds/articles.atom", within=900)
        stop = asyncio.Event()
        poller = asyncio.create_task(
            _poll_feed(url + "/feeds/articles.atom", seen, stop, re.compile(r"zj(\d+)k"))
        )
        await asyncio.sleep(1.0)
        for n, (name, data) in enumerate(news):
            # Blocking on purpose: the moment of the close is the measurement's start.
            with open(folder / "_posts" / name, "wb") as handle:  # noqa: ASYNC230
                handle.write(data)
            closed[n] = time.monotonic()
            for _ in range(1200):  # up to a minute
                if n in seen:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
        stop.set()
        await poller
    for name, _data in news:
        (folder / "_posts" / name).unlink(missing_ok=True)
    return [seen[n] - closed[n] for n in closed if n in seen]


def run(sizes: list[int], repeat: int) -> dict[str, float]:
    if shutil.which("jekyll") is None:
        print("jekyll is not installed (apt-get install jekyll ruby-jekyll-feed): skipped")
        return {}
    sources = parsed_sources()
    header(f"new post → feed updated: Jekyll + jekyll-feed against eventfeed, {repeat} posts")
    results: dict[str, float] = {}
    for size in sizes:
        work = Path(tempfile.mkdtemp(prefix="eventfeed-jekyll-"))
        try:
            site = work / "site"
            _site(site, size, sources)
            when = datetime.now(UTC) + timedelta(days=1)
            news = []
            for n in range(repeat):
                moment = when + timedelta(minutes=n)
                [(_name, data)] = _posts(sources, 1, 10 * n, moment, tag=f"zj{n}k ")
                news.append((f"{moment:%Y-%m-%d}-new-{n}.md", data))
            first, jekyll = measure_jekyll(site, news)
            ours = asyncio.run(measure_eventfeed(site, work, news))
        finally:
            if os.environ.get("EVENTFEED_BENCH_KEEP"):
                print(f"   kept {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)
        j, e = statistics.median(jekyll), statistics.median(ours) if ours else float("nan")
        figure(f"{size} posts: Jekyll's first build", f"{first:.2f} s")
        figure(
            f"{size} posts: Jekyll, new post → feed.xml (build --incremental)",
            spread(jekyll) + " s",
        )
        figure(
            f"{size} posts: eventfeed, new post → served Atom feed",
            spread(ours) + f" s ({len(ours)} of {repeat} seen)",
        )
        figure(f"{size} posts: ratio Jekyll / eventfeed (medians)", f"{j / e:.0f}×")
        results[f"jekyll_{size}"], results[f"eventfeed_{size}"] = j, e
    return results


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3, help="new posts per size")
    args = parser.parse_args(argv)
    return run(args.sizes, args.repeat)


if __name__ == "__main__":
    main()
