"""Every kind of feed, served over HTTP by the real server from a real publish, passes the W3C
Feed Validator (its engine, in ../shared/tools/feedvalidator) with no error and no warning,
and so do a filtered, an empty and a converted feed, and the OPML list.

The validator is not part of the repository: CI clones the repository beside a read-only
`shared/`. Where it is absent the test skips, saying so.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web
from lxml import etree

from bot.cli.config import load_pack
from bot.core.config import parse_config
from bot.runtime.metrics import Metrics
from bot.runtime.pipeline import build_pipeline
from bot.runtime.siteview import SiteView
from bot.runtime.web import make_app
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent.parent
# `../shared` beside the repository (CI; the main checkout), or beside a folder holding it
# (a git worktree).
VALIDATOR = next(
    (
        found
        for parent in ROOT.parents
        if (found := parent / "shared" / "tools" / "feedvalidator").is_dir()
    ),
    ROOT.parent / "shared" / "tools" / "feedvalidator",
)
SAMPLES = [
    ROOT / "tests" / "data" / "articles" / name
    for name in ("000_4fbda6de1bb3b082.txt", "003_5530165580ebcf3e.txt")
]

# One process validates every URL: what demo.py does for one, at its default level ("AA":
# what the online service reports, errors and warnings alike).
RUNNER = """
import sys, urllib.request  # demo.py imports it; the engine relies on that
sys.path.insert(0, sys.argv[1])
import feedvalidator
from feedvalidator import compatibility
from feedvalidator.formatter.text_plain import Formatter
for url in sys.stdin.read().split():
    try:
        events = feedvalidator.validateURL(url, firstOccurrenceOnly=1)["loggedEvents"]
    except feedvalidator.logging.ValidationFailure as failure:
        events = [failure.event]
    for line in Formatter(compatibility.AA(events)):
        print(url, line)
"""

POSTS = {
    "_posts/2025-06-23-github.md": """---
title: Microsoft buys GitHub
date: 2025-06-23 09:30:00 +0800
author: Jane Doe
categories: [Deals]
tags: [acquisition, developer tools]
---
Microsoft agreed to acquire GitHub for $7.5 billion in stock, the companies said on Monday.
""",
    "_posts/2025-06-24-linkedin.md": """---
title: Microsoft buys LinkedIn
date: 2025-06-24 10:00:00 +0000
categories: [Deals]
tags: [acquisition]
---
Microsoft agreed to acquire LinkedIn for $26.2 billion in cash, the companies said on Monday.
""",
    "_posts/2025-06-25-anthropic.md": """---
title: Anthropic raises money
date: 2025-06-25 08:00:00 -0400
author: John Roe
tags: [funding]
---
Anthropic raised $4 billion in a Series E round led by Amazon, the company said on Tuesday.
""",
    "_posts/2025-06-26-nvidia.md": """---
title: 輝達收購新創公司
date: 2025-06-26 09:00:00 +0800
author: 編輯部
categories: [Deals]
tags: [acquisition]
---
輝達宣布以7億美元收購以色列新創公司Run:ai，交易預計年底完成。
""",
}


async def _serve(tmp_path: Path) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    folder = tmp_path / "posts"
    for name, text in POSTS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    for sample in SAMPLES:  # simplified and traditional, no author
        shutil.copy(sample, folder)
    config = parse_config(
        f"articles: {{folder: {folder}}}\n"
        f"state: {{url: 'sqlite:///{tmp_path / 'db.sqlite'}'}}\n"
        f"feeds: {{folder: {tmp_path / 'feeds'}, max_entries: 2}}\n"
        f"site: {{base_url: '{url}', timezone: Asia/Shanghai}}\n",
        {},
    )
    store = Store(config.state.url)
    pipeline = build_pipeline(config, store, load_pack(config))
    view = SiteView(store, pipeline.site, 2, config.site.tz, lambda: datetime.now(UTC))
    app = make_app(config.feeds.folder, dict, view, lambda: Metrics().render({}, {}))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    pipeline.scan()
    pipeline.write_feeds()
    view.invalidate()
    try:
        yield url
    finally:
        await runner.cleanup()
        store.close()


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    async for url in _serve(tmp_path):
        yield url, tmp_path / "feeds"


# Every kind of feed; each must exist, with entries where the kind has them.
KINDS = [
    "articles",
    "events",
    "events/type/acquisition",
    "events/type/funding",
    "actor/microsoft",
    "category/deals",
    "tag/acquisition",
    "archive/articles/1",
    "archive/articles/2",
    "archive/events/1",
]


@pytest.mark.skipif(
    not VALIDATOR.is_dir(), reason=f"the W3C feed validator is not at {VALIDATOR} (../shared)"
)
async def test_every_feed_passes_the_w3c_validator(site: tuple[str, Path]) -> None:
    url, folder = site
    names = [f"{kind}.{fmt}" for kind in KINDS for fmt in ("atom", "rss")]
    missing = [name for name in names if not (folder / name).is_file()]
    assert not missing, f"not published: {missing}"
    # Every document published, the kinds above first: actors with CJK names included.
    every = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.atom"))
    every += sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.rss"))
    urls = [f"{url}feeds/{quote(name)}" for name in dict.fromkeys([*names, *every])]
    urls.append(f"{url}feeds/events.atom?type=acquisition&limit=1")  # a filtered feed
    urls.append(f"{url}feeds/articles.rss?q=nothing-like-this")  # an empty one
    urls.append(f"{url}feeds/events.atom?script=hant")  # a converted one
    urls.append(f"{url}feeds/feeds.opml")  # the validator knows OPML too
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUNNER,
        str(VALIDATOR),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate("\n".join(urls).encode()), 300)
    assert process.returncode == 0, err.decode(errors="replace")[-3000:]
    problems = out.decode().strip()
    assert not problems, f"the validator reports:\n{problems}"


async def test_each_entry_is_on_one_page_in_its_own_language(site: tuple[str, Path]) -> None:
    """An English or traditional entry does not inherit the feed's zh-Hans (Atom xml:lang, RSS
    dc:language); the current page repeats no entry of an archive page (RFC 5005)."""
    _, folder = site
    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    atom = "{http://www.w3.org/2005/Atom}"
    languages, seen = {}, []
    for name in ("articles.atom", "archive/articles/1.atom", "archive/articles/2.atom"):
        root = etree.parse(folder / name).getroot()
        for entry in root.iter(f"{atom}entry"):
            languages[entry.findtext(f"{atom}title")] = entry.get(xml_lang)
            seen.append(entry.findtext(f"{atom}id"))
    assert languages["Microsoft buys GitHub"] == "en"
    assert languages["輝達收購新創公司"] == "zh-Hant"
    assert sorted(set(languages.values())) == ["en", "zh-Hans", "zh-Hant"]
    assert len(seen) == len(set(seen)) == len(POSTS) + len(SAMPLES)
    rss = etree.parse(folder / "articles.rss").getroot()
    dc = "{http://purl.org/dc/elements/1.1/}language"
    assert all(item.findtext(dc) for item in rss.iter("item"))
