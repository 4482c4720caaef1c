"""File names with control characters (a newline, an escape): the article's link works, and
the log line that names the file stays one line. A real folder, store, server and logger."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from conftest import make_pipeline

from bot.core.config import parse_config
from bot.runtime.logs import setup_logging
from bot.runtime.siteview import SiteView
from bot.runtime.web import bound_port, make_app, start_server

NAME = "odd\nname\x1b[31m\t.txt"
TEXT = "Orion buys Quartz\n\nOrion Holdings agreed to acquire Quartz Systems for $12 million.\n"


@pytest.fixture
def root_logger() -> Iterator[None]:
    """setup_logging replaces the root logger's handlers: put them back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_a_file_name_with_a_newline_gives_a_working_link(
    tmp_path: Path, client: aiohttp.ClientSession
) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / NAME).write_text(TEXT, encoding="utf-8")
    pipeline = make_pipeline(tmp_path, folder)
    assert pipeline.scan().new == 1
    [stored] = pipeline.store.published_articles()
    base = pipeline.site.base_url
    assert stored.url == f"{base}articles/odd%0Aname%1B%5B31m%09.html"
    view = SiteView(pipeline.store, pipeline.site, 50, ZoneInfo("UTC"), lambda: stored.updated)
    app = make_app(pipeline.feeds_folder, lambda: {"status": "ok"}, view)
    runner = await start_server(app, "127.0.0.1", 0)
    try:
        local = f"http://127.0.0.1:{bound_port(runner)}/" + stored.url.removeprefix(base)
        async with client.get(local) as response:
            assert response.status == 200
            assert "Orion Holdings agreed to acquire Quartz Systems" in await response.text()
    finally:
        await runner.cleanup()
        pipeline.store.close()


@pytest.mark.parametrize("token", [None, "123456:secret-token-value"])
def test_a_file_name_with_a_newline_stays_on_one_log_line(
    capsys: pytest.CaptureFixture[str], root_logger: None, token: str | None
) -> None:
    """A newline in a file name split the line: the rest read as a record of its own
    ('ts=… level=ERROR msg=…' forged by whoever names files)."""
    config = parse_config(f"telegram: {{token: '{token}'}}" if token else None, {})
    setup_logging(config)
    forged = "a.md\nts=2025-01-01 level=ERROR logger=bot msg=forged\x1b[2J\u2028\x85"
    logging.getLogger("bot.runtime.pipeline").warning(
        "article failed path=%s error=%s", forged, "x"
    )
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].endswith(
        "msg=article failed path=a.md\\nts=2025-01-01 level=ERROR logger=bot msg=forged"
        "\\x1b[2J\\u2028\\x85 error=x"
    )


@pytest.mark.parametrize("log_format", ["keyvalue", "json"])
@pytest.mark.parametrize("token", [None, "123456:secret-token-value"])
def test_a_traceback_still_follows_its_line_with_the_token_masked(
    capsys: pytest.CaptureFixture[str], root_logger: None, token: str | None, log_format: str
) -> None:
    token_line = f"telegram: {{token: '{token}'}}\n" if token else ""
    setup_logging(parse_config(f"{token_line}log: {{format: {log_format}}}", {}))
    try:
        raise OSError(f"disk full for {token}")
    except OSError:
        logging.getLogger("bot").exception("cannot write feeds")
    err = capsys.readouterr().err
    if log_format == "json":
        [line] = err.splitlines()
        entry = json.loads(line)
        assert entry["msg"] == "cannot write feeds"
        err = entry["exc"]
    else:
        assert err.splitlines()[0].endswith("msg=cannot write feeds")
    assert err.splitlines()[-1].startswith("OSError: disk full for ")
    assert "Traceback (most recent call last):" in err
    assert "secret-token-value" not in err
