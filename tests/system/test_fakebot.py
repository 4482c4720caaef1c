"""The fake Bot API itself: other tests trust it, so it gets tested like product code."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from support.fakebot import FakeBotApi, parse_telegram_html
from telegram import Bot, ChatMember
from telegram.error import BadRequest

TOKEN = "123:TEST"


async def call(fake: FakeBotApi, method: str, *, json_body: bool = False, **params: Any) -> Any:
    """A raw Bot API request, as form (PTB's usual way) or JSON."""
    url = f"{fake.base_url}{TOKEN}/{method}"
    async with aiohttp.ClientSession() as session:
        if json_body:
            response = await session.post(url, json=params)
        else:
            form = {k: v if isinstance(v, str) else str(v).lower() for k, v in params.items()}
            response = await session.post(url, data=form)
        async with response:
            return await response.json()


async def test_ptb_bot_initializes_and_sends(fake_bot: FakeBotApi) -> None:
    async with Bot(TOKEN, base_url=fake_bot.base_url) as bot:
        first = await bot.send_message(5, "<b>one</b>", parse_mode="HTML", message_thread_id=3)
        second = await bot.send_message(5, "two")

    assert bot.username == "eventfeed_test_bot"
    assert bot.id == 123
    assert second.message_id > first.message_id
    assert first.text == "one"  # what the reader sees, as Telegram returns it
    [one, two] = fake_bot.sent(5)
    assert (one.text, one.parse_mode, one.message_thread_id) == ("<b>one</b>", "HTML", 3)
    assert (two.text, two.parse_mode) == ("two", None)
    assert fake_bot.tokens == {TOKEN}


async def test_get_updates_long_polls_until_an_update_arrives(fake_bot: FakeBotApi) -> None:
    started = time.monotonic()
    empty = await call(fake_bot, "getUpdates", timeout=0.3)
    assert empty == {"ok": True, "result": []}
    assert time.monotonic() - started >= 0.3

    waiting = asyncio.create_task(call(fake_bot, "getUpdates", timeout=10))
    await fake_bot.wait_for(lambda: len(fake_bot.calls_to("getUpdates")) == 2, 5, "the poll")
    update_id = fake_bot.inject_command(42, "/list@eventfeed_test_bot", thread_id=9)
    answered = await asyncio.wait_for(waiting, 5)

    [update] = answered["result"]
    message = update["message"]
    assert update["update_id"] == update_id
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 24}]
    assert (message["message_thread_id"], message["is_topic_message"]) == (9, True)


async def test_offset_confirms_updates(fake_bot: FakeBotApi) -> None:
    first = fake_bot.inject_command(1, "/start")
    second = fake_bot.inject_command(1, "/help")

    everything = await call(fake_bot, "getUpdates", timeout=0)
    rest = await call(fake_bot, "getUpdates", timeout=0, offset=second)
    none = await call(fake_bot, "getUpdates", timeout=0, offset=second + 1)

    assert [u["update_id"] for u in everything["result"]] == [first, second]
    assert [u["update_id"] for u in rest["result"]] == [second]
    assert none["result"] == []


async def test_json_bodies_are_understood(fake_bot: FakeBotApi) -> None:
    answer = await call(
        fake_bot, "sendMessage", json_body=True, chat_id=7, text="hi", message_thread_id=2
    )

    assert answer["ok"] is True
    [sent] = fake_bot.sent(7)
    assert (sent.chat_id, sent.text, sent.message_thread_id) == (7, "hi", 2)


async def test_faults_follow_method_chat_and_count(fake_bot: FakeBotApi) -> None:
    fake_bot.fail_next("sendMessage", None, "server_error", times=2)
    fake_bot.fail_next("sendMessage", 8, "retry_after", retry_after=4, times=None)

    assert (await call(fake_bot, "sendMessage", chat_id=7, text="a"))["error_code"] == 500
    assert (await call(fake_bot, "sendMessage", chat_id=7, text="a"))["error_code"] == 500
    assert (await call(fake_bot, "sendMessage", chat_id=7, text="a"))["ok"] is True
    for _ in range(3):
        limited = await call(fake_bot, "sendMessage", chat_id=8, text="b")
        assert limited["parameters"] == {"retry_after": 4}
    fake_bot.clear_faults()
    assert (await call(fake_bot, "sendMessage", chat_id=8, text="b"))["ok"] is True
    assert len(fake_bot.calls_to("sendMessage")) == 7


async def test_migrated_fault_names_the_new_chat(fake_bot: FakeBotApi) -> None:
    fake_bot.fail_next("sendMessage", -55, "migrated", migrate_to=-10055)

    answer = await call(fake_bot, "sendMessage", chat_id=-55, text="x")

    assert answer["parameters"] == {"migrate_to_chat_id": -10055}


async def test_held_request_is_released_by_stop() -> None:
    fake = FakeBotApi(hold_seconds=60)
    await fake.start()
    fake.fail_next("sendMessage", None, "timeout")
    held = asyncio.create_task(call(fake, "sendMessage", chat_id=1, text="x"))
    await fake.wait_for(lambda: fake.calls_to("sendMessage"), 5, "the request")

    started = time.monotonic()
    await fake.stop()
    answer = await asyncio.wait_for(held, 5)

    assert time.monotonic() - started < 5
    assert answer["error_code"] == 504
    assert fake.sent() == []


async def test_telegram_html_rules_are_enforced(fake_bot: FakeBotApi) -> None:
    async with Bot(TOKEN, base_url=fake_bot.base_url) as bot:
        with pytest.raises(BadRequest, match="parse entities"):
            await bot.send_message(1, "<b>open", parse_mode="HTML")
        with pytest.raises(BadRequest, match="parse entities"):
            await bot.send_message(1, "Tom & Jerry", parse_mode="HTML")
        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message(1, "🚀" * 2049)
        await bot.send_message(1, "Tom & Jerry <b>")  # no parse mode: any text goes

    assert parse_telegram_html('<a href="https://x.org/?a=1&amp;b=2">T &lt;1&gt;</a>') == (
        None,
        "T <1>",
    )
    assert parse_telegram_html("<script>x</script>")[0] == (
        'Unsupported start tag "script" at byte offset 0'
    )


async def test_edit_and_chat_members(fake_bot: FakeBotApi) -> None:
    fake_bot.set_admins(-100, [11])
    async with Bot(TOKEN, base_url=fake_bot.base_url) as bot:
        sent = await bot.send_message(-100, "draft")
        await bot.edit_message_text("final", chat_id=-100, message_id=sent.message_id)
        admin = await bot.get_chat_member(-100, 11)
        member = await bot.get_chat_member(-100, 12)
        admins = await bot.get_chat_administrators(-100)

    [message] = fake_bot.sent(-100)
    assert (message.text, message.edited) == ("final", True)
    assert admin.status == ChatMember.ADMINISTRATOR
    assert member.status == ChatMember.MEMBER
    assert [a.user.id for a in admins] == [11]


async def test_wait_for_fails_with_what_it_waited_for(fake_bot: FakeBotApi) -> None:
    with pytest.raises(AssertionError, match="waiting for the impossible"):
        await fake_bot.wait_for(lambda: False, 0.05, "the impossible")
