"""The model's side of extraction, pure: the request it is sent and what of its answer stands.

A model answers fluently whether or not the article says it, so nothing it returns is taken
on its word: every actor, amount and date must be found in the article (names exact or
folded, amounts through the rules' own grammar, dates through the rules' date finder), what
is not found is dropped, and an event left with nothing found is dropped. The HTTP client
and the cache of answers live in `bot.runtime.llm`; this module does no I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.model import Amount, Article, Event, Extraction
from bot.extract.amounts import find_amounts
from bot.extract.dates import find_dates
from bot.extract.rules import RulePack
from bot.extract.sentences import fold

# Changes to the instructions or the grounding's reading of answers: a new version asks again.
PROMPT_VERSION = "1"
MAX_EVENTS = 3  # headline events only (issue 16: precision first)
# The model sees at most this much text: the headline events are told early, and a long
# prompt costs the user's GPU time (or money) for nothing.
MAX_PROMPT_CHARS = 12_000

_INSTRUCTIONS = """\
You extract headline business events from one news article.
Answer with one JSON object that follows the JSON schema below, and nothing else.
Rules:
- Only the article's headline events: usually one to three; none if the article reports none.
- "type" is one of the listed types; use "other" only when no listed type fits.
- "actors": the companies or people the event is about, most important first, each written
  exactly as the article writes it.
- "amount": the sum of money of the event itself (a deal's price, a round's size), copied
  exactly as the article writes it, currency included; null when the article gives none.
  Never a share price, a per-unit price, a share count, a percentage or a valuation.
- "date": the day (YYYY-MM-DD) or month (YYYY-MM) the event happened, only if the article
  states it; else null. Never guess a date.
- "summary": one sentence in the article's language that stands alone; every name and number
  in it must be in the article.
Event types: {types}
JSON schema: {schema}"""

_REPAIR = (
    "That answer was not a JSON object following the schema. Answer again with only the JSON "
    "object, no other text."
)


def event_schema(types: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of an answer, with the rule pack's event types (user-added ones too)."""
    nullable = {"type": ["string", "null"]}
    event = {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": list(types)},
            "actors": {"type": "array", "items": {"type": "string"}},
            "amount": nullable,
            "date": nullable,
            "summary": {"type": "string"},
        },
        "required": ["type", "actors", "amount", "date", "summary"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"events": {"type": "array", "items": event, "maxItems": MAX_EVENTS}},
        "required": ["events"],
        "additionalProperties": False,
    }


def article_prompt(article: Article) -> str:
    """The article as the model reads it: title and text, whitespace normalised."""
    text = normalised(article.text)[:MAX_PROMPT_CHARS]
    return f"Title: {normalised(article.title)}\nLanguage: {article.lang}\n\n{text}"


def messages(types: Sequence[str], article: Article) -> list[dict[str, str]]:
    """The chat messages of a request: the fixed instructions and schema first, the article
    last, so that a server's prefix cache serves the shared part of every request."""
    schema = json.dumps(event_schema(types), ensure_ascii=False, sort_keys=True)
    system = _INSTRUCTIONS.format(types=", ".join(types), schema=schema)
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": article_prompt(article)},
    ]


def repair_messages(first: Sequence[Mapping[str, str]], answer: str) -> list[dict[str, str]]:
    """The one repair attempt: the conversation so far, the bad answer and a request to fix it."""
    return [
        *(dict(m) for m in first),
        {"role": "assistant", "content": answer[:4000]},
        {"role": "user", "content": _REPAIR},
    ]


def cache_key(model: str, types: Sequence[str], article: Article) -> str:
    """What an answer is cached by: the model, the prompt version, the schema and the text it
    read. The same text under another path, after a restart or on another instance: one key."""
    schema = json.dumps(event_schema(types), sort_keys=True)
    raw = "\x1f".join((model, PROMPT_VERSION, schema, article_prompt(article)))
    return hashlib.sha256(raw.encode()).hexdigest()


def normalised(text: str) -> str:
    """NFC, runs of spaces as one, at most one blank line: the same text written twice over
    the same bytes but for its white space reads (and caches) as one."""
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"[ \t\u3000\u00a0]+", " ", text)
    return re.sub(r"\s*\n\s*\n\s*", "\n\n", text).strip()


