"""Data-driven extraction: every article in tests/data/extract/cases beside its expected
events (NAME.events.yaml), parsed by the real article parser and extracted with the
shipped rule pack."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli.rulefiles import default_documents
from bot.core.articles import parse_article
from bot.core.model import Event
from bot.extract import RulePack, extract, load_rule_pack

CASES = Path(__file__).parent.parent / "data" / "extract" / "cases"
SUFFIX = ".events.yaml"
TZ = UTC


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return load_rule_pack(*default_documents())


def case_names() -> list[str]:
    return sorted(p.name.removesuffix(SUFFIX) for p in CASES.glob(f"*{SUFFIX}"))


def article_file(name: str) -> Path:
    (path,) = (p for p in CASES.glob(f"{name}.*") if not p.name.endswith(SUFFIX))
    return path


def test_every_case_has_an_article() -> None:
    assert case_names()
    for name in case_names():
        assert article_file(name).is_file()


def matches(expected: dict[str, Any], event: Event) -> bool:
    if event.type != expected["type"]:
        return False
    for actor in expected.get("actors", []):
        if not any(alt in event.actors for alt in str(actor).split("|")):
            return False
    return True


@pytest.mark.parametrize("name", case_names())
def test_case(name: str, pack: RulePack) -> None:
    spec = yaml.safe_load((CASES / f"{name}{SUFFIX}").read_text(encoding="utf-8"))
    published = spec.get("published", datetime(2025, 1, 1, tzinfo=UTC))
    path = article_file(name)
    article = parse_article(path.read_bytes(), path.name, published, TZ)
    if "published" in spec:
        # The case's publication date, as front matter or a dated file name would give it: a
        # plain-text file's time alone dates no event ("on Tuesday" resolves against nothing).
        article = dataclasses.replace(article, undated=False)
    extraction = extract(article, pack)
    events = extraction.events
    described = "\n".join(f"  {e.type} {e.actors} {e.amount} {e.date}" for e in events)
    assert extraction.summary, "every article gets a summary"
    for expected in spec["events"]:
        found = [e for e in events if matches(expected, e)]
        assert found, f"{name}: no {expected['type']} {expected.get('actors')} in\n{described}"
        event = found[0]
        if "amount_usd" in expected:
            if expected["amount_usd"] is None:
                assert event.amount is None, f"{name}: {event.amount} should not be attached"
            else:
                assert event.amount is not None and event.amount.usd is not None
                assert event.amount.usd == pytest.approx(expected["amount_usd"], rel=0.01)
        if "date" in expected:
            assert event.date == str(expected["date"])
        for key, value in (expected.get("extra") or {}).items():
            assert (key, str(value)) in event.extra
        assert event.summary and event.evidence
    for forbidden in spec.get("forbid", []):
        assert forbidden not in {e.type for e in events}, f"{name}: {forbidden} in\n{described}"
    assert 1 <= len(events) <= spec.get("max_events", 4), described
