"""The benchmarks' misses sorted into the error classes of `eventfeed eval --errors`.

usage: .venv/bin/python tools/error_classes.py [duee-fin] [reuters-acq] [--eventfeed PATH]
       [--limit N] [--benchmarks DIR]

Runs `../shared/benchmarks/score_external.py SET EVENTFEED --verbose` and sorts each
document's matched, missed and extra events into the classes of `bot.extract.scoring`.
Prints counts only: the benchmarks are for measurement, so nothing of their documents (names,
titles, figures) is printed or written anywhere. The scorers do not match as `eval` does, so
some classes mean a little else there (said in the output):
- DuEE-Fin pairs gold and predicted events by type alone; "missed, actors" there is a pair
  whose prediction names fewer than half the gold actors (what lowers actor recall), and an
  unmatched prediction of a gold type is a "duplicate" (the pairing took every gold event of
  that type already).
- Reuters has one acquisition per document: "missed" is a document without a predicted
  acquisition (type: another event names its purchaser or acquired), "missed, actors" one whose
  acquisition names fewer than half of them; the other events are not scored, so the false
  alarms are for information.
Actors compare as in `eval` (NFKC, case, punctuation, script folded; containment), not with the
scorers' suffix stripping: a handful of borderline cases may land in a neighbouring class.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bot.extract.scoring import ERROR_CLASSES, GoldEvent, amount_class, names_enough

ROOT = Path(__file__).resolve().parents[1]

_MATCHED_RE = re.compile(r"^  matched \S+->(\S+): actors (\d+)/(\d+)(.*)$")
_MISSED_RE = re.compile(r"^  MISSED (\S+)->(\S+) actors (\[.*\])$")
_EXTRA_RE = re.compile(r"^  EXTRA  (\S+) actors (\[.*\]) amount_usd (\S+)$")
_AMOUNT_RE = re.compile(r" amount (ok|WRONG) \(gold (.*), predicted (\S+)\)$")
_PREDICTED_RE = re.compile(r"(\w+) (\[.*?\]) (None|[-+\d.e]+)(?:; |$)")
_NUMBER_RE = re.compile(r"([\d][\d,]*(?:\.\d+)?)\s*(mln|million|bln|billion|billn|thous\w*)?", re.I)
_SCALE = {"mln": 1e6, "million": 1e6, "bln": 1e9, "billion": 1e9, "billn": 1e9}


def _names(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _usd(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _gold_event(type_: str, actors: list[str]) -> GoldEvent:
    return GoldEvent(type_, (), tuple((a,) for a in actors), None)


def _amount(counts: Counter[str], gold: list[float], predicted: float | None) -> None:
    """A WRONG amount's class, against the gold figure it is nearest to."""
    if not gold:
        counts["amount, other figure"] += 1
        return
    if predicted is None or predicted <= 0:
        best = gold[0]
    else:
        best = min(gold, key=lambda g: abs(predicted / g - 1) if g else float("inf"))
    counts[amount_class(best, predicted) or "amount, other figure"] += 1


def _ranges(text: str) -> list[float]:
    """The scorer's "1,000 / 2,000-3,000": a middle per range."""
    out: list[float] = []
    for part in text.split(" / "):
        try:
            bounds = [float(b.replace(",", "")) for b in part.split("-")]
        except ValueError:
            continue
        out.append(sum(bounds) / len(bounds))
    return out


def _dlramt(text: str) -> list[float]:
    """Reuters' DLRAMT as written ("12.2 mln dlrs")."""
    match = _NUMBER_RE.search(text)
    if not match:
        return []
    value = float(match.group(1).replace(",", ""))
    unit = (match.group(2) or "").lower()
    scale = 1e3 if unit.startswith("thous") else _SCALE.get(unit, 1.0)
    return [value * scale]


def run(name: str, eventfeed: str, limit: int | None, benchmarks: Path) -> list[str]:
    command = [sys.executable, str(benchmarks / "score_external.py"), name, eventfeed]
    command += ["--verbose", *(["--limit", str(limit)] if limit else [])]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.splitlines()


def _documents(lines: list[str]) -> list[list[str]]:
    """The per-document blocks of the verbose output (before the blank line)."""
    docs: list[list[str]] = []
    for line in lines:
        if not line.strip():
            break
        if line.startswith("["):
            docs.append([])
        elif docs:
            docs[-1].append(line)
    return docs


