"""The optional extraction model: one request per article to an OpenAI-compatible endpoint
(`/v1/chat/completions`: Ollama, llama.cpp, vLLM, a hosted API), answers cached in the store.

Never in the way: every failure (a timeout, an error, a 429, an answer that is not JSON even
after one repair attempt, the daily cap) gives None, and the caller keeps the rules' events;
each is counted for /metrics and /healthz. What the model says is grounded in the article
(`bot.extract.grounding`) before it is used. Requests run in a pool of `max_concurrent`
threads (the stdlib's HTTP client: no event loop to share with the scan's thread).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from bot.core.config import Config, ConfigError, LlmConfig
from bot.core.model import Article, Extraction
from bot.extract import RulePack, extract
from bot.extract.grounding import (
    cache_key,
    event_schema,
    ground,
    messages,
    parse_answer,
    repair_messages,
)
from bot.store.base import utc_now
from bot.store.llmcache import LlmCacheStore

log = logging.getLogger(__name__)

# Why a request gave no events: the label /metrics counts it under.
REASONS = ("timeout", "rate_limited", "server_error", "error", "invalid", "daily_cap")


class _Failed(Exception):
    def __init__(self, reason: str, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.status = status


@dataclass
class LlmStats:
    """What the model did since the start: requests, answers, cache hits, fallbacks by reason,
    and what grounding dropped."""

    requests: int = 0
    answers: int = 0
    cached: int = 0
    repaired: int = 0
    fallbacks: Counter[str] = field(default_factory=Counter)
    dropped_items: int = 0
    dropped_events: int = 0
    last_error: str | None = None

    def health(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "answers": self.answers,
            "cached": self.cached,
            "repaired": self.repaired,
            "fallbacks": {reason: self.fallbacks[reason] for reason in REASONS},
            "dropped": {"items": self.dropped_items, "events": self.dropped_events},
            "last_error": self.last_error,
        }


class LlmExtractor:
    """Asks the model about articles, through the cache, within the concurrency and daily caps."""

    def __init__(
        self,
        config: LlmConfig,
        store: LlmCacheStore,
        clock: Callable[[], datetime],
        backend: str = "llm+rules",
    ) -> None:
        assert config.base_url is not None and config.model is not None  # see config._check_llm
        self.config = config
        self.model = config.model
        self.backend = backend
        self.store = store
        self.clock = clock
        self.stats = LlmStats()
        self._url = _completions_url(config.base_url)
        self._lock = threading.Lock()
        self._day = clock().date()
        self._asked_today = store.llm_answers_since(_midnight(clock()))
        self._pool = _Workers(config.max_concurrent)
        self._capped_on: object = None  # the day the cap was logged as reached
        self._structured = True  # False once the server refused response_format

    def close(self) -> None:
        """Requests not started are dropped (their articles keep the rules' events)."""
        self._pool.close()

    # -- the cache ------------------------------------------------------------------------

    def known(
        self, items: Sequence[tuple[Article, Extraction]], pack: RulePack
    ) -> list[Extraction | None]:
        """The model's events for each article whose answer is cached (None: not asked yet)."""
        keys = [cache_key(self.model, pack.event_types, article) for article, _ in items]
        answers = self.store.llm_answers(keys)
        out: list[Extraction | None] = []
        for key, (article, rules) in zip(keys, items, strict=True):
            answer = answers.get(key)
            if answer is None:
                out.append(None)
                continue
            with self._lock:
                self.stats.cached += 1
            out.append(self._grounded(parse_answer(answer) or [], article, pack, rules))
        return out

    # -- asking -----------------------------------------------------------------------------

    def submit(
        self, article: Article, pack: RulePack, rules: Extraction
    ) -> Future[Extraction | None]:
        """Ask in the pool; the future gives the grounded events, or None (rules stand)."""
        return self._pool.submit(lambda: self.extract(article, pack, rules))

    def extract(self, article: Article, pack: RulePack, rules: Extraction) -> Extraction | None:
        """The model's grounded events for the article (cache first), or None on any failure."""
        key = cache_key(self.model, pack.event_types, article)
        answer = self.store.llm_answers([key]).get(key)
        if answer is not None:
            with self._lock:
                self.stats.cached += 1
            return self._grounded(parse_answer(answer) or [], article, pack, rules)
        try:
            self._take_from_cap()
            found = self._ask(messages(pack.event_types, article), pack)
        except _Failed as exc:
            with self._lock:
                self.stats.fallbacks[exc.reason] += 1
                self.stats.last_error = f"{exc.reason}: {exc}"
                said = exc.reason == "daily_cap" and self._capped_on == self._day
                self._capped_on = self._day if exc.reason == "daily_cap" else self._capped_on
            if said:  # once a day, not once per article until midnight
                return None
            log.warning(
                "extraction model failed path=%s reason=%s error=%s; the rules' events stand",
                article.path,
                exc.reason,
                exc,
            )
            return None
        text = json.dumps({"events": found}, ensure_ascii=False)
        self.store.save_llm_answer(key, self.model, text, self.clock())
        return self._grounded(found, article, pack, rules)

    def _grounded(
        self, found: list[dict[str, Any]], article: Article, pack: RulePack, rules: Extraction
    ) -> Extraction:
        grounded = ground(found, article, pack, rules)
        with self._lock:
            self.stats.dropped_items += grounded.dropped_items
            self.stats.dropped_events += grounded.dropped_events
        return grounded.extraction

    def _take_from_cap(self) -> None:
        cap = self.config.max_per_day
        with self._lock:
            today = self.clock().date()
            if today != self._day:
                self._day, self._asked_today = today, 0
            if cap and self._asked_today >= cap:
                raise _Failed("daily_cap", f"{cap} requests today (extract.llm.max_per_day)")
            self._asked_today += 1

    def _ask(self, first: list[dict[str, str]], pack: RulePack) -> list[dict[str, Any]]:
        """One request, and one repair attempt if the answer is not the schema's JSON."""
        schema = event_schema(pack.event_types)
        try:
            content = self._post(first, schema)
        except _Failed as exc:
            if exc.status != 400 or not self._structured:
                raise
            # A server without structured output refuses response_format: the schema in the
            # instructions, the strict parse and the repair do without it from now on.
            log.info("the extraction model's server refuses json_schema; asking without it")
            self._structured = False
            content = self._post(first, schema)
        found = parse_answer(content)
        if found is None:
            content = self._post(repair_messages(first, content), schema)
            found = parse_answer(content)
            if found is None:
                raise _Failed("invalid", "the answer is not JSON of the schema, even repaired")
            with self._lock:
                self.stats.repaired += 1
        with self._lock:
            self.stats.answers += 1
        return found

    def _post(self, chat: list[dict[str, str]], schema: dict[str, Any]) -> str:
        body = {
            "model": self.model,
            "messages": chat,
            "temperature": 0,
            "stream": False,
        }
        if self._structured:  # where the server has it; the parse and repair where it does not
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "events", "strict": True, "schema": schema},
            }
        headers = {"Content-Type": "application/json"}
        if self.config.api_key is not None:
            headers["Authorization"] = f"Bearer {self.config.api_key.reveal()}"
        request = urllib.request.Request(
            self._url, json.dumps(body).encode(), headers, method="POST"
        )
        with self._lock:
            self.stats.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_seconds) as response:
                doc = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            reason = (
                "rate_limited"
                if exc.code == 429
                else "server_error"
                if exc.code >= 500
                else "error"
            )
            raise _Failed(reason, f"HTTP {exc.code} {exc.reason}", exc.code) from None
        except TimeoutError:
            raise _Failed("timeout", f"no answer in {self.config.timeout_seconds}s") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise _Failed("timeout", f"no answer in {self.config.timeout_seconds}s") from None
            raise _Failed("error", f"cannot reach the server: {exc.reason}") from None
        except (OSError, ValueError) as exc:  # a connection reset, a body that is not JSON
            raise _Failed("error", f"{type(exc).__name__}: {exc}") from None
        try:
            content = doc["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise _Failed("error", "the response has no choices[0].message.content") from None
        return content if isinstance(content, str) else json.dumps(content)


def extract_all(
    articles: Sequence[Article], pack: RulePack, config: Config, max_chars: int | None = None
) -> list[Extraction]:
    """Each article's events as `extract.backend: llm` gives them: the model's, grounded, where
    it answers (through the cache in `state.url`: a second evaluation asks nothing), the rules'
    where it fails. For `eventfeed eval --backend llm` and other batch tools; the requests run
    `extract.llm.max_concurrent` at a time."""
    from bot.store import Store  # the whole store only here: the daemon passes its own

    llm = config.extract.llm
    for key, value in (("base_url", llm.base_url), ("model", llm.model)):
        if value is None:
            raise ConfigError(f"'extract.llm.{key}' is needed to extract with the model")
    store = Store.open(config.state)
    model = LlmExtractor(llm, store, utc_now, "llm")
    try:
        rules = [extract(article, pack, max_chars) for article in articles]
        asked = [model.submit(a, pack, r) for a, r in zip(articles, rules, strict=True)]
        return [f.result() or r for f, r in zip(asked, rules, strict=True)]
    finally:
        model.close()
        store.close()


def probe(config: LlmConfig) -> str:
    """Ask the server for its models (`/v1/models`): what `doctor` says of the endpoint.
    Raises OSError (or ValueError) saying why it cannot be used."""
    assert config.base_url is not None and config.model is not None
    url = _completions_url(config.base_url).removesuffix("/chat/completions") + "/models"
    headers = (
        {} if config.api_key is None else {"Authorization": f"Bearer {config.api_key.reveal()}"}
    )
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=min(config.timeout_seconds, 10.0)) as response:
        doc = json.loads(response.read())
    names = [m.get("id") for m in doc.get("data", []) if isinstance(m, dict)]
    if names and config.model not in names:
        raise ValueError(
            f"the server has no model {config.model!r} (it has {', '.join(map(str, names[:5]))})"
        )
    return f"{config.model} at {config.base_url}"


