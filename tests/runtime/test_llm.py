"""The optional extraction model (extract.backend llm, llm+rules) against a stand-in
OpenAI-compatible server on 127.0.0.1: grounding, fallback, caching, caps, the secret."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import make_pipeline
from support.llmstandin import (
    ACQUISITION,
    FUNDING,
    KEY,
    NORTHWIND,
    TIDE,
    Reply,
    StandIn,
    answer,
    article_text,
)

from bot.cli.config import load_pack
from bot.cli.main import main
from bot.cli.reprocess import reprocess
from bot.core.articles import parse_article
from bot.core.config import ConfigError, LlmConfig, Secret, parse_config
from bot.core.model import Event
from bot.core.redact import TokenRedactor
from bot.extract import extract
from bot.extract.grounding import cache_key, ground, parse_answer
from bot.runtime.llm import LlmExtractor, extract_all
from bot.runtime.pipeline import Pipeline
from bot.runtime.reload import needs_restart
from bot.store import Store

PACK = load_pack(parse_config(None, {}))


def canned(body: dict[str, Any]) -> Reply:
    """The right answer for each of the two articles."""
    return answer(ACQUISITION) if "Northwind" in article_text(body) else answer(FUNDING)


@pytest.fixture
def standin() -> Iterator[StandIn]:
    server = StandIn(canned).start()
    yield server
    server.stop()


@pytest.fixture
def posts(tmp_path: Path) -> Path:
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / "2026-03-02-northwind.md").write_text(NORTHWIND, encoding="utf-8")
    (folder / "2026-03-03-tide.md").write_text(TIDE, encoding="utf-8")
    return folder


def with_model(
    pipeline: Pipeline, standin: StandIn, backend: str = "llm", **settings: Any
) -> LlmExtractor:
    config = LlmConfig(base_url=standin.base_url, model="standin-7b", **settings)
    pipeline.llm = LlmExtractor(config, pipeline.store, lambda: datetime.now(UTC), backend)
    return pipeline.llm


def stored_events(pipeline: Pipeline) -> dict[str, list[Event]]:
    return {
        a.article.path: [e.event for e in a.events] for a in pipeline.store.published_articles()
    }


def article(text: str, path: str = "2026-03-02-northwind.md") -> Any:
    return parse_article(text.encode(), path, datetime(2026, 3, 4, tzinfo=UTC), UTC)


# -- grounding (pure) -------------------------------------------------------------------


def test_grounding_keeps_what_the_article_says_and_drops_the_rest() -> None:
    northwind = article(NORTHWIND)
    rules = extract(northwind, PACK)
    found = ground(
        [
            {**ACQUISITION, "actors": ["Northwind Robotics", "Acme Holdings", "larkspur sensors"]},
            # Nothing of it is in the article: dropped whole.
            {
                "type": "funding",
                "actors": ["Imaginary Co"],
                "amount": "$9 billion",
                "date": "2031-01-01",
                "summary": "Imaginary Co raised $9 billion.",
            },
            {
                "type": "not_a_type",
                "actors": ["Northwind Robotics"],
                "amount": None,
                "date": None,
                "summary": "",
            },
        ],
        northwind,
        PACK,
        rules,
    )
    [event] = found.extraction.events
    assert event.type == "acquisition"
    # Acme Holdings is not in the article; the other is spelt as the article spells it.
    assert event.actors == ("Northwind Robotics", "Larkspur Sensors")
    assert event.amount is not None and event.amount.usd == 420e6
    assert event.amount.text == "$420 million"  # the article's own words, read by the grammar
    assert event.date == "2026-04-15"
    assert "agreed to acquire Larkspur Sensors" in event.evidence
    assert found.dropped_events == 2
    assert found.dropped_items == 4  # Acme Holdings, and the three of the invented event
    assert found.extraction.summary == rules.summary


def test_an_amount_or_date_the_article_does_not_state_is_dropped_and_so_is_a_bad_summary() -> None:
    northwind = article(NORTHWIND)
    found = ground(
        [
            {
                **ACQUISITION,
                "amount": "$42 million",
                "date": "2026-05-01",
                "summary": "Northwind Robotics paid $42 million for Larkspur Sensors.",
            }
        ],
        northwind,
        PACK,
        extract(northwind, PACK),
    )
    [event] = found.extraction.events
    assert event.amount is None and event.date is None
    assert found.dropped_items == 2
    assert "$42 million" not in event.summary  # the invented figure: the evidence instead
    assert event.summary == event.evidence


def test_a_chinese_summary_naming_an_actor_the_article_lacks_gives_way_to_the_evidence() -> None:
    tide = article(TIDE, "2026-03-03-tide.md")
    invented = {
        **FUNDING,
        "actors": ["潮汐能源", "北辰投资"],
        "summary": "潮汐能源获北辰投资领投。",
    }
    [event] = ground([invented], tide, PACK, extract(tide, PACK)).extraction.events
    assert event.actors == ("潮汐能源",)
    assert (
        event.summary
        == event.evidence
        == "潮汐能源今天宣布完成5亿元人民币B轮融资，由远山资本领投。"
    )


def test_a_per_share_price_or_a_valuation_is_not_the_event_amount_but_a_launch_price_is() -> None:
    text = NORTHWIND.replace(
        "Shares of Northwind rose 4% to $18.20.",
        "Northwind pays $54 a share; the deal values Larkspur at $1.2 billion. Its Scout robot "
        "costs $99/month.",
    )
    northwind = article(text)
    rules = extract(northwind, PACK)
    for said in ("$54", "$1.2 billion"):
        found = ground([{**ACQUISITION, "amount": said}], northwind, PACK, rules)
        [event] = found.extraction.events
        assert event.amount is None, said
    launch = {**ACQUISITION, "type": "product_launch", "actors": ["Northwind"], "amount": "$99"}
    [event] = ground([launch], northwind, PACK, rules).extraction.events
    assert event.amount is not None and event.amount.usd == 99


def test_answers_are_parsed_strictly_and_a_code_fence_is_forgiven() -> None:
    assert parse_answer('{"events": []}') == []
    assert parse_answer('```json\n{"events": [{"type": "funding"}]}\n```') == [{"type": "funding"}]
    assert parse_answer('<think>\nThe buyer is…\n</think>\n\n{"events": []}') == []
    assert parse_answer("Sure! Here are the events: {events: []}") is None
    assert parse_answer('{"events": "none"}') is None
    assert parse_answer('[{"type": "funding"}]') is None


def test_the_cache_key_follows_model_types_and_text_but_not_white_space() -> None:
    one = article(NORTHWIND)
    spaced = article(NORTHWIND.replace(" for $420", "   for $420").replace("\n\n", "\n\n\n"))
    edited = article(NORTHWIND.replace("$420 million", "$430 million"))
    key = cache_key("m", PACK.event_types, one)
    assert cache_key("m", PACK.event_types, spaced) == key
    assert cache_key("m", PACK.event_types, edited) != key
    assert cache_key("other", PACK.event_types, one) != key
    assert cache_key("m", (*PACK.event_types, "recall"), one) != key  # a user-added type


# -- the backend through the pipeline ------------------------------------------------------


def test_backend_llm_stores_the_grounded_answer_and_asks_with_the_schema_and_key(
    tmp_path: Path, posts: Path, standin: StandIn
) -> None:
    pipeline = make_pipeline(tmp_path, posts)
    llm = with_model(pipeline, standin, api_key=Secret(KEY))
    pipeline.scan()
    events = stored_events(pipeline)
    [funding] = events["2026-03-03-tide.md"]  # the rules find none in this one
    assert (funding.type, funding.actors) == ("funding", ("潮汐能源", "远山资本"))
    assert funding.amount is not None and funding.amount.currency == "CNY"
    assert funding.amount.value == 5e8
    [acquisition] = events["2026-03-02-northwind.md"]
    assert acquisition.date == "2026-04-15"
    assert len(standin.requests) == 2 and llm.stats.answers == 2
    request = standin.requests[0]
    assert request["temperature"] == 0 and request["model"] == "standin-7b"
    schema = request["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["events"]["items"]["properties"]["type"]["enum"] == list(
        PACK.event_types
    )
    assert request["messages"][0]["role"] == "system"  # instructions first, the article last
    assert "Title:" in request["messages"][-1]["content"]
    assert standin.authorizations == [f"Bearer {KEY}"] * 2


def test_a_malformed_answer_gets_one_repair_attempt(
    tmp_path: Path, posts: Path, standin: StandIn
) -> None:
    answers = iter(["Sure! {events: [acquisition]}", answer(ACQUISITION).content])
    standin.reply = lambda body: Reply(next(answers, "still not JSON"))
    (posts / "2026-03-03-tide.md").unlink()
    pipeline = make_pipeline(tmp_path, posts)
    llm = with_model(pipeline, standin)
    pipeline.scan()
    assert len(standin.requests) == 2
    assert standin.requests[1]["messages"][-2] == {
        "role": "assistant",
        "content": "Sure! {events: [acquisition]}",
    }
    assert llm.stats.repaired == 1
    [event] = stored_events(pipeline)["2026-03-02-northwind.md"]
    assert event.date == "2026-04-15"  # the model's (the rules date it 2026-03-02)


def test_a_server_without_structured_output_is_asked_without_it(
    tmp_path: Path, posts: Path, standin: StandIn
) -> None:
    standin.reply = lambda body: (
        Reply(status=400, body="unknown field response_format")
        if "response_format" in body
        else canned(body)
    )
    pipeline = make_pipeline(tmp_path, posts)
    llm = with_model(pipeline, standin, max_concurrent=1)
    pipeline.scan()
    assert ["response_format" in r for r in standin.requests] == [True, False, False]
    assert llm.stats.answers == 2 and not llm.stats.fallbacks
    assert [e.type for e in stored_events(pipeline)["2026-03-03-tide.md"]] == ["funding"]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply("Sure!"), "invalid"),  # and so is the repair
        (Reply(status=429, body='{"error": "rate limited"}'), "rate_limited"),
        (Reply(status=500, body="upstream exploded"), "server_error"),
        (Reply(delay=3.0), "timeout"),
    ],
)
def test_failures_fall_back_to_the_rules_and_are_counted(
    tmp_path: Path, posts: Path, standin: StandIn, reply: Reply, reason: str
) -> None:
    (posts / "2026-03-03-tide.md").unlink()
    standin.reply = lambda body: reply
    pipeline = make_pipeline(tmp_path, posts)
    llm = with_model(pipeline, standin, timeout_seconds=0.5)
    pipeline.scan()
    northwind = article(NORTHWIND)
    rules = extract(northwind, PACK).events
    assert [e.key for e in stored_events(pipeline)["2026-03-02-northwind.md"]] == [
        e.key for e in rules
    ]
    assert dict(llm.stats.fallbacks) == {reason: 1}
    assert llm.stats.health()["fallbacks"][reason] == 1


def test_a_stopped_client_leaves_the_rules_events(
    tmp_path: Path, posts: Path, standin: StandIn
) -> None:
    """The daemon stopping mid-scan closes the client: what was not asked keeps the rules'."""
    pipeline = make_pipeline(tmp_path, posts)
    with_model(pipeline, standin).close()
    pipeline.scan()
    assert not standin.requests
    [event] = stored_events(pipeline)["2026-03-02-northwind.md"]
    assert event == extract(article(NORTHWIND), PACK).events[0]


