"""A large scan (articles stored in batches, parsed and extracted in worker processes) leaves
exactly the store and the feeds that a scan storing one file at a time leaves."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import make_pipeline
from sqlalchemy import select

from bot.cli.config import load_pack
from bot.core.articles import parse_article
from bot.core.config import parse_config
from bot.core.stories import StoryKey, story_day
from bot.extract import extract
from bot.runtime import pool
from bot.runtime.pagefiles import PageTask, write_page
from bot.runtime.pipeline import Pipeline
from bot.runtime.publish import POOL_PAGES
from bot.site.render import FeedSite, build_feeds, render_all
from bot.site.statics import static_documents
from bot.store import schema

BUYERS = ("Orion", "Vega", "Lyra", "Draco", "Cygnus")
TARGETS = ("Quartz", "Basalt", "Granite", "Marble")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _article(i: int) -> str:
    """Deals that repeat every few articles (one story, several reports), in two languages."""
    day = date(2025, 1, 1) + timedelta(days=i // 3)
    buyer, target = BUYERS[i % 5], TARGETS[i // 5 % 4]
    price = 100 + (i // 7) * 40
    if i % 4 == 3:
        body = f"{buyer}科技宣布以{price}亿美元收购{target}公司。"
        title = f"{buyer}收购{target}"
    else:
        body = (
            f"{buyer} Holdings agreed to acquire {target} Systems for ${price} million in cash, "
            f"the companies said on Monday.\n\nAnalysts at Cedar Capital expect the deal to close."
        )
        title = f"{buyer} to buy {target}"
    return f"---\ntitle: {title}\ndate: {day.isoformat()}\ntags: [t{i % 3}]\n---\n{body}\n"


def _write_folder(folder: Path, count: int) -> None:
    for i in range(count):
        path = folder / f"{i % 4}" / f"post-{i:03d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_article(i), encoding="utf-8")
        os.utime(path, ns=(1_700_000_000_000_000_000 + i, 1_700_000_000_000_000_000 + i))
    # Broken in the middle of a batch: recorded, and the scan goes on.
    (folder / "1" / "post-040.md").write_bytes(b"---\ntitle: [unclosed\n---\n\x00\xff")
    (folder / "2" / "empty.md").write_bytes(b"")


def _pipeline(tmp_path: Path, folder: Path, url: str | None, **knobs: int) -> Pipeline:
    pipeline = make_pipeline(tmp_path, folder, max_entries=5, url=url)
    pipeline.clock = lambda: NOW
    for name, value in knobs.items():
        setattr(pipeline, name, value)
    pipeline.store.upsert_chat(7, "private", "reader", None)
    pipeline.store.add_subscription(7, None, "acquisition")
    return pipeline


def _rows(pipeline: Pipeline) -> dict[str, list[tuple[Any, ...]]]:
    found: dict[str, list[tuple[Any, ...]]] = {}
    with pipeline.store.engine.connect() as conn:
        for table, order in (
            (schema.articles, schema.articles.c.id),
            (schema.events, schema.events.c.id),
            (schema.outbox, schema.outbox.c.id),
            (schema.feed_entries, schema.feed_entries.c.feed),
            (schema.feeds, schema.feeds.c.name),
        ):
            rows = conn.execute(select(table).order_by(order)).all()
            found[table.name] = (
                sorted(tuple(row) for row in rows)
                if table is (schema.feed_entries)
                else [tuple(row) for row in rows]
            )
    return found


def _facts(pipeline: Pipeline) -> list[list[tuple[Any, ...]]]:
    """What the store holds, in terms any backend gives alike."""
    a, e, o = schema.articles.c, schema.events.c, schema.outbox.c
    queries = (
        select(a.id, a.uid, a.path, a.status, a.error, a.content_hash).order_by(a.id),
        select(e.id, e.uid, e.article_id, e.key, e.type, e.story, e.active).order_by(e.id),
        select(o.event_id, o.chat_id, o.status).order_by(o.id),
        select(schema.feeds).order_by(schema.feeds.c.name),
    )
    with pipeline.store.engine.connect() as conn:
        return [[tuple(row) for row in conn.execute(query)] for query in queries]


def _files(folder: Path) -> dict[str, bytes]:
    """The documents in the folder (not its dot files: publish's own bookkeeping)."""
    found = (p for p in folder.rglob("*.*") if not p.name.startswith("."))
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in found}


