"""What every benchmark shares: source articles, generated variants, statistics, the machine,
a daemon subprocess, and a fake Bot API server in its own process.

The benchmarks print their figures; none of them asserts a speed.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The product measured: this checkout, or a copy of it (a snapshot taken while others edit).
PRODUCT = Path(os.environ.get("EVENTFEED_BENCH_PRODUCT", ROOT)).resolve()
CORPUS = Path(os.environ.get("EVENTFEED_BENCH_CORPUS", ROOT.parent / "shared/corpus/articles"))
FALLBACK = (ROOT / "examples/articles", ROOT / "tests/data/articles")
PYTHON = sys.executable
TOKEN = "123456:BENCHMARK-TOKEN"

if str(PRODUCT) not in sys.path:
    sys.path.insert(0, str(PRODUCT))


# --- source articles ---------------------------------------------------------------------


def source_files() -> list[Path]:
    """The shared corpus if present, else the samples and the test articles (not the YAML)."""
    if CORPUS.is_dir() and any(CORPUS.iterdir()):
        return sorted(p for p in CORPUS.iterdir() if p.is_file())
    found: list[Path] = []
    for folder in FALLBACK:
        found += [p for p in folder.iterdir() if p.is_file() and not p.name.endswith(".yaml")]
    return sorted(found)


@dataclass(frozen=True)
class Source:
    title: str
    paragraphs: tuple[str, ...]
    lang: str


def parsed_sources() -> list[Source]:
    """Each source article's title, paragraphs and language, as the product parses them."""
    from bot.core.articles import ArticleError, parse_article

    now = datetime.now(UTC)
    out: list[Source] = []
    for path in source_files():
        try:
            article = parse_article(path.read_bytes(), path.name, now, UTC)
        except ArticleError:
            continue
        paragraphs = tuple(p for p in article.text.split("\n\n") if p.strip())
        if article.title and paragraphs:
            out.append(Source(article.title, paragraphs, article.lang))
    if not out:
        raise SystemExit("no source articles found (corpus, examples/articles, tests/data)")
    return out


_LANG_SLUG = {"zh-Hans": "hans", "zh-Hant": "hant", "en": "en"}


def article_bytes(
    sources: Sequence[Source], i: int, *, size: int = 6000, when: datetime, tag: str = ""
) -> tuple[str, bytes]:
    """The i-th generated article: (relative path, bytes), about `size` bytes.

    A source article, padded with paragraphs of other articles in the same language, with a
    title and date of its own; formats rotate between Jekyll posts, plain text and HTML, and
    names between dated Jekyll names, bare slugs and nested folders.
    """
    rng = random.Random(i)
    base = sources[i % len(sources)]
    same = [s for s in sources if s.lang == base.lang] or list(sources)
    # Padding never repeats a paragraph: a repeated sentence yields the same event twice,
    # which the store refuses (see docs/benchmarks.md, "Defects found").
    paragraphs = list(base.paragraphs)
    used = set(paragraphs)
    others = [s for s in same if s is not base]
    rng.shuffle(others)
    for other in others:
        if sum(len(p.encode()) for p in paragraphs) >= size - 400:
            break
        fresh = [p for p in other.paragraphs if p not in used]
        paragraphs.extend(fresh)
        used.update(fresh)
    body: list[str] = []
    total = 0
    for p in paragraphs:
        if total >= size - 400 and body:
            break
        body.append(p)
        total += len(p.encode()) + 2
    title = f"{base.title} {tag}#{i}"
    lang = _LANG_SLUG.get(base.lang, "xx")
    kind = i % 4
    stamp = when.strftime("%Y-%m-%d %H:%M:%S %z")
    if kind in (0, 1):  # Jekyll posts
        rel = f"{when:%Y}/{when:%Y-%m-%d}-{lang}-post-{i}.md"
        text = (
            f"---\nlayout: post\ntitle: {json.dumps(title, ensure_ascii=False)}\n"
            f"date: {stamp}\ncategory: Bench\n---\n\n" + "\n\n".join(body) + "\n"
        )
    elif kind == 2:  # plain-text repost
        rel = f"reposts/{lang}-{i:06d}.txt"
        text = f"{title}\n\n" + "\n\n".join(body) + "\n"
    else:  # an HTML page
        rel = f"pages/{lang}/page-{i}.html"
        paras = "".join(f"<p>{_html(p)}</p>\n" for p in body)
        text = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{_html(title)}</title>"
            f"</head><body><article><h1>{_html(title)}</h1>\n{paras}</article></body></html>\n"
        )
    return rel, text.encode()


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def generate_folder(
    folder: Path, count: int, *, size: int = 6000, start: datetime | None = None
) -> int:
    """Write `count` generated articles under `folder`, dates spread over two years; bytes."""
    sources = parsed_sources()
    start = start or datetime(2024, 1, 1, 8, tzinfo=UTC)
    span = timedelta(days=730) / max(count, 1)
    total = 0
    for i in range(count):
        rel, data = article_bytes(sources, i, size=size, when=start + span * i)
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        total += len(data)
    return total