def test_answers_are_cached_across_rescans_renames_restarts_and_white_space(
    tmp_path: Path, posts: Path, standin: StandIn
) -> None:
    pipeline = make_pipeline(tmp_path, posts)
    with_model(pipeline, standin)
    pipeline.scan()
    assert len(standin.requests) == 2
    pipeline.store.close()
    # A restart: a new store on the same SQLite file, a new client; the same texts come back
    # under new paths, one of them with its white space changed.
    shutil.copy(posts / "2026-03-02-northwind.md", posts / "2026-03-09-northwind-again.md")
    (posts / "2026-03-10-tide-again.md").write_text(TIDE.replace("\n\n", "\n\n\n"), "utf-8")
    again = make_pipeline(tmp_path, posts)
    llm = with_model(again, standin)
    report = again.scan()
    assert report.new == 2
    assert len(standin.requests) == 2  # none more
    assert llm.stats.cached == 2 and llm.stats.requests == 0
    [funding] = stored_events(again)["2026-03-10-tide-again.md"]
    assert funding.actors == ("潮汐能源", "远山资本")


def test_a_second_instance_on_the_same_database_never_asks_again(
    store_url: str, standin: StandIn
) -> None:
    """SQLite and PostgreSQL: the answer one instance got serves the other, and two instances
    keeping one answer at once keep it once."""
    one, two = Store(store_url), Store(store_url)
    try:
        config = LlmConfig(base_url=standin.base_url, model="standin-7b")
        clock = lambda: datetime.now(UTC)  # noqa: E731
        northwind = article(NORTHWIND)
        rules = extract(northwind, PACK)
        first = LlmExtractor(config, one, clock).extract(northwind, PACK, rules)
        second = LlmExtractor(config, two, clock)
        assert second.extract(northwind, PACK, rules) == first is not None
        assert len(standin.requests) == 1 and second.stats.cached == 1
        key = cache_key("standin-7b", PACK.event_types, northwind)
        two.save_llm_answer(key, "standin-7b", '{"events": []}', datetime.now(UTC))  # a race
        assert one.llm_answers([key])[key] != '{"events": []}'  # the first answer stands
        assert two.llm_answers_since(datetime(2026, 1, 1, tzinfo=UTC)) == 1
    finally:
        one.close()
        two.close()