@pytest.mark.skipif(pool.workers() < 2, reason="one core: a scan never starts workers")
def test_a_pooled_batched_scan_stores_what_a_file_by_file_scan_does(
    tmp_path: Path, store_url: str
) -> None:
    folder = tmp_path / "posts"
    _write_folder(folder, 90)
    one_by_one = _pipeline(tmp_path / "a", folder, None, pool_from=10**9, batch=1)
    pooled = _pipeline(tmp_path / "b", folder, store_url, pool_from=10, batch=16)
    try:
        expected, report = one_by_one.scan(), pooled.scan()
        assert report == expected
        assert (report.new, report.failed) == (90, 2) and report.queued > 0
        one_by_one.publish_feeds()
        pooled.publish_feeds()
        assert _facts(pooled) == _facts(one_by_one)
        rows = _rows(pooled)
        if store_url.startswith("sqlite"):  # on one backend, row for row
            assert rows == _rows(one_by_one)
        errors = dict((path, error) for path, _status, error in pooled.store.article_errors())
        assert set(errors) == {"1/post-040.md", "2/empty.md"}
        story = list(schema.events.c.keys()).index("story")
        assert len({row[story] for row in rows["events"]}) < len(rows["events"])  # linked
        written = _files(pooled.feeds_folder)
        assert written == _files(one_by_one.feeds_folder)
        # Rendered in worker processes (many pages), and as a full render in-process makes them.
        articles = pooled.store.published_articles()
        types = pooled.pack.event_types  # each has a feed, empty or not
        documents = render_all(pooled.site, articles, pooled.max_entries, event_types=types)
        documents |= static_documents(
            pooled.site, build_feeds(pooled.site, articles, event_types=types)
        )
        assert len(documents) > 3 * POOL_PAGES
        assert {path: written[path] for path in documents} == documents
        # A second scan of the same folder finds nothing to do.
        assert pooled.scan().new == 0
    finally:
        one_by_one.store.close()
        pooled.store.close()


def test_story_keys_kept_at_insert_are_those_read_back(tmp_path: Path) -> None:
    """Story matching keeps the key of each event it stores rather than reading it back from
    the row: the two must agree, or a batch would link stories differently."""
    folder = tmp_path / "posts"
    _write_folder(folder, 24)
    pipeline = _pipeline(tmp_path, folder, None)
    try:
        pipeline.scan()
        with pipeline.store.engine.connect() as conn:
            stored = conn.execute(
                select(schema.events.c.id, schema.articles.c.path).join(schema.articles)
            ).all()
        read_back = pipeline.store.stored_story_keys([row.id for row in stored])
        for event_id, path in stored:
            data = (folder / path).read_bytes()
            mtime = datetime.fromtimestamp((folder / path).stat().st_mtime_ns / 1e9, tz=UTC)
            article = parse_article(data, path, mtime, pipeline.source.timezone)
            keys = {
                StoryKey.of(ev, story_day(article)) for ev in extract(article, pipeline.pack).events
            }
            assert read_back[event_id] in keys
    finally:
        pipeline.store.close()


def test_workers_end_with_a_killed_owner(tmp_path: Path) -> None:
    """SIGKILL gives the owner no time to stop its workers: they notice on their own (a pipe
    reads EOF), even while the owner is an unreaped zombie."""
    script = tmp_path / "owner.py"
    script.write_text(
        "import os, time\n"
        "from bot.runtime import pool\n"
        "if __name__ == '__main__':\n"
        "    workers = pool.executor(1)\n"
        "    print(workers.submit(os.getpid).result(), flush=True)\n"
        "    time.sleep(120)\n",
        encoding="utf-8",
    )
    with subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True
    ) as owner:
        assert owner.stdout is not None
        worker = int(owner.stdout.readline())
        assert _state(worker) != "gone"
        owner.kill()  # not reaped until the end: a zombie holds no pipe, but keeps its pid
        deadline = time.monotonic() + 30
        while _state(worker) not in ("gone", "Z"):
            assert time.monotonic() < deadline, "the worker outlived its owner"
            time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "gone"
    return stat[stat.rindex(")") + 2]


