"""Shared fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakebot import FakeBotApi

from bot.app import build_pipeline, load_pack
from bot.config import parse_config
from bot.pipeline import Pipeline
from bot.store import Store


@pytest.fixture
async def fake_bot(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBotApi]:
    """A fake Bot API server on 127.0.0.1; point PTB at `fake_bot.base_url`."""
    # Without it PTB warns (PTBDeprecationWarning, an error here) whenever it builds RetryAfter.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with FakeBotApi(hold_seconds=10.0) as fake:
        yield fake


def make_pipeline(tmp_path: Path, folder: Path, max_entries: int = 50) -> Pipeline:
    """A real pipeline over `folder`: SQLite and feeds in tmp_path, the packaged rule pack."""
    config = parse_config(
        f"articles: {{folder: {folder}}}\n"
        f"state: {{url: 'sqlite:///{tmp_path / 'db.sqlite'}'}}\n"
        f"feeds: {{folder: {tmp_path / 'feeds'}, max_entries: {max_entries}}}\n"
        "site: {base_url: 'https://blog.example.org/', timezone: Asia/Shanghai}\n",
        {},
    )
    return build_pipeline(config, Store(config.state.url), load_pack(config))
