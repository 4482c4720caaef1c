"""What bounds the analysis of one file: the first `extract.max_chars` characters of its text
are analysed (the article is stored and published whole, and the log says so), and the
daemon's worker processes stop a file after `extract.budget_seconds` with a recorded error.
A real pipeline over a real folder and SQLite file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import make_pipeline

from bot.core.config import ConfigError, parse_config
from bot.extract import analysed_part

sys.path.insert(0, str(Path(__file__).parent.parent / "data" / "bad"))
from generate import post, slow_bodies

FILLER = "The weather was mild and the meeting ran long, as meetings do.\n" * 60  # 3,780 chars
DEAL = "Orion Holdings agreed to acquire Quartz Systems for $12 million.\n"


def test_only_the_first_characters_are_analysed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / "early.md").write_bytes(post("Notes", body=DEAL + FILLER))
    (folder / "late.md").write_bytes(post("More notes", body=FILLER + DEAL))
    pipeline = make_pipeline(tmp_path, folder)
    pipeline.max_chars = 2_000
    try:
        caplog.set_level("INFO")
        assert pipeline.scan().new == 2
        stored = {s.article.path: s for s in pipeline.store.published_articles()}
        assert [e.event.type for e in stored["early.md"].events] == ["acquisition"]
        assert stored["late.md"].events == ()  # past the analysed part
        assert stored["late.md"].article.text.endswith(DEAL.strip())  # stored whole
        chars = len(stored["late.md"].article.text)
        assert f"article analysed in part path=late.md chars={chars} analysed=2000" in caplog.text
    finally:
        pipeline.store.close()


def test_the_analysed_part_ends_at_a_line_break() -> None:
    text = "a" * 900 + "\n" + "b" * 900
    assert analysed_part(text, 1_000) == "a" * 900
    assert analysed_part("c" * 3_000, 1_000) == "c" * 1_000  # no break in its second half
    assert analysed_part(text, 5_000) == text


def test_a_file_over_its_budget_is_recorded_and_the_scan_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    slow = slow_bodies(1_000_000)["weak-triggers-one-clause"]  # 1.5 s and more of analysis
    (folder / "slow.md").write_bytes(post("Slow", body=slow))
    (folder / "ordinary.md").write_bytes(post("Orion buys Quartz", body=DEAL))
    pipeline = make_pipeline(tmp_path, folder)
    pipeline.max_chars = None
    pipeline.budget = 0.3  # the daemon's way: worker processes
    try:
        report = pipeline.scan()
        assert (report.new, report.failed) == (1, 1)
        [(path, status, error)] = pipeline.store.article_errors()
        assert (path, status) == ("slow.md", "error")
        assert "longer than 0.3 s" in error
        [stored] = pipeline.store.published_articles()
        assert [e.event.type for e in stored.events] == ["acquisition"]
        again = pipeline.scan()  # not tried again until it changes
        assert (again.new, again.changed, again.failed) == (0, 0, 0)
        (folder / "slow.md").write_bytes(post("Slow no more", body=DEAL))
        assert pipeline.scan().failed == 0
        assert pipeline.store.article_errors() == []
    finally:
        pipeline.close()
        pipeline.store.close()


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("max_chars: 10", "'extract.max_chars' must be at least 1000"),
        ("budget_seconds: 0", "'extract.budget_seconds' must be more than 0"),
        ("budget_seconds: 7200", "'extract.budget_seconds' must be at most 3600"),
        ("budget_seconds: .nan", "'extract.budget_seconds': expected a finite number"),
        ("budget_seconds: .inf", "'extract.budget_seconds': expected a finite number"),
    ],
)
def test_the_limits_are_checked(setting: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_config(f"extract: {{{setting}}}\n", {})
    assert parse_config("", {}).extract.max_chars == 50_000