_THINK_RE = re.compile(r"^\s*<think>.*?</think>", re.DOTALL)  # a reasoning model's preamble
_FENCE_RE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def parse_answer(text: str) -> list[dict[str, Any]] | None:
    """The events of an answer, or None when it is not a JSON object of the schema's shape
    (a code fence around it, or a reasoning model's <think> preamble, is forgiven: servers
    without structured output leave them)."""
    text = _THINK_RE.sub("", text, count=1)
    fenced = _FENCE_RE.match(text)
    try:
        doc = json.loads(fenced[1] if fenced else text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        return None
    found: list[dict[str, Any]] = doc["events"]
    if not all(isinstance(e, dict) and isinstance(e.get("type"), str) for e in found):
        return None
    return found


@dataclass(frozen=True, slots=True)
class Grounded:
    """What of an answer stands, and how much of it was dropped (for /metrics)."""

    extraction: Extraction
    dropped_items: int  # actors, amounts and dates not found in the article
    dropped_events: int  # events left with nothing found


def ground(
    answer: Sequence[Mapping[str, Any]], article: Article, pack: RulePack, rules: Extraction
) -> Grounded:
    """The answer's events with only what the article says; the rules' summary of the article
    stands (the model's own summary of an event is kept only if grounded, see `_summary`)."""
    text = f"{article.title}\n{article.text}"
    folded = _squeezed(fold(text))
    yen = "CNY" if article.lang.startswith("zh") else "JPY"
    # The sums that can be an event's own: not what one share or unit costs (the amount
    # grammar's `unit`), a valuation or a cost (those are only a launch's price).
    whole = fold(text)
    found = find_amounts(whole, text, pack.rates, pack.approximate, yen)
    sums = [f.amount for f in found if not f.unit and not _valuation(whole, f.start, pack)]
    prices = [f.amount for f in found]
    dates = {d.iso for d in find_dates(fold(text), article.published.date(), text)}
    events: list[Event] = []
    dropped = dropped_events = 0
    for rank, item in enumerate(answer[:MAX_EVENTS]):
        kind = item.get("type")
        if kind not in pack.event_types:
            dropped_events += 1
            continue
        actors: list[str] = []
        unfound: list[str] = []  # names the article does not hold: nor may the summary
        for name in _strings(item.get("actors")):
            actor = _actor(name, text, folded, pack)
            if actor is None:
                unfound.append(name)
            elif actor not in actors:
                actors.append(actor)
        dropped += len(unfound)
        usable = prices if kind == "product_launch" else sums
        amount = _amount(item.get("amount"), usable, pack, yen)
        dropped += item.get("amount") not in (None, "") and amount is None
        date = item.get("date") if item.get("date") in dates else None
        dropped += item.get("date") not in (None, "") and date is None
        if not actors and amount is None and date is None:
            dropped_events += 1
            continue
        evidence = _evidence(article, actors, amount)
        summary = _summary(item.get("summary"), folded, text, unfound) or evidence
        events.append(
            Event(
                type=str(kind),
                actors=tuple(actors),
                summary=summary,
                evidence=evidence,
                amount=amount,
                date=date,
                score=float(MAX_EVENTS - rank),
            )
        )
    return Grounded(Extraction(rules.summary, tuple(events)), dropped, dropped_events)


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v.strip() for v in value if isinstance(v, str) and v.strip()]


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _actor(name: str, text: str, folded: str, pack: RulePack) -> str | None:
    """The canonical name of an actor the article names (as written, or by any alias of its
    entity: 'Bret Taylor' for 布雷特·泰勒), else None."""
    key = _squeezed(fold(name))
    canonical = pack.canonical(name)
    if len(key) >= 2 and key in folded:
        at = fold(text).find(key)  # as the article writes it ('larkspur' → 'Larkspur')
        return canonical or (text[at : at + len(key)] if at >= 0 else name)
    if canonical is not None and any(a in folded for a in _aliases_of(pack, canonical)):
        return canonical
    return None


def _aliases_of(pack: RulePack, canonical: str) -> list[str]:
    # The alias table, read backwards (once per entity named: answers name few).
    return [alias for alias, name in pack._aliases.items() if name == canonical and len(alias) >= 2]


_VALUATION_BEFORE = ("values", "valuing", "估值")


def _valuation(folded: str, start: int, pack: RulePack) -> bool:
    """Whether the sum at `start` is a valuation or a cost: such a word, or one of the rule
    pack's amount exclusions, in the few words before it."""
    before = folded[max(0, start - 24) : start]
    before = pack.amount_neutral.sub(lambda m: " " * len(m[0]), before)  # "pre-tax profit"
    return any(word in before for word in (*_VALUATION_BEFORE, *pack.amount_exclude))


def _amount(value: Any, amounts: Sequence[Amount], pack: RulePack, yen: str) -> Amount | None:
    """The article's own amount that the model's one is (same currency, same value within
    half a percent), read by the rules' amount grammar; None if the article has none such."""
    if not isinstance(value, str) or not value.strip():
        return None
    said = find_amounts(fold(value), value, pack.rates, pack.approximate, yen)
    if not said:
        return None
    wanted = said[0].amount
    for amount in amounts:
        if amount.currency == wanted.currency and abs(amount.value - wanted.value) <= 0.005 * max(
            abs(amount.value), abs(wanted.value)
        ):
            return amount
    return None


def _evidence(article: Article, actors: Sequence[str], amount: Amount | None) -> str:
    """The first sentence (or line) that holds the amount or an actor: the event's evidence
    (the title only when no sentence of the text does)."""
    lines = [*re.split(r"(?<=[.!?。！？])\s+|\n+", article.text), article.title]
    wanted = [fold(amount.text)] if amount is not None else []
    wanted += [fold(a) for a in actors]
    for needle in wanted:
        for line in lines:
            if needle and needle in fold(line):
                return line.strip()
    return article.title


_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_LATIN_NAME_RE = re.compile(r"\b[A-Z][\w&'-]+")


def _summary(value: Any, folded: str, text: str, unfound: Sequence[str]) -> str | None:
    """The model's summary if every number and every capitalised word in it is in the article,
    and no actor the article does not name (in any script: Chinese names have no capitals to
    check); else None and the evidence stands."""
    if not isinstance(value, str) or not value.strip():
        return None
    summary = value.strip()
    if any(fold(name) in fold(summary) for name in unfound):
        return None
    numbers = {n.replace(",", "") for n in _NUMBER_RE.findall(text)}
    if any(n.replace(",", "") not in numbers for n in _NUMBER_RE.findall(summary)):
        return None
    for word in _LATIN_NAME_RE.findall(summary):
        if fold(word) not in folded:
            return None
    return summary
