"""The benchmarks in bench/ still run: each at a tiny size, checked for correctness, never speed.

A slow machine cannot fail these tests; a benchmark that no longer matches the product can.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def bench(script: str, *args: str, timeout: float = 180) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTFEED_")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def counts(output: str, label: str) -> tuple[int, ...]:
    """The 'a / b / …' numbers printed after `label:`."""
    match = re.search(re.escape(label) + r":\s*([\d / .]+)", output)
    assert match, (label, output)
    return tuple(int(float(n)) for n in match.group(1).split("/") if n.strip())


def test_extraction() -> None:
    out = bench("extraction.py", "--passes", "1", "--min-seconds", "0.05")
    assert re.search(r"both: articles/s: [\d.]+", out), out
    assert re.search(r"corpus: [1-9]\d* articles", out), out


def test_backfill() -> None:
    out = bench("backfill.py", "--count", "24", "--runs", "1")
    articles, failed = re.search(r"last run: (\d+) articles, (\d+) failed", out).groups()  # type: ignore[union-attr]
    assert int(articles) + int(failed) == 24 and int(articles) > 0, out
    assert "ratio bare loop / backfill" in out


def test_backfill_main_process() -> None:
    out = bench("backfill_main.py", "--count", "24", "--runs", "1")
    assert re.search(r"storing: ms of CPU an article: [\d.]+", out), out
    assert re.search(r"first publish: ms of CPU an article: [\d.]+", out), out


def test_fanout() -> None:
    out = bench("fanout.py", "--chats", "30", "--limited-chats", "4", "--fake-alone", "100")
    assert re.search(r"fake server alone, 100 sendMessage .*: \d+ messages/s", out), out
    results = re.findall(r"sent / received / failed / retried / 429 answered: ([\d / ]+)", out)
    assert len(results) == 2, out
    (off, on) = (tuple(int(n) for n in r.split("/")) for r in results)
    assert off[:3] == (30, 30, 0), out  # every chat got its message, none failed
    assert on[0] == on[1] == 4 and on[2] == 0, out


def test_latency() -> None:
    out = bench("latency.py", "--count", "3", "--every", "0.3")
    assert counts(out, "alerts received / drops") == (3, 3), out
    assert counts(out, "drops in the served Atom feed") == (3, 3), out
    for how in ("write", "rename", "move"):  # one drop each, each alerted and in the feed
        assert re.search(rf"\[{how}\] to the fake Bot API: .* \(1 of 1\)", out), out
        assert re.search(rf"\[{how}\] to the served Atom feed: .* \(1 of 1\)", out), out


def test_latency_on_a_large_state() -> None:
    out = bench(
        "latency.py", "--count", "2", "--every", "0.3", "--arrival", "move",
        "--state-articles", "40",
    )  # fmt: skip
    assert "on a state of 40 articles" in out, out
    assert counts(out, "alerts received / drops") == (2, 2), out
    assert counts(out, "drops in the served Atom feed") == (2, 2), out


def test_large_state() -> None:
    out = bench("large_state.py", "--files", "120", "--idle", "1", "--repeat", "1")
    assert re.search(r"large state: 120 unchanged files, 360 events", out), out
    assert re.search(r"new article: alerted after / peak RSS then: [\d.]+ s", out), out


@pytest.mark.skipif(
    shutil.which("jekyll") is None,
    reason="jekyll is not installed (apt-get install jekyll ruby-jekyll-feed)",
)
def test_jekyll() -> None:
    out = bench("jekyll.py", "--sizes", "12", "--repeat", "1")
    assert re.search(r"12 posts: Jekyll, new post → feed\.xml .*: [\d.]+", out), out
    assert re.search(r"12 posts: eventfeed, new post → served Atom feed: .*\(1 of 1 seen\)", out), (
        out
    )
    assert re.search(r"12 posts: ratio Jekyll / eventfeed \(medians\): \d+×", out), out


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_serving() -> None:
    out = bench("serving.py", "--articles", "5", "--seconds", "1", "--runs", "1")
    assert re.search(r"feed: /feeds/articles\.atom: 200, .*conditional: 304", out), out
    assert re.search(r"conditional GET → 304: requests/s: [\d.]+", out), out
