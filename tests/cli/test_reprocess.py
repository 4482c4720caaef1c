"""`eventfeed reprocess`: after a rule change, stored articles are extracted again; feed ids stay,
nobody hears twice about an event, and new events in old articles alert only with --alert."""

from __future__ import annotations

import copy
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
import yaml

from bot.cli.config import load_config, load_pack
from bot.cli.main import main
from bot.cli.reprocess import reprocess
from bot.cli.rulefiles import default_documents
from bot.runtime.pipeline import Pipeline, build_pipeline
from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLE = ROOT / "tests" / "data" / "articles" / "000_4fbda6de1bb3b082.txt"
DEAL = """---
title: "Microsoft agrees to buy Nuance"
date: 2025-06-20 10:00:00 +0800
---
Microsoft said on Monday it would acquire Nuance Communications for 500 million euros in cash.

The acquisition gives Microsoft a larger healthcare business. Nuance shareholders approved the deal.
"""


def write_old_rules(folder: Path) -> None:
    """Rules without compensation triggers, and a euro worth one dollar: what the rules were."""
    rules, _, rates = default_documents()
    rules = copy.deepcopy(rules)
    rules["types"]["compensation"]["triggers"] = {"zh": ["不存在的词语"], "en": ["xyzzyq"]}
    rules["types"]["compensation"]["weak"] = {"zh": [], "en": []}
    rates = copy.deepcopy(rates)
    rates["usd"]["EUR"] = 1.0
    (folder / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), "utf-8")
    (folder / "rates.yaml").write_text(yaml.safe_dump(rates, allow_unicode=True), "utf-8")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The commands set up logging for a process; give the next test the root logger back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.fixture
def site(tmp_path: Path, store_url: str) -> Path:
    """The posts, the old rules and two configs over one database, on each backend."""
    posts = tmp_path / "posts"
    posts.mkdir()
    shutil.copy(SAMPLE, posts / SAMPLE.name)
    (posts / "deal.md").write_text(DEAL, encoding="utf-8")
    write_old_rules(tmp_path)
    for name, rules in (("old.yaml", True), ("new.yaml", False)):
        extract = (
            f"extract: {{rules: {tmp_path / 'rules.yaml'}, rates: {tmp_path / 'rates.yaml'}}}\n"
            if rules
            else ""
        )
        (tmp_path / name).write_text(
            f"articles: {{folder: {posts}}}\n"
            f'state: {{url: "{store_url}"}}\n'
            f"feeds: {{folder: {tmp_path / 'feeds'}}}\n" + extract,
            encoding="utf-8",
        )
    return tmp_path


def pipeline(site: Path, name: str, store: Store) -> Pipeline:
    config = load_config(site / name, {})
    return build_pipeline(config, store, load_pack(config))


def active_events(store: Store) -> dict[str, tuple[str, str]]:
    """uid → (type, article path) of every event in the feeds."""
    return {
        ev.uid: (ev.event.type, stored.article.path)
        for stored in store.published_articles()
        for ev in stored.events
    }


def outbox(store: Store) -> set[tuple[int, str, str]]:
    """(chat, event type, article path) of every outbox row."""
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT o.chat_id, e.type, a.path FROM outbox o JOIN events e ON e.id = o.event_id "
            "JOIN articles a ON a.id = e.article_id"
        ).all()
    return {(int(r[0]), str(r[1]), str(r[2])) for r in rows}


def first_run(site: Path, store: Store) -> dict[str, tuple[str, str]]:
    """Scan with the old rules while chat 1 listens; its alerts all go out."""
    store.add_subscription(1, None, "")
    old = pipeline(site, "old.yaml", store)
    old.scan()
    old.write_feeds()
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE outbox SET status = 'sent', message_id = 1")
    before = active_events(store)
    assert ("compensation", SAMPLE.name) not in before.values()
    assert ("acquisition", "deal.md") in before.values()
    return before


def test_reprocess_finds_new_events_keeps_ids_and_alerts_nobody(site: Path, store_url: str) -> None:
    store = Store(store_url)
    before = first_run(site, store)
    alerts = outbox(store)

    report = reprocess(pipeline(site, "new.yaml", store))

    after = active_events(store)
    assert ("compensation", SAMPLE.name) in after.values()  # found by the new rules
    unchanged = {uid for uid, what in before.items() if what[0] == "talent_move"}
    assert unchanged and unchanged <= after.keys()  # same event, same feed id
    assert report.new_events >= 2 and report.changed == 2 and report.failed == 0
    assert report.dropped_events >= 1  # the acquisition valued at the old euro rate
    assert outbox(store) == alerts  # nobody alerted again, nothing new queued

    feed = feedparser.parse((site / "feeds" / "events.atom").read_bytes())
    ids = " ".join(entry.id for entry in feed.entries)
    assert all(uid in ids for uid in unchanged)
    assert any("compensation" in entry.title or "薪" in entry.title for entry in feed.entries)

    again = reprocess(pipeline(site, "new.yaml", store))
    assert again.changed == 0 and again.new_events == 0  # idempotent
    store.close()


def test_reprocess_alert_tells_only_who_has_not_heard(site: Path, store_url: str) -> None:
    store = Store(store_url)
    first_run(site, store)
    store.add_subscription(2, None, "")  # subscribed after the first run

    report = reprocess(pipeline(site, "new.yaml", store), alert=True)

    queued = {row for row in outbox(store) if row[0] == 2 or row[2] == SAMPLE.name}
    # Chat 1 already heard of the acquisition (valued differently then): not again.
    assert (1, "acquisition", "deal.md") in outbox(store)
    assert sum(1 for row in outbox(store) if row[:2] == (1, "acquisition")) == 1
    # New events go to both chats; known events (talent_move) to nobody new.
    assert (1, "compensation", SAMPLE.name) in queued
    assert (2, "compensation", SAMPLE.name) in queued
    assert (2, "acquisition", "deal.md") in queued
    assert (2, "talent_move", SAMPLE.name) not in queued
    assert report.queued == len([r for r in outbox(store) if r[0] == 2]) + 1
    store.close()


def test_reprocess_command_since_limits_the_articles(
    site: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(store_url)
    first_run(site, store)
    store.close()
    assert main(["reprocess", "--config", str(site / "new.yaml"), "--since", "2030-01-01"]) == 0
    assert "articles=0 " in capsys.readouterr().out
    assert main(["reprocess", "--config", str(site / "new.yaml"), "--since", "2025-01-01"]) == 0
    assert "articles=2 changed=2 " in capsys.readouterr().out
