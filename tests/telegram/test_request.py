"""bot/telegram/request.py: python-telegram-bot over aiohttp, against the fake Bot API on loopback.

What PTB needs from a transport: form and multipart bodies, its timeouts, and aiohttp's
failures turned into TimedOut / NetworkError without the token in the message.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from aiohttp import web
from support.fakebot import FakeBotApi, reply_ok
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram import error as tg

from bot.telegram.request import AiohttpRequest

TOKEN = "123456:SECRET-token-value-abcdef"
SECRET = TOKEN.partition(":")[2]
CHAT = 4242


class UploadBotApi(FakeBotApi):
    """Also keeps what a multipart upload carried (setChatPhoto answers True)."""

    def __init__(self) -> None:
        super().__init__(hold_seconds=10.0)
        self.uploads: list[tuple[str, str, bytes, dict[str, Any]]] = []

    async def _api_setchatphoto(self, params: dict[str, Any], request: web.Request) -> web.Response:
        form = await request.post()  # aiohttp keeps the parsed body: the fake already read it
        photo = form["photo"]
        assert isinstance(photo, web.FileField)
        self.uploads.append(
            (request.content_type, photo.filename, photo.file.read(), {"chat_id": form["chat_id"]})
        )
        return reply_ok(True)


@pytest.fixture
async def bot(fake_bot: FakeBotApi) -> AsyncIterator[Bot]:
    request = AiohttpRequest(read_timeout=0.5, connect_timeout=2.0)
    async with Bot(TOKEN, base_url=fake_bot.base_url, request=request) as bot:
        yield bot


async def test_sends_the_parameters_ptb_gives(bot: Bot, fake_bot: FakeBotApi) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("✖ 取消", callback_data="x:1")]])

    message = await bot.send_message(
        CHAT,
        "<b>收购</b> &amp; more",
        parse_mode="HTML",
        message_thread_id=7,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        reply_markup=markup,
    )

    [sent] = fake_bot.sent(CHAT)
    assert message.message_id == sent.message_id and message.chat.id == CHAT
    assert sent.text == "<b>收购</b> &amp; more" and sent.parse_mode == "HTML"
    assert sent.message_thread_id == 7
    assert sent.params["link_preview_options"] == {"is_disabled": True}
    assert sent.reply_markup == {"inline_keyboard": [[{"text": "✖ 取消", "callback_data": "x:1"}]]}
    assert fake_bot.tokens == {TOKEN}
    assert (await bot.get_me()).username == "eventfeed_test_bot"


class RawBodyBotApi(FakeBotApi):
    """Also keeps the body of each sendMessage as it came over the wire."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    async def _api_sendmessage(self, params: dict[str, Any], request: web.Request) -> web.Response:
        self.bodies.append(await request.read())  # aiohttp keeps it: the fake already read it
        return await super()._api_sendmessage(params, request)


