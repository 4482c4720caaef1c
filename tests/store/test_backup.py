"""`eventfeed export` / `import`: chats, subscriptions and settings survive a move between
databases (SQLite ↔ PostgreSQL) unchanged, and a bad backup changes nothing."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.cli.backup import VERSION, dumps, export_document, import_document, parse_backup
from bot.cli.main import main
from bot.store import BackupError, Store

SAMPLE = Path(__file__).resolve().parent.parent / "data/articles/000_4fbda6de1bb3b082.txt"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The commands set up logging for a process; give the next test the root logger back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def populate(store: Store) -> None:
    store.upsert_chat(-1001234567890, "supergroup", "Forum «新闻»", "zh-Hans")
    store.add_subscription(-1001234567890, 7, "acquisition Microsoft")
    store.add_subscription(-1001234567890, None, "-funding 扎克伯格")
    store.upsert_chat(42, "private", None, "en")
    store.add_subscription(42, None, "")
    store.update_settings(42, None, mode="digest", digest_at="08:30", timezone="Asia/Taipei")
    store.update_settings(-1001234567890, 7, quiet="22:00-07:00", language="zh-Hant")
    store.upsert_chat(99, "group", "gone group", None)
    store.add_subscription(99, None, "talent_move")
    store.deactivate_chat(99)
    store.set_delivery_paused(True)


def contents(store: Store) -> dict[str, Any]:
    """The backup minus its timestamp: what must survive a round trip."""
    document = export_document(store, NOW)
    return json.loads(dumps(document))


def sqlite_url(tmp_path: Path, name: str) -> str:
    return f"sqlite:///{tmp_path / name}"


@pytest.mark.parametrize("target", ["sqlite", "postgres"])
def test_round_trip_keeps_chats_subscriptions_and_settings(
    tmp_path: Path, target: str, request: pytest.FixtureRequest
) -> None:
    source = Store(sqlite_url(tmp_path, "old.db"))
    populate(source)
    before = contents(source)
    source.close()
    assert len(before["chats"]) == 3
    assert before["version"] == VERSION

    url = sqlite_url(tmp_path, "new.db") if target == "sqlite" else request.getfixturevalue(
        "postgres_url"
    )  # fmt: skip
    moved = Store(url)
    try:
        assert import_document(moved, parse_backup(dumps(before))) == 3
        after = contents(moved)
        assert after == before
        assert moved.subscriptions(-1001234567890, 7) == ["acquisition Microsoft"]
        assert moved.chat_settings(42, None).mode == "digest"
        assert moved.delivery_paused()
        assert {s.chat_id for s in moved.active_subscriptions()} == {-1001234567890, 42}

        # Back again (PostgreSQL → SQLite, or SQLite → SQLite): still the same.
        back = Store(sqlite_url(tmp_path, "back.db"))
        import_document(back, parse_backup(dumps(after)))
        assert contents(back) == before
        back.close()

        # Importing twice replaces, never duplicates.
        import_document(moved, parse_backup(dumps(before)))
        assert contents(moved) == before
    finally:
        moved.close()


def test_bad_backup_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    store = Store(sqlite_url(tmp_path, "db.db"))
    populate(store)
    before = contents(store)
    broken = json.loads(dumps(before))
    broken["chats"].append({"id": 5, "kind": "private", "created": "not a date"})
    with pytest.raises(BackupError, match="chat #4"):
        import_document(store, parse_backup(json.dumps(broken)))
    assert contents(store) == before
    with pytest.raises(BackupError, match="version 99"):
        parse_backup(json.dumps({**before, "version": 99}))
    with pytest.raises(BackupError, match="not an eventfeed backup"):
        parse_backup('{"chats": []}')
    store.close()


def test_cli_export_then_import_on_another_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_db, new_db = tmp_path / "old.db", tmp_path / "new.db"
    store = Store(f"sqlite:///{old_db}")
    populate(store)
    expected = contents(store)
    store.close()
    posts = tmp_path / "posts"
    posts.mkdir()
    shutil.copy(SAMPLE, posts / SAMPLE.name)
    config = tmp_path / "c.yaml"
    config.write_text(f"articles: {{folder: {posts}}}\nfeeds: {{folder: {tmp_path / 'feeds'}}}\n")
    backup = tmp_path / "backup.json"

    monkeypatch.setenv("EVENTFEED_STATE_URL", f"sqlite:///{old_db}")
    assert main(["export", "--config", str(config), str(backup)]) == 0
    monkeypatch.setenv("EVENTFEED_STATE_URL", f"sqlite:///{new_db}")
    assert main(["import", "--config", str(config), str(backup)]) == 0
    moved = Store(f"sqlite:///{new_db}")
    assert contents(moved) == expected
    # The silent first scan ran before the chats arrived: the old article alerts nobody.
    assert moved.counts()["articles"] == 1
    assert moved.outbox_counts() == {}
    moved.close()
