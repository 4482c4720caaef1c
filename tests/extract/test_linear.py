"""Extraction takes time (and memory) in proportion to the text: the shapes that once took
minutes (tests/data/bad/generate.py `slow_bodies`) take well under a second, and each
shortcut that made them linear finds exactly what the pattern or loop it replaced found."""

from __future__ import annotations

import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli.rulefiles import default_documents
from bot.core.articles import parse_article
from bot.extract import extract, load_rule_pack
from bot.extract.dates import _Spans
from bot.extract.entities import Mention, _ends_of, _Taken
from bot.extract.sentences import _unlink, _without_autolinks

sys.path.insert(0, str(Path(__file__).parent.parent / "data" / "bad"))
from generate import post, slow_bodies

PACK = load_rule_pack(*default_documents())
SIZE = 300_000  # characters: before, 25 s to hours (and 27 GB for 'Orion ' * n); now < 1 s


@pytest.mark.parametrize("name", sorted(slow_bodies(100)))
def test_a_slow_shape_is_parsed_and_analysed_in_linear_time(name: str) -> None:
    body = slow_bodies(SIZE)[name]
    for suffix, data in ((".md", post(f"Slow {name}", body=body)), (".txt", body.encode())):
        started = time.monotonic()
        article = parse_article(data, name + suffix, datetime(2025, 3, 2, tzinfo=UTC), UTC)
        extract(article, PACK)
        elapsed = time.monotonic() - started
        assert elapsed < 5.0, f"{name}{suffix}: {elapsed:.1f}s"  # a hang guard: ~0.5 s now


def test_a_long_run_of_names_has_few_short_forms() -> None:
    """Every head and tail of a run of n words costs n² characters: only the short ones."""
    forms = _ends_of("Orion " * 29_999 + "Orion")
    assert len(forms) <= 10 and max(map(len, forms)) < 40
    assert _ends_of("Mike Powell") == ("Mike", "Powell")
    assert _ends_of("Bank of America Merrill Lynch") == (
        "Bank",
        "Bank of",
        "Bank of America",
        "Bank of America Merrill",
        "of America Merrill Lynch",
        "America Merrill Lynch",
        "Merrill Lynch",
        "Lynch",
    )


_IMAGE_RE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")  # the patterns the shortcuts replace
_LINK_RE = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_AUTOLINK_RE = re.compile(r"<https?://[^>\s]*>")
markup = st.lists(
    st.sampled_from(["[", "]", "(", ")", "!", "![", "](", "\n", " ", "a", "<http://", "<https://", ">", "x.y"])
).map("".join)  # fmt: skip


@settings(max_examples=500)
@given(markup)
def test_links_are_removed_as_the_patterns_did(text: str) -> None:
    assert _unlink(text, "![") == _IMAGE_RE.sub(" ", text)
    assert _unlink(text, "[") == _LINK_RE.sub(r"\1", text)
    assert _without_autolinks(text) == _AUTOLINK_RE.sub(" ", text)


spans = st.lists(st.tuples(st.integers(0, 60), st.integers(1, 8)), max_size=30)


@settings(max_examples=300)
@given(spans, spans)
def test_overlaps_are_found_as_a_pass_over_every_span_finds_them(
    taken: list[tuple[int, int]], asked: list[tuple[int, int]]
) -> None:
    """Mentions may overlap one another; dates are taken only when they overlap none."""
    mentions = [Mention(start, start + size, "x", "org", False) for start, size in taken]
    index = _Taken(mentions)
    dates, kept = _Spans(), []
    for start, size in taken:
        overlapping = any(start < e and s < start + size for s, e in kept)
        assert dates.overlaps(start, start + size) == overlapping
        if not overlapping:
            kept.append((start, start + size))
            dates.add(start, start + size)
    for start, size in asked:
        m = Mention(start, start + size, "y", "org", False)
        assert index.overlaps(m) == any(m.start < o.end and o.start < m.end for o in mentions)
        assert dates.overlaps(start, start + size) == any(
            start < e and s < start + size for s, e in kept
        )
