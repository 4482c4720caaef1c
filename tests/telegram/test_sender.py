"""The sender against the fake Bot API: every fault maps to the right outcome, token never shown."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from support.fakebot import FakeBotApi, FaultKind
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.request import HTTPXRequest

from bot.core.redact import TokenRedactor
from bot.telegram.request import AiohttpRequest
from bot.telegram.sender import Failed, Gone, Migrated, Outcome, RetryAfter, Sender, Sent

TOKEN = "123456:SECRET-token-value-abcdef"
CHAT = 4242


@pytest.fixture(params=["aiohttp", "httpx"])
async def sender(fake_bot: FakeBotApi, request: pytest.FixtureRequest) -> AsyncIterator[Sender]:
    """The daemon's transport (bot/telegram/request.py) and PTB's default: the outcomes are the same."""
    transport = AiohttpRequest if request.param == "aiohttp" else HTTPXRequest
    bot = Bot(
        TOKEN, base_url=fake_bot.base_url, request=transport(read_timeout=0.5, connect_timeout=2.0)
    )
    async with bot:
        yield Sender(bot)


async def test_sends_html_without_link_preview(sender: Sender, fake_bot: FakeBotApi) -> None:
    outcome = await sender.send(CHAT, "<b>Deal</b> &amp; more", thread_id=7)

    [message] = fake_bot.sent(CHAT)
    assert outcome == Sent(message.message_id)
    assert message.text == "<b>Deal</b> &amp; more"
    assert message.parse_mode == "HTML"
    assert message.message_thread_id == 7
    assert message.params["link_preview_options"] == {"is_disabled": True}


async def test_sends_a_keyboard(sender: Sender, fake_bot: FakeBotApi) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("取消", callback_data="x:1")]])

    outcome = await sender.send(CHAT, "pick", reply_markup=keyboard)

    [message] = fake_bot.sent(CHAT)
    assert outcome == Sent(message.message_id)
    assert message.reply_markup == {"inline_keyboard": [[{"text": "取消", "callback_data": "x:1"}]]}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("retry_after", RetryAfter(3.0)),
        ("migrated", Migrated(-1001234)),
        ("blocked", Gone("Forbidden: bot was blocked by the user")),
        ("kicked", Gone("Forbidden: bot was kicked from the group chat")),
        ("chat_not_found", Gone("BadRequest: Chat not found")),
        ("server_error", Failed("NetworkError: Internal Server Error", retryable=True)),
        (
            "bad_request",
            Failed("BadRequest: The fake server was told to refuse this", retryable=False),
        ),
        ("unauthorized", Failed("InvalidToken: Unauthorized", retryable=False)),
    ],
)
async def test_fault_maps_to_outcome(
    sender: Sender, fake_bot: FakeBotApi, kind: FaultKind, expected: Outcome
) -> None:
    fake_bot.fail_next("sendMessage", CHAT, kind, retry_after=3, migrate_to=-1001234)

    assert await sender.send(CHAT, "hello") == expected
    assert fake_bot.sent(CHAT) == []
    # The fault was one-shot: the next message goes through.
    assert isinstance(await sender.send(CHAT, "again"), Sent)


async def test_timeout_is_retryable(sender: Sender, fake_bot: FakeBotApi) -> None:
    fake_bot.fail_next("sendMessage", CHAT, "timeout")

    outcome = await sender.send(CHAT, "hello")

    assert isinstance(outcome, Failed) and outcome.retryable
    assert "TimedOut" in outcome.reason


async def test_faults_are_per_chat(sender: Sender, fake_bot: FakeBotApi) -> None:
    fake_bot.fail_next("sendMessage", CHAT, "blocked")

    assert isinstance(await sender.send(CHAT + 1, "other chat"), Sent)
    assert isinstance(await sender.send(CHAT, "this chat"), Gone)


async def test_unparsable_html_is_resent_as_plain_text(
    sender: Sender, fake_bot: FakeBotApi
) -> None:
    fake_bot.fail_next("sendMessage", CHAT, "parse_entities")
    html_text = '<b>Meta</b> buys 49% of <a href="https://example.com/a">Scale &amp; Co</a>'

    outcome = await sender.send(CHAT, html_text)

    [message] = fake_bot.sent(CHAT)
    assert outcome == Sent(message.message_id)
    assert message.parse_mode is None
    assert message.text == "Meta buys 49% of Scale & Co (https://example.com/a)"
    assert len(fake_bot.calls_to("sendMessage")) == 2


async def test_html_that_telegram_would_reject_is_resent_as_plain_text(
    sender: Sender, fake_bot: FakeBotApi
) -> None:
    outcome = await sender.send(CHAT, "<b>unclosed and a bare < sign")

    [message] = fake_bot.sent(CHAT)
    assert outcome == Sent(message.message_id)
    assert message.parse_mode is None


async def test_plain_text_resend_failure_is_reported(sender: Sender, fake_bot: FakeBotApi) -> None:
    fake_bot.fail_next("sendMessage", CHAT, "parse_entities")
    fake_bot.fail_next("sendMessage", CHAT, "blocked")

    assert isinstance(await sender.send(CHAT, "<b>x</b>"), Gone)
    assert len(fake_bot.calls_to("sendMessage")) == 2


async def test_token_never_in_reasons_or_logs(
    sender: Sender, fake_bot: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    kinds: list[FaultKind] = [
        "retry_after", "server_error", "blocked", "bad_request", "parse_entities", "timeout",
    ]  # fmt: skip
    outcomes = []
    for kind in kinds:
        fake_bot.fail_next("sendMessage", CHAT, kind, description=f"Bad Request: echo {TOKEN}")
        outcomes.append(await sender.send(CHAT, f"text {TOKEN[:3]}"))
    outcomes.append(await sender.send(CHAT, "fine"))

    assert any(isinstance(o, Failed) and "***" in o.reason for o in outcomes)
    secret = TOKEN.partition(":")[2].lower()  # PTB lowercases parts of error descriptions
    for outcome in outcomes:
        assert secret not in repr(outcome).lower()
    ours = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any(r.name == "bot.telegram.sender" for r in ours) and any(
        r.name == "telegram.Bot" for r in ours
    )
    for record in ours:
        assert secret not in record.getMessage().lower(), record.name
    # httpx logs request URLs, token included: the daemon's log handler must redact them.
    redactor = TokenRedactor(TOKEN)
    for record in caplog.records:
        redactor.filter(record)
        assert secret not in record.getMessage().lower(), record.name


def test_token_redactor_rewrites_record() -> None:
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "POST %s", (TOKEN,), None)

    TokenRedactor(TOKEN).filter(record)

    assert record.getMessage() == "POST ***"
