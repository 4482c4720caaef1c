"""A fake Telegram Bot API server on 127.0.0.1 for the real python-telegram-bot to talk to.

It speaks enough of the Bot API for polling, commands and delivery, records every call, checks
HTML the way Telegram does (so rendering bugs fail a test), and injects faults on demand.
Point PTB at it with ``.base_url(fake.base_url)`` / ``.base_file_url(fake.base_file_url)``,
or give ``fake.base_url`` to the daemon as ``telegram.base_url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import itertools
import json
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

BOT_USERNAME = "eventfeed_test_bot"
MAX_TEXT_LENGTH = 4096

FaultKind = Literal[
    "retry_after",  # 429 with parameters.retry_after
    "server_error",  # 500
    "timeout",  # hold the request past the client's read timeout, then 504
    "blocked",  # 403 bot was blocked by the user
    "kicked",  # 403 bot was kicked from the group chat
    "chat_not_found",  # 400 chat not found
    "migrated",  # 400 with parameters.migrate_to_chat_id
    "parse_entities",  # 400 can't parse entities
    "bad_request",  # any other 400
    "unauthorized",  # 401: the token was revoked
]

# Parameters PTB sends as plain strings; every other form value is JSON-encoded.
_STRING_PARAMS = frozenset(
    {"text", "parse_mode", "caption", "callback_query_id", "inline_message_id", "url",
     "language_code", "description", "short_description", "name", "emoji"}
)  # fmt: skip
_ALLOWED_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "span",
     "tg-spoiler", "tg-emoji", "blockquote"}
)  # fmt: skip
_ADMIN_RIGHTS = (
    "can_be_edited", "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
    "can_restrict_members", "can_promote_members", "can_change_info", "can_invite_users",
    "can_post_stories", "can_edit_stories", "can_delete_stories",
)  # fmt: skip
_TAG_OR_ENTITY = re.compile(r"<(/?)([a-zA-Z][\w-]*)([^<>]*)>|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


@dataclass(frozen=True)
class ApiCall:
    """One request as the server received it."""

    method: str
    params: dict[str, Any]
    at: float  # time.monotonic()


@dataclass(frozen=True)
class SentMessage:
    """A message the server accepted (sendMessage), as it stands now (after any edits)."""

    chat_id: int | str
    message_id: int
    text: str
    parse_mode: str | None
    message_thread_id: int | None
    reply_markup: Any
    at: float  # time.monotonic() when received
    params: dict[str, Any] = field(default_factory=dict)
    edited: bool = False


@dataclass
class _Fault:
    kind: FaultKind
    times: int | None  # None: every matching call until clear_faults()
    retry_after: int
    migrate_to: int | None
    description: str | None


class FakeBotApi:
    """The Bot API at http://127.0.0.1:<random port>/bot<token>/<method>."""

    def __init__(self, *, hold_seconds: float = 30.0, strict_html: bool = True) -> None:
        self.hold_seconds = hold_seconds  # how long a "timeout" fault holds a request
        self.strict_html = strict_html
        self.calls: list[ApiCall] = []
        self.commands: list[dict[str, Any]] = []  # from the last setMyCommands
        self.tokens: set[str] = set()  # tokens seen in request paths
        self._messages: dict[tuple[Any, Any], SentMessage] = {}  # (chat_id, message_id)
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self.last_command_id = 0  # message_id of the last message inject_command queued
        self._faults: dict[tuple[str, int | str | None], list[_Fault]] = {}
        self._admins: dict[Any, set[int]] = {}
        self._chat_types: dict[int | str, str] = {}
        self._new_update = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port = 0

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))  # a free port, known before the site starts
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        self._closing.set()  # releases long polls and held requests at once
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/file/bot"

    # -- test helpers -------------------------------------------------------------------

    def inject_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update for getUpdates; its update_id is assigned here."""
        update_id = next(self._update_ids)
        self._updates.append({**update, "update_id": update_id})
        self._new_update.set()
        return update_id

    def inject_command(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int = 1001,
        chat_type: str = "private",
        thread_id: int | None = None,
        chat_title: str = "Test group",
        language_code: str | None = "en",
    ) -> int:
        """Queue a message whose first word is a command, with the bot_command entity PTB needs."""
        self._chat_types[chat_id] = chat_type
        command = text.split(maxsplit=1)[0] if text.strip() else text
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        if language_code:
            user["language_code"] = language_code
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = user["first_name"]
        else:
            chat["title"] = chat_title
            if thread_id is not None:
                chat["is_forum"] = True
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
            if command.startswith("/")
            else [],
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        self.last_command_id = message["message_id"]
        return self.inject_update({"message": message})

    def set_admins(self, chat_id: int, user_ids: set[int] | list[int]) -> None:
        """Make these users the administrators of a group (getChatMember answers accordingly)."""
        self._admins[chat_id] = set(user_ids)

    def fail_next(
        self,
        method: str,
        chat_id: int | str | None,
        kind: FaultKind,
        *,
        times: int | None = 1,
        retry_after: int = 1,
        migrate_to: int | None = None,
        description: str | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` for `chat_id` (None: any chat) with a fault."""
        fault = _Fault(kind, times, retry_after, migrate_to, description)
        self._faults.setdefault((method.lower(), chat_id), []).append(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    def sent(self, chat_id: int | str | None = None) -> list[SentMessage]:
        """Accepted messages in the order received, optionally for one chat."""
        return [m for m in self._messages.values() if chat_id is None or m.chat_id == chat_id]

    def calls_to(self, method: str) -> list[ApiCall]:
        """Calls of `method`, however the client spelled it (Telegram ignores the case)."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    async def wait_for(
        self,
        predicate: Callable[[], object],
        timeout: float = 5.0,  # noqa: ASYNC109 - a polling deadline, not a cancellation scope
        what: str = "condition",
    ) -> None:
        """Poll `predicate` until it is true; fail with `what` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(0.01)

    # -- the API ------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        self.tokens.add(request.match_info["token"])
        params = await _read_params(request)
        self.calls.append(ApiCall(method, params, time.monotonic()))
        fault = self._take_fault(method, params.get("chat_id"))
        if fault is not None:
            return await self._fault_response(fault, params)
        handler = getattr(self, f"_api_{method.lower()}", None)
        if handler is None:
            return reply_ok(True)
        response: web.StreamResponse = await handler(params, request)
        return response

    async def _file(self, request: web.Request) -> web.StreamResponse:
        return reply_error(404, "Not Found: file not found")

    def _take_fault(self, method: str, chat_id: Any) -> _Fault | None:
        method = method.lower()  # Bot API method names are case-insensitive
        for key in ((method, chat_id), (method, None)):
            queue = self._faults.get(key)
            if queue:
                fault = queue[0]
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        queue.pop(0)
                return fault
        return None

    async def _fault_response(self, fault: _Fault, params: dict[str, Any]) -> web.Response:
        text = fault.description
        if fault.kind == "retry_after":
            return reply_error(
                429,
                text or f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            )
        if fault.kind == "server_error":
            return reply_error(500, text or "Internal Server Error")
        if fault.kind == "timeout":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.hold_seconds)
            return reply_error(504, "Gateway Timeout")
        if fault.kind == "blocked":
            return reply_error(403, text or "Forbidden: bot was blocked by the user")
        if fault.kind == "kicked":
            return reply_error(403, text or "Forbidden: bot was kicked from the group chat")
        if fault.kind == "chat_not_found":
            return reply_error(400, text or "Bad Request: chat not found")
        if fault.kind == "migrated":
            old = params.get("chat_id")
            new = fault.migrate_to or (-(10**12) + old if isinstance(old, int) else -100123)
            return reply_error(
                400,
                text or "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": new},
            )
        if fault.kind == "unauthorized":
            return reply_error(401, text or "Unauthorized")
        if fault.kind == "parse_entities":
            return reply_error(
                400,
                text
                or 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0',
            )
        return reply_error(400, text or "Bad Request: the fake server was told to refuse this")

    async def _api_getme(self, params: dict[str, Any], request: web.Request) -> web.Response:
        return reply_ok(self._bot_user(request))

    async def _api_getupdates(self, params: dict[str, Any], request: web.Request) -> web.Response:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:  # Telegram forgets every update before the offset
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while not self._updates and not self._closing.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), remaining)
            except TimeoutError:
                break
        return reply_ok(self._updates[:limit])

    async def _api_sendmessage(self, params: dict[str, Any], request: web.Request) -> web.Response:
        chat_id = params.get("chat_id")
        text = params.get("text")
        if not isinstance(chat_id, int | str) or chat_id == "":
            return reply_error(400, "Bad Request: chat_id is empty")
        if not isinstance(text, str) or not text.strip():
            return reply_error(400, "Bad Request: message text is empty")
        parse_mode = params.get("parse_mode")
        shown = text
        if parse_mode == "HTML":
            problem, shown = parse_telegram_html(text)
            if problem and self.strict_html:
                return reply_error(400, f"Bad Request: can't parse entities: {problem}")
        if _utf16_len(shown) > MAX_TEXT_LENGTH:
            return reply_error(400, "Bad Request: message is too long")
        thread_id = params.get("message_thread_id")
        message = SentMessage(
            chat_id=chat_id,
            message_id=next(self._message_ids),
            text=text,
            parse_mode=parse_mode,
            message_thread_id=thread_id,
            reply_markup=params.get("reply_markup"),
            at=time.monotonic(),
            params=params,
        )
        self._messages[(chat_id, message.message_id)] = message
        return reply_ok(self._message_json(message, shown, request))

    async def _api_editmessagetext(
        self, params: dict[str, Any], request: web.Request
    ) -> web.Response:
        key = (params.get("chat_id"), params.get("message_id"))
        old = self._messages.get(key)
        if old is None:
            return reply_error(400, "Bad Request: message to edit not found")
        text = str(params.get("text") or "")
        if text == old.text:
            return reply_error(400, "Bad Request: message is not modified")
        edited = dataclasses.replace(
            old,
            text=text,
            parse_mode=params.get("parse_mode"),
            reply_markup=params.get("reply_markup"),
            params={**old.params, **params},
            edited=True,
        )
        self._messages[key] = edited
        return reply_ok(self._message_json(edited, text, request))

    async def _api_getchatmember(
        self, params: dict[str, Any], request: web.Request
    ) -> web.Response:
        chat_id, user_id = params.get("chat_id"), params.get("user_id")
        if not isinstance(user_id, int):
            return reply_error(400, "Bad Request: invalid user_id specified")
        return reply_ok(self._member(user_id, user_id in self._admins.get(chat_id, set())))

    async def _api_getchatadministrators(
        self, params: dict[str, Any], request: web.Request
    ) -> web.Response:
        admins = sorted(self._admins.get(params.get("chat_id"), set()))
        return reply_ok([self._member(user_id, True) for user_id in admins])

    async def _api_setmycommands(
        self, params: dict[str, Any], request: web.Request
    ) -> web.Response:
        self.commands = list(params.get("commands") or [])
        return reply_ok(True)

    # -- JSON shapes --------------------------------------------------------------------

    def _bot_user(self, request: web.Request) -> dict[str, Any]:
        prefix = request.match_info["token"].partition(":")[0]
        return {
            "id": int(prefix) if prefix.isdigit() else 1,
            "is_bot": True,
            "first_name": "eventfeed test",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _message_json(
        self, message: SentMessage, text: str, request: web.Request
    ) -> dict[str, Any]:
        chat_type = self._chat_types.get(message.chat_id) or _guess_chat_type(message.chat_id)
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": {"id": message.chat_id, "type": chat_type},
            "from": self._bot_user(request),
            "text": text,
        }
        if message.message_thread_id is not None:
            data["message_thread_id"] = message.message_thread_id
            data["is_topic_message"] = True
        if message.edited:
            data["edit_date"] = int(time.time())
        return data

    @staticmethod
    def _member(user_id: int, admin: bool) -> dict[str, Any]:
        user = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        if not admin:
            return {"status": "member", "user": user}
        rights = {right: True for right in _ADMIN_RIGHTS}
        return {"status": "administrator", "user": user, "is_anonymous": False, **rights}


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Form bodies (PTB's usual) carry numbers and objects JSON-encoded; JSON bodies are plain."""
    if request.content_type == "application/json":
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    raw: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        form = await request.post()
        raw.update({k: v for k, v in form.items() if isinstance(v, str)})
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _STRING_PARAMS:
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value  # e.g. chat_id "@channel"
    return params


def parse_telegram_html(text: str) -> tuple[str | None, str]:
    """Check Telegram HTML; return (problem or None, the text as the user would see it)."""
    shown: list[str] = []
    open_tags: list[str] = []
    pos = 0
    for match in _TAG_OR_ENTITY.finditer(text):
        plain = text[pos : match.start()]
        if "<" in plain or "&" in plain or ">" in plain:
            char = next(c for c in plain if c in "<>&")
            offset = len(text[: pos + plain.index(char)].encode())
            return f"Unexpected character {char!r} at byte offset {offset}", text
        shown.append(plain)
        pos = match.end()
        closing, tag, attrs, entity = match.groups()
        if entity is not None:
            shown.append(html.unescape(match.group(0)))
            continue
        tag = tag.lower()
        offset = len(text[: match.start()].encode())
        if tag not in _ALLOWED_TAGS:
            return f'Unsupported start tag "{tag}" at byte offset {offset}', text
        if closing:
            if not open_tags or open_tags[-1] != tag:
                return f'Unmatched end tag at byte offset {offset}, expected "</{tag}>"', text
            open_tags.pop()
        else:
            if tag == "a" and not re.fullmatch(r'\s+href="[^"<>]*"\s*', attrs):
                return f'Bad "a" tag attributes at byte offset {offset}', text
            open_tags.append(tag)
    rest = text[pos:]
    if "<" in rest or "&" in rest or ">" in rest:
        return "Unexpected reserved character near the end of the text", text
    if open_tags:
        return f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"', text
    shown.append(rest)
    return None, "".join(shown)


def reply_ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def reply_error(
    status: int, description: str, parameters: dict[str, Any] | None = None
) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


def _guess_chat_type(chat_id: int | str) -> str:
    if isinstance(chat_id, str):
        return "channel"
    if chat_id > 0:
        return "private"
    return "supergroup" if str(chat_id).startswith("-100") else "group"


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
