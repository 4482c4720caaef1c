"""Hostile requests to the HTTP server (issue 15): query strings that must never give a 500,
idle and half-sent connections, bounded work and memory per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_web import Server, _serve

from bot.web import parse_query

KEYS = ["limit", "type", "actor", "q", "script", "x"]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async for running in _serve(tmp_path):
        yield running


@pytest.mark.parametrize("value", ["²", "٣", "１", "+1", " 1", "1_0", "0", "-1", "9" * 5000])
def test_limit_takes_only_ascii_digits(value: str) -> None:
    assert isinstance(parse_query({"limit": value}), str), value


def test_a_large_limit_asks_for_the_most() -> None:
    query = parse_query({"limit": "000123456789"[:9]})
    assert not isinstance(query, str) and query.limit == 123456


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(["/feeds/events.atom", "/feeds/articles.json", "/feeds/nope.rss"]),
    pairs=st.lists(st.tuples(st.sampled_from(KEYS), st.text(max_size=40)), max_size=4),
)
@example(path="/feeds/events.atom", pairs=[("limit", "²")])
@example(path="/feeds/events.atom", pairs=[("limit", "9" * 5000)])
@example(path="/feeds/events.atom", pairs=[("q", "\x00\ud800")])
async def test_no_query_string_gives_a_server_error(
    server: Server, path: str, pairs: list[tuple[str, str]]
) -> None:
    query = "&".join(f"{quote(k)}={quote(v, safe='', errors='surrogatepass')}" for k, v in pairs)
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"{server.url}{path}?{query}") as response,
    ):
        assert response.status < 500, (query, await response.text())
        if response.status == 400:
            assert (await response.text()).strip(), "a 400 says what is wrong"
