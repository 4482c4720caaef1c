"""Target 7: feed serving — the real daemon's HTTP server under wrk, on loopback.

The daemon runs (Telegram off) over a folder of generated articles, so that the Atom feed is
full (`feeds.max_entries` entries: 100 articles make one archive page and a full current page,
which holds only the entries after the newest archive page). wrk (Debian package `wrk`; this script installs it with
apt-get when it is missing and it may) then asks for `/feeds/articles.atom`:

* conditionally (If-None-Match with the current ETag): every answer should be 304;
* in full, with `Accept-Encoding: gzip`: 200, and whether the server compressed it is
  reported (a probe request looks at Content-Encoding).

One wrk thread and `--connections` connections, `--seconds` per run, runs alternated and
repeated; medians reported. wrk and the server share the 2 cores.
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

from multidict import CIMultiDict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    daemon,
    figure,
    free_port,
    generate_folder,
    header,
    process_cpu_seconds,
    spread,
    verdict,
    wait_http,
    write_config,
)

TARGET_304 = 3000.0
TARGET_200 = 1000.0


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian packages when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "-o", "DPkg::Lock::Timeout=120", "install", "-y", "-q", "wrk"],
            check=False, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit("wrk is needed: apt-get install wrk (Debian/Ubuntu)")


def wrk(
    binary: str, url: str, headers: dict[str, str], seconds: float, connections: int
) -> dict[str, float]:
    args = [binary, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    return {
        "rate": rate,
        "bad": float(bad.group(1)) if bad else 0.0,
        "socket_errors": 1.0 if errors else 0.0,
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
    }


async def probe(url: str, headers: dict[str, str]) -> tuple[int, CIMultiDict[str], int]:
    import aiohttp

    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.get(url, headers=headers) as response,
    ):
        body = await response.read()
        return response.status, CIMultiDict(response.headers), len(body)


def run(
    articles: int = 100, seconds: float = 10.0, runs: int = 3, connections: int = 32
) -> dict[str, float]:
    binary = ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="eventfeed-serving-"))
    try:
        folder = work / "articles"
        generate_folder(
            folder, articles, start=datetime.now(UTC) - timedelta(days=articles), size=4000
        )
        port = free_port()
        config = work / "eventfeed.yaml"
        write_config(
            config, folder=folder, state=work / "state.db", feeds=work / "feeds", port=port
        )
        with daemon(config, work / "daemon.log", telegram=False) as process:
            base = f"http://127.0.0.1:{port}"
            url = base + "/feeds/articles.atom"
            asyncio.run(wait_http(url, within=300))
            time.sleep(1.0)
            status, got, size = asyncio.run(probe(url, {"Accept-Encoding": "identity"}))
            etag = got.get("ETag", "")
            z_status, z_headers, z_size = asyncio.run(probe(url, {"Accept-Encoding": "gzip"}))
            encoding = z_headers.get("Content-Encoding", "none")
            # The validator of the representation wrk will ask for (a gzipped body may have its
            # own ETag); If-Modified-Since when there is no ETag at all.
            validator = z_headers.get("ETag") or etag
            conditional = {"Accept-Encoding": "gzip"}
            if validator:
                conditional["If-None-Match"] = validator
            else:
                conditional["If-Modified-Since"] = z_headers.get("Last-Modified", "")
            c_status, _, _ = asyncio.run(probe(url, conditional))
            full = {"Accept-Encoding": "gzip"}
            wrk(binary, url, full, 2, connections)  # warm-up
            results: dict[str, list[dict[str, float]]] = {"304": [], "200": []}
            cpu: dict[str, list[float]] = {"304": [], "200": []}
            for _ in range(runs):
                for name, headers in (("304", conditional), ("200", full)):
                    c0 = process_cpu_seconds(process.pid)
                    r = wrk(binary, url, headers, seconds, connections)
                    cpu[name].append((process_cpu_seconds(process.pid) - c0) / seconds * 100)
                    results[name].append(r)
        header(f"feed serving under wrk ({connections} connections, {seconds:g} s × {runs})")
        figure(
            "feed",
            f"/feeds/articles.atom: {status}, {size / 1e3:.1f} kB; ETag {'yes' if etag else 'NO'}; "
            f"with Accept-Encoding gzip: {z_status}, Content-Encoding {encoding}, "
            f"{z_size / 1e3:.1f} kB on the wire; conditional: {c_status}",
        )
        out: dict[str, float] = {"compressed": float(encoding == "gzip")}
        for name, target in (("304", TARGET_304), ("200", TARGET_200)):
            rates = [r["rate"] for r in results[name]]
            bad = sum(r["bad"] for r in results[name])
            rate = statistics.median(rates)
            label = (
                "conditional GET → 304"
                if name == "304"
                else f"full GET → 200 ({'gzip' if encoding == 'gzip' else 'NOT compressed'})"
            )
            figure(
                f"{label}: requests/s",
                spread(rates),
                f"≥ {target:.0f}, {verdict(rate, target, higher_is_better=True)}",
            )
            figure(
                "  p99 latency / non-2xx-3xx answers / server CPU",
                f"{statistics.median(r['p99_ms'] for r in results[name]):.1f} ms / {bad:.0f} / "
                f"{statistics.median(cpu[name]):.0f} % of one core",
            )
            out[f"rate_{name}"] = rate
        if encoding != "gzip":
            print("   note: the server does not compress yet; the 200 figure is for identity")
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0, help="per wrk run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    return run(args.articles, args.seconds, args.runs, args.connections)


if __name__ == "__main__":
    main()