def test_at_most_max_concurrent_requests_are_in_flight(tmp_path: Path, standin: StandIn) -> None:
    posts = tmp_path / "posts"
    posts.mkdir()
    for n in range(6):
        text = NORTHWIND.replace("largest deal so far", f"deal number {n}")
        (posts / f"2026-03-0{n + 1}-deal.md").write_text(text, encoding="utf-8")
    standin.reply = lambda body: Reply(answer(ACQUISITION).content, delay=0.3)
    pipeline = make_pipeline(tmp_path, posts)
    with_model(pipeline, standin, "llm+rules", max_concurrent=2)
    pipeline.scan()
    pipeline.apply_refined(wait_all=True)
    assert len(standin.requests) == 6
    assert standin.most_in_flight == 2


def test_the_daily_cap_falls_back_to_the_rules_and_holds_across_a_restart(
    tmp_path: Path, posts: Path, standin: StandIn
) -> None:
    pipeline = make_pipeline(tmp_path, posts)
    llm = with_model(pipeline, standin, max_per_day=1)
    pipeline.scan()
    assert len(standin.requests) == 1
    assert llm.stats.fallbacks["daily_cap"] == 1
    pipeline.store.close()
    (posts / "2026-03-11-other.md").write_text(TIDE.replace("5亿元", "6亿元"), "utf-8")
    again = make_pipeline(tmp_path, posts)
    llm = with_model(again, standin, max_per_day=1)
    again.scan()
    assert len(standin.requests) == 1  # today's one answer is in the store: the cap holds
    assert llm.stats.fallbacks["daily_cap"] == 1


