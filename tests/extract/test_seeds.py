"""The two sample articles the product was made from: their must-have events, and the shared
corpus score when ../shared is present."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli.rulefiles import default_documents
from bot.core.articles import parse_article
from bot.core.model import Article, Event
from bot.extract import RulePack, extract, load_rule_pack

SEEDS = Path(__file__).parent.parent / "data" / "extract" / "seeds"
SHARED = Path(__file__).resolve().parent.parents[1] / ".." / "shared"
MTIME = datetime(2025, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return load_rule_pack(*default_documents())


def seed(name: str) -> Article:
    (path,) = SEEDS.glob(f"{name}_*.txt")
    return parse_article(path.read_bytes(), path.name, MTIME, UTC)


def of_type(events: tuple[Event, ...], kind: str, *actors: str) -> list[Event]:
    return [e for e in events if e.type == kind and all(a in e.actors for a in actors)]


def test_first_seed_poaching_and_signing_bonus(pack: RulePack) -> None:
    events = extract(seed("000"), pack).events
    assert of_type(events, "talent_move", "Meta", "OpenAI")
    (bonus,) = of_type(events, "compensation")
    assert bonus.amount is not None and bonus.amount.usd == 100_000_000
    assert bonus.amount.approximate  # "高达": up to
    assert bonus.date == "2025-06-17"
    # The Scale AI stake is background ("包括…"), not a headline event.
    assert not of_type(events, "acquisition")
    moves = of_type(events, "talent_move")
    assert {"Lucas Beyer", "Alexander Kolesnikov", "Xiaohua Zhai"} <= set(moves[0].actors)


def test_second_seed_garbled_traditional_repost(pack: RulePack) -> None:
    extraction = extract(seed("003"), pack)
    events = extraction.events
    assert of_type(events, "talent_move", "Meta", "OpenAI")
    amounts = {e.amount.usd for e in of_type(events, "compensation") if e.amount}
    assert 100_000_000 in amounts
    assert "扎克伯格" in extraction.summary or "畢樹超" in extraction.summary


def test_summaries_are_short_and_quote_the_article(pack: RulePack) -> None:
    for name in ("000", "003"):
        article = seed(name)
        extraction = extract(article, pack)
        assert 20 <= len(extraction.summary) <= 400
        for event in extraction.events:
            assert len(event.summary) <= 62
            assert event.evidence in article.text or event.evidence in article.title
            core = event.summary.rstrip("。…")
            assert core.lstrip("…")[:10] in article.text + article.title


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=st.text(max_size=80),
    body=st.text(
        st.characters(codec="utf-8")
        | st.sampled_from(list("亿美元$€£ 扎克伯格收购融资。，\n?·（）")),
        max_size=3000,
    ),
)
def test_any_text_yields_an_extraction_quickly(title: str, body: str) -> None:
    pack = PACK
    article = Article("x.txt", title, body, "zh-Hans", MTIME, "text", "x")
    started = time.perf_counter()
    extraction = extract(article, pack)
    assert time.perf_counter() - started < 1.0
    assert isinstance(extraction.summary, str)
    assert len(extraction.events) <= 4
    for event in extraction.events:
        assert event.type in pack.event_types and event.actors


PACK = load_rule_pack(*default_documents())


@pytest.mark.skipif(
    not (SHARED / "corpus" / "gold.yaml").is_file(), reason="../shared/corpus absent"
)
def test_shared_corpus_score(tmp_path: Path) -> None:
    pack = load_rule_pack(*default_documents())
    out = tmp_path / "out.jsonl"
    paths = sorted((SHARED / "corpus" / "articles").iterdir()) + sorted(
        (SHARED / "seeds").iterdir()
    )
    with out.open("w", encoding="utf-8") as f:
        for path in paths:
            article = parse_article(path.read_bytes(), path.name, MTIME, UTC)
            events = extract(article, pack).events
            rows = [
                {
                    "type": e.type,
                    "actors": list(e.actors),
                    "amount_usd": e.amount.usd if e.amount else None,
                }
                for e in events
            ]
            f.write(json.dumps({"path": path.name, "events": rows}, ensure_ascii=False) + "\n")
    # Batch 1 was tuned on: it must stay where it is. Batch 2 (never tuned on) is the honest
    # estimate on unseen text; it must not fall below what issue 16 reached (docs/extraction.md),
    # nor its precision (a false alarm costs a subscriber more than a miss).
    for batch, least_p, least_f1, least_amounts in (
        ("1", 0.90, 0.85, 0.95),
        ("2", 0.85, 0.82, 0.92),
    ):
        last = _score(out, "--batch", batch)
        fields = dict(part.split("=") for part in last.split()[:4])
        assert float(fields["P"]) >= least_p, f"batch {batch}: {last}"
        assert float(fields["F1"]) >= least_f1, f"batch {batch}: {last}"
        assert float(fields["amount_acc"]) >= least_amounts, f"batch {batch}: {last}"


def _score(predictions: Path, *options: str) -> str:
    """The scorer's summary line for `predictions`."""
    scorer = SHARED / "tools" / "score_events.py"
    gold = SHARED / "corpus" / "gold.yaml"
    result = subprocess.run(
        [sys.executable, str(scorer), str(gold), str(predictions), *options],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]