async def test_form_body_is_what_urlencode_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """The quoted text is reused from one chat to the next: the bytes must stay urlencode's."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    text = "<b>收购 🤝</b> a+b = c &amp; d%20e\n100%"
    async with (
        RawBodyBotApi() as fake,
        Bot(TOKEN, base_url=fake.base_url, request=AiohttpRequest()) as bot,
    ):
        for chat in (CHAT, CHAT + 1, CHAT):
            await bot.send_message(chat, text, parse_mode="HTML")

    assert [m.text for m in fake.sent()] == [text] * 3
    for chat, body in zip((CHAT, CHAT + 1, CHAT), fake.bodies, strict=True):
        fields = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True)
        assert body == urlencode(fields).encode()
        assert dict(fields) == {"chat_id": str(chat), "text": text, "parse_mode": "HTML"}


async def test_uploads_files_as_multipart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with (
        UploadBotApi() as fake,
        Bot(TOKEN, base_url=fake.base_url, request=AiohttpRequest()) as bot,
    ):
        assert await bot.set_chat_photo(-100123, photo=b"\x89PNG\r\n\x1a\n...")

        [(content_type, filename, data, fields)] = fake.uploads
    assert content_type == "multipart/form-data"
    assert data == b"\x89PNG\r\n\x1a\n..." and filename
    assert fields == {"chat_id": "-100123"}


async def test_answers_become_ptb_errors(bot: Bot, fake_bot: FakeBotApi) -> None:
    fake_bot.fail_next("sendMessage", CHAT, "retry_after", retry_after=3)
    fake_bot.fail_next("sendMessage", CHAT + 1, "server_error")
    fake_bot.fail_next("sendMessage", CHAT + 2, "blocked")

    with pytest.raises(tg.RetryAfter):
        await bot.send_message(CHAT, "a")
    with pytest.raises(tg.NetworkError, match="Internal Server Error"):
        await bot.send_message(CHAT + 1, "b")
    with pytest.raises(tg.Forbidden):
        await bot.send_message(CHAT + 2, "c")


async def test_read_timeout_is_timed_out(bot: Bot, fake_bot: FakeBotApi) -> None:
    fake_bot.fail_next("sendMessage", CHAT, "timeout")

    with pytest.raises(tg.TimedOut) as caught:
        await bot.send_message(CHAT, "slow")

    assert SECRET not in str(caught.value)
    # The connection that timed out is not reused half-read: the next request is answered.
    assert (await bot.send_message(CHAT, "again")).text == "again"


async def test_a_timeout_passed_by_the_caller_wins(bot: Bot, fake_bot: FakeBotApi) -> None:
    fake_bot.fail_next("sendMessage", CHAT, "timeout")

    with pytest.raises(tg.TimedOut):
        await bot.send_message(CHAT, "slow", read_timeout=0.1)


async def test_refused_connection_is_a_network_error_without_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    request = AiohttpRequest()
    bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=request)
    async with request:  # not the bot's own start-up: that asks getMe first
        with pytest.raises(tg.NetworkError) as caught:
            await bot.send_message(CHAT, "hello")
    assert not isinstance(caught.value, tg.TimedOut)
    assert "aiohttp.ClientConnectorError" in caught.value.message
    assert SECRET not in caught.value.message


async def test_shut_down_and_used_again(fake_bot: FakeBotApi) -> None:
    request = AiohttpRequest()
    bot = Bot(TOKEN, base_url=fake_bot.base_url, request=request)
    async with bot:
        await bot.send_message(CHAT, "one")
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(f"{fake_bot.base_url}{TOKEN}/getMe", "POST")
    async with bot:
        await bot.send_message(CHAT, "two")

    assert [m.text for m in fake_bot.sent(CHAT)] == ["one", "two"]


async def test_defaults_are_ptbs() -> None:
    request = AiohttpRequest(read_timeout=7.5)

    assert request.read_timeout == 7.5
    assert AiohttpRequest().read_timeout == 5.0


class ProxyBotApi(FakeBotApi):
    """Also keeps the Proxy-Authorization header of each request."""

    def __init__(self) -> None:
        super().__init__(hold_seconds=10.0)
        self.logins: list[str | None] = []

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.logins.append(request.headers.get("Proxy-Authorization"))
        return await super()._handle(request)


async def test_goes_through_the_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As with PTB's default transport: HTTP(S)_PROXY is honoured, with its login."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    fake_bot = ProxyBotApi()
    await fake_bot.start()
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    proxy = fake_bot.base_url.removesuffix("/bot").replace("http://", "http://user:pw@")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("http_proxy", proxy)
    # Not a host anyone could reach: only the proxy (the fake server itself) answers.
    base = "http://api.telegram.invalid/bot"
    try:
        async with Bot(TOKEN, base_url=base, request=AiohttpRequest()) as bot:
            await bot.send_message(CHAT, "via the proxy")
    finally:
        await fake_bot.stop()

    [sent] = fake_bot.sent(CHAT)
    assert sent.text == "via the proxy"
    assert set(fake_bot.logins) == {"Basic dXNlcjpwdw=="}  # user:pw
