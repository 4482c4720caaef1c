"""Security: no one let in. The real daemon, its HTTP server and the real bot against the fake
Bot API server; every output the test can capture is searched for the bot token.
"""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path
from typing import Any

import pytest
from support.daemon import TOKEN, Daemon, Layout, drop, query
from support.fakebot import FakeBotApi, parse_telegram_html
from test_bad_input import assert_no_injection

from bot.core.config import Config, ConfigError, parse_config

ROOT = Path(__file__).resolve().parent.parent.parent
SECRET = TOKEN.partition(":")[2]
HOSTILE_TITLE = '<a href="javascript:alert(1)">click</a> <b>bold</b> & <script>x</script>'
OPERATOR, ADMIN, MEMBER = 9001, 9002, 9003
GROUP, OTHER = -100777, 555


def hostile_article() -> bytes:
    return (
        f"---\ntitle: '{HOSTILE_TITLE}'\ndate: 2025-03-01 09:00:00 +0000\n"
        "link: javascript:alert(2)\n---\n"
        'Orion Holdings <img src=x onerror="alert(3)"> said on Monday it agreed to acquire '
        "Quartz Systems for $12 million in cash. <tg-spoiler>x</tg-spoiler> </b> &amp; &lt;\n"
    ).encode()


def callback(chat_id: int, user_id: int, data: str, message_id: int = 1) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": "Forger"}
    chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup", "title": "G"}
    return {
        "callback_query": {
            "id": f"cb{time.monotonic_ns()}",
            "from": user,
            "chat_instance": "1",
            "data": data,
            "message": {"message_id": message_id, "date": int(time.time()), "chat": chat,
                        "text": "buttons"},
        }
    }  # fmt: skip


def subscriptions(db: Path) -> list[tuple[int, str]]:
    return [(int(c), str(f)) for c, f in query(db, "SELECT chat_id, filter FROM subscriptions")]


async def test_the_daemon_lets_no_one_in(tmp_path: Path, fake_bot: FakeBotApi) -> None:
    layout = Layout(tmp_path)
    layout.write_config(fake_bot.base_url, interval=2, debounce=0.1, extra="log: {level: DEBUG}\n")
    text = layout.config.read_text().replace(
        f'telegram: {{base_url: "{fake_bot.base_url}"}}',
        f'telegram: {{base_url: "{fake_bot.base_url}", admins: [{OPERATOR}]}}',
    )
    layout.config.write_text(text)
    daemon = Daemon(layout)
    await daemon.start()
    try:
        await daemon.wait_healthy()
        await fake_bot.wait_for(lambda: fake_bot.calls_to("getUpdates"), 30, "polling")
        await check_commands(daemon, fake_bot, layout)
        await check_http(daemon, layout)
        # A server that echoes the token back in its errors: it must not reach the log.
        fake_bot.fail_next("sendMessage", OTHER, "bad_request", description=f"Bad Request: {TOKEN}")
        fake_bot.fail_next("sendMessage", GROUP, "server_error", description=f"oops {SECRET}")
        answered = len(fake_bot.sent(ADMIN))
        drop(layout.posts, "hostile.md", hostile_article())
        await fake_bot.wait_for(lambda: len(fake_bot.sent(ADMIN)) > answered, 30, "the alert")
        check_alert(fake_bot.sent(ADMIN)[-1].text)
        for name in ("articles.atom", "articles.rss", "events.atom", "events.rss"):
            status, body = await daemon.get(f"/feeds/{name}")
            assert status == 200
            assert_no_injection(body, name)
        fake_bot.inject_command(OPERATOR, "/stats", user_id=OPERATOR)
        await fake_bot.wait_for(lambda: fake_bot.sent(OPERATOR), 30, "the /stats answer")
        outputs = [m.text for m in fake_bot.sent()]
        for path in ("/", "/healthz", "/feeds/articles.atom", "/metrics", "/stats"):
            outputs.append((await daemon.get(path))[1].decode(errors="replace"))
    finally:
        try:
            await daemon.stop()
        finally:
            await daemon.kill()
    outputs.append(daemon.log_text())
    for output in outputs:
        assert TOKEN not in output and SECRET not in output
        assert SECRET.lower() not in output.lower()
    assert "***" in daemon.log_text() or SECRET not in daemon.log_text()


async def check_commands(daemon: Daemon, fake: FakeBotApi, layout: Layout) -> None:
    """Group subscriptions need a group admin; operator commands need an operator; a forged
    button press cannot remove another chat's subscription."""
    fake.set_admins(GROUP, [ADMIN])
    fake.inject_command(GROUP, "/subscribe", user_id=MEMBER, chat_type="supergroup")
    await fake.wait_for(lambda: fake.sent(GROUP), 30, "the refusal")
    assert subscriptions(layout.db) == []
    fake.inject_command(GROUP, "/subscribe", user_id=ADMIN, chat_type="supergroup")
    await fake.wait_for(lambda: subscriptions(layout.db), 30, "the admin's subscription")
    fake.inject_command(ADMIN, "/subscribe", user_id=ADMIN)
    fake.inject_command(OTHER, "/subscribe", user_id=OTHER)
    await fake.wait_for(lambda: len(subscriptions(layout.db)) == 3, 30, "two private chats")

    fake.inject_command(MEMBER, "/stats", user_id=MEMBER)  # not an operator
    await fake.wait_for(lambda: fake.sent(MEMBER), 30, "the /stats refusal")
    assert "outbox" not in fake.sent(MEMBER)[-1].text.lower()

    [(group_sid,)] = query(layout.db, "SELECT id FROM subscriptions WHERE chat_id = ?", [GROUP])
    answered = len(fake.calls_to("answerCallbackQuery"))
    fake.inject_update(callback(OTHER, OTHER, f"rm:{group_sid}"))  # OTHER forges GROUP's id
    fake.inject_update(callback(GROUP, MEMBER, f"rm:{group_sid}"))  # a member, not an admin
    fake.inject_update(callback(OTHER, OTHER, "f:" + "x" * 5000))  # junk data
    await fake.wait_for(
        lambda: len(fake.calls_to("answerCallbackQuery")) >= answered + 3, 30, "the answers"
    )
    assert (GROUP, "") in subscriptions(layout.db)