def test_llm_plus_rules_stores_the_rules_first_then_the_model_keeping_the_story(
    tmp_path: Path, posts: Path, standin: StandIn
) -> None:
    (posts / "2026-03-03-tide.md").unlink()
    release = threading.Event()
    # The model names the buyer only: another event key than the rules' (both actors).
    standin.reply = lambda body: Reply(
        answer({**ACQUISITION, "actors": ["Northwind Robotics"]}).content, hold=release
    )
    pipeline = make_pipeline(tmp_path, posts)
    with_model(pipeline, standin, "llm+rules")
    pipeline.scan()  # does not wait for the model
    [rules] = [a.events for a in pipeline.store.published_articles()]
    assert [e.event.actors for e in rules] == [("Northwind Robotics", "Larkspur Sensors")]
    assert pipeline.refining == 1
    release.set()
    report = pipeline.apply_refined(wait_all=True)
    assert report.changed == 1 and pipeline.refining == 0
    [now] = pipeline.store.published_articles()
    [refined] = now.events
    assert refined.event.actors == ("Northwind Robotics",)
    assert refined.event.date == "2026-04-15"
    assert refined.story_id == rules[0].story_id  # the same story: an alert sent is edited


def test_a_file_changed_before_the_answer_keeps_its_newer_events(
    tmp_path: Path, posts: Path, standin: StandIn
) -> None:
    (posts / "2026-03-03-tide.md").unlink()
    release = threading.Event()

    def reply(body: dict[str, Any]) -> Reply:  # each text's own amount, and a date to tell
        said = "$450 million" if "$450 million" in article_text(body) else "$420 million"
        return Reply(answer({**ACQUISITION, "amount": said}).content, hold=release)

    standin.reply = reply
    pipeline = make_pipeline(tmp_path, posts)
    with_model(pipeline, standin, "llm+rules")
    pipeline.scan()
    (posts / "2026-03-02-northwind.md").write_text(
        NORTHWIND.replace("$420 million", "$450 million"), "utf-8"
    )
    pipeline.scan()
    release.set()
    pipeline.apply_refined(wait_all=True)
    [event] = stored_events(pipeline)["2026-03-02-northwind.md"]
    assert event.amount is not None and event.amount.usd == 450e6  # not the older answer's


