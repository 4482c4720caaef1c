"""The real daemon with extract.backend llm+rules: the rules' alert goes out without waiting
for the model, and the model's answer edits it (tests/support/daemon.py, tests/support/llmstandin.py)."""

from __future__ import annotations

import threading
from pathlib import Path

from support.daemon import Daemon, Layout, drop
from support.fakebot import FakeBotApi
from support.llmstandin import ACQUISITION, KEY, NORTHWIND, Reply, StandIn, answer
from support.waiting import eventually, free_port

CHAT = 7_000_001


async def test_the_rules_alert_first_and_the_models_answer_edits_it(
    tmp_path: Path, fake_bot: FakeBotApi
) -> None:
    release = threading.Event()
    retold = {
        **ACQUISITION,
        "actors": ["Northwind Robotics"],  # another event key than the rules' two actors
        "summary": "Northwind Robotics agreed to buy Larkspur Sensors, closing 2026-04-15.",
    }
    standin = StandIn(lambda body: Reply(answer(retold).content, hold=release)).start()
    layout = Layout(tmp_path)
    layout.write_config(
        fake_bot.base_url,
        extra=(
            f"extract: {{backend: llm+rules, llm: {{base_url: '{standin.base_url}', "
            "model: standin-7b, max_concurrent: 1}}\n"
        ),
    )
    daemon = Daemon(
        layout,
        env={
            "EVENTFEED_TELEGRAM_ROUTES": f'["{CHAT}: acquisition"]',
            "EVENTFEED_EXTRACT_LLM_API_KEY": KEY,
        },
    )
    await daemon.start()
    try:
        await daemon.wait_healthy(60)
        await eventually(lambda: "routes applied" in daemon.log_text(), "the route", 60)
        drop(layout.posts, "2026-03-02-northwind.md", NORTHWIND.encode())
        await fake_bot.wait_for(lambda: bool(fake_bot.sent(CHAT)), 60, "the rules' alert")
        [alert] = fake_bot.sent(CHAT)
        assert "Larkspur Sensors" in alert.text and not alert.edited
        assert standin.requests, "the model was asked meanwhile"  # and is still thinking
        release.set()
        await fake_bot.wait_for(
            lambda: bool(fake_bot.calls_to("editMessageText")), 60, "the alert edited"
        )
        [edited] = fake_bot.sent(CHAT)  # the same message, no second alert
        assert edited.edited and "closing 2026-04-15" in edited.text

        async def answered() -> bool:
            health = await daemon.health()
            return bool(health and (health["extract_model"] or {}).get("answers") == 1)

        await eventually(answered, "/healthz counting the answer")
        health = await daemon.health()
        assert health is not None
        model = health["extract_model"]
        assert model["backend"] == "llm+rules" and model["refining"] == 0
        assert set(model["fallbacks"].values()) == {0}
        status, metrics = await daemon.get("/metrics")
        assert status == 200
        assert b"eventfeed_llm_requests_total 1\n" in metrics
        assert b'eventfeed_llm_fallbacks_total{reason="timeout"} 0\n' in metrics
        assert standin.authorizations == [f"Bearer {KEY}"]
        assert await daemon.stop() == 0
        assert KEY not in daemon.log_text()
    finally:
        release.set()
        await daemon.kill()
        standin.stop()


async def test_backend_llm_with_its_server_down_publishes_the_rules_events(
    tmp_path: Path,
) -> None:
    layout = Layout(tmp_path)
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    layout.write_config(
        None, extra=f"extract: {{backend: llm, llm: {{base_url: '{down}', model: m}}}}\n"
    )
    daemon = Daemon(layout, token=None, env={"EVENTFEED_EXTRACT_LLM_API_KEY": KEY})
    await daemon.start()
    try:
        await daemon.wait_healthy(60)
        drop(layout.posts, "2026-03-02-northwind.md", NORTHWIND.encode())
        feed = layout.feeds / "events.atom"
        await eventually(
            lambda: feed.exists() and "Larkspur Sensors" in feed.read_text("utf-8"),
            "the rules' event in the feed",
            60,
        )
        health = await daemon.health()
        assert health is not None and health["status"] == "ok"
        model = health["extract_model"]
        assert model["fallbacks"]["error"] == 1 and model["answers"] == 0
        assert "cannot reach the server" in model["last_error"]
        assert await daemon.stop() == 0
        assert "reason=error" in daemon.log_text() and KEY not in daemon.log_text()
    finally:
        await daemon.kill()
