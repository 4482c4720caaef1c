"""Parties an event's own sentences leave out, named by the grammar of another sentence.

A funding round's investors are often told apart from the raise: "The round was led by
General Atlantic with participation from Nvidia", "由红杉资本领投，IDG 跟投", "参与投资的还包括
MI Ventures". They are the round's other party, named after the cue ("led by", 由…领投). Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.core.text import HAN
from bot.extract.events import Analysed

_HAN_RE = re.compile(f"[{HAN}]")
_MOST_INVESTORS = 4  # the lead investors and the first others: the rest of a list adds little
# An investor cue in English: the names follow it, to the end of its sentence.
_LED_BY_RE = re.compile(
    r"\b(?:co-)?led by\b|\bparticipation (?:from|of|by)\b|\b(?:other |existing |new )?investors "
    r"(?:include|including|such as)\b|\balso participated\b"
)
# What every match of _LED_BY_RE holds: a sentence without any needs no pass of the pattern,
# which, opening with a word boundary, is tried at every character (~20 ns each).
_LED_BY_WORDS = ("led by", "participation ", "investors ", "also participated")
# What makes an English sentence about a round: 'led by' alone may be a team or a company.
_ROUND_RE = re.compile(r"\b(?:round|funding|financing|investment|raise|seed)\b")
# 由 X 领投 / 牵头 / 主导: the lead investors between the two.
_ZH_LED_RE = re.compile("由([^，,。；;：:]{2,30}?)(?:共同)?(?:领投|牵头|主导|独家投资|联合领投)")
# X 跟投 / 参投: the other investors just before the word.
_ZH_FOLLOW_RE = re.compile(r"(?:跟投|参投|联合投资|共同投资)")
# 参与投资的还包括 X, 投资方包括 X: the names follow.
_ZH_LIST_RE = re.compile(
    r"(?:参与投资的|参投方|跟投方|投资方|投资者|投资机构)(?:还|也)?(?:包括|有|为|是)"
)
_ZH_SPLIT_RE = re.compile(r"[、和与及]|以及")
_ZH_NAME_RE = re.compile(f"[{HAN}A-Za-z0-9&.· ]{{2,20}}")
_ZH_NOT_NAME = (
    "本轮",
    "此轮",
    "该轮",
    "本次",
    "老股东",
    "原股东",
    "现有股东",
)  # no investor's name


def investors(analysed: Sequence[Analysed], funding_hit: Sequence[bool]) -> list[str]:
    """The investors the article names after an investor cue, in the first sentence about a
    round that has one (not one that is background before its cue). `funding_hit[i]`: whether
    sentence i holds a funding word."""
    for at, funded in zip(analysed, funding_hit, strict=True):
        folded = at.sentence.folded
        cued = any(word in folded for word in _LED_BY_WORDS)
        if not cued and not funded:
            continue  # neither an English cue nor a round to read the Chinese ones in
        english = _HAN_RE.search(folded) is None
        names = (_english(at) if cued else []) if english else _chinese(at) if funded else []
        if names:
            return names[:_MOST_INVESTORS]
    return []


def _english(at: Analysed) -> list[str]:
    folded = at.sentence.folded
    cue = _LED_BY_RE.search(folded)
    if cue is None or _ROUND_RE.search(folded) is None or _background_before(at, cue.start()):
        return []
    return list(dict.fromkeys(m.name for m in at.mentions if m.start >= cue.end()))


def _chinese(at: Analysed) -> list[str]:
    folded, text = at.sentence.folded, at.sentence.text
    names: dict[str, None] = {}
    for m in _ZH_LED_RE.finditer(folded):
        if _background_before(at, m.start()):
            continue
        inside = [n.name for n in at.mentions if m.start(1) <= n.start and n.end <= m.end(1)]
        if not inside:  # an investor no table knows: the words between 由 and 领投
            parts = _ZH_SPLIT_RE.split(text[m.start(1) : m.end(1)])
            inside = [p.strip() for p in parts if _a_name(p.strip())]
        names.update(dict.fromkeys(inside))
    for m in _ZH_FOLLOW_RE.finditer(folded):
        clause = max(folded.rfind(c, 0, m.start()) for c in "，,。；;：:")
        names.update(
            dict.fromkeys(n.name for n in at.mentions if clause < n.start and n.end <= m.start())
        )
    for m in _ZH_LIST_RE.finditer(folded):
        names.update(dict.fromkeys(n.name for n in at.mentions if n.start >= m.end()))
    return list(names)


def _a_name(part: str) -> bool:
    return _ZH_NAME_RE.fullmatch(part) is not None and not part.startswith(_ZH_NOT_NAME)


def _background_before(at: Analysed, position: int) -> bool:
    return any(h.term.kind == "background" and h.start < position for h in at.hits)