def test_reprocess_keeps_the_models_cached_events_and_asks_nothing(
    tmp_path: Path, posts: Path, standin: StandIn
) -> None:
    pipeline = make_pipeline(tmp_path, posts)
    with_model(pipeline, standin)
    pipeline.scan()
    before = stored_events(pipeline)
    asked = len(standin.requests)
    report = reprocess(pipeline)
    assert report.articles == 2 and report.changed == 0
    assert stored_events(pipeline) == before and len(standin.requests) == asked
    pipeline.llm = None  # back to the rules: their events replace the model's
    assert reprocess(pipeline).changed == 2
    rules = extract(article(TIDE, "2026-03-03-tide.md"), pipeline.pack).events
    assert stored_events(pipeline)["2026-03-03-tide.md"] == list(rules)
    assert stored_events(pipeline) != before


def test_extract_all_is_what_eval_backend_llm_scores(tmp_path: Path, standin: StandIn) -> None:
    """The function `eventfeed eval --backend llm` calls: the model's events, the rules' where
    it fails, and a second evaluation served from the cache."""
    config = parse_config(
        f"state: {{url: 'sqlite:///{tmp_path / 'db.sqlite'}'}}\n"
        f"extract: {{llm: {{base_url: '{standin.base_url}', model: standin-7b}}}}\n",
        {},
    )
    northwind, tide = article(NORTHWIND), article(TIDE, "2026-03-03-tide.md")
    standin.reply = lambda body: (
        Reply(status=500) if "Northwind" in article_text(body) else answer(FUNDING)
    )
    first = extract_all([northwind, tide], PACK, config)
    assert first[0] == extract(northwind, PACK)  # the server failed: the rules' events
    assert [e.actors for e in first[1].events] == [("潮汐能源", "远山资本")]
    asked = len(standin.requests)
    assert extract_all([tide], PACK, config) == [first[1]]
    assert len(standin.requests) == asked
    with pytest.raises(ConfigError, match=r"'extract\.llm\.base_url' is needed"):
        extract_all([tide], PACK, parse_config(None, {}))


