"""Shared fixtures."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from support.fakebot import FakeBotApi

from bot.cli.config import load_pack
from bot.core.config import parse_config
from bot.runtime.pipeline import Pipeline, build_pipeline
from bot.store import Store

# The test PostgreSQL server (.ci/run starts it); each test gets a fresh schema in it.
POSTGRES = os.environ.get(
    "EVENTFEED_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
async def fake_bot(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBotApi]:
    """A fake Bot API server on 127.0.0.1; point PTB at `fake_bot.base_url`."""
    # Without it PTB warns (PTBDeprecationWarning, an error here) whenever it builds RetryAfter.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with FakeBotApi(hold_seconds=10.0) as fake:
        yield fake


def make_pipeline(
    tmp_path: Path,
    folder: Path,
    max_entries: int = 50,
    url: str | None = None,
    allow_empty_folder: bool = False,
) -> Pipeline:
    """A real pipeline over `folder`: the database at `url` (SQLite in tmp_path by default),
    feeds in tmp_path, the packaged rule pack."""
    url = url or f"sqlite:///{tmp_path / 'db.sqlite'}"
    config = parse_config(
        f"articles: {{folder: {folder}}}\n"
        f"state: {{url: '{url}'}}\n"
        f"feeds: {{folder: {tmp_path / 'feeds'}, max_entries: {max_entries}}}\n"
        "site: {base_url: 'https://blog.example.org/', timezone: Asia/Shanghai}\n"
        f"scan: {{allow_empty_folder: {str(allow_empty_folder).lower()}}}\n",
        {},
    )
    return build_pipeline(config, Store(config.state.url), load_pack(config))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL database, dropped afterwards.

    Skipped, with the reason shown in the summary, only where no server can be reached.
    """
    engine = create_engine(POSTGRES)
    try:
        conn = engine.connect()
    except OperationalError as exc:
        engine.dispose()
        pytest.skip(f"no PostgreSQL server reachable at {POSTGRES}: {exc.orig}")
    schema = f"eventfeed_test_{uuid.uuid4().hex[:12]}"
    with conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        conn.commit()
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            conn.commit()
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The state database URL, once per backend: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))
