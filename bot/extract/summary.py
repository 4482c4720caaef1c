"""Summaries quoted from the article itself: trimmed, never invented. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

from bot.extract.sentences import HAN, LOST, Sentence

MAX_HAN = 60  # characters of a Chinese event summary
MAX_WORDS = 25  # words of an English event summary
_ARTICLE_HAN = 200  # the article summary: three sentences when they fit, else two
_ARTICLE_WORDS = 75
_SENTENCE_HAN = 110  # … each at most this long
_SENTENCE_WORDS = 40

_HAN_RUN_RE = re.compile(f"[{HAN}]+")
_CLAUSE_END_RE = re.compile(r"[，,；;：:]")
# Lead-ins that carry no fact: "根据多家媒体报道，", "IT之家 3 月 28 日消息，", "据路透社报道，".
_LEAD_IN_RE = re.compile(
    r"^(?:(?:根据|据)[^，,。]{0,12}(?:报道|消息|透露)[，,]\s*|[^，,。]{0,12}\d+\s*月\s*\d+\s*日(?:消息|讯|訊息|訊)[，,]\s*)"
)


def _is_chinese(text: str) -> bool:
    """At least one Chinese character, and at least half as many as words. Counted by runs:
    a Chinese sentence has a few, and a list of each of its characters costs more."""
    han = sum(map(len, _HAN_RUN_RE.findall(text)))
    return han > 0 and han * 2 >= len(text.split())


def event_summary(sentence: str, trigger_at: int, lang: str) -> str:
    """One sentence, ≤ 60 Chinese characters or ≤ 25 English words, keeping the trigger."""
    text = _LEAD_IN_RE.sub("", sentence).strip()
    shift = len(sentence.strip()) - len(text)
    trigger_at = max(0, trigger_at - shift)
    if _is_chinese(text):
        return _trim_chinese(text, trigger_at)
    return _trim_words(text, MAX_WORDS)


def _trim_chinese(text: str, trigger_at: int, limit: int = MAX_HAN) -> str:
    if len(text) <= limit:
        return text
    # Whole clauses around the trigger's: first those after it, then those leading into it.
    cuts = [0, *(m.end() for m in _CLAUSE_END_RE.finditer(text)), len(text)]
    spans = [(a, b) for a, b in pairwise(cuts) if b > a]
    home = next((i for i, (a, b) in enumerate(spans) if a <= trigger_at < b), 0)
    first = last = home
    if spans[home][1] - spans[home][0] > limit:
        return _cut_clause(text, spans[home][0], trigger_at, limit)
    while last + 1 < len(spans) and spans[last + 1][1] - spans[first][0] <= limit:
        last += 1
        if _ends_sentence(text[spans[last][0] : spans[last][1]]):
            break
    while first > 0 and spans[last][1] - spans[first - 1][0] <= limit:
        first -= 1
    piece = text[spans[first][0] : spans[last][1]].rstrip("，,；;：: ")
    return piece if _ends_sentence(piece) else piece + "…"


def _cut_clause(text: str, clause_start: int, trigger_at: int, limit: int) -> str:
    """One clause too long: from its start (or just before the trigger), up to the last list
    or dash break that fits."""
    start = clause_start if trigger_at - clause_start < limit - 15 else trigger_at - 10
    piece = text[start : start + limit - 1]
    keep = trigger_at - start + 2
    cut = max(piece.rfind(mark) for mark in ("、", "——", "—", "（", "("))
    if cut > keep:
        piece = piece[:cut]
    return ("…" if start > clause_start else "") + piece.rstrip("，,、；; ") + "…"


def _ends_sentence(text: str) -> bool:
    return text.rstrip()[-1:] in '。！？.!?…”"’)）'


def _trim_words(text: str, limit: int) -> str:
    words = text.split()
    if len(words) <= limit:
        return text
    cut = " ".join(words[:limit])
    comma = cut.rfind(",")
    if comma > len(cut) // 2:
        cut = cut[:comma]
    return cut.rstrip(",;: ") + "…"


def article_summary(sentences: Sequence[Sentence], lang: str) -> str:
    """The first two or three real sentences of the body (headings and fragments skipped),
    each trimmed to whole clauses when long."""
    chosen: list[str] = []
    size = 0
    for s in sentences:
        if s.is_title:
            continue
        text = _LEAD_IN_RE.sub("", s.text).strip()
        if not _is_sentence(text):
            continue
        chinese = _is_chinese(text)
        limit = _ARTICLE_HAN if chinese else _ARTICLE_WORDS
        if len(chosen) >= 2 and size + (len(text) if chinese else len(text.split())) > limit:
            break
        if chinese and len(text) > _SENTENCE_HAN:
            text = _trim_chinese(text, 0, _SENTENCE_HAN)
        elif not chinese and len(text.split()) > _SENTENCE_WORDS:
            text = _trim_words(text, _SENTENCE_WORDS)
        chosen.append(text)
        size += len(text) if chinese else len(text.split())
        if len(chosen) == 3:
            break
    if not chosen:
        titles = [s.text for s in sentences if s.is_title]
        return " ".join(titles).replace(LOST, "?")
    chinese = _is_chinese(chosen[0])
    stop, joiner = ("。", "") if chinese else (".", " ")
    closed = [c if _ends_sentence(c) else c + stop for c in chosen[:-1]] + chosen[-1:]
    return joiner.join(closed).replace(LOST, "?")


def _is_sentence(text: str) -> bool:
    """A heading or a list fragment is short and ends without a full stop."""
    if not text:
        return False
    ends = text[-1] in '。！？.!?…”"’)）'
    chinese = _is_chinese(text)
    size = len(text) if chinese else len(text.split())
    return size >= (12 if chinese else 6) and (ends or size >= (30 if chinese else 15))
