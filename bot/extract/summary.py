"""Summaries quoted from the article itself: trimmed, never invented, and standing alone.

A summary is read without its article (an alert, a feed entry), so it must not open with a
word that points back ("它", "该公司", "同日", "The company", "This"): a connector or a
lead-in is dropped, a pronoun for a company becomes the company's name when it is known, and
a sentence that still leans on what came before is passed over for another (see
`stands_alone`). Cuts fall between clauses outside quotation marks, never inside “…”, and
link text ("Read more", "阅读原文", "… click") is left out. Pure.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Sequence
from itertools import pairwise

from bot.core.text import HAN, holds_from
from bot.extract.dates import dateline_end
from bot.extract.sentences import LOST, Sentence, fold

MAX_HAN = 60  # characters of a Chinese event summary
MAX_WORDS = 25  # words of an English event summary
_ARTICLE_HAN = 200  # the article summary: three sentences when they fit, else two
_ARTICLE_WORDS = 75
_SENTENCE_HAN = 110  # … each at most this long
_SENTENCE_WORDS = 40
_FIRST_WITHIN = 8  # the article summary's first sentence is one of the first body sentences

_HAN_RUN_RE = re.compile(f"[{HAN}]+")
_HAN_BLOCK = ord(HAN[0]) >> 8  # no Han character before this block (U+3400)
_CLAUSE_END_RE = re.compile(r"[，,；;：:]")
# Lead-ins that carry no fact: "根据多家媒体报道，", "IT之家 3 月 28 日消息，", "据路透社报道，",
# a dateline, a connector or a comment that leans on the sentence before ("同日，", "此外，",
# "最具戏剧性的是", "Meanwhile,"), link text. Matched on folded text (simplified, lower case),
# repeatedly: "IT之家4月9日消息 据外媒报道，".
_LEAD_IN_RE = re.compile(
    r"\s*(?:(?:根据|据)[^，,。]{0,12}(?:报道|消息|透露)[，,]\s*"
    r"|[^，,。]{0,12}\d+\s*月\s*\d+\s*日(?:消息|讯|讯息)[，,\s]\s*"
    r"|(?:同日|同时|此外|另外|与此同时|然而|不过|但是|但(?=[^，,])|而且|其后|此后|另一方面|除此之外|据悉|据了解"
    r"|值得一提的是|值得注意的是|有趣的是|更重要的是|最具戏剧性的是|最戏剧性的是)[，,：:]?\s*"
    r"|(?:meanwhile|separately|in addition|additionally|however|also|moreover|furthermore"
    r"|notably|interestingly|elsewhere|most dramatically|in other news),\s+"
    r"|(?:(?:read more|click here)\b|阅读原文|点击(?:这里|查看)|查看原文)[:：]?\s*)"
)
_LINK_TAIL_REACH = 16  # link text ending a sentence is short: sought in its last characters
_PUNCTUATION_RE = re.compile(r"[\s，,：:。.—–-]*")
_GLUED_RE = re.compile(r"[a-z](?=[A-Z][a-z])")
_LINK_TAIL_RE = re.compile(
    r"(?:(?<=[.。!！?？”\"])|\s)\s*(?:click(?: here)?|read more|阅读原文|查看原文|点击查看)[.。…:：]?\s*$"
)
# Words that point back to what the article said before. A company pronoun is replaced by the
# company's name when the event knows it; the others (and a pronoun without a name) make the
# sentence one that does not stand alone.
# Matched on lower-cased text in either script (folding a summary to simplified costs more).
_COMPANY_PRONOUN_RE = re.compile(
    r"(?:它|[该該]公司|[这這]家公司|[该該][集][团團]|[这這]家企[业業]|[该該]企[业業]"
    r"|the company|the firm|the group"
    r"|it(?= (?:said|says|has|had|will|would|is|was|announced|plans|agreed|also|now)\b))"
    r"(?![a-z])"
)
_POSSESSIVE_RE = re.compile(r"its(?= )")
_BACK_REFERENCE_RE = re.compile(
    r"(?:此次|[这這]次|本次|[该該這这]|它|其|他|她"
    r"|(?:this|these|those|that|they|he|she|it|its|the (?:company|firm|group|deal|move"
    r"|acquisition))(?![a-z]))"
)
# A title that asks or exclaims to make one click ("你敢信吗?", "…竟然…", "You won't believe")
# says nothing a summary can stand on.
_CLICKBAIT = ("?", "？", "你敢信", "竟然", "震惊", "震驚", "没想到", "沒想到", "won't believe")
# Quotation marks: a cut inside a quote would put words in a speaker's mouth.
_OPENING = {"“": "”", "「": "」", "『": "』", "‘": "’"}
_QUOTE_RE = re.compile('[“「『‘"]')


def _is_chinese(text: str) -> bool:
    """At least one Chinese character, and at least half as many as words. Counted by runs:
    a Chinese sentence has a few, and a list of each of its characters costs more."""
    # English is told without a pass of the pattern; Chinese mostly by its first character.
    if _HAN_RUN_RE.match(text) is None and not holds_from(text, _HAN_BLOCK):
        return False
    han = sum(map(len, _HAN_RUN_RE.findall(text)))
    return han > 0 and han * 2 >= len(text.split())


def event_summary(
    sentence: str,
    trigger_at: int,
    lang: str,
    company: str | None = None,
    folded: str | None = None,
) -> str:
    """One sentence, ≤ 60 Chinese characters or ≤ 25 English words, keeping the trigger;
    `company`: the name a leading company pronoun ("它", "The company") stands for;
    `folded`: the sentence folded (`fold`), if already made."""
    text, shift = _without_lead_in(sentence, folded)
    trigger_at = max(0, trigger_at - shift)
    chinese = _is_chinese(text)
    summary = _trim_chinese(text, trigger_at) if chinese else _trim_words(text, MAX_WORDS)
    if not company:
        return summary
    named, grown = _named(summary, company)
    if not grown:
        return named
    if chinese and len(named) > MAX_HAN:  # the name made it longer: whole clauses again
        return _trim_chinese(named.removesuffix("…"), len(company), MAX_HAN)
    if not chinese and len(named.split()) > MAX_WORDS:
        return _trim_words(named.removesuffix("…"), MAX_WORDS)
    return named


def stands_alone(summary: str) -> bool:
    """Whether the summary can be read without the article: it opens with no word pointing
    back ('此次', '该', 'This', 'The deal', 'He'), and is no question or clickbait."""
    lowered = summary.lstrip("…").lower()
    return _BACK_REFERENCE_RE.match(lowered) is None and not is_clickbait(summary)


def names_a_company(summary: str) -> bool:
    """Whether the summary opens with a company pronoun ('它', 'The company', 'Its') that
    `event_summary` replaces when given the company's name."""
    lowered = summary.lower()
    return bool(_COMPANY_PRONOUN_RE.match(lowered) or _POSSESSIVE_RE.match(lowered))


