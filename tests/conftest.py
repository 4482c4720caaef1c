"""Shared fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fakebot import FakeBotApi


@pytest.fixture
async def fake_bot(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBotApi]:
    """A fake Bot API server on 127.0.0.1; point PTB at `fake_bot.base_url`."""
    # Without it PTB warns (PTBDeprecationWarning, an error here) whenever it builds RetryAfter.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with FakeBotApi(hold_seconds=10.0) as fake:
        yield fake
