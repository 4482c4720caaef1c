"""Sums of money in Chinese and English: 1亿美元, 上億美金, $14.3 billion, 235 mln dlrs, 50 mln stg,
one mln dlrs, €2bn, RMB 3 亿, 5 . 5 亿美元, ５亿元, 5-6 亿美元.

Pure. Works on folded text (lower case, simplified). One grammar of the money phrase:

    amount   := [range-low sep] number [magnitude] currency-after | currency-before number …
    number   := digits (thousands separated by ',', spaces around '.' and ',' allowed)
                | Chinese numerals | an English number word before a magnitude
    currency := a symbol or code before (US$, HK$, RMB) or a word after (美元, dlrs, stg, yen)

and of what the phrase modifies: '54 dlrs a share', '每股 69,800 韩元', '274.5 pence' and a price
head without a magnitude ('shares closed at $54') make a *unit price*, flagged on the Found so
that only a price event takes it. Equivalents written in brackets after an amount — '£75m
($141m)', '12 万亿韩元（约 627.6 亿元人民币）' — are one amount: its USD value is the written
dollar figure when there is one, else a conversion. A range is its lower end, approximate.

One module (~670 lines): the money grammar is one set of patterns built from each other, and
the unit-price flag belongs to it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import NamedTuple

from bot.core.model import Amount
from bot.core.text import first_of, holds_from, last_of

# A number as written: 1,200 / 1 , 200 / 5.5 / 5 . 5 (spaced by some converters and OCR). The
# patterns take it loosely, starting with a digit so that the engine skips ahead fast; _number
# checks it.
_NUM = r"\d(?:[\d,.]*\d)?(?:[ ][,.][ ]?\d(?:[\d,.]*\d)?)*"
_CN_DIGITS = "零一二两三四五六七八九十百千"
_ZH_UNITS = {
    "万亿": 1e12,
    "千亿": 1e11,
    "百亿": 1e10,
    "十亿": 1e9,
    "亿": 1e8,
    "千万": 1e7,
    "百万": 1e6,
    "十万": 1e5,
    "万": 1e4,
    "千": 1e3,
}
_EN_UNITS = {
    "trillion": 1e12,
    "tn": 1e12,
    "billion": 1e9,
    "bln": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "million": 1e6,
    "mn": 1e6,
    "mln": 1e6,
    "m": 1e6,
    "thousand": 1e3,
    "k": 1e3,
}
_ZH_CURRENCIES = {
    "美元": "USD",
    "美金": "USD",
    "元人民币": "CNY",
    "人民币": "CNY",
    "块钱": "CNY",
    "元": "CNY",
    "欧元": "EUR",
    "英镑": "GBP",
    "日元": "JPY",
    "日圆": "JPY",
    "韩元": "KRW",
    "韩圆": "KRW",
    "港元": "HKD",
    "港币": "HKD",
    "新台币": "TWD",
    "台币": "TWD",
    "卢布": "RUB",
    "澳元": "AUD",
    "加元": "CAD",
    "新加坡元": "SGD",
    "新西兰元": "NZD",
    "瑞士法郎": "CHF",
    "卢比": "INR",
}
_PREFIX_CURRENCIES = {
    "us$": "USD",
    "u.s.$": "USD",
    "usd": "USD",
    "$": "USD",
    "hk$": "HKD",
    "hkd": "HKD",
    "nt$": "TWD",
    "ntd": "TWD",
    "a$": "AUD",
    "aud": "AUD",
    "c$": "CAD",
    "cad": "CAD",
    "s$": "SGD",
    "nz$": "NZD",
    "€": "EUR",
    "eur": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "¥": "CNY",
    "￥": "CNY",
    "rmb": "CNY",
    "cny": "CNY",
    "jpy": "JPY",
    "krw": "KRW",
    "₩": "KRW",
    "人民币": "CNY",
    "美金": "USD",
    "新台币": "TWD",
    "台币": "TWD",
    "港币": "HKD",
    "港元": "HKD",
    "日元": "JPY",
    "韩元": "KRW",
    "欧元": "EUR",
    "英镑": "GBP",
}
_GENERIC_YUAN = ("元", "块钱")  # '港币 5 亿元', '新台币 30 亿元': the word before names it
# Words after the number. A currency may be qualified ('u.s. dlrs', 'canadian dollars'); the
# longest spelling wins (the alternation is longest first).
_DOLLARS = ("dollars", "dollar", "dlrs", "dlr")
_QUALIFIED_DOLLARS = {
    "u.s.": "USD",
    "us": "USD",
    "american": "USD",
    "canadian": "CAD",
    "can": "CAD",
    "australian": "AUD",
    "aust": "AUD",
    "n.z.": "NZD",
    "nz": "NZD",
    "new zealand": "NZD",
    "hong kong": "HKD",
    "h.k.": "HKD",
    "singapore": "SGD",
    "taiwan": "TWD",
    "taiwanese": "TWD",
}
_EN_CURRENCIES = {
    **dict.fromkeys(_DOLLARS, "USD"),
    **{f"{q} {d}": c for q, c in _QUALIFIED_DOLLARS.items() for d in _DOLLARS},
    "euros": "EUR",
    "euro": "EUR",
    "pounds sterling": "GBP",
    "pounds": "GBP",
    "pound": "GBP",
    "sterling": "GBP",
    "stg": "GBP",
    "pence": "GBP",
    "cents": "USD",
    "cts": "USD",
    "yuan": "CNY",
    "renminbi": "CNY",
    "yen": "JPY",
    "won": "KRW",
    "rupees": "INR",
    "roubles": "RUB",
    "rubles": "RUB",
    "swiss francs": "CHF",
    "french francs": "FRF",
    "francs": "FRF",
    "belgian francs": "BEF",
    "marks": "DEM",
    "deutsche marks": "DEM",
    "deutschemarks": "DEM",
    "german marks": "DEM",
    "guilders": "NLG",
    "dutch guilders": "NLG",
    "lire": "ITL",
    "lira": "ITL",
    "pesetas": "ESP",
    "kronor": "SEK",
    "swedish crowns": "SEK",
}
_CENTS = ("pence", "cents", "cts")  # a hundredth of the currency, and a unit price by itself
_VAGUE = {"上": 1.0, "数": 1.0, "几": 1.0, "数十": 10.0, "几十": 10.0, "数百": 100.0, "几百": 100.0}
_ONES = {
    w: float(i)
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
}
_TENS = {
    w: float(10 * i)
    for i, w in enumerate(
        ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"], 2
    )
}
_WORD_NUMBERS = {**_ONES, **_TENS, "a": 1.0, "an": 1.0, "half a": 0.5, "a half": 0.5}


def trie_pattern(words: Sequence[str]) -> str:
    """The words as one pattern shaped like a trie ('dlrs?|dollars?|…' factored by prefix): the
    engine follows one branch instead of trying some seventy spellings after every number. At
    one place it matches the longest word: what an alternation listing every word before its
    own prefixes matches."""
    tree: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        node = tree
        for c in word:
            node = node.setdefault(c, {})
        node[""] = {}

    def pattern(node: dict) -> str:  # type: ignore[type-arg]
        branches = [re.escape(c) + pattern(child) for c, child in sorted(node.items()) if c]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" not in node:
            return body
        return (body if len(branches) == 1 and len(body) == 1 else f"(?:{body})") + "?"

    return "(?:" + pattern(tree) + ")"


def _alternation(words: Sequence[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def not_after_a_letter(words: Sequence[str]) -> str:
    """What `(?<![a-z])(?:{_alternation(words)})` matches, each word's look-behind put after
    its first character: a pattern opening with a look-behind has no first characters for the
    engine to skip ahead to, and is tried at every position of the text."""
    return "|".join(
        f"{re.escape(w[0])}(?<![a-z]{re.escape(w[0])}){re.escape(w[1:])}"
        for w in sorted(words, key=len, reverse=True)
    )


_CUR_ZH = _alternation(list(_ZH_CURRENCIES))
_UNIT_ZH = _alternation(list(_ZH_UNITS))
_UNIT_EN = _alternation(list(_EN_UNITS))
_CUR_EN = trie_pattern(list(_EN_CURRENCIES))
_CN_NUM = f"[{_CN_DIGITS}]+"
_RANGE = r"[ ]?(?:-|–|~|～|to|至|到)[ ]?"
# Each pattern starts with a required token, so the engine skips ahead fast.
_PREFIXED_RE = re.compile(
    rf"(?P<pcur>{_alternation(list(_PREFIX_CURRENCIES))})[ ]?(?P<num>{_NUM}|{_CN_NUM})"
    rf"(?:{_RANGE}(?:{_alternation(list(_PREFIX_CURRENCIES))})?[ ]?(?P<high>{_NUM}))?"
    rf"(?:[ ]?(?P<zhunit>{_UNIT_ZH})|[ ]?(?P<enunit>{_UNIT_EN})\b)?(?:[ ]*(?P<cur>{_CUR_ZH}))?"
)
# Written to open with one character class (not a repeat): the engine skips ahead to a digit.
_DIGITS_RE = re.compile(f"[\\d{_CN_DIGITS}][\\d{_CN_DIGITS}]*")
_PREFIX_ENDS = frozenset(p[-1] for p in _PREFIX_CURRENCIES)  # no currency ends in a digit
# What stands between a match's start and its number (no currency starts with a digit, so the
# number is the run of digits that follows): a currency and at most one space.
_PREFIX_HEADS = frozenset((*_PREFIX_CURRENCIES, *(f"{p} " for p in _PREFIX_CURRENCIES)))
_ZH_NUM = rf"{_NUM}[十百千]?|{_CN_NUM}|数十|几十|数百|几百|[上数几]"
_ZH_RE = re.compile(
    rf"(?P<num>[\d{_CN_DIGITS}上数几](?:[\d,.{_CN_DIGITS}]|[ ](?=[,.])|(?<=[,.])[ ])*)[ ]*"
    rf"(?:(?P<unit>{_UNIT_ZH})[ ]*(?P<cur>{_CUR_ZH})?|(?P<cur2>{_CUR_ZH}))"
)
# The lower end of a range, just before an amount: '5-6亿美元', '5亿至6亿元'.
_ZH_LOW_RE = re.compile(
    rf"(?P<low>\d[\d,.]*)[ ]*(?P<lowunit>{_UNIT_ZH})?[ ]*(?:-|–|~|～|至|到)[ ]*$"
)
_ZH_ENDS = frozenset(word[-1] for word in (*_ZH_UNITS, *_ZH_CURRENCIES))
_EN_RE = re.compile(
    rf"(?P<num>{_NUM})(?:{_RANGE}(?P<high>{_NUM}))?[ ]?(?:(?P<unit>{_UNIT_EN})[ ]?)?"
    rf"(?P<cur>{_CUR_EN})\b"
)
# 'one mln dlrs', 'two billion yen', 'half a billion dollars': a word number needs a magnitude.
_WORDS_RE = re.compile(
    rf"\b(?:(?P<tens>{trie_pattern(list(_TENS))})(?:[ -](?P<ones>{trie_pattern(list(_ONES))}))?"
    rf"|(?P<num>{trie_pattern([w for w in _WORD_NUMBERS if w not in _TENS])}))"
    rf"[ ](?P<unit>trillion|billion|bln|bn|million|mln|mn)[ ]?(?P<cur>{_CUR_EN})\b"
)
# Where _WORDS_RE's tail (' billion dlrs') starts, one space each (single characters never
# overlap), group 1 the tail. A word number is no longer than _WORD_REACH: the pattern is
# tried only that far before each tail, not at every word of the text.
_WORDS_TAIL_RE = re.compile(
    rf"[ ](?=((?:trillion|billion|bln|bn|million|mln|mn)[ ]?(?:{_CUR_EN})\b))"
)
_WORD_REACH = max(max(map(len, _TENS)) + 1 + max(map(len, _ONES)), max(map(len, _WORD_NUMBERS)))
_BARE_EN_RE = re.compile(
    rf"(?P<num>{_NUM})[ ]?(?P<unit>billion|bln|bn|million|mln|mn)"
    r"(?=[ ]?(?:[,.;:)]|$)|[ ](?:if|in|and|or|for|including|plus|when|with|from|after|before)\b)"
)
# trillion, billion, million…: sought by `in` (a pattern of alternatives tests a class of
# their first characters at each character, 4× the time of the few searches)
_MAGNITUDES = ("illion", "bln", "bn", "mln", " mn")
_NUMBER_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_SPACED_RE = re.compile(r"[ ]?([,.])[ ]?")
_BARE_UNITS = ("万亿", "千亿", "百亿", "十亿", "亿")
_HAN_AFTER_RE = re.compile(r"[ ]*[\u4e00-\u9fff]")
_BRIDGE_RE = re.compile(r"[ ]*[(（][ ]*(?:约合|约|折合|合|about|around|or|c\.)?[ ]*$")
_NEXT_RE = re.compile(r"[ ]*[;；,，/][ ]*(?:约合|约|about|or)?[ ]*$")
_APPROX_AFTER_RE = re.compile(r"[ ]*(?:左右|多|余|以上|有余|\+|or more|plus)")
# What the amount is per: '54 dlrs a share', '20.10 dlrs per common share', '/股', '每股'.
_MEASURES = (
    "share|shr|unit|barrel|bbl|ounce|oz|tonne|ton|gallon|litre|liter|kilo|kilogram|kg|bushel|"
    "lb|pound of|piece|ticket|seat|warrant|depositary share|ads|adr"
)
_PER_AFTER_RE = re.compile(
    rf"[ ]*(?:(?:a|an|per|each|/)[ ]?(?:(?:common|ordinary|preferred|class [a-z])[ ])?"
    rf"(?:{_MEASURES})s?\b|each\b|[/每一]股|/[桶吨件台辆张]|每[桶吨盎司件台辆张])"
)
_PER_BEFORE = ("每股", "每桶", "每吨", "每盎司", "单价", "股价", "每单位", "每份")
# A price head: an amount after one, written without a magnitude, is what one thing costs.
_PRICE_HEAD_RE = re.compile(
    r"(?:share price|stock price|price per|per-share|priced at|price range|closed at|closing price|"
    r"trading at|traded at|shares? (?:rose|fell|jumped|dropped|climbed|slid|gained|lost|ended|"
    r"closed)|股价|收于|收报|发行价|售价|单价|高点|低点)"
)
_HEAD_REACH = 40
_RANGE_GAP_RE = re.compile(r"[ ]?(?:-|–|~|～|to|至|到)[ ]?")
# '66 dlrs value of stock for each share held': further on in the clause, for a bare figure.
_PER_SHARE_RE = re.compile(r"\b(?:for each|per|a|each)[ ](?:[a-z]+[ ])?share\b|每股")
_TAIL_REACH = 80
_new = tuple.__new__  # a Found made without its Python-level constructor


class Found(NamedTuple):  # a tuple: built by the hundred per article, and cheaply
    """An amount and where it was written in the sentence. `unit`: what one share, barrel or
    ticket costs ('54 dlrs a share'), not the sum of an event."""

    start: int
    end: int
    amount: Amount
    unit: bool = False


def find_amounts(
    folded: str,
    text: str,
    rates: Mapping[str, float],
    approximate_cues: Sequence[str],
    default_yen: str = "CNY",
) -> list[Found]:
    """Every sum of money in one sentence, equivalents in brackets folded into the first."""
    folded = _narrow(folded)
    raw = sorted(_raw_amounts(folded, default_yen), key=lambda r: (r[0], -r[1]))
    found: list[Found] = []
    last_end = -1
    in_group = False
    for start, end, value, currency, scaled, ranged in raw:
        if found and start < last_end:
            continue  # overlaps the previous amount
        if found:
            gap = folded[last_end:start]
            if _RANGE_GAP_RE.fullmatch(gap) and found[-1].amount.currency == currency:
                found[-1] = _as_range(found[-1], _per_unit(folded, start, end, scaled), end, text)
                last_end = end
                continue
            pattern = _NEXT_RE if in_group else _BRIDGE_RE
            if pattern.fullmatch(gap):
                in_group = True
                found[-1] = _with_equivalent(found[-1], value, currency, end, text)
                last_end = end
                continue
        in_group = False
        approx = ranged or approximate(folded, start, end, approximate_cues)
        usd = value * rates[currency] if currency in rates else None
        amount = Amount(value, currency, usd, text[start:end].strip(), approx)
        unit = _per_unit(folded, start, end, scaled)
        found.append(_new(Found, (start, end, amount, unit)))
        last_end = end
    return found


_WIDE = {**{0xFF10 + i: str(i) for i in range(10)}, 0xFF0E: "."}
_WIDE_DIGIT_RE = re.compile("[０-９]")
_WIDE_COMMA_RE = re.compile(r"(?<=\d)，(?=\d{3}(?!\d))")


def _narrow(folded: str) -> str:
    """Full-width digits and separators as ASCII (what NFKC gives), keeping every position:
    '５，０００万元' reads as '5,000万元'. A full-width comma is a separator only between a
    digit and three more."""
    if not holds_from(folded, 0xFF) or _WIDE_DIGIT_RE.search(folded) is None:
        return folded  # no character of their block (U+FF00): the pattern's pass spared
    return _WIDE_COMMA_RE.sub(",", folded.translate(_WIDE))


def _per_unit(folded: str, start: int, end: int, scaled: bool) -> bool:
    """Is the amount what one thing costs: a measure after it ('a share', '/股'), a per-word
    before it ('每股'), or, when written without a magnitude, a price head before it in its
    clause ('shares closed at $54', '股价收于 69,800 韩元')."""
    if _PER_AFTER_RE.match(folded, end) or folded[start:end].endswith(_CENTS):
        return True
    if not scaled:
        tail = folded[end : end + _TAIL_REACH]
        cut = first_of(tail, ",，;；。")
        if _PER_SHARE_RE.search(tail, 0, cut):
            return True
    head = folded[max(0, start - _HEAD_REACH) : start]
    cut = last_of(head, ",，;；。:：")
    head = head[cut + 1 :]
    if head.rstrip().endswith(_PER_BEFORE) or "每股" in head:
        return True
    return not scaled and _PRICE_HEAD_RE.search(head) is not None


def _as_range(low: Found, unit: bool, end: int, text: str) -> Found:
    """'14.91 dlrs to 15.62 dlrs a share': one amount, its lower end, approximate."""
    amount = dataclasses.replace(low.amount, text=text[low.start : end].strip(), approximate=True)
    return _new(Found, (low.start, end, amount, low.unit or unit))


def _with_equivalent(first: Found, value: float, currency: str, end: int, text: str) -> Found:
    """'£75m ($141m)': the written dollar figure beats our conversion."""
    amount = first.amount
    usd = value if currency == "USD" and amount.currency != "USD" else amount.usd
    closing = text[end : end + 1]
    stop = end + 1 if closing in ")）" else end
    text_out = text[first.start : stop].strip()
    told = Amount(amount.value, amount.currency, usd, text_out, amount.approximate)
    return _new(Found, (first.start, first.end, told, first.unit))


# start, end, value, currency, written with a magnitude, a range
_Raw = tuple[int, int, float, str, bool, bool]


def _raw_amounts(folded: str, default_yen: str) -> list[_Raw]:
    out: list[_Raw] = []
    runs = [m.span() for m in _DIGITS_RE.finditer(folded)]  # one pass for three patterns
    for m in _prefixed(folded, runs):
        first = folded[m.start()]
        if m.start() and first.isascii() and first.isalpha() and folded[m.start() - 1].isalpha():
            continue  # 'eur' in 'neuron'
        pcur, num = m.group("pcur"), m.group("num")
        zhunit, enunit = m.group("zhunit"), m.group("enunit")
        cur = m.group("cur")
        currency = (
            _ZH_CURRENCIES[cur] if cur and cur not in _GENERIC_YUAN else _PREFIX_CURRENCIES[pcur]
        )
        if currency == "CNY" and pcur in ("¥", "￥"):
            currency = default_yen
        number = _number(num)
        if number is None:
            continue
        scale = _ZH_UNITS[zhunit] if zhunit else _EN_UNITS[enunit] if enunit else 1.0
        ranged = m.group("high") is not None
        out.append((m.start(), m.end(), number * scale, currency, scale > 1.0, ranged))
    # A Chinese amount ends with its unit or currency: without the last character of any,
    # the pattern has nothing to find (a search for one character is next to free).
    zh = any(c in folded for c in _ZH_ENDS)
    for m in _ZH_RE.finditer(folded) if zh else ():
        unit, cur = m.group("unit"), m.group("cur") or m.group("cur2")
        num = m.group("num")
        if cur is None:
            if unit not in _BARE_UNITS or _HAN_AFTER_RE.match(folded, m.end()):
                continue  # "14亿人", "346 万股": a count, not money
            cur = "元"
        if num in _VAGUE and not unit:
            continue
        start = m.start()
        low = _ZH_LOW_RE.search(folded, max(0, start - 16), start) if start else None
        if low is not None:
            start, num, unit = low.start(), low.group("low"), low.group("lowunit") or unit
        number = _number(num)
        if number is None:
            continue
        scale = _ZH_UNITS[unit] if unit else 1.0
        out.append((start, m.end(), number * scale, _ZH_CURRENCIES[cur], scale > 1.0, bool(low)))
    for m in _from_digits(_EN_RE, folded, runs):
        if m.start() and (folded[m.start() - 1].isalnum() or folded[m.start() - 1] == "."):
            continue
        num, unit, cur = m.group("num"), m.group("unit"), m.group("cur")
        number = _number(num)
        if number is None:
            continue
        value = number * (_EN_UNITS[unit] if unit else 1.0)
        if cur in _CENTS:
            value /= 100
        ranged = m.group("high") is not None
        out.append((m.start(), m.end(), value, _EN_CURRENCIES[cur], unit is not None, ranged))
    magnitude = any(word in folded for word in _MAGNITUDES)
    if out and magnitude:
        out.extend(_elliptic(folded, out, runs))
    if magnitude:  # a word number needs one: rare, cheap
        for m in _word_amounts(folded):
            tens = m.group("tens")
            number = (
                _TENS[tens] + _ONES.get(m.group("ones") or "", 0.0)
                if tens
                else _WORD_NUMBERS[m.group("num")]
            )
            value = number * _EN_UNITS[m.group("unit")]
            out.append((m.start(), m.end(), value, _EN_CURRENCIES[m.group("cur")], True, False))
    return out


def _word_amounts(folded: str) -> Iterator[re.Match[str]]:
    """The matches of _WORDS_RE.finditer(folded), sought only in the stretches that end with
    its tail: a match holds its tail and at most _WORD_REACH characters before it. A search
    from a position still sees the character before it (a word's start is judged as in the
    whole text) and a stretch ends where a tail does (its word's end judged in the whole
    text): each stretch finds what the whole text holds there."""
    spans: list[list[int]] = []
    for tail in _WORDS_TAIL_RE.finditer(folded):
        start, end = max(0, tail.start() - _WORD_REACH), tail.end(1)
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    for start, end in spans:
        yield from _WORDS_RE.finditer(folded, start, end)


def _elliptic(
    folded: str, found: Sequence[_Raw], runs: Sequence[tuple[int, int]]
) -> Iterator[_Raw]:
    """'70 dlrs a share, for a total of 7.4 billion if …': a magnitude whose currency is left
    out takes that of the amount before it, if no noun follows it (5 mln shares is a count).
    `runs`: the spans of _DIGITS_RE's matches in `folded`."""
    for m in _from_digits(_BARE_EN_RE, folded, runs):
        before = [r for r in found if r[1] <= m.start()]
        if not before or (m.start() and folded[m.start() - 1].isalnum()):
            continue
        number = _number(m.group("num"))
        if number is not None:
            value = number * _EN_UNITS[m.group("unit")]
            yield (m.start(), m.end(), value, before[-1][3], True, False)