def is_clickbait(text: str) -> bool:
    return any(word in text for word in _CLICKBAIT)  # a few `in` cost less than one pattern


def _without_lead_in(sentence: str, folded: str | None = None) -> tuple[str, int]:
    """The sentence without its lead-ins (dateline, connector, link text) and trailing link
    text; and how many characters went from its start. `folded`: `fold(sentence)`, if made."""
    text = sentence.strip()
    lead = len(sentence) - len(sentence.lstrip())
    folded = (fold(sentence) if folded is None else folded)[lead : lead + len(text)]
    start = dateline_end(text)
    if start:
        start = _PUNCTUATION_RE.match(text, start).end()  # type: ignore[union-attr]
    while (m := _LEAD_IN_RE.match(folded, start)) is not None and m.end() > start:
        start = m.end()
        if m.group().lstrip().startswith("read more"):
            # Link text glued to the next sentence's start: "Read more CNBC tech newsMeta…"
            glued = _GLUED_RE.search(text, start, start + 40)
            start = glued.start() + 1 if glued else start
    tail = _LINK_TAIL_RE.search(folded, max(start, len(folded) - _LINK_TAIL_REACH))
    end = tail.start() if tail is not None else len(text)
    if start >= end:  # nothing but a lead-in: keep the sentence
        return text, lead
    kept = text[start:end].strip()
    if start and kept[:1].islower() and text[:1].isupper():
        kept = kept[:1].upper() + kept[1:]  # "Meanwhile, later this year…" → "Later this year…"
    return kept, lead + start


def _named(text: str, company: str) -> tuple[str, int]:
    """A leading company pronoun replaced by the company's name ('它现在任命了…' →
    'Twitter 现在任命了…'); and by how much the text grew."""
    lowered = text.lower()
    m = _COMPANY_PRONOUN_RE.match(lowered)
    if m is not None:
        name = company
        if m.group()[:1].isascii():  # "The company" opening a sentence, not "the company"
            name = company[:1].upper() + company[1:]
    else:
        m = _POSSESSIVE_RE.match(lowered)
        if m is None:
            return text, 0
        name = company + "’s" if company[-1:].isascii() else company + "的"
    rest = text[m.end() :]
    if name[-1:].isascii() and rest[:1].isalpha() and not rest[:1].isascii():
        name += " "  # "Twitter 现在…", as Chinese text spaces a Latin name
    return name + rest, len(name) - m.end()


