"""A stand-in OpenAI-compatible server on 127.0.0.1 for the extraction model's tests.

Real HTTP: an aiohttp app on its own event loop in a thread, so that the synchronous scan
(and a daemon in another process) talk to it as to Ollama or llama.cpp. Each request to
`/v1/chat/completions` is answered by `reply(body)`: a canned answer, malformed JSON, an HTTP
status, or an answer held until the test releases it. It counts requests, the most in flight
at once, and keeps the Authorization headers it saw.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    """How the stand-in answers one request."""

    content: str = '{"events": []}'  # choices[0].message.content
    status: int = 200
    body: str | None = None  # a raw body instead of a completion (error statuses)
    hold: threading.Event | None = None  # answer only once set (or after 120 s)
    delay: float = 0.0  # seconds before answering (a slow server)


def answer(*events: dict[str, Any]) -> Reply:
    """A canned answer with these events."""
    return Reply(json.dumps({"events": list(events)}, ensure_ascii=False))


@dataclass
class StandIn:
    reply: Callable[[dict[str, Any]], Reply] = field(default=lambda body: Reply())
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> StandIn:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="llm-stand-in", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the stand-in server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def _models(self, request: web.Request) -> web.Response:
        self.authorizations.append(request.headers.get("Authorization"))
        return web.json_response({"object": "list", "data": [{"id": "standin-7b"}]})

    async def _completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            self.requests.append(body)
            self.authorizations.append(request.headers.get("Authorization"))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            reply = self.reply(body)
            if reply.hold is not None:
                await asyncio.to_thread(reply.hold.wait, 120)
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if reply.body is not None or reply.status != 200:
                return web.Response(status=reply.status, text=reply.body or "")
            completion = {
                "id": "chatcmpl-standin",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.content},
                        "finish_reason": "stop",
                    }
                ],
            }
            return web.json_response(completion)
        finally:
            with self._lock:
                self.in_flight -= 1


def article_text(body: dict[str, Any]) -> str:
    """The article part of a request (its last message)."""
    return str(body["messages"][-1]["content"])


# Two articles and the answers a model would give for them, shared by the model's tests.
KEY = "sk-standin-SECRET-0123456789"

NORTHWIND = """---
title: "Northwind Robotics buys Larkspur Sensors for $420 million"
date: 2026-03-02
---
Northwind Robotics said on Monday that it agreed to acquire Larkspur Sensors for $420 million \
in cash, its largest deal so far.

Larkspur Sensors, founded in 2014 by Mara Quill, makes lidar units for warehouse robots. The \
deal is expected to close on 2026-04-15.

Shares of Northwind rose 4% to $18.20.
"""

TIDE = """---
title: "潮汐能源完成5亿元B轮融资"
date: 2026-03-03
---
潮汐能源今天宣布完成5亿元人民币B轮融资，由远山资本领投。

潮汐能源成立于2019年，主要生产储能电池。
"""

ACQUISITION = {
    "type": "acquisition",
    "actors": ["Northwind Robotics", "Larkspur Sensors"],
    "amount": "$420 million",
    "date": "2026-04-15",
    "summary": "Northwind Robotics agreed to buy Larkspur Sensors for $420 million.",
}
FUNDING = {
    "type": "funding",
    "actors": ["潮汐能源", "远山资本"],
    "amount": "5亿元人民币",
    "date": None,
    "summary": "潮汐能源完成5亿元人民币B轮融资，远山资本领投。",
}
