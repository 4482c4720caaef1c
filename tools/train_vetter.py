"""Train the headline-event vetter (rules.yaml `vetter:`) on the shared corpus gold.

usage: .venv/bin/python tools/train_vetter.py GOLD.yaml ARTICLES_DIR [SEEDS_DIR] [--write]

Every cluster the rules would emit (up to 5 an article) is a sample: its features are
`bot.extract.clusters.vet_features`, its label whether it matches a gold event (same type or
an alt type, at least half the gold actors: the rule of ../shared/tools/score_events.py). A
logistic regression (L2, Newton's method: the exact optimum, in a few steps) is fitted; its
worth is reported by 5-fold cross-validation by article (never on the articles it learned
from; an article and its traditional-script twin, `NAME.zh-Hant.md`, in the same fold),
beside the rules alone, for several per-rank thresholds (`vetter.threshold` in rules.yaml).
--write puts the weights fitted on all articles into bot/defaults/rules.yaml. Run by hand.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from opencc import OpenCC

from bot.cli.rulefiles import default_documents
from bot.core.articles import parse_article
from bot.extract import MAX_SENTENCES, load_rule_pack
from bot.extract.clusters import Cluster, build_events, vet
from bot.extract.rules import RulePack
from bot.extract.sentences import split_article

RULES = Path(__file__).resolve().parent.parent / "bot" / "defaults" / "rules.yaml"
FOLDS = 5
L2 = 1.0
# Bars to report: (first, second, third and later).
BARS = tuple(
    (first, t, max(t, third))
    for first in (0.0, 0.35)
    for third in (0.0, 0.7)
    for t in (0.3, 0.4, 0.5, 0.6)
)
_T2S = OpenCC("t2s")
_DROP = re.compile(r"[\s\W_]+")
_CJK = re.compile(r"[\u3400-\u9fff]")

Sample = tuple[str, dict[str, float], int]  # article, features, label


def norm(name: str) -> str:
    return _DROP.sub("", _T2S.convert(unicodedata.normalize("NFKC", name).lower()))


def same_actor(alts: list[str], predicted: str) -> bool:
    p = norm(predicted)
    for g in map(norm, alts):
        if not g or not p:
            continue
        short, long_ = sorted((g, p), key=len)
        if g == p or (len(short) >= (2 if _CJK.search(short) else 3) and short in long_):
            return True
    return False


def matches(gold: dict[str, Any], kind: str, actors: list[str]) -> bool:
    if kind not in {gold["type"], *(gold.get("alt_types") or [])}:
        return False
    wanted = [str(a).split("|") for a in gold.get("actors") or []]
    need = max(1, math.ceil(len(wanted) / 2)) if wanted else 0
    return sum(any(same_actor(alts, a) for a in actors) for alts in wanted) >= need


def samples(gold_path: Path, folders: list[Path], pack: RulePack) -> tuple[list[Sample], int]:
    """The traced clusters of every gold article, labelled; and the number of gold events."""
    data = yaml.safe_load(gold_path.read_text(encoding="utf-8"))
    out: list[Sample] = []
    n_gold = 0
    for entry in (data.get("seeds") or []) + (data.get("articles") or []):
        if not entry.get("file"):
            continue
        path = next(f / entry["file"] for f in folders if (f / entry["file"]).is_file())
        golds = list(entry.get("events") or [])
        n_gold += len(golds)
        mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        article = parse_article(path.read_bytes(), path.as_posix(), mtime, UTC)
        trace: list[tuple[Cluster, dict[str, float]]] = []
        sentences = split_article(article, pack.boilerplate)[:MAX_SENTENCES]
        build_events(article, sentences, pack, trace)
        for cl, features in trace:  # greedy, as the scorer: a gold event is matched once
            hit = next((g for g in golds if matches(g, cl.type, cl.actors())), None)
            if hit is not None:
                golds.remove(hit)
            out.append((entry["file"], features, int(hit is not None)))
    return out, n_gold


def fit(train: list[Sample]) -> dict[str, float]:
    """Logistic regression with an L2 penalty (not on the bias), by Newton's method."""
    names = sorted({k for _, f, _ in train for k in f})
    rows = [([f.get(k, 0.0) for k in names], y) for _, f, y in train]
    w = [0.0] * len(names)
    for _ in range(50):
        grad = [0.0 if k == "bias" else L2 * wk for k, wk in zip(names, w, strict=True)]
        hess = [[0.0] * len(names) for _ in names]
        for i, k in enumerate(names):
            hess[i][i] = 0.0 if k == "bias" else L2
        for x, y in rows:
            z = max(-30.0, min(30.0, sum(a * b for a, b in zip(w, x, strict=True))))
            p = 1.0 / (1.0 + math.exp(-z))
            for i, xi in enumerate(x):
                if xi:
                    grad[i] += (p - y) * xi
                    for j, xj in enumerate(x):
                        hess[i][j] += p * (1 - p) * xi * xj
        step = _solve(hess, grad)
        w = [a - b for a, b in zip(w, step, strict=True)]
        if max(map(abs, step)) < 1e-7:
            break
    return {k: round(v, 3) for k, v in zip(names, w, strict=True) if abs(v) >= 0.001}


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """x with a·x = b (Gaussian elimination, partial pivoting; a is positive definite)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for c in range(n):
        pivot = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[pivot] = m[pivot], m[c]
        for r in range(n):
            if r != c and m[c][c]:
                f = m[r][c] / m[c][c]
                m[r] = [x - f * y for x, y in zip(m[r], m[c], strict=True)]
    return [m[i][n] / m[i][i] if m[i][i] else 0.0 for i in range(n)]


def score(kept: list[Sample], n_gold: int) -> tuple[float, float, float]:
    tp = sum(y for _, _, y in kept)
    p = tp / len(kept) if kept else 0.0
    r = tp / n_gold if n_gold else 0.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def capped(held: list[tuple[Sample, float]], bars: tuple[float, ...], cap: int) -> list[Sample]:
    """Per article, the samples the vetter keeps, at most `cap`, in the rules' order: the n-th
    kept must reach the n-th bar (the last for any later one), as in extraction."""
    kept: list[Sample] = []
    count: dict[str, int] = {}
    for sample, prob in held:
        n = count.get(sample[0], 0)
        if n < cap and prob >= bars[min(n, len(bars) - 1)]:
            count[sample[0]] = n + 1
            kept.append(sample)
    return kept


def twin(name: str) -> str:
    """An article and its traditional-script conversion are one story: one fold."""
    return re.sub(r"\.zh-Hant(?=\.\w+$)", "", name)


def main(argv: list[str]) -> int:
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    rules, aliases, rates = default_documents()
    base = load_rule_pack(rules, aliases, rates)
    cap = int(base.ranking["max_events"])
    pack = dataclasses.replace(base, vetter={}, ranking={**base.ranking, "max_events": 5})
    data, n_gold = samples(Path(args[0]), [Path(a) for a in args[1:]], pack)
    articles = sorted({a for a, _, _ in data})
    stories = sorted({twin(a) for a in articles})
    fold_of = {a: stories.index(twin(a)) % FOLDS for a in articles}
    held: list[tuple[Sample, float]] = []
    for k in range(FOLDS):
        w = fit([s for s in data if fold_of[s[0]] != k])
        held += [(s, vet(w, s[1])) for s in data if fold_of[s[0]] == k]
    order = {id(s): i for i, s in enumerate(data)}
    held.sort(key=lambda sp: order[id(sp[0])])
    print(f"{len(articles)} articles, {n_gold} gold events, {len(data)} clusters")
    p, r, f1 = score(capped(held, (0.0,), cap), n_gold)
    print(f"rules alone (at most {cap}):  P={p:.3f} R={r:.3f} F1={f1:.3f}")
    shipped = base.vetter_thresholds
    for bars in sorted({*BARS, shipped}):
        p, r, f1 = score(capped(held, bars, cap), n_gold)
        mark = "  (shipped)" if bars == shipped else ""
        shown = ", ".join(f"{b:g}" for b in bars)
        print(
            f"vetter {FOLDS}-fold CV, thresholds [{shown}]: P={p:.3f} R={r:.3f} F1={f1:.3f}{mark}"
        )
    weights = fit(data)
    block = yaml.safe_dump({"weights": weights}, sort_keys=True, allow_unicode=True)
    print(block)
    if "--write" in argv:
        text = RULES.read_text(encoding="utf-8")
        head, sep, tail = text.partition("\nvetter:\n")
        threshold = re.search(r"^  threshold: .*$", tail, re.M) if sep else None
        kept = threshold.group() if threshold else "  threshold: 0.4"
        body = "".join(f"  {line}\n" for line in block.splitlines())
        RULES.write_text(f"{head}\nvetter:\n{kept}\n{body}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
