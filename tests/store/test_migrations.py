"""Alembic migrations on both backends: an empty database and one from before migrations reach
the schema of the code, `eventfeed db`, `state.migrate: false`, and two upgrades at once."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, insert, select, text
from sqlalchemy.engine import make_url
from support.waiting import wait_for

from bot.cli.doctor import check_database
from bot.cli.main import main
from bot.core.config import ConfigError, StateConfig, parse_config
from bot.store import Store
from bot.store.base import make_engine
from bot.store.migrations import (
    BASELINE,
    LOCK_KEY,
    Revisions,
    SchemaError,
    alembic_config,
    head,
    known_revisions,
    revisions,
    script,
    upgrade,
)
from bot.store.schema import metadata

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def load_old_schema() -> ModuleType:
    """bot/store/schema.py as it was before migrations (commit 1feb869)."""
    path = Path(__file__).parent.parent / "data" / "schema_1feb869.py"
    spec = importlib.util.spec_from_file_location("schema_1feb869", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


OLD = load_old_schema()


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


def differences(engine: Engine, target: MetaData) -> list[object]:
    """What autogenerate would change to make the database match `target`: nothing, we want."""
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), target))


def test_an_empty_database_upgrades_to_the_schema_of_the_code(engine: Engine) -> None:
    before, after = upgrade(engine)
    assert before == Revisions(None, head()) and not before.legacy
    assert after == Revisions(head(), head()) == revisions(engine)
    assert differences(engine, metadata) == []


def test_the_baseline_is_exactly_the_schema_from_before_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        command.upgrade(alembic_config(conn), BASELINE)
        conn.commit()
    assert revisions(engine).current == BASELINE
    assert differences(engine, OLD.metadata) == []


def test_the_revisions_read_from_file_names_are_alembics() -> None:
    """A start knows where the schema is from the files' names, without Alembic: they must name
    the same revisions, in the same order, with the same head."""
    chain = [revision.revision for revision in script().walk_revisions()]
    assert known_revisions() == tuple(reversed(chain))
    assert head() == script().get_current_head()


def test_a_start_at_the_head_does_not_import_alembic(tmp_path: Path) -> None:
    """Alembic and Mako cost the daemon ~11 MB: imported only to migrate."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    Store(url).close()  # migrated to the head
    code = (
        "import sys; from bot.store import Store; import bot.app; "
        f"Store({url!r}).close(); print(sorted(m for m in sys.modules if m.startswith('alembic')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_version_table_lives_in_the_schema_of_the_url(postgres_url: str) -> None:
    Store(postgres_url).close()
    schema = make_url(postgres_url).query["options"]
    assert isinstance(schema, str)
    schema = schema.removeprefix("-csearch_path=")
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            where = conn.execute(
                text(
                    "SELECT table_schema FROM information_schema.tables"
                    " WHERE table_name IN ('alembic_version', 'articles')"
                )
            ).scalars()
            assert sorted(where) == [schema, schema]
    finally:
        engine.dispose()


def test_a_database_from_before_migrations_is_stamped_upgraded_and_keeps_its_rows(
    engine: Engine, store_url: str
) -> None:
    OLD.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(OLD.chats).values(
                id=42, kind="private", title="Ann", language="en", active=True, created=NOW
            )
        )
        conn.execute(
            insert(OLD.subscriptions).values(
                chat_id=42, thread_id=0, filter="acquisition", created=NOW
            )
        )
        conn.execute(insert(OLD.flags).values(key="paused", value="yes"))
    assert revisions(engine) == Revisions(None, head(), legacy=True)

    store = Store(store_url)  # what the daemon and every command do when they open it
    try:
        assert store.subscriptions(42, None) == ["acquisition"]
        assert store.chat_language(42) == "en"
        assert store.delivery_paused()
        store.add_subscription(42, None, "funding")  # and it is writable as usual
    finally:
        store.close()
    assert revisions(engine).at_head
    with engine.connect() as conn:
        assert conn.execute(select(OLD.chats.c.title)).scalars().all() == ["Ann"]
    assert differences(engine, metadata) == []


def write_config(tmp_path: Path, url: str, extra: str = "") -> Path:
    config = tmp_path / "eventfeed.yaml"
    config.write_text(f'state: {{url: "{url}"{extra}}}\n', encoding="utf-8")
    return config


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_db_current_and_db_upgrade(
    tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_config(tmp_path, store_url))
    newest = head()
    assert run_cli(capsys, "db", "current", "--config", config) == (
        1,
        f"current: none (empty database)\nhead:    {newest}\n",
        "",
    )
    assert run_cli(capsys, "db", "upgrade", "--config", config) == (
        0,
        f"upgraded from none to {newest}\n",
        "",
    )
    assert run_cli(capsys, "db", "current", "--config", config) == (
        0,
        f"current: {newest}\nhead:    {newest}\n",
        "",
    )
    assert run_cli(capsys, "db", "upgrade", "--config", config) == (
        0,
        f"already at the newest revision: {newest}\n",
        "",
    )