def duee(lines: list[str]) -> tuple[Counter[str], Counter[str], Counter[str]]:
    counts: Counter[str] = Counter()
    info: Counter[str] = Counter()
    confusion: Counter[str] = Counter()  # missed, type: gold type -> predicted type
    for doc in _documents(lines):
        matched_types: set[str] = set()
        known: list[tuple[str, list[str]]] = []  # predictions whose actors the output shows
        missed: list[GoldEvent] = []
        kinds: list[str] = []  # the DuEE-Fin event type of each missed one
        extras: list[tuple[str, list[str]]] = []
        for line in doc:
            if m := _MATCHED_RE.match(line):
                type_, hits, total, rest = m.group(1), int(m.group(2)), int(m.group(3)), m[4]
                matched_types.add(type_)
                info["matched"] += 1
                info["gold actors"] += total
                info["gold actors found"] += hits
                if total and hits < max(1, -(-total // 2)):
                    counts["missed, actors"] += 1
                amount = _AMOUNT_RE.search(rest)
                if amount:
                    rest = rest[: amount.start()]
                    info["amounts"] += 1
                    if amount.group(1) == "WRONG":
                        _amount(counts, _ranges(amount.group(2)), _usd(amount.group(3)))
                if " among [" in rest:
                    known.append((type_, _names(rest[rest.index(" among [") + 7 :])))
            elif m := _MISSED_RE.match(line):
                missed.append(_gold_event(m.group(2), _names(m.group(3))))
                kinds.append(m.group(1))
            elif m := _EXTRA_RE.match(line):
                extras.append((m.group(1), _names(m.group(2))))
        events = known + extras
        for gold, kind in zip(missed, kinds, strict=True):
            named = [t for t, actors in events if t != gold.type and names_enough(gold, actors)]
            if named:
                counts["missed, type"] += 1
                confusion[f"{kind}({gold.type})->{named[0]}"] += 1
            else:
                counts["missed, selection"] += 1
                info["selection misses of a paired type"] += gold.type in matched_types
        gold_types = matched_types | {g.type for g in missed}
        for type_, actors in extras:
            info["extra predictions"] += 1
            info["extra predictions in documents without gold"] += not gold_types
            if any(g.type != type_ and names_enough(g, actors) for g in missed):
                counts["false alarm, type"] += 1
            elif type_ in gold_types:
                counts["false alarm, duplicate"] += 1
            else:
                counts["false alarm, extra"] += 1
    return counts, info, confusion


def reuters(lines: list[str]) -> tuple[Counter[str], Counter[str], Counter[str]]:
    counts: Counter[str] = Counter()
    info: Counter[str] = Counter()
    confusion: Counter[str] = Counter()
    for doc in _documents(lines):
        if len(doc) < 2:
            continue
        events = [
            (m[1], _names(m[2])) for m in _PREDICTED_RE.finditer(doc[0][len("  predicted: ") :])
        ]
        slots: dict[str, list[tuple[bool, str]]] = {}
        gold_usd: list[float] = []
        verdict: tuple[str, float | None] | None = None
        for part in doc[1].strip().split(" | "):
            if amount := _AMOUNT_RE.search(" " + part):
                gold_usd = _dlramt(amount.group(2))
                verdict = (amount.group(1), _usd(amount.group(3)))
            elif " " in part:
                slot, names = part.split(" ", 1)
                slots[slot] = [(n[:1] == "+", n[1:]) for n in names.split("; ")]
        key = slots.get("purchaser", []) + slots.get("acquired", [])
        gold = _gold_event("acquisition", [n for _, n in key])
        acquisitions = [actors for t, actors in events if t == "acquisition"]
        info["documents"] += 1
        if not acquisitions:
            named = [t for t, actors in events if names_enough(gold, actors)]
            if named:
                counts["missed, type"] += 1
                confusion[f"acquisition->{named[0]}"] += 1
            else:
                counts["missed, selection"] += 1
        elif key and sum(hit for hit, _ in key) < max(1, -(-len(key) // 2)):
            counts["missed, actors"] += 1
        for slot in ("purchaser", "acquired"):
            info[f"{slot} names"] += len(slots.get(slot, []))
            info[f"{slot} names missed"] += sum(not hit for hit, _ in slots.get(slot, []))
        for type_, actors in events:
            if type_ == "acquisition":
                continue
            if key and names_enough(gold, actors):
                counts["false alarm, type"] += 1
            else:
                counts["false alarm, extra"] += 1
        if len(acquisitions) > 1:
            counts["false alarm, duplicate"] += len(acquisitions) - 1
        if verdict:
            info["amounts"] += 1
            if verdict[0] == "WRONG":
                _amount(counts, gold_usd, verdict[1])
    return counts, info, confusion


NOTES = {
    "duee-fin": "pairs by type: 'missed, actors' = a pair naming < half the gold actors; "
    "'duplicate' = another event of a paired type; no 'false alarm, actors'",
    "reuters-acq": "a document per acquisition: 'missed' = no acquisition predicted; "
    "false alarms are the unscored other events (type: naming the parties)",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("sets", nargs="*", default=["duee-fin", "reuters-acq"])
    parser.add_argument("--eventfeed", default=str(ROOT / ".venv" / "bin" / "eventfeed"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--benchmarks", type=Path, default=ROOT / ".." / "shared" / "benchmarks")
    args = parser.parse_args()
    for name in args.sets:
        lines = run(name, args.eventfeed, args.limit, args.benchmarks)
        counts, info, confusion = (duee if name == "duee-fin" else reuters)(lines)
        print(lines[-1])
        print(f"  ({NOTES[name]})")
        for cls in ERROR_CLASSES:
            print(f"  {cls:<24}{counts.get(cls, 0):>6}")
        print("  " + ", ".join(f"{k} {v}" for k, v in info.items()))
        shown = ", ".join(f"{k} {v}" for k, v in confusion.most_common(8))
        print(f"  missed, type, gold->predicted: {shown}")
        print("  dates: the benchmark gold has none; not scored")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