# --- statistics and reporting --------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def spread(values: Sequence[float]) -> str:
    """'median (min–max, n runs)': the noise of a shared machine, shown."""
    if len(values) == 1:
        return f"{values[0]:.4g}"
    return f"{statistics.median(values):.4g} (min {min(values):.4g}, max {max(values):.4g}, n={len(values)})"


def verdict(value: float, target: float, *, higher_is_better: bool) -> str:
    ok = value >= target if higher_is_better else value <= target
    return "MET" if ok else "MISSED"


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return (
        f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, "
        f"load average {load[0]:.2f}"
    )


def header(title: str) -> None:
    print(f"== {title}")
    print(f"   machine: {machine()}")
    print(f"   date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def figure(name: str, value: str, target: str = "") -> None:
    print(f"   {name}: {value}" + (f"   [target {target}]" if target else ""))


# --- processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(
    path: Path,
    *,
    folder: Path,
    state: Path,
    feeds: Path,
    port: int,
    telegram_url: str | None = None,
    interval: float = 60.0,
    debounce: float | None = None,
    max_entries: int = 50,
) -> None:
    """A daemon config for a benchmark; keys not given keep the product's defaults."""
    scan = f"interval_seconds: {interval}"
    if debounce is not None:
        scan += f", debounce_seconds: {debounce}"
    lines = [
        f"articles: {{folder: {json.dumps(str(folder))}}}",
        f'state: {{url: "sqlite:///{state}"}}',
        f"feeds: {{folder: {json.dumps(str(feeds))}, max_entries: {max_entries}}}",
        'site: {base_url: "https://blog.example.org/", title: "Bench", timezone: UTC}',
        f'http: {{bind: "127.0.0.1:{port}"}}',
        f"scan: {{{scan}}}",
    ]
    if telegram_url:
        lines.append(f'telegram: {{base_url: "{telegram_url}"}}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def empty_state(folder: Path, work: Path) -> dict[str, str]:
    """Remove the SQLite state and feeds a previous run left in `work`; the environment that
    points a config at `folder`, that state and those feeds (UTC, so runs compare)."""
    state = work / "state.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(work / "feeds", ignore_errors=True)
    return {
        "EVENTFEED_ARTICLES_FOLDER": str(folder),
        "EVENTFEED_STATE_URL": f"sqlite:///{state}",
        "EVENTFEED_FEEDS_FOLDER": str(work / "feeds"),
        "EVENTFEED_SITE_TIMEZONE": "UTC",
    }


def restarted(feeds: Path) -> None:
    """A feeds folder as a restart finds it (written by this layout), so that the daemon's first
    publish checks each feed's current page, not writes every archive page of a large state."""
    from bot.runtime.publish import LAYOUT, LAYOUT_FILE

    feeds.mkdir(parents=True, exist_ok=True)
    (feeds / "events.atom").write_bytes(b"")
    (feeds / LAYOUT_FILE).write_text(f"{LAYOUT}\n", encoding="utf-8")


@contextmanager
def daemon(config: Path, log: Path, *, telegram: bool) -> Iterator[subprocess.Popen[bytes]]:
    """The real daemon (`python -m bot run`) as a subprocess, stopped with SIGTERM at the end."""
    env = {**os.environ, "PTB_TIMEDELTA": "true"}
    env.pop("EVENTFEED_TELEGRAM_TOKEN", None)
    if telegram:
        env["EVENTFEED_TELEGRAM_TOKEN"] = TOKEN
    with log.open("wb") as out:
        process = subprocess.Popen(
            [PYTHON, "-m", "bot", "run", "--config", str(config)],
            cwd=PRODUCT, env=env, stdout=out, stderr=out,
        )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def wait_http(url: str, within: float = 60.0) -> None:
    import aiohttp

    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise SystemExit(f"timed out waiting for {url}")


@contextmanager
def fake_telegram(
    *, flood_limit: float | None = None, per_chat: float | None = None
) -> Iterator[FakeServer]:
    """tests/support/fakebot.py in a process of its own (so that its CPU is not the sender's)."""
    args = [PYTHON, str(ROOT / "bench" / "fakeserver.py")]
    if flood_limit is not None:
        args += ["--flood-limit", str(flood_limit)]
    if per_chat is not None:
        args += ["--per-chat", str(per_chat)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    if not line.startswith("http://"):
        process.kill()
        raise SystemExit(f"fake Bot API server did not start: {line!r}")
    try:
        yield FakeServer(line, process.pid)
    finally:
        process.terminate()
        process.wait(10)


@dataclass(frozen=True)
class FakeServer:
    base_url: str  # http://127.0.0.1:PORT/bot
    pid: int

    async def stats(self) -> dict[str, object]:
        """What the server saw: sendMessage count, 429s, and (chat, text head, time) per message."""
        import aiohttp

        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.base_url}{TOKEN}/benchStats") as response,
        ):
            body = await response.json()
        result: dict[str, object] = body["result"]
        return result


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux) or psutil."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        import psutil

        times = psutil.Process(pid).cpu_times()
        return float(times.user + times.system)


def rss_kib(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) in KiB, from /proc/PID/status (VmRSS, VmHWM)."""
    values = {"VmRSS": 0, "VmHWM": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in values:
            values[key] = int(line.split()[1])
    return values["VmRSS"], values["VmHWM"]
