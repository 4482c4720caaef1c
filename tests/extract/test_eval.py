"""`eventfeed eval`: the scoring rules of the shared corpus's scorer, the command on an
invented gold file (tests/data/eval), and agreement with score_events.py on the shared corpus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.core.model import Amount, Event
from bot.extract.scoring import (
    GoldError,
    amount_class,
    error_lines,
    errors,
    read_gold,
    score,
)

ROOT = Path(__file__).resolve().parent.parents[1]
DATA = ROOT / "tests" / "data" / "eval"
SHARED = ROOT / ".." / "shared"


def _event(type_: str, *actors: str, usd: float | None = None, date: str | None = None) -> Event:
    amount = None if usd is None else Amount(usd, "USD", usd, f"${usd:,.0f}")
    return Event(type=type_, actors=actors, summary="", evidence="", amount=amount, date=date)


GOLD = {
    "articles": [
        {
            "file": "posts/a.md",
            "lang": "en",
            "events": [
                {"type": "acquisition", "actors": ["Microsoft|微软", "Skype"], "amount_usd": 8.5e9},
                {"type": "funding", "alt_types": ["other"], "actors": ["Acme"]},
            ],
        },
        {
            "file": "b.md",
            "batch": 2,
            "lang": "zh-Hant",
            "events": [{"type": "talent_move", "actors": ["太極實業", "A", "B"]}],
        },
    ]
}


def test_matching_rules() -> None:
    gold = read_gold(GOLD)
    assert [g.name for g in gold] == ["a.md", "b.md"]
    predicted = {
        "a.md": [
            _event("acquisition", "微軟公司", usd=8.0e9),  # half the actors, contained, t2s; 6% off
            _event("other", "ACME"),  # an accepted type
            _event("acquisition", "Microsoft", "Skype"),  # both gold events already taken
        ],
        "b.md": [_event("talent_move", "太极实业", "C")],  # 1 of 3 actors: not half
    }
    report = score(gold, predicted)
    assert report.lines(by_lang=True) == [
        "  en: P=0.667 R=1.000 F1=0.800 amount_acc=0.000 (gold=2 predicted=3)",
        "  zh-Hant: P=0.000 R=0.000 F1=0.000 amount_acc=1.000 (gold=1 predicted=1)",
        "P=0.500 R=0.667 F1=0.571 amount_acc=0.000 (articles=2 gold=3 predicted=4 matched=2)",
    ]
    predicted["a.md"][0] = _event("acquisition", "Skype", usd=8.7e9)  # within 5%
    assert score(gold, predicted).total.amount_accuracy == 1.0


def test_short_names_do_not_match_by_containment() -> None:
    gold = read_gold({"x.md": [{"type": "other", "actors": ["AB"]}]})  # the plain layout
    assert score(gold, {"x.md": [_event("other", "ABC")]}).total.matched == 0
    assert score(gold, {"x.md": [_event("other", "a.b")]}).total.matched == 1


def test_batch_and_missing_predictions() -> None:
    gold = read_gold(GOLD, batch="2")
    report = score(gold, {})
    assert report.missing == ["b.md"]
    assert report.lines()[0] == "no prediction for 1 article(s): b.md"
    assert report.lines()[-1].endswith("(articles=1 gold=1 predicted=0 matched=0)")


def test_bad_gold_is_an_error_not_a_crash() -> None:
    with pytest.raises(GoldError, match="amount_usd"):
        read_gold({"articles": [{"file": "a.md", "events": [{"amount_usd": "lots"}]}]})
    with pytest.raises(GoldError):
        read_gold(["a.md"])


ERRORS_GOLD = {
    "articles": [
        {
            "file": "x.md",
            "lang": "en",
            "events": [
                {"type": "acquisition", "actors": ["Contoso", "Fabrikam"], "amount_usd": 2e9},
                {"type": "funding", "actors": ["Tailspin"]},
                {"type": "talent_move", "actors": ["Jane Roe", "Northwind"]},
                {"type": "partnership", "actors": ["Litware", "Proseware"]},
                {"type": "legal_regulatory", "actors": ["Woodgrove"], "amount_usd": 5e6},
            ],
        },
        {
            "file": "y.md",
            "lang": "zh-Hans",
            "events": [{"type": "funding", "actors": ["星河智能"], "amount_usd": 1.4e8}],
        },
    ]
}


def test_errors_by_class() -> None:
    """One invented case per class: each unmatched gold event is missed for one reason, each
    unmatched prediction is a false alarm for one, each wrong amount of one kind."""
    gold = read_gold(ERRORS_GOLD)
    predicted = {
        "x.md": [
            _event("acquisition", "Contoso", "Fabrikam", usd=2e8, date="2026-03"),  # ×10ⁿ
            _event("acquisition", "Contoso", "Fabrikam"),  # the same event again: duplicate
            _event("product_launch", "Tailspin"),  # funding's actor, another type: both "type"
            _event("talent_move", "Northwind"),  # 1 of 2 actors is half: matched
            _event("partnership", "Litware", "Adatum"),  # 1 of 2: half, matched
            _event("legal_regulatory", "Woodgrove", usd=40.0),  # per-unit
            _event("market_move", "Adatum"),  # nothing of the gold: extra
        ],
        "y.md": [
            _event("funding", "星河智能", usd=1.4e7),  # ×10ⁿ (万 read as 十万)
            _event("funding", "天河"),  # the type, not the actor: false alarm, actors
        ],
    }
    by_lang = errors(gold, predicted)
    counts = by_lang["all"].counts
    assert counts == {
        "amount, ×10ⁿ": 2,
        "amount, per-unit": 1,
        "false alarm, duplicate": 1,
        "false alarm, type": 1,
        "false alarm, actors": 1,
        "false alarm, extra": 1,
        "missed, type": 1,
    }
    assert by_lang["zh-Hans"].counts == {"amount, ×10ⁿ": 1, "false alarm, actors": 1}
    assert (by_lang["all"].dated, by_lang["all"].undated) == (1, 8)
    # The misses that are left: the actors (the type is there) and the selection (nothing).
    gold2 = read_gold({"z.md": [{"type": "funding", "actors": ["Tailspin", "Adatum"]}]})
    assert errors(gold2, {"z.md": [_event("funding", "Contoso")]})["all"].counts == {
        "missed, actors": 1,
        "false alarm, actors": 1,
    }
    assert errors(gold2, {})["all"].counts == {"missed, selection": 1}
    lines = error_lines(by_lang, langs=True)
    assert lines[0].split() == ["errors", "by", "class", "all", "en", "zh-Hans"]
    assert "  missed, type" in lines[1] and lines[1].split()[-3:] == ["1", "1", "0"]
    assert "  x.md: funding ['Tailspin']" in lines  # an example under "missed, type"


def test_amount_classes() -> None:
    assert amount_class(1e9, 1.02e9) is None  # within 5%
    assert amount_class(1e9, None) == "amount, none"
    assert amount_class(1e9, 1e8) == amount_class(1e9, 1e10) == "amount, ×10ⁿ"
    # "1 亿美元" read as yuan: the figure as written is the gold, its conversion is not.
    assert amount_class(1e8, 1.4e7, value=1e8) == "amount, currency"
    assert amount_class(3e9, 54.0) == "amount, per-unit"  # a per-share price
    assert amount_class(3e9, 1.2e9) == "amount, other figure"


def eventfeed(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EVENTFEED_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
        cwd=cwd,
    )


def _extracted(*paths: Path) -> list[dict[str, object]]:
    out = eventfeed("extract", *map(str, paths))
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_eval_command_on_invented_gold(tmp_path: Path) -> None:
    articles = sorted((DATA / "articles").iterdir())
    predicted = sum(len(r["events"]) for r in _extracted(*articles))  # type: ignore[arg-type]
    out = eventfeed("eval", str(DATA / "gold.yaml"), "--by-lang", "--verbose")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    # The clear takeover (both actors, $2.4bn) is found; the invented talent move is not.
    assert "  missed talent_move ['Fabrikam']" in lines
    assert not any(line.startswith("  missed acquisition") for line in lines)
    assert any(line.startswith("  en: ") and "amount_acc=1.000" in line for line in lines)
    assert any(line.startswith("  zh-Hans: ") for line in lines)
    assert lines[-1].startswith("P=")
    assert f"(articles=2 gold=3 predicted={predicted} matched=" in lines[-1]

    # --errors adds the table after the same lines.
    with_errors = eventfeed("eval", str(DATA / "gold.yaml"), "--by-lang", "--verbose", "--errors")
    extra = with_errors.stdout.splitlines()
    assert extra[: len(lines)] == lines
    assert extra[len(lines)].split() == ["errors", "by", "class", "all", "en", "zh-Hans"]
    assert any(line.startswith("  missed, selection") for line in extra)

    batch = eventfeed("eval", str(DATA / "gold.yaml"), "--batch", "2")
    assert "(articles=1 gold=1 " in batch.stdout.splitlines()[-1]

    # The files elsewhere: an explicit folder; a file in no folder is reported, not skipped.
    gold = tmp_path / "labels" / "gold.yaml"
    gold.parent.mkdir()
    shutil.copy(DATA / "gold.yaml", gold)
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(articles[0], folder)
    out = eventfeed("eval", str(gold), str(folder))
    assert out.returncode == 1
    assert "星河智能完成融资.md: not found" in out.stderr
    assert "no prediction for 1 article(s): 星河智能完成融资.md" in out.stdout


def test_eval_reads_the_users_rule_files(tmp_path: Path) -> None:
    """A user who names the companies in aliases.yaml sees the effect in the score."""
    aliases = yaml.safe_load((ROOT / "bot" / "defaults" / "aliases.yaml").read_text("utf-8"))
    aliases["organisations"] |= {"Xinghe Intelligence": ["星河智能"], "Bluebay": ["蓝湾资本"]}
    (tmp_path / "aliases.yaml").write_text(yaml.safe_dump(aliases, allow_unicode=True), "utf-8")
    config = tmp_path / "eventfeed.yaml"
    config.write_text(f"extract:\n  aliases: {tmp_path / 'aliases.yaml'}\n", encoding="utf-8")
    out = eventfeed("eval", str(DATA / "gold.yaml"), "--batch", "2", "--config", str(config))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == (
        "P=1.000 R=1.000 F1=1.000 amount_acc=1.000 (articles=1 gold=1 predicted=1 matched=1)"
    )

    config.write_text(f"extract:\n  aliases: {tmp_path / 'none.yaml'}\n", encoding="utf-8")
    out = eventfeed("eval", str(DATA / "gold.yaml"), "--config", str(config))
    assert out.returncode == 2
    assert "none.yaml" in out.stderr


@pytest.mark.skipif(
    not (SHARED / "corpus" / "gold.yaml").is_file(), reason="../shared/corpus absent"
)
def test_eval_agrees_with_the_shared_scorer(tmp_path: Path) -> None:
    corpus = SHARED / "corpus"
    paths = sorted((corpus / "articles").iterdir()) + sorted((SHARED / "seeds").iterdir())
    predictions = tmp_path / "out.jsonl"
    out = eventfeed("extract", "--format", "jsonl", *map(str, paths))
    predictions.write_text(out.stdout, encoding="utf-8")
    for options in ((), ("--batch", "2")):
        scorer = subprocess.run(
            [
                sys.executable,
                str(SHARED / "tools" / "score_events.py"),
                str(corpus / "gold.yaml"),
                str(predictions),
                "--by-lang",
                *options,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        ours = eventfeed("eval", str(corpus / "gold.yaml"), "--by-lang", *options)
        assert ours.returncode == 0, ours.stderr
        assert ours.stdout.splitlines() == scorer.stdout.splitlines()