def _from_digits(
    pattern: re.Pattern[str], folded: str, runs: Sequence[tuple[int, int]]
) -> Iterator[re.Match[str]]:
    """The matches of `pattern.finditer(folded)` for a pattern whose every match opens with
    _NUM, tried only at the first decimal digit (`\\d`, what `isdecimal` tells) of each stretch
    of them in `runs` (_DIGITS_RE's spans, which hold every one), past the last match: a pass
    of a pattern opening with `\\d` tests a class at each character. A number that a later digit
    of a stretch opens, its first opens too (`[\\d,.]*` takes the digits before), with the same
    rest after it: where the first fails, so does every other."""
    end = 0
    for start, stop in runs:
        at = max(start, end)
        while at < stop:
            if not folded[at].isdecimal():  # a Chinese numeral, in a run of _DIGITS_RE
                at += 1
                continue
            m = pattern.match(folded, at)
            if m is not None:
                yield m
                end = at = m.end()
                continue
            at += 1
            if not folded[at:stop].isdecimal():  # else the rest of the run is this stretch
                while at < stop and folded[at].isdecimal():
                    at += 1
            else:
                at = stop


def _prefixed(
    folded: str, runs: Sequence[tuple[int, int]] | None = None
) -> Iterator[re.Match[str]]:
    """The matches of _PREFIXED_RE.finditer(folded), tried only where one can start: one to
    five characters before a run of digits that follows a currency's last character (and a
    space). Most letters of English text could start a currency ('u' of usd, 'e' of eur, 'c' of
    c$): trying at each of them cost more than all the other amount patterns together.
    `runs`: the spans of _DIGITS_RE's matches, if already found."""
    end = tried = 0
    if runs is None:
        runs = [m.span() for m in _DIGITS_RE.finditer(folded)]
    for number, _ in runs:
        before = folded[number - 1 : number]
        if before == " ":
            before = folded[number - 2 : number - 1]
        # A match starting before the previous run would have its number in that run.
        start, tried = max(number - 5, end, tried), number + 1
        if before not in _PREFIX_ENDS:
            continue
        for at in range(start, number):
            if folded[at:number] not in _PREFIX_HEADS:
                continue  # no currency and space end here: the pattern cannot match
            m = _PREFIXED_RE.match(folded, at)
            if m:
                end = m.end()
                yield m
                break