def _trim_chinese(text: str, trigger_at: int, limit: int = MAX_HAN) -> str:
    if len(text) <= limit:
        return text
    # Whole clauses around the trigger's: first those after it, then those leading into it;
    # a clause ends only outside quotation marks.
    quoted = _quoted_spans(text)
    cuts = [
        0,
        *(m.end() for m in _CLAUSE_END_RE.finditer(text) if not _inside(quoted, m.start())),
        len(text),
    ]
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
    quoted = _quoted_spans(piece)
    cut = max(
        (i for mark in ("、", "——", "—", "（", "(") if (i := piece.rfind(mark)) >= 0),
        default=-1,
    )
    if cut > keep and not _inside(quoted, cut):
        piece = piece[:cut]
    if quoted and quoted[-1][1] > len(piece) and quoted[-1][0] > keep:
        piece = piece[: quoted[-1][0]]  # an open quote at the end: cut before it
    return ("…" if start > clause_start else "") + piece.rstrip("，,、；; ") + "…"


def _quoted_spans(text: str) -> list[tuple[int, int]]:
    """Where quotations are, from each opening mark to its closing one (or past the text's
    end when it does not close); straight double quotes pair up in turn."""
    spans: list[tuple[int, int]] = []
    m = _QUOTE_RE.search(text)
    while m is not None:
        close = text.find(_OPENING.get(m.group(), '"'), m.end())
        end = len(text) + 1 if close < 0 else close + 1
        spans.append((m.start(), end))
        m = _QUOTE_RE.search(text, end)
    return spans


def _inside(spans: Sequence[tuple[int, int]], at: int) -> bool:
    """Whether `at` is inside one of the (sorted, disjoint) quotation spans, not on its marks:
    a bisection, so a hostile line of 100,000 quotes and commas is not quadratic."""
    i = bisect_right(spans, (at, math.inf)) - 1
    return i >= 0 and spans[i][0] < at < spans[i][1] - 1


def _ends_sentence(text: str) -> bool:
    """A full stop, maybe inside closing quotes or brackets ('。”', '.)'): a bracket alone
    ends a clause, not the sentence ('（Xiaohua Zhai）')."""
    return text.rstrip().rstrip('”"’」』)）')[-1:] in "。！？.!?…"


def _trim_words(text: str, limit: int) -> str:
    words = text.split()
    if len(words) <= limit:
        return text
    cut = " ".join(words[:limit])
    quoted = _quoted_spans(cut)
    if quoted and quoted[-1][1] > len(cut):  # the cut falls inside a quote
        whole = _quoted_spans(text)[len(quoted) - 1][1]
        if len(text[:whole].split()) <= limit + 8:
            cut = text[:whole]  # the quote's end is near: keep it whole
            return cut if _ends_sentence(cut) else cut.rstrip(",;: ") + "…"
        cut = cut[: quoted[-1][0]]
    comma = cut.rfind(",")
    while comma > len(cut) // 2 and _inside(quoted, comma):
        comma = cut.rfind(",", 0, comma)
    if comma > len(cut) // 2:
        cut = cut[:comma]
    return cut.rstrip(',;: “"‘') + "…"


def article_summary(sentences: Sequence[Sentence], lang: str) -> str:
    """The first two or three real sentences of the body (headings and fragments skipped),
    each trimmed to whole clauses when long."""
    chosen = _article_sentences(sentences, strict=True) or _article_sentences(
        sentences, strict=False
    )
    if not chosen:
        titles = [s.text for s in sentences if s.is_title]
        return " ".join(titles).replace(LOST, "?")
    chinese = _is_chinese(chosen[0])
    stop, joiner = ("。", "") if chinese else (".", " ")
    closed = [c if _ends_sentence(c) else c + stop for c in chosen[:-1]] + chosen[-1:]
    return joiner.join(closed).replace(LOST, "?")


def _article_sentences(sentences: Sequence[Sentence], strict: bool) -> list[str]:
    """Two or three sentences of the body; `strict`: the first one standing alone."""
    chosen: list[str] = []
    size = 0
    seen = 0
    for s in sentences:
        if s.is_title:
            continue
        seen += 1
        if strict and not chosen and seen > _FIRST_WITHIN:
            return []
        text = _without_lead_in(s.text, s.folded)[0]
        if not _is_sentence(text) or (strict and not chosen and not stands_alone(text)):
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
    return chosen


def _is_sentence(text: str) -> bool:
    """A heading or a list fragment is short and ends without a full stop."""
    if not text:
        return False
    ends = text[-1] in '。！？.!?…”"’)）'
    chinese = _is_chinese(text)
    size = len(text) if chinese else len(text.split())
    return size >= (12 if chinese else 6) and (ends or size >= (30 if chinese else 15))