def test_eval_backend_llm_scores_the_models_events(
    tmp_path: Path, posts: Path, standin: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    """`eventfeed eval GOLD --backend llm`: the model's events scored like the rules', its
    answers cached in state.url, so a second evaluation asks nothing."""
    gold = tmp_path / "gold.yaml"
    gold.write_text(
        "articles:\n"
        "  - file: 2026-03-02-northwind.md\n    lang: en\n    events:\n"
        "      - {type: acquisition, actors: [Northwind Robotics, Larkspur Sensors],"
        " amount_usd: 420000000}\n"
        "  - file: 2026-03-03-tide.md\n    lang: zh-Hans\n    events:\n"
        "      - {type: funding, actors: [潮汐能源, 远山资本]}\n",
        encoding="utf-8",
    )
    config = tmp_path / "eventfeed.yaml"
    config.write_text(
        f"state: {{url: 'sqlite:///{tmp_path / 'db.sqlite'}'}}\n"
        f"extract: {{llm: {{base_url: '{standin.base_url}', model: standin-7b}}}}\n",
        encoding="utf-8",
    )
    standin.reply = lambda body: (  # the tide's round told as a partnership: one miss
        answer(ACQUISITION)
        if "Northwind" in article_text(body)
        else answer({**FUNDING, "type": "partnership"})
    )
    argv = ["eval", str(gold), str(posts), "--config", str(config), "--by-lang"]
    assert main(argv) == 0
    rules = capsys.readouterr().out.splitlines()[-1]
    assert main([*argv, "--backend", "llm"]) == 0
    model = capsys.readouterr().out.splitlines()[-1]
    assert "predicted=2 matched=2" in rules
    assert "predicted=2 matched=1" in model  # the model's partnership, not the rules' funding
    asked = len(standin.requests)
    assert asked == 2
    assert main([*argv, "--backend", "llm"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == model
    assert len(standin.requests) == asked  # from the cache


# -- the secret ----------------------------------------------------------------------------


def test_the_api_key_is_never_logged_even_when_the_server_echoes_it(
    tmp_path: Path, posts: Path, standin: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    standin.reply = lambda body: Reply(status=401, body=f"invalid key {KEY}")
    caplog.set_level(logging.DEBUG)
    pipeline = make_pipeline(tmp_path, posts)
    llm = with_model(pipeline, standin, api_key=Secret(KEY))
    pipeline.scan()
    assert llm.stats.fallbacks["error"] == 2
    assert "extraction model failed" in caplog.text
    assert KEY not in caplog.text
    assert KEY not in repr(llm.config) and KEY not in str(llm.stats.health())
    assert TokenRedactor(None, KEY).redact(f"Bearer {KEY}") == "Bearer ***"


def write_config(tmp_path: Path, base_url: str) -> Path:
    (tmp_path / "posts").mkdir(exist_ok=True)
    config = tmp_path / "eventfeed.yaml"
    config.write_text(
        f"articles: {{folder: {tmp_path / 'posts'}}}\n"
        f"state: {{url: 'sqlite:///{tmp_path / 'db.sqlite'}'}}\n"
        f"feeds: {{folder: {tmp_path / 'feeds'}}}\n"
        f"extract: {{backend: llm+rules, llm: {{base_url: '{base_url}', model: standin-7b}}}}\n",
        encoding="utf-8",
    )
    return config


def test_doctor_checks_the_endpoint_without_showing_the_key(
    tmp_path: Path,
    standin: StandIn,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVENTFEED_EXTRACT_LLM_API_KEY", KEY)
    main(["doctor", "--config", str(write_config(tmp_path, standin.base_url))])
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if "extract model" in line]
    assert line.startswith("ok") and "standin-7b" in line
    assert standin.authorizations == [f"Bearer {KEY}"]
    # An endpoint that is not there: a failure that names it, and still no key.
    down = f"http://127.0.0.1:{standin.port}/nowhere/{KEY}/v1"
    main(["doctor", "--config", str(write_config(tmp_path, down))])
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if "extract model" in line]
    assert line.startswith("FAIL") and "404" in line
    assert KEY not in out


# -- config --------------------------------------------------------------------------------


def test_config_keys_environment_and_errors() -> None:
    config = parse_config(
        "extract: {backend: llm, llm: {base_url: 'http://127.0.0.1:11434/v1', model: qwen3}}",
        {"EVENTFEED_EXTRACT_LLM_API_KEY": KEY, "EVENTFEED_EXTRACT_LLM_MAX_CONCURRENT": "4"},
    )
    llm = config.extract.llm
    assert config.extract.backend == "llm" and llm.model == "qwen3"
    assert llm.api_key is not None and llm.api_key.reveal() == KEY and KEY not in repr(config)
    assert llm.max_concurrent == 4
    assert parse_config(None, {}).extract.backend == "rules"
    for text, env, message in (
        ("extract: {backend: llm}", {}, "'extract.llm.base_url' is needed for extract.backend llm"),
        ("extract: {backend: gpt}", {}, "'extract.backend' must be rules, llm or llm+rules"),
        ("extract: {llm: {temperature: 1}}", {}, "unknown key 'extract.llm.temperature'"),
        ("extract: {llm: 3}", {}, "'extract.llm' must be a mapping of keys"),
        (
            "extract: {llm: {base_url: 'http://x/v1', model: m}}",
            {"EVENTFEED_EXTRACT_LLM_MAX_CONCURRENT": "0"},
            "environment variable EVENTFEED_EXTRACT_LLM_MAX_CONCURRENT must be from 1 to 64",
        ),
    ):
        with pytest.raises(ConfigError, match=message.replace("+", r"\+")):
            parse_config(text, env)


def test_a_reload_applies_the_rule_files_but_the_model_settings_need_a_restart() -> None:
    before = parse_config(None, {})
    after = parse_config(
        "extract: {max_chars: 2000, backend: llm+rules,"
        " llm: {base_url: 'http://127.0.0.1:11434/v1', model: qwen3}}",
        {},
    )
    assert needs_restart(before, after) == ["extract.backend", "extract.llm"]