class _Workers:
    """`size` daemon threads taking calls from a queue. Not a ThreadPoolExecutor: the
    interpreter joins an executor's threads at exit, and a request in flight would hold a
    stopping daemon for up to `timeout_seconds`; its answer is cached by then or lost."""

    def __init__(self, size: int) -> None:
        self._calls: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._size = size
        self._lock = threading.Lock()
        self._closed = False
        for n in range(size):
            threading.Thread(target=self._work, name=f"llm-{n}", daemon=True).start()

    def submit(self, call: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:  # a stopping daemon: nobody takes calls any more
                _cancel(future)
            else:
                self._calls.put((future, call))
        return future

    def close(self) -> None:
        """Calls not started are cancelled (their articles keep the rules' events)."""
        with self._lock:
            self._closed = True
        while True:
            try:
                item = self._calls.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                _cancel(item[0])
        for _ in range(self._size):
            self._calls.put(None)

    def _work(self) -> None:
        while (item := self._calls.get()) is not None:
            future, call = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)


def _cancel(future: Future[Any]) -> None:
    # Cancelled and notified: `concurrent.futures.wait` counts only that as done.
    future.cancel()
    future.set_running_or_notify_cancel()


def _completions_url(base_url: str) -> str:
    """`/v1/chat/completions` under the base URL; a base URL that ends in /v1 (as Ollama's and
    most SDKs' do) is not given a second one."""
    base = base_url.rstrip("/")
    return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"


def _midnight(now: datetime) -> datetime:
    return datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