def test_db_upgrade_stamps_a_database_from_before_migrations(
    tmp_path: Path, engine: Engine, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    OLD.metadata.create_all(engine)
    config = str(write_config(tmp_path, store_url))
    status, out, _ = run_cli(capsys, "db", "current", "--config", config)
    assert status == 1 and "tables from before migrations" in out
    status, out, _ = run_cli(capsys, "db", "upgrade", "--config", config)
    assert (status, out) == (0, f"stamped {BASELINE} (tables from before migrations), "
                                f"upgraded to {head()}\n")  # fmt: skip


def test_a_command_upgrades_a_database_from_before_migrations_by_default(
    tmp_path: Path, engine: Engine, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    OLD.metadata.create_all(engine)
    config = str(write_config(tmp_path, store_url))
    assert run_cli(capsys, "outbox", "--config", config)[:2] == (0, "outbox: empty\n")
    assert revisions(engine).at_head


def test_migrate_off_refuses_a_database_that_is_behind(
    tmp_path: Path, engine: Engine, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with engine.connect() as conn:
        command.upgrade(alembic_config(conn), BASELINE)
        conn.commit()
    config = str(write_config(tmp_path, store_url, ", migrate: false"))

    status, out, err = run_cli(capsys, "outbox", "--config", config)
    assert status == 1 and out == ""
    assert f"at revision {BASELINE}, this eventfeed needs {head()}" in err
    assert "'state.migrate' is off: run `eventfeed db upgrade`" in err
    assert revisions(engine).current == BASELINE  # untouched
    with pytest.raises(SchemaError, match="eventfeed db upgrade"):
        Store(store_url, migrate=False)

    assert run_cli(capsys, "db", "upgrade", "--config", config)[0] == 0
    status, out, err = run_cli(capsys, "outbox", "--config", config)
    assert (status, out) == (0, "outbox: empty\n")
    Store(store_url, migrate=False).close()


def test_a_database_from_a_newer_eventfeed_is_refused(
    tmp_path: Path, engine: Engine, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999_future'"))
    with pytest.raises(SchemaError, match="0999_future, which this eventfeed does not know"):
        Store(store_url)
    status, _, err = run_cli(
        capsys, "db", "current", "--config", str(write_config(tmp_path, store_url))
    )
    assert status == 1 and "a newer eventfeed upgraded it" in err


def test_doctor_reports_the_revision_and_whether_it_is_a_problem(
    engine: Engine, store_url: str
) -> None:
    with engine.connect() as conn:
        command.upgrade(alembic_config(conn), BASELINE)
        conn.commit()
    [database, schema] = check_database(store_url, migrate=True)[-2:]
    assert database.ok and schema.ok, (database, schema)
    assert f"revision {BASELINE}, this eventfeed's newest is {head()}" in schema.detail
    assert "upgraded when the daemon starts" in schema.detail
    schema = check_database(store_url, migrate=False)[-1]
    assert not schema.ok and "eventfeed db upgrade" in schema.line()

    upgrade(engine)
    schema = check_database(store_url, migrate=False)[-1]
    assert schema.ok and schema.detail == f"revision {head()} (the newest)"


def test_two_processes_upgrading_at_once_migrate_once(tmp_path: Path, postgres_url: str) -> None:
    """Both wait on the advisory lock the test holds; then one migrates, the other finds it done."""
    name = f"upgrader-{uuid.uuid4().hex[:8]}"
    config = write_config(tmp_path, f"{postgres_url}&application_name={name}")
    holder = make_engine(postgres_url)
    try:
        with holder.connect() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            processes = [
                subprocess.Popen(
                    [sys.executable, "-m", "bot", "db", "upgrade", "--config", str(config)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                for _ in range(2)
            ]

            def both_waiting() -> bool:
                # Another connection: pg_stat_activity is a snapshot per transaction.
                with holder.connect() as probe:
                    waiting = probe.execute(
                        text(
                            "SELECT count(*) FROM pg_locks JOIN pg_stat_activity USING (pid)"
                            " WHERE locktype = 'advisory' AND NOT granted"
                            " AND application_name = :name"
                        ),
                        {"name": name},
                    ).scalar_one()
                return int(waiting) == 2

            wait_for(both_waiting, "both upgrades to wait on the lock", 60)
            conn.commit()  # releases the lock
        outputs = sorted(process.communicate(timeout=60)[0] for process in processes)
    finally:
        holder.dispose()
    assert [process.returncode for process in processes] == [0, 0], outputs
    assert outputs == [
        f"already at the newest revision: {head()}\n",
        f"upgraded from none to {head()}\n",
    ]


def test_a_plain_postgresql_url_uses_psycopg_with_the_configured_pool(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    assert plain != postgres_url
    store = Store.open(StateConfig(url=plain, pool_size=3, max_overflow=2))
    try:
        assert store.engine.dialect.driver == "psycopg"
        assert store.engine.pool.size() == 3  # type: ignore[attr-defined]
        assert store.subscriptions(1, None) == []
    finally:
        store.close()
    heroku = postgres_url.replace("postgresql+psycopg://", "postgres://")
    Store(heroku).close()


def test_state_section_keys_and_environment_overrides() -> None:
    state = parse_config("state: {pool_size: 8, max_overflow: 0}", {}).state
    assert (state.migrate, state.pool_size, state.max_overflow) == (True, 8, 0)
    assert not parse_config(None, {"EVENTFEED_STATE_MIGRATE": "false"}).state.migrate
    with pytest.raises(ConfigError, match=r"state\.pool_size"):
        parse_config("state: {pool_size: 0}", {})
    with pytest.raises(ConfigError, match="expected true or false"):
        parse_config("state: {migrate: sometimes}", {})


def test_db_current_does_not_create_a_missing_sqlite_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "state.db"
    config = str(write_config(tmp_path, f"sqlite:///{missing}"))
    assert run_cli(capsys, "db", "current", "--config", config) == (
        1,
        f"current: none (empty database)\nhead:    {head()}\n",
        "",
    )
    assert not missing.exists() and not missing.parent.exists()
