"""The commands, run by a real PTB Application polling the fake Bot API, on a real SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from support.fakebot import FakeBotApi, SentMessage
from telegram import Bot
from telegram.ext import Application, ApplicationBuilder

from bot.core.model import EVENT_TYPES, Amount, Article, Event, Extraction
from bot.core.modes import ChatSettings
from bot.store import Store
from bot.store.base import utc_now
from bot.store.schema import outbox
from bot.telegram.delivery import Deliverer
from bot.telegram.handlers import COMMANDS, CommandContext, publish_commands, register
from bot.telegram.handlers.admin import resume_broadcasts
from bot.telegram.sender import Sender

ALIASES = {"meta": "Meta", "facebook": "Meta", "脸书": "Meta", "scale ai": "Scale AI"}
OPERATOR = 999
NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
USER = 1001
GROUP = -100500


def canonical(name: str) -> str | None:
    return ALIASES.get(name.casefold())


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """Each test runs on both backends (conftest's store_url)."""
    store = Store(store_url)
    yield store
    store.close()


@asynccontextmanager
async def running(
    fake: FakeBotApi, ctx: CommandContext
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    app = (
        ApplicationBuilder()
        .token("123:TEST")
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    register(app, ctx)
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await app.start()
        yield app
        await app.updater.stop()
        await app.stop()


@pytest.fixture
async def application(
    fake_bot: FakeBotApi, store: Store
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    ctx = CommandContext(store, EVENT_TYPES, canonical, admins=(OPERATOR,))
    async with running(fake_bot, ctx) as app:
        yield app


async def ask(fake: FakeBotApi, chat_id: int, text: str, **kwargs: Any) -> SentMessage:
    """Send a command as a user and return the bot's one answer."""
    before = len(fake.sent(chat_id))
    fake.inject_command(chat_id, text, **kwargs)
    await fake.wait_for(lambda: len(fake.sent(chat_id)) > before, 5, f"an answer to {text!r}")
    return fake.sent(chat_id)[-1]


@pytest.mark.usefixtures("application")
async def test_subscribe_stores_the_filter_and_says_how_it_was_read(
    fake_bot: FakeBotApi, store: Store
) -> None:
    reply = await ask(fake_bot, USER, "/subscribe acquisition")

    assert store.subscriptions(USER, None) == ["acquisition"]
    assert "Subscribed: events of type acquisition." in reply.text
    assert reply.parse_mode == "HTML"
    assert reply.message_thread_id is None


@pytest.mark.usefixtures("application")
async def test_aliases_and_case_give_one_subscription(fake_bot: FakeBotApi, store: Store) -> None:
    await ask(fake_bot, USER, "/subscribe Meta")
    again = await ask(fake_bot, USER, "/subscribe facebook")
    assert "Already subscribed" in again.text
    assert store.subscriptions(USER, None) == ["Meta"]

    gone = await ask(fake_bot, USER, "/unsubscribe meta")

    assert "Unsubscribed" in gone.text
    assert store.subscriptions(USER, None) == []


@pytest.mark.usefixtures("application")
async def test_malformed_filter_gets_an_example(fake_bot: FakeBotApi, store: Store) -> None:
    reply = await ask(fake_bot, USER, '/subscribe "Scale AI')

    assert "quote is not closed" in reply.text
    assert "For example: /subscribe acquisition Meta -rumor" in reply.text
    assert store.subscriptions(USER, None) == []


@pytest.mark.usefixtures("application")
async def test_command_for_another_bot_is_ignored(fake_bot: FakeBotApi, store: Store) -> None:
    store.add_subscription(USER, None, "funding")
    fake_bot.inject_command(USER, "/list@otherbot")

    # Updates are handled in order: once the second is answered, the first was dropped.
    reply = await ask(fake_bot, USER, "/list@eventfeed_test_bot")

    assert len(fake_bot.sent(USER)) == 1
    assert "/subscribe funding" in reply.text


@pytest.mark.usefixtures("application")
async def test_only_group_admins_change_subscriptions(fake_bot: FakeBotApi, store: Store) -> None:
    fake_bot.set_admins(GROUP, [USER])
    group = {"chat_type": "supergroup"}

    refused = await ask(fake_bot, GROUP, "/subscribe funding", user_id=USER + 1, **group)
    assert "Only this group's admins" in refused.text
    assert store.subscriptions(GROUP, None) == []

    await ask(fake_bot, GROUP, "/subscribe funding", user_id=USER, **group)
    await ask(fake_bot, GROUP, "/subscribe Meta", user_id=OPERATOR, **group)
    assert store.subscriptions(GROUP, None) == ["funding", "Meta"]

    listed = await ask(fake_bot, GROUP, "/list", user_id=USER + 1, **group)  # reading is open
    assert "/subscribe funding" in listed.text
    checked = [c.params["user_id"] for c in fake_bot.calls_to("getChatMember")]
    assert checked == [USER + 1, USER]  # the operator needs no check


@pytest.mark.usefixtures("application")
async def test_forum_topic_has_its_own_subscriptions(fake_bot: FakeBotApi, store: Store) -> None:
    fake_bot.set_admins(GROUP, [USER])
    topic = {"chat_type": "supergroup", "thread_id": 7}

    reply = await ask(fake_bot, GROUP, "/subscribe funding -rumor", **topic)

    assert reply.message_thread_id == 7
    assert store.subscriptions(GROUP, 7) == ["funding -rumor"]
    assert store.subscriptions(GROUP, None) == []
    cleared = await ask(fake_bot, GROUP, "/unsubscribe", **topic)
    assert "Removed 1 subscription." in cleared.text
    assert store.subscriptions(GROUP, 7) == []


@pytest.mark.usefixtures("application")
async def test_unsubscribe_unknown_filter_lists_what_there_is(
    fake_bot: FakeBotApi, store: Store
) -> None:
    store.add_subscription(USER, None, "Meta")

    reply = await ask(fake_bot, USER, "/unsubscribe funding")

    assert "No subscription <code>funding</code>" in reply.text
    assert "/subscribe Meta" in reply.text
    assert store.subscriptions(USER, None) == ["Meta"]


@pytest.mark.usefixtures("application")
async def test_latest_lists_articles_and_checks_its_number(
    fake_bot: FakeBotApi, store: Store
) -> None:
    assert (await ask(fake_bot, USER, "/latest")).text == "No articles yet."
    article = Article(
        path="a.md",
        title="Meta <buys> Scale AI",
        text="Meta buys 49% of Scale AI.",
        lang="en",
        published=datetime(2025, 6, 12, 9, 0, tzinfo=UTC),
        format="jekyll",
        slug="a",
    )
    event = Event("acquisition", ("Meta", "Scale AI"), "Meta buys 49% of Scale AI.", "…")
    store.save_article(
        article,
        Extraction("Meta buys a stake.", (event,)),
        "https://blog.example.org/a.html",
        size=1,
        mtime_ns=1,
        content_hash="h",
        now=datetime(2025, 6, 12, 10, 0, tzinfo=UTC),
        targets={},
    )

    reply = await ask(fake_bot, USER, "/latest 3")
    assert '<a href="https://blog.example.org/a.html">Meta &lt;buys&gt; Scale AI</a>' in reply.text
    assert "2025-06-12" in reply.text

    wrong = await ask(fake_bot, USER, "/latest lots")
    assert "number from 1 to 20" in wrong.text


@pytest.mark.usefixtures("application")
async def test_start_and_help_answer(fake_bot: FakeBotApi, store: Store) -> None:
    welcome = await ask(fake_bot, USER, "/start")
    assert "/subscribe" in welcome.text

    help_text = (await ask(fake_bot, USER, "/help")).text
    for event_type in EVENT_TYPES:
        assert f"<code>{event_type}</code>" in help_text
    assert "<b>Filters</b>" in help_text

    # A user whose Telegram speaks traditional Chinese gets the help in it.
    taiwan = 5150
    zh_help = (await ask(fake_bot, taiwan, "/help", user_id=taiwan, language_code="zh-TW")).text
    assert "<b>篩選</b>" in zh_help and "<code>acquisition</code>" in zh_help


async def test_publish_commands_sets_the_menu(
    fake_bot: FakeBotApi, application: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    await publish_commands(application)

    assert [c["command"] for c in fake_bot.commands] == [c.command for c in COMMANDS]


async def test_a_bug_gets_an_apology_and_a_log_record_not_a_traceback(
    fake_bot: FakeBotApi, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(name: str) -> str | None:
        raise RuntimeError("alias table exploded")

    async with running(fake_bot, CommandContext(store, EVENT_TYPES, broken)):
        reply = await ask(fake_bot, USER, "/subscribe Meta")

    assert reply.text == "Sorry, that failed on our side. Try again later."
    [record] = [r for r in caplog.records if r.name == "bot.telegram.handlers"]
    assert record.exc_info is not None and "alias table exploded" in str(record.exc_info[1])


# -- buttons, settings, languages and the operators' commands ------------------------------


def press(fake: FakeBotApi, answer: SentMessage, data: str, user_id: int = USER) -> None:
    """A user taps an inline button under one of the bot's messages."""
    chat_type = (
        "private" if isinstance(answer.chat_id, int) and answer.chat_id > 0 else "supergroup"
    )
    fake.inject_update(
        {
            "callback_query": {
                "id": f"cb{len(fake.calls)}",
                "from": {"id": user_id, "is_bot": False, "first_name": "U", "language_code": "en"},
                "chat_instance": "ci",
                "data": data,
                "message": {
                    "message_id": answer.message_id,
                    "date": 0,
                    "chat": {"id": answer.chat_id, "type": chat_type, "title": "G"},
                    "text": answer.text,
                },
            }
        }
    )


def buttons(markup: Any) -> dict[str, str]:
    """callback_data → label of an inline keyboard as the fake server received it."""
    return {b["callback_data"]: b["text"] for row in markup["inline_keyboard"] for b in row}


async def answered(fake: FakeBotApi, count: int) -> None:
    await fake.wait_for(lambda: len(fake.calls_to("answerCallbackQuery")) >= count, 5, "answer")


@pytest.mark.usefixtures("application")
async def test_first_subscription_offers_latest_instead_of_a_backlog(fake_bot: FakeBotApi) -> None:
    first = await ask(fake_bot, USER, "/subscribe funding")
    second = await ask(fake_bot, USER, "/subscribe acquisition")

    assert "/latest 5" in first.text and "not sent" in first.text
    assert "/latest" not in second.text


@pytest.mark.usefixtures("application")
async def test_start_buttons_toggle_event_types(fake_bot: FakeBotApi, store: Store) -> None:
    welcome = await ask(fake_bot, USER, "/start")
    offered = buttons(welcome.reply_markup)
    assert offered["f:acquisition"] == "🤝 Acquisition"
    assert {f"f:{t}" for t in EVENT_TYPES} <= set(offered)

    press(fake_bot, welcome, "f:acquisition")
    await answered(fake_bot, 1)
    assert store.subscriptions(USER, None) == ["acquisition"]
    await fake_bot.wait_for(lambda: fake_bot.calls_to("editMessageReplyMarkup"), 5, "an edit")
    edited = fake_bot.calls_to("editMessageReplyMarkup")[-1].params["reply_markup"]
    assert buttons(edited)["f:acquisition"] == "✅ 🤝 Acquisition"

    press(fake_bot, welcome, "f:acquisition")
    await answered(fake_bot, 2)
    assert store.subscriptions(USER, None) == []
    assert "Stopped following" in fake_bot.calls_to("answerCallbackQuery")[-1].params["text"]


@pytest.mark.usefixtures("application")
async def test_start_buttons_offer_the_most_frequent_actors(
    fake_bot: FakeBotApi, store: Store
) -> None:
    for n in range(3):
        store.save_article(
            Article(
                f"a{n}.md", f"T{n}", "…", "en", datetime(2025, 6, 12, tzinfo=UTC), "text", f"a{n}"
            ),
            Extraction("s", (Event("funding", ("Scale AI", f"Fund{n}"), f"Raise {n}.", "…"),)),
            f"https://example.org/{n}",
            size=1,
            mtime_ns=n,
            content_hash=f"h{n}",
            now=datetime(2025, 6, 12, tzinfo=UTC),
            targets={},
        )
    welcome = await ask(fake_bot, USER, "/start")

    offered = buttons(welcome.reply_markup)
    assert offered['f:"Scale AI"'] == "👤 Scale AI"
    press(fake_bot, welcome, 'f:"Scale AI"')
    await answered(fake_bot, 1)
    assert store.subscriptions(USER, None) == ['"Scale AI"']


@pytest.mark.usefixtures("application")
async def test_list_buttons_remove_a_subscription(fake_bot: FakeBotApi, store: Store) -> None:
    store.add_subscription(USER, None, "funding")
    store.add_subscription(USER, None, "Meta")
    listing = await ask(fake_bot, USER, "/list")
    [(funding_id, _), (meta_id, _)] = store.subscription_rows(USER, None)
    assert buttons(listing.reply_markup) == {
        f"rm:{funding_id}": "✖ funding",
        f"rm:{meta_id}": "✖ Meta",
    }

    press(fake_bot, listing, f"rm:{funding_id}")
    await answered(fake_bot, 1)

    assert store.subscriptions(USER, None) == ["Meta"]
    await fake_bot.wait_for(lambda: fake_bot.sent(USER)[-1].edited, 5, "the list edited")
    assert "funding" not in fake_bot.sent(USER)[-1].text


@pytest.mark.usefixtures("application")
async def test_group_buttons_are_for_admins(fake_bot: FakeBotApi, store: Store) -> None:
    fake_bot.set_admins(GROUP, [USER])
    welcome = await ask(fake_bot, GROUP, "/start", chat_type="supergroup")

    press(fake_bot, welcome, "f:funding", user_id=USER + 5)
    await answered(fake_bot, 1)
    refusal = fake_bot.calls_to("answerCallbackQuery")[-1].params
    assert "admins" in refusal["text"] and refusal["show_alert"] is True
    assert store.subscriptions(GROUP, None) == []

    press(fake_bot, welcome, "f:funding", user_id=USER)
    await answered(fake_bot, 2)
    assert store.subscriptions(GROUP, None) == ["funding"]


@pytest.mark.usefixtures("application")
async def test_language_follows_the_user_then_the_chat_choice(
    fake_bot: FakeBotApi, store: Store
) -> None:
    hant = await ask(fake_bot, 77, "/subscribe funding", language_code="zh-TW")
    assert "已訂閱" in hant.text

    chosen = await ask(fake_bot, 77, "/lang zh-Hans")
    assert chosen.text == "语言：简体中文。"
    assert store.chat_settings(77, None).language == "zh-Hans"
    again = await ask(fake_bot, 77, "/subscribe acquisition", language_code="zh-TW")
    assert "已订阅" in again.text

    wrong = await ask(fake_bot, 77, "/lang klingon")
    assert "/lang zh-Hant" in wrong.text


@pytest.mark.usefixtures("application")
async def test_mode_quiet_timezone_and_template_settings(
    fake_bot: FakeBotApi, store: Store
) -> None:
    assert "Asia/Shanghai" in (await ask(fake_bot, USER, "/tz Asia/Shanghai")).text
    digest = await ask(fake_bot, USER, "/mode digest 7:30")
    assert "07:30" in digest.text and "Asia/Shanghai" in digest.text
    assert "22:00-07:00" in (await ask(fake_bot, USER, "/quiet 22:00-07:00")).text
    assert "✅ Template set." in (await ask(fake_bot, USER, "/template {badge} {summary}")).text
    assert store.chat_settings(USER, None) == ChatSettings(
        mode="digest", digest_at="07:30", quiet="22:00-07:00", timezone="Asia/Shanghai",
        language="en", template="{badge} {summary}",
    )  # fmt: skip

    assert "not a time zone" in (await ask(fake_bot, USER, "/tz Mars/Base")).text
    assert "not a time of day" in (await ask(fake_bot, USER, "/quiet 25:00-07:00")).text
    assert "Unknown placeholder {price}" in (await ask(fake_bot, USER, "/template {price}")).text
    assert "instant" in (await ask(fake_bot, USER, "/mode weekly")).text
    assert "No quiet hours" in (await ask(fake_bot, USER, "/quiet off")).text
    assert store.chat_settings(USER, None).quiet is None


@pytest.mark.usefixtures("application")
async def test_new_filter_terms_are_explained_or_refused(
    fake_bot: FakeBotApi, store: Store
) -> None:
    ok = await ask(fake_bot, USER, "/subscribe acquisition amount>=1B")
    assert "worth at least $1B" in ok.text
    bad = await ask(fake_bot, USER, r"/subscribe /(\w+)\1/")
    assert "backreference or a lookaround" in bad.text and "For example" in bad.text
    hant = await ask(fake_bot, 79, "/subscribe /(?<=a)b/", language_code="zh-TW")
    assert "線性時間的匹配引擎（RE2）不支持" in hant.text
    assert store.subscriptions(USER, None) == ["acquisition amount>=1B"]


@pytest.mark.usefixtures("application")
async def test_filters_are_explained_and_refused_in_the_chats_language(
    fake_bot: FakeBotApi, store: Store
) -> None:
    hans = await ask(fake_bot, 78, "/subscribe acquisition amount>=1B -rumor", language_code="zh")
    assert "类型是 acquisition、金额至少 $1B 的事件，但不包括 “rumor”" in hans.text
    hant = await ask(fake_bot, 79, '/subscribe "收购', language_code="zh-TW")
    assert "有引號沒有閉合。例如：/subscribe" in hant.text and "篩選語法見 /help" in hant.text
    both = await ask(fake_bot, 79, "/subscribe 收购 -收购", language_code="zh-TW")
    assert "“收购”既被要求又被排除" in both.text  # the user's own words stay as typed
    assert store.subscriptions(79, None) == []


@pytest.mark.usefixtures("application")
async def test_operator_commands_are_refused_politely_to_others(
    fake_bot: FakeBotApi, store: Store
) -> None:
    for command in ("/stats", "/pause", "/resume", "/broadcast hi"):
        reply = await ask(fake_bot, USER, command)
        assert reply.text == "Sorry, that command is for the operators of this bot."
    assert not store.delivery_paused()


@pytest.mark.usefixtures("application")
async def test_operator_pauses_resumes_and_reads_stats(fake_bot: FakeBotApi, store: Store) -> None:
    store.add_subscription(5, None, "")
    assert "paused" in (await ask(fake_bot, OPERATOR, "/pause")).text
    assert store.delivery_paused()
    stats = await ask(fake_bot, OPERATOR, "/stats")
    assert "⏸ paused" in stats.text and "subscriptions: 1" in stats.text
    assert "resumed" in (await ask(fake_bot, OPERATOR, "/resume")).text
    assert not store.delivery_paused()


async def test_a_broadcast_cut_short_is_resumed_where_it_stopped(
    fake_bot: FakeBotApi, store: Store
) -> None:
    """A stop (or crash) in the middle of a broadcast: the chats already sent to are not sent
    to again, the others are, and the operator hears how it went."""
    for chat in (21, 22, 23):
        store.upsert_chat(chat, "private", None, None)
    cut = store.start_broadcast("Back at 22:00", OPERATOR, [21, 22, 23], NOW)
    store.broadcast_sent(cut.id, 21, "sent")  # then the daemon stopped
    assert store.unfinished_broadcasts() == [cut]
    bot = Bot("123:TEST", base_url=fake_bot.base_url)
    async with bot:
        await resume_broadcasts(Sender(bot), store, utc_now)
    assert fake_bot.sent(21) == []
    assert [m.text for m in fake_bot.sent(22) + fake_bot.sent(23)] == ["Back at 22:00"] * 2
    assert fake_bot.sent(OPERATOR)[-1].text == "📣 Sent to 3 of 3 chats."
    assert store.unfinished_broadcasts() == []


@pytest.mark.usefixtures("application")
async def test_broadcast_reaches_every_active_chat(fake_bot: FakeBotApi, store: Store) -> None:
    for chat in (11, 12, 13):
        store.upsert_chat(chat, "private", None, None)
    store.deactivate_chat(13)

    await ask(fake_bot, OPERATOR, "/broadcast Maintenance <tonight>")

    await fake_bot.wait_for(lambda: "Sent to" in fake_bot.sent(OPERATOR)[-1].text, 5, "done")
    assert [m.text for m in fake_bot.sent(11)] == ["Maintenance &lt;tonight&gt;"]
    assert len(fake_bot.sent(12)) == 1 and fake_bot.sent(13) == []


# -- issue 15: the answers stay within Telegram's limits, settings stay with the admins --------


def long_filter(n: int) -> str:
    """A distinct filter near the 200-character limit, quotes escaped as &quot; in answers."""
    return " ".join(f'"w{n}x{i} &aa"' for i in range(12))


@pytest.mark.usefixtures("application")
async def test_a_long_list_and_unsubscribe_hint_fit_telegrams_limit(
    fake_bot: FakeBotApi, store: Store
) -> None:
    for n in range(25):
        assert "Subscribed" in (await ask(fake_bot, USER, f"/subscribe {long_filter(n)}")).text
    listed = await ask(fake_bot, USER, "/list")  # the fake Bot API refuses over 4096
    assert "more" in listed.text.splitlines()[-3]
    assert len(listed.reply_markup["inline_keyboard"]) == 25  # every one can still be removed
    shown = listed.text.count("/subscribe ")
    assert 5 < shown < 25 and f"…and {25 - shown} more" in listed.text

    hint = await ask(fake_bot, USER, "/unsubscribe nosuch")
    assert "No subscription" in hint.text and "more" in hint.text.splitlines()[-1]

    gone = await ask(fake_bot, USER, f"/unsubscribe {long_filter(3)}")
    assert "Unsubscribed" in gone.text and len(store.subscriptions(USER, None)) == 24


async def test_subscriptions_per_chat_are_capped(fake_bot: FakeBotApi, store: Store) -> None:
    ctx = CommandContext(store, EVENT_TYPES, canonical, max_subscriptions=3)
    async with running(fake_bot, ctx):
        for word in ("alpha", "beta", "gamma"):
            await ask(fake_bot, USER, f"/subscribe {word}")
        again = await ask(fake_bot, USER, "/subscribe gamma")  # not a new one: not refused
        assert "Already subscribed" in again.text
        refused = await ask(fake_bot, USER, "/subscribe delta")
        assert "has 3 subscriptions, the most it may have" in refused.text
        topic = await ask(fake_bot, USER, "/subscribe delta", thread_id=5)  # topics count too
        assert "the most it may have" in topic.text
        await ask(fake_bot, USER, "/lang zh-Hans")
        assert "已达上限" in (await ask(fake_bot, USER, "/subscribe delta")).text
        await ask(fake_bot, USER, "/unsubscribe alpha")
        assert "已订阅" in (await ask(fake_bot, USER, "/subscribe delta")).text
    assert store.subscriptions(USER, None) == ["beta", "gamma", "delta"]


@pytest.mark.usefixtures("application")
async def test_start_in_a_group_sets_its_language_only_for_an_admin(
    fake_bot: FakeBotApi, store: Store
) -> None:
    fake_bot.set_admins(GROUP, [USER])
    group = {"chat_type": "supergroup"}
    await ask(fake_bot, GROUP, "/start", user_id=USER, language_code="en", **group)
    assert store.chat_settings(GROUP, None).language == "en"

    member = await ask(fake_bot, GROUP, "/start", user_id=USER + 1, language_code="zh", **group)
    assert "I send short alerts" in member.text  # greeted, in the group's language
    assert store.chat_settings(GROUP, None).language == "en"

    await ask(fake_bot, GROUP, "/start", user_id=USER, language_code="zh-TW", **group)
    assert store.chat_settings(GROUP, None).language == "zh-Hant"


@pytest.mark.usefixtures("application")
async def test_a_time_zone_that_is_a_folder_or_too_long_is_refused_politely(
    fake_bot: FakeBotApi, store: Store
) -> None:
    for typed in ("America", "x" * 300, "Asia/../Asia/Shanghai", "/etc/passwd"):
        reply = await ask(fake_bot, USER, f"/tz {typed}")
        assert "is not a time zone" in reply.text and "Sorry" not in reply.text
        assert len(reply.text) < 200
    assert "Asia/Shanghai" in (await ask(fake_bot, USER, "/tz asia/shanghai")).text
    assert store.chat_settings(USER, None).timezone == "Asia/Shanghai"


@pytest.mark.usefixtures("application")
async def test_a_disabled_subscription_is_marked_in_list(
    fake_bot: FakeBotApi, store: Store
) -> None:
    store.add_subscription(USER, None, "funding")
    store.add_subscription(USER, None, r"/deal\Z/")  # Python's re took it; RE2 does not
    store.recheck_filters(lambda text: "refused" if "\\Z" in text else None)

    listed = await ask(fake_bot, USER, "/list")

    assert "/subscribe funding</code>\n" in listed.text
    assert "⏸ disabled: The /pattern/ is not a valid regular expression" in listed.text


# -- issue 17: settings that take effect, in the chat's language ------------------------------


def publish(store: Store, chat_id: int, now: datetime, n: int = 1) -> None:
    """Store an article with one event and queue its alert for `chat_id`."""
    event = Event("funding", ("Scale AI",), f"Scale AI raises money ({n}).", "…")
    store.save_article(
        Article(f"s{n}.md", f"Raise {n}", "…", "en", now, "jekyll", f"s{n}"),
        Extraction("s", (event,)),
        f"https://blog.example.org/s{n}.html",
        size=1,
        mtime_ns=n,
        content_hash=f"s{n}",
        now=now,
        targets={event.key: [(chat_id, None)]},
    )


@asynccontextmanager
async def delivering(fake: FakeBotApi, store: Store) -> AsyncIterator[Any]:
    """A delivery pass at NOW (03:00 UTC) through the real sender, as the daemon runs it."""
    bot = Bot("123:TEST", base_url=fake.base_url)
    deliverer = Deliverer(store, lambda: NOW)
    async with bot:
        yield lambda: deliverer.deliver(Sender(bot))


@pytest.mark.parametrize(
    ("hold", "release"),
    [("/mode digest 08:00", "/mode instant"), ("/quiet 02:30-13:30", "/quiet off")],
)
async def test_a_settings_change_frees_what_the_old_settings_held(
    fake_bot: FakeBotApi, store: Store, hold: str, release: str
) -> None:
    woken = asyncio.Event()
    ctx = CommandContext(store, EVENT_TYPES, canonical, on_resume=woken.set)
    async with running(fake_bot, ctx), delivering(fake_bot, store) as deliver:
        await ask(fake_bot, USER, hold)
        publish(store, USER, NOW)
        assert (await deliver()).held == 1
        answers = len(fake_bot.sent(USER))

        await ask(fake_bot, USER, release)

        assert woken.is_set()  # the daemon's delivery loop looks again now, not at 08:00
        assert (await deliver()).sent == 1
        [alert] = fake_bot.sent(USER)[answers + 1 :]
        assert "Scale AI raises money" in alert.text


async def test_a_new_digest_time_or_zone_holds_until_the_new_time(
    fake_bot: FakeBotApi, store: Store
) -> None:
    async with (
        running(fake_bot, CommandContext(store, EVENT_TYPES, canonical)),
        delivering(fake_bot, store) as deliver,
    ):
        await ask(fake_bot, USER, "/mode digest 08:00")
        publish(store, USER, NOW)
        assert (await deliver()).held == 1
        await ask(fake_bot, USER, "/mode digest 05:00")
        assert (await deliver()).held == 1
        assert held_until(store) == NOW.replace(hour=5)
        await ask(fake_bot, USER, "/tz Asia/Shanghai")  # 05:00 there is 21:00 UTC
        assert (await deliver()).held == 1
        assert held_until(store) == NOW.replace(hour=21)


def held_until(store: Store) -> datetime:
    """When the one pending alert is next due."""
    with store.engine.connect() as conn:
        [when] = conn.execute(select(outbox.c.next_attempt).where(outbox.c.status == "pending"))
    return when.next_attempt.replace(tzinfo=UTC)  # type: ignore[no-any-return]


@pytest.mark.usefixtures("application")
async def test_tz_alone_shows_the_zone_in_the_chats_language(
    fake_bot: FakeBotApi, store: Store
) -> None:
    shown = await ask(fake_bot, USER, "/tz")
    assert "This chat's time zone: UTC" in shown.text and "not a time zone" not in shown.text
    assert "Time zone: Asia/Shanghai." in (await ask(fake_bot, USER, "/tz Asia/Shanghai")).text

    await ask(fake_bot, USER, "/lang zh-Hant")
    assert "本聊天的時區：Asia/Shanghai" in (await ask(fake_bot, USER, "/tz")).text
    assert "時區：Europe/Berlin" in (await ask(fake_bot, USER, "/tz Europe/Berlin")).text
    assert "「Mars/Base」不是時區" in (await ask(fake_bot, USER, "/tz Mars/Base")).text
    assert "「25:00」不是時間" in (await ask(fake_bot, USER, "/quiet 25:00-07:00")).text
    assert "本聊天時區的時間" in (await ask(fake_bot, USER, "/mode weekly")).text


@pytest.mark.usefixtures("application")
async def test_a_member_changing_a_setting_is_told_it_is_a_setting(
    fake_bot: FakeBotApi, store: Store
) -> None:
    fake_bot.set_admins(GROUP, [USER])
    member = {"chat_type": "supergroup", "user_id": USER + 1}
    for command in ("/mode digest 08:00", "/quiet 22:00-07:00", "/tz Asia/Tokyo", "/lang en"):
        refused = await ask(fake_bot, GROUP, command, **member)
        assert refused.text == "Only this group's admins can change its settings.", command
    assert store.chat_settings(GROUP, None) == ChatSettings()
    asked = await ask(fake_bot, GROUP, "/tz", **member)  # asking is open to everyone
    assert "time zone: UTC" in asked.text
    refused = await ask(fake_bot, GROUP, "/subscribe funding", **member)
    assert refused.text == "Only this group's admins can change its subscriptions."


@pytest.mark.usefixtures("application")
async def test_group_answers_reply_to_the_command(fake_bot: FakeBotApi, store: Store) -> None:
    fake_bot.set_admins(GROUP, [USER])
    for command, where in [("/subscribe funding", {}), ("/list", {"thread_id": 7})]:
        reply = await ask(fake_bot, GROUP, command, chat_type="supergroup", **where)
        assert reply.params["reply_parameters"] == {
            "message_id": fake_bot.last_command_id,
            "allow_sending_without_reply": True,
        }, command
    private = await ask(fake_bot, USER, "/list")  # a private chat needs no quote
    assert "reply_parameters" not in private.params


@pytest.mark.usefixtures("application")
async def test_a_misspelt_event_type_is_suggested_not_taken_as_a_word(
    fake_bot: FakeBotApi, store: Store
) -> None:
    typo = await ask(fake_bot, USER, "/subscribe Meta acqusition")
    assert "<code>acqusition</code> is not an event type" in typo.text
    assert "🤝 <b>Acquisition</b>" in typo.text
    assert "<code>/subscribe Meta acquisition</code>" in typo.text
    assert "<code>/subscribe Meta &quot;acqusition&quot;</code>" in typo.text
    assert store.subscriptions(USER, None) == []

    left_out = await ask(fake_bot, USER, "/subscribe -fundng")
    assert "<code>/subscribe -funding</code>" in left_out.text
    hant = await ask(fake_bot, 80, "/subscribe 收購", language_code="zh-TW")  # its label
    assert "你是想訂閱 🤝 <b>收購</b> (<code>acquisition</code>)" in hant.text

    await ask(fake_bot, USER, '/subscribe "acqusition"')  # quoted: the word, as asked
    await ask(fake_bot, USER, "/subscribe robot")  # near no type: taken at once
    assert store.subscriptions(USER, None) == ["acqusition", "robot"]


@pytest.mark.usefixtures("application")
async def test_latest_shows_the_events_in_the_chats_script(
    fake_bot: FakeBotApi, store: Store
) -> None:
    hire = Event(
        "talent_move", ("腾讯", "张小龙"), "腾讯聘请张小龙。", "…",
        amount=Amount(7.5e6, "USD", 7.5e6, "750万美元"),
    )  # fmt: skip
    store.save_article(
        Article("z.md", "腾讯挖角微信之父", "…", "zh-Hans", NOW, "jekyll", "z"),
        Extraction("腾讯聘请张小龙。", (hire,)),
        "https://blog.example.org/z.html",
        size=1,
        mtime_ns=1,
        content_hash="z",
        now=NOW,
        targets={},
    )
    english = await ask(fake_bot, USER, "/latest")
    assert "🧑‍💼 <b>Talent move</b> · 腾讯, 张小龙 · 💲 750万美元 ($7.5M)" in english.text

    await ask(fake_bot, USER, "/lang zh-Hant")
    hant = await ask(fake_bot, USER, "/latest")
    assert '<a href="https://blog.example.org/z.html">騰訊挖角微信之父</a>' in hant.text
    assert "🧑‍💼 <b>人才流動</b> · 騰訊, 張小龍 · 💲 750萬美元 ($7.5M)" in hant.text
    assert "1 到 20 之間的數字" in (await ask(fake_bot, USER, "/latest 99")).text


@pytest.mark.usefixtures("application")
async def test_after_lang_zh_hant_every_answer_is_traditional(
    fake_bot: FakeBotApi, store: Store
) -> None:
    await ask(fake_bot, USER, "/lang zh-Hant")
    everything = await ask(fake_bot, USER, "/subscribe")
    assert "所有事件（<code>/subscribe</code>）" in everything.text
    listed = await ask(fake_bot, USER, "/list")
    assert (
        "• 所有事件（<code>/subscribe</code>）" in listed.text and "everything" not in listed.text
    )
    assert buttons(listed.reply_markup) == {
        f"rm:{store.subscription_rows(USER, None)[0][0]}": "✖ 所有事件"
    }

    missing = await ask(fake_bot, USER, "/unsubscribe nonexistent")
    assert missing.text.startswith("這裡沒有訂閱 <code>nonexistent</code>。本聊天的訂閱：\n")
    assert "No subscription" not in missing.text
    assert (await ask(fake_bot, USER, "/unsubscribe")).text == "已刪除 1 個訂閱。"
    assert (await ask(fake_bot, USER, "/unsubscribe")).text == "這裡本來就沒有訂閱。"
    assert "（無）" in (await ask(fake_bot, USER, "/unsubscribe funding")).text

    bad = await ask(fake_bot, USER, "/subscribe /(a/")
    assert "/正則/ 不是有效的正則表達式：缺少 )：(a。" in bad.text
    two = await ask(fake_bot, USER, "/subscribe /a/ /b/")
    assert "/正則/ 最多一個" in two.text and "隻" not in two.text
    english = await ask(fake_bot, 81, "/subscribe /(a/")
    assert "not a valid regular expression: missing ): (a." in english.text