@pytest.mark.skipif(pool.workers() < 2, reason="one core: a publish never starts workers")
def test_a_worker_killed_mid_publish_costs_no_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The worker processes are SIGKILLed (the kernel's OOM killer, say) once a few pages
    were handed to them: the pages they had and every later one are written in-process."""
    folder = tmp_path / "posts"
    _write_folder(folder, 90)
    pipeline = _pipeline(tmp_path, folder, None, pool_from=10**9)
    pipeline.scan()
    monkeypatch.setattr(pool, "executor", _killed_after(3, pool.executor))
    try:
        pipeline.publish_feeds()
        assert "a worker process died" in caplog.text
        articles = pipeline.store.published_articles()
        types = pipeline.pack.event_types  # each has a feed, empty or not
        documents = render_all(pipeline.site, articles, pipeline.max_entries, event_types=types)
        documents |= static_documents(
            pipeline.site, build_feeds(pipeline.site, articles, event_types=types)
        )
        assert len(documents) > 3 * POOL_PAGES
        assert _files(pipeline.feeds_folder) == documents
    finally:
        pipeline.store.close()


@pytest.mark.skipif(pool.workers() < 2, reason="one core: a scan never starts workers")
def test_a_worker_killed_mid_scan_costs_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The same for a scan: the files its workers had are analysed in-process, and the
    store ends up as after a scan with no workers at all."""
    folder = tmp_path / "posts"
    _write_folder(folder, 90)
    one_by_one = _pipeline(tmp_path / "a", folder, None, pool_from=10**9, batch=1)
    pooled = _pipeline(tmp_path / "b", folder, None, pool_from=10, batch=16)
    monkeypatch.setattr(pool, "executor", _killed_after(3, pool.executor))
    try:
        assert pooled.scan() == one_by_one.scan()
        assert "a worker process died" in caplog.text
        assert _rows(pooled) == _rows(one_by_one)
    finally:
        one_by_one.store.close()
        pooled.store.close()


def _killed_after(submits: int, real_executor: Any) -> Any:
    """pool.executor whose worker processes are SIGKILLed once `submits` tasks went out."""

    def doomed(*args: Any) -> Any:
        executor = real_executor(*args)
        submit, handed = executor.submit, [0]

        def submit_then_kill(*task: Any, **kwargs: Any) -> Any:
            future = submit(*task, **kwargs)
            handed[0] += 1
            if handed[0] == submits:
                for process in list(executor._processes.values()):  # the real processes
                    os.kill(process.pid, signal.SIGKILL)
            return future

        executor.submit = submit_then_kill
        return executor

    return doomed


def test_a_job_survives_pickling() -> None:
    """What the scan sends a worker for each file (its own `__reduce__`): every field back."""
    job = pool.Job(b"---\ntitle: T\n---\nBody.", "a/b.md", NOW, ZoneInfo("Asia/Taipei"), 500)
    assert pickle.loads(pickle.dumps(job)) == job
    assert pickle.loads(pickle.dumps([job, job]))[1] == job


def test_workers_start_without_the_store(tmp_path: Path) -> None:
    """A worker analyses files and writes feed pages, and the server it is forked from imports
    what that takes beforehand: never the store (SQLAlchemy was half of a worker's start-up,
    paid before a first scan's first file)."""
    pack = load_pack(parse_config(None, {}))
    job = pool.Job(
        b"---\ntitle: T\n---\nOrion agreed to buy Vega for $5 million.", "a.md", NOW, UTC
    )
    site = FeedSite("https://news.example.org/", "eventfeed", "Headline events", "en")
    task = PageTask("articles", "Articles", None, 0, 0)
    pool.start_server()
    with pool.executor(1) as workers:
        analysed = workers.submit(pool.analyse, job, pack).result(timeout=60)
        written = workers.submit(write_page, site, tmp_path, task, []).result(timeout=60)
        # eval: a function any process has, so the question itself imports nothing there
        loaded = workers.submit(eval, "sorted(__import__('sys').modules)").result(timeout=60)
    assert isinstance(analysed, tuple) and analysed[1].events
    assert written == ["articles.atom", "articles.rss", "articles.json"]
    assert "bot.extract" in loaded and "bot.site.render" in loaded
    assert not [m for m in loaded if m.split(".")[0] == "sqlalchemy" or m.startswith("bot.store")]