async def check_http(daemon: Daemon, layout: Layout) -> None:
    """Only the files the daemon generated: no traversal, no listing, no state, no config."""
    for path in (
        "/feeds/../eventfeed.yaml",
        "/feeds/%2e%2e/eventfeed.yaml",
        "/feeds/%2E%2E%2Feventfeed.yaml",
        "/feeds/..%2f..%2fetc%2fpasswd",
        "/feeds/%2fetc%2fpasswd",
        "/feeds//etc/passwd",
        "/feeds/....//eventfeed.yaml",
        "/feeds/%252e%252e/eventfeed.yaml",
        "/feeds/.%00./eventfeed.yaml",
        "/feeds/",
        "/feeds",
        "/state/eventfeed.db",
        "/eventfeed.yaml",
        "/posts/",
        "/..%2f..%2fetc%2fpasswd",
        "/feeds/articles.atom/..%2f..%2feventfeed.yaml",
        "/feeds/C:%5cwindows%5cwin.ini",
    ):
        status, body = await daemon.get(path)
        assert status in (400, 404), (path, status)
        assert b"root:" not in body and b"sqlite" not in body.lower() and b"articles:" not in body
    assert Config().http.bind.startswith("127.0.0.1:")  # loopback unless configured


def check_alert(text: str) -> None:
    """Article text arrives as text: the fake server parsed it as Telegram does."""
    problem, shown = parse_telegram_html(text)
    assert problem is None
    assert HOSTILE_TITLE.split(">")[0] in shown or "javascript:alert(1)" in shown
    assert 'href="javascript' not in text.replace("&quot;", '"').split("&lt;")[0]
    assert "<script" not in text and "<img" not in text
    for start in range(len(text)):
        if text.startswith("<a ", start):
            assert text.startswith('<a href="http', start), text[start : start + 60]


_SAFE_LOADERS = {"SafeLoader", "CSafeLoader"}
_YAML_OK = {"safe_load", "safe_load_all", "safe_dump", "dump", "YAMLError", "MarkedYAMLError"}
_YAML_NODES = {"Node", "ScalarNode", "SequenceNode", "MappingNode"}  # composed data, no code


def test_yaml_is_only_ever_safe_loaded() -> None:
    """safe_load, or yaml.load with a safe loader (or a subclass of one); never unsafe_load,
    full_load or Loader."""
    for path in (ROOT / "bot").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        assigned = {
            target.id: ast.get_source_segment(source, node.value) or ""
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)
        }
        classes = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_yaml(node.func, "load"):
                [loader] = [k.value for k in node.keywords if k.arg == "Loader"]
                assert _safe_loader(loader, assigned, classes), (path, ast.unparse(loader))
            elif isinstance(node, ast.Attribute) and _is_yaml(node, None):
                allowed = _YAML_OK | _SAFE_LOADERS | _YAML_NODES | {"load"}
                assert node.attr in allowed, (path, node.attr)


def _safe_loader(
    loader: ast.expr, assigned: dict[str, str], classes: dict[str, ast.ClassDef]
) -> bool:
    """A safe loader by name, a name assigned only safe loaders, a class whose bases are all
    safe loaders, or a choice between such."""
    if isinstance(loader, ast.IfExp):
        return _safe_loader(loader.body, assigned, classes) and _safe_loader(
            loader.orelse, assigned, classes
        )
    if isinstance(loader, ast.Attribute):
        return _is_yaml(loader, None) and loader.attr in _SAFE_LOADERS
    if not isinstance(loader, ast.Name):
        return False
    if loader.id in classes:
        bases = classes[loader.id].bases
        return bool(bases) and all(_safe_loader(base, assigned, classes) for base in bases)
    names = set(re.findall(r"\w*Loader", assigned.get(loader.id, "")))
    return bool(names) and names <= _SAFE_LOADERS


def _is_yaml(node: ast.expr, attr: str | None) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "yaml"
        and (attr is None or node.attr == attr)
    )


def test_config_refuses_python_tags() -> None:
    marker = Path("/tmp/eventfeed-config-pwned")
    with pytest.raises(ConfigError):
        parse_config(f"site: !!python/object/apply:os.system ['touch {marker}']\n", {})
    assert not marker.exists()


async def test_a_flooding_chat_does_not_slow_the_others(
    tmp_path: Path, fake_bot: FakeBotApi
) -> None:
    layout = Layout(tmp_path)
    layout.write_config(fake_bot.base_url, interval=30, debounce=0.1)
    daemon = Daemon(layout)
    await daemon.start()
    try:
        await daemon.wait_healthy()
        await fake_bot.wait_for(lambda: fake_bot.calls_to("getUpdates"), 30, "polling")
        flooder = 777
        for _ in range(60):
            fake_bot.inject_command(flooder, "/list", user_id=flooder)
        started = time.monotonic()
        fake_bot.inject_command(OTHER, "/list", user_id=OTHER)
        await fake_bot.wait_for(lambda: fake_bot.sent(OTHER), 8, "the other chat's answer")
        assert time.monotonic() - started < 3
        assert len(fake_bot.sent(flooder)) < 60  # the flooder is throttled
    finally:
        await daemon.kill()