# What may stand between a word and the amount it heads: 'sales of about 50 mln dlrs',
# 'assets were 80 mln dlrs', '营收达 50 亿元'. Anything else ('assets of Valley Cable TV for 100
# mln dlrs') leaves the amount to another head.
_LINKS = (
    r"(?:[ :：]|of|at|was|were|is|are|totall?ing|totall?ed|about|around|nearly|some|roughly|"
    r"approximately|over|more than|up to|reached|rose to|fell to|to|by|为|达到|达|约|超过|近|逾|"
    r"高达|共|合计|至|了|有|预计|预期|估计|预估|expected to be|estimated at|estimated)*"
)


def head_patterns(words: Sequence[str]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Patterns telling that one of `words` heads an amount: the first ends the text before
    it ('annual sales of', '总资产为'), the second starts the text after it ('in sales')."""
    alternation = _alternation([w for w in words if w]) or "(?!)"
    before = re.compile(rf"(?:{not_after_a_letter([w for w in words if w]) or '(?!)'}){_LINKS}$")
    after = re.compile(rf"[ ]*(?:in|of)[ ](?:annual |yearly |its |their |net )?(?:{alternation})")
    return before, after


# Words that start a phrase of their own: '195 mln dlrs in a transaction' does not modify it.
_FUNCTION_WORDS = r"(?:in|a|an|the|of|for|to|with|by|on|at|and|or|from|as|is|was|its|their)"


def modified_pattern(nouns: Sequence[str]) -> re.Pattern[str]:
    """A pattern telling that the amount before it modifies one of `nouns`: 'a 265 mln dlr
    bid', 'the 1.62 billion dlr takeover offer', '440 亿美元的交易'."""
    alternation = _alternation([w for w in nouns if w]) or "(?!)"
    return re.compile(
        rf"[ ]*(?:的[ ]*)?(?:(?!{_FUNCTION_WORDS}[ ])[a-z-]+[ ]){{0,2}}?(?:{alternation})(?![a-z])"
    )


_SCALES = {"十": 10.0, "百": 100.0, "千": 1000.0}


def _number(num: str) -> float | None:
    if num in _VAGUE:
        return _VAGUE[num]
    if num[0].isdigit():
        digits = num.rstrip("十百千")
        scale = _SCALES.get(num[len(digits) :], 1.0)
        if " " in digits:
            digits = _SPACED_RE.sub(r"\1", digits)
        if not _NUMBER_RE.fullmatch(digits):
            return None
        return float(digits.replace(",", "")) * scale
    return _chinese_number(num)


def _chinese_number(num: str) -> float | None:
    """一 … 九千九百九十九; larger units are the amount's unit."""
    digits = {c: i for i, c in enumerate("零一二三四五六七八九")}
    digits["两"] = 2
    total, current = 0, 0
    for c in num:
        if c in digits:
            current = digits[c]
        elif c in "十百千":
            total += (current or 1) * {"十": 10, "百": 100, "千": 1000}[c]
            current = 0
        else:
            return None
    total += current
    return float(total) if total else None


def approximate(folded: str, start: int, end: int, cues: Sequence[str]) -> bool:
    """Is the amount at folded[start:end] approximate: '上亿', '约 5 亿', 'about $5bn', '5 亿多'."""
    head = folded[max(0, start - 12) : start].rstrip()
    if folded[start : start + 1] in "上数几":
        return True
    if head.endswith(tuple(cues)):
        return True
    return bool(_APPROX_AFTER_RE.match(folded, end))
