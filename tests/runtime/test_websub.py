"""WebSub: the daemon's scan pings a (local, real HTTP) hub with the feeds that changed."""

from __future__ import annotations

import shutil
from pathlib import Path

from aiohttp import web
from lxml import etree

from bot.app import Daemon
from bot.cli.config import load_pack
from bot.core.config import parse_config
from bot.runtime.websub import ping_hub

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "articles"


async def _hub(pings: list[dict[str, str]], status: int = 204) -> web.AppRunner:
    async def publish(request: web.Request) -> web.Response:
        pings.append(dict(await request.post()))  # type: ignore[arg-type]
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hub", publish)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


async def test_a_scan_pings_the_hub_with_the_changed_feeds(tmp_path: Path) -> None:
    pings: list[dict[str, str]] = []
    runner = await _hub(pings)
    hub = f"http://127.0.0.1:{runner.addresses[0][1]}/hub"
    folder = tmp_path / "posts"
    folder.mkdir()
    shutil.copy(SAMPLES / "000_4fbda6de1bb3b082.txt", folder)
    config = parse_config(
        f"articles: {{folder: {folder}}}\n"
        f"state: {{url: 'sqlite:///{tmp_path / 'db.sqlite'}'}}\n"
        f"feeds: {{folder: {tmp_path / 'feeds'}, websub_hub: '{hub}'}}\n"
        "site: {base_url: 'https://blog.example.org/'}\n",
        {},
    )
    daemon = Daemon(config, load_pack(config))
    try:
        await daemon.scanner.scan(None)
        topics = {ping["hub.url"] for ping in pings}
        assert {ping["hub.mode"] for ping in pings} == {"publish"}
        assert "https://blog.example.org/feeds/events.atom" in topics
        assert "https://blog.example.org/feeds/articles.json" in topics
        assert not any("archive" in topic or topic.endswith(".xsl") for topic in topics)
        atom = etree.fromstring((tmp_path / "feeds" / "events.atom").read_bytes())
        assert hub in atom.xpath("//*[local-name()='link'][@rel='hub']/@href")
        assert daemon.metrics.scans == 1 and daemon.metrics.scan_seconds.count == 1

        pings.clear()
        await daemon.scanner.scan(None)  # nothing changed: no ping
        assert pings == []
    finally:
        daemon.store.close()
        await runner.cleanup()


async def test_a_failing_hub_costs_nothing_but_the_ping(tmp_path: Path) -> None:
    pings: list[dict[str, str]] = []
    runner = await _hub(pings, status=500)
    try:
        hub = f"http://127.0.0.1:{runner.addresses[0][1]}/hub"
        assert await ping_hub(hub, ["https://a.example/feeds/x.atom"]) == 0
        assert len(pings) == 1
    finally:
        await runner.cleanup()
    assert await ping_hub("http://127.0.0.1:9/hub", ["https://a.example/x"], seconds=2) == 0
