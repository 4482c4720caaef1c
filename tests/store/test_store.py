"""The store on a real SQLite file and a real PostgreSQL schema: stable ids, no second alert for
unchanged events, the outbox."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.model import Amount, Article, Event, Extraction
from bot.store import Store
from bot.store.articles import ArticleSave, Targets
from bot.store.chats import TooManySubscriptions

NOW = datetime(2025, 6, 21, 8, 0, tzinfo=UTC)


def make_article(
    path: str = "post.md", title: str = "Meta hires three OpenAI researchers"
) -> Article:
    return Article(
        path=path,
        title=title,
        text="Meta hired three researchers from OpenAI.",
        lang="en",
        published=datetime(2025, 6, 21, 12, 0, tzinfo=UTC),
        format="jekyll",
        slug="post",
        categories=("AI",),
    )


HIRE = Event("talent_move", ("Meta", "OpenAI"), "Meta hires from OpenAI.", "Meta hired …")
BONUS = Event(
    "compensation",
    ("Meta", "Sam Altman"),
    "Meta offered $100M bonuses.",
    "…",
    amount=Amount(1e8, "USD", 1e8, "$100M"),
)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """Each test runs on both backends (conftest's store_url)."""
    store = Store(store_url)
    yield store
    store.close()


def article_save(
    path: str,
    *found: Event,
    digest: str = "h1",
    now: datetime = NOW,
    targets: Targets | None = None,
    refined: bool = False,
) -> ArticleSave:
    """What the pipeline hands `save_articles` for the article at `path`."""
    return ArticleSave(
        make_article(path),
        Extraction("summary", tuple(found)),
        f"https://example.org/{path}.html",
        size=10,
        mtime_ns=1,
        content_hash=digest,
        now=now,
        targets=targets or {},
        refined=refined,
    )


def save(store: Store, article: Article, *found: Event, targets=None, digest: str = "h1"):  # type: ignore[no-untyped-def]
    return store.save_article(
        article,
        Extraction("summary", tuple(found)),
        "https://example.org/post.html",
        size=10,
        mtime_ns=1,
        content_hash=digest,
        now=NOW,
        targets=targets or {},
    )


def test_edit_keeps_the_id_and_alerts_only_new_events(store: Store) -> None:
    article = make_article()
    targets = {HIRE.key: [(42, None)], BONUS.key: [(42, None)]}
    first = save(store, article, HIRE, targets=targets)
    assert [e.event.type for e in first.new_events] == ["talent_move"]
    assert first.queued == 1

    edited = replace(article, title="Meta hires three OpenAI researchers (updated)")
    second = save(store, edited, HIRE, BONUS, targets=targets, digest="h2")
    assert second.article.uid == first.article.uid
    assert [e.event.type for e in second.new_events] == ["compensation"]
    assert second.queued == 1
    kept = {e.event.type: e.uid for e in second.article.events}
    assert kept["talent_move"] == first.new_events[0].uid

    [published] = store.published_articles()
    assert published.article.title.endswith("(updated)")
    assert {e.event.type for e in published.events} == {"talent_move", "compensation"}


def test_event_dropped_by_an_edit_leaves_the_feed(store: Store) -> None:
    save(store, make_article(), HIRE, BONUS)
    save(store, make_article(), HIRE, digest="h2")
    [published] = store.published_articles()
    assert [e.event.type for e in published.events] == ["talent_move"]


def test_rename_keeps_the_uid_and_delete_removes_it_from_feeds(store: Store) -> None:
    first = save(store, make_article("a.md"), HIRE)
    store.mark_deleted(["a.md"], NOW)
    assert store.published_articles() == []
    renamed = save(store, make_article("b.md"), HIRE)
    assert renamed.article.uid == first.article.uid
    assert renamed.new_events == ()  # same event, same article: no second alert


def test_front_matter_id_wins_and_stays_unique(store: Store) -> None:
    one = save(store, replace(make_article("a.md"), feed_id="my-id"), HIRE)
    two = save(store, replace(make_article("b.md"), feed_id="my-id"), HIRE, digest="h2")
    assert one.article.uid == "my-id"
    assert two.article.uid != one.article.uid


def test_failure_is_recorded_and_not_published(store: Store) -> None:
    store.record_failure(
        "bad.md",
        status="error",
        error="front matter is not a mapping",
        size=3,
        mtime_ns=5,
        content_hash="x",
        now=NOW,
    )
    assert store.file_states()["bad.md"].status == "error"
    assert store.article_errors() == [("bad.md", "error", "front matter is not a mapping")]
    assert store.published_articles() == []


def test_outbox_groups_one_message_per_chat_and_article(store: Store) -> None:
    targets = {HIRE.key: [(1, None), (2, 7)], BONUS.key: [(1, None)]}
    save(store, make_article(), HIRE, BONUS, targets=targets)
    due = store.due_deliveries(NOW)
    assert sorted((d.chat_id, d.thread_id, len(d.events)) for d in due) == [(1, None, 2), (2, 7, 1)]
    assert store.due_deliveries(NOW - timedelta(seconds=1)) == []

    one = next(d for d in due if d.chat_id == 1)
    store.mark_sent(one.ids, 555, NOW)
    two = next(d for d in due if d.chat_id == 2)
    store.reschedule(two.ids, NOW + timedelta(seconds=30), "rate limited")
    assert store.due_deliveries(NOW) == []
    assert store.next_due() == NOW + timedelta(seconds=30)
    assert store.outbox_counts() == {"sent": 2, "pending": 1}


def test_queueing_twice_is_one_row(store: Store) -> None:
    targets = {HIRE.key: [(1, None), (1, None)]}
    result = save(store, make_article(), HIRE, targets=targets)
    assert result.queued == 1


def test_migrated_chat_keeps_subscriptions_and_queue(store: Store) -> None:
    store.upsert_chat(-100, "group", "Team", "en")
    assert store.add_subscription(-100, None, "acquisition")
    assert not store.add_subscription(-100, None, "acquisition")
    save(store, make_article(), HIRE, targets={HIRE.key: [(-100, None)]})
    store.migrate_chat(-100, -100200)
    assert store.subscriptions(-100200, None) == ["acquisition"]
    assert [d.chat_id for d in store.due_deliveries(NOW)] == [-100200]
    assert [s.chat_id for s in store.active_subscriptions()] == [-100200]


def test_chats_and_subscriptions_are_stamped_by_the_stores_clock(store_url: str) -> None:
    """The store's clock, not the system's: what a command or a migration creates is dated."""
    clocked = Store(store_url, clock=lambda: NOW)
    try:
        clocked.upsert_chat(-100, "group", "Team", "en")
        clocked.add_subscription(7, 3, "funding")  # a chat not seen before: created with it
        clocked.migrate_chat(-100, -100200)
        exported = {chat["id"]: chat for chat in clocked.export_chats()}
    finally:
        clocked.close()
    assert {chat_id: chat["created"] for chat_id, chat in exported.items()} == dict.fromkeys(
        (-100200, -100, 7), NOW.isoformat()
    )
    assert [row["created"] for row in exported[7]["subscriptions"]] == [NOW.isoformat()]


def test_a_migration_naming_the_chat_itself_keeps_everything(store: Store) -> None:
    """Issue 15: each subscription clashed with itself and was deleted, the chat deactivated."""
    store.upsert_chat(-100, "supergroup", "Team", "en")
    store.add_subscription(-100, None, "acquisition")
    store.add_subscription(-100, 7, "funding")
    store.update_settings(-100, None, timezone="Asia/Shanghai")
    save(store, make_article(), HIRE, targets={HIRE.key: [(-100, None)]})

    store.migrate_chat(-100, -100)

    assert store.subscriptions(-100, None) == ["acquisition"]
    assert store.subscriptions(-100, 7) == ["funding"]
    assert -100 in store.active_chat_ids()
    assert store.chat_settings(-100, None).timezone == "Asia/Shanghai"
    assert [d.chat_id for d in store.due_deliveries(NOW)] == [-100]


def test_stored_filters_rechecked_are_disabled_with_a_reason_and_come_back(store: Store) -> None:
    store.add_subscription(1, None, "/bad/")
    store.add_subscription(2, 4, "/bad/")
    store.add_subscription(2, None, "funding")
    refused = {"/bad/"}

    first = store.recheck_filters(lambda text: "no good" if text in refused else None)

    assert {(d.chat_id, d.thread_id, d.filter, d.reason) for d in first} == {
        (1, None, "/bad/", "no good"),
        (2, 4, "/bad/", "no good"),
    }
    assert [s.filter for s in store.active_subscriptions()] == ["funding"]  # never run
    assert store.disabled_filters(2, 4) == {"/bad/": "no good"}
    assert store.subscriptions(2, 4) == ["/bad/"]  # kept, to be shown and removed
    assert store.recheck_filters(lambda text: "no good" if text in refused else None) == []
    refused.clear()  # a later version accepts it again
    assert store.recheck_filters(lambda text: None) == []
    assert len(store.active_subscriptions()) == 3 and store.disabled_filters(2, 4) == {}


def test_a_chat_may_have_so_many_subscriptions(store: Store) -> None:
    assert store.add_subscription(3, None, "a1", limit=2)
    assert store.add_subscription(3, 8, "a2", limit=2)
    assert not store.add_subscription(3, None, "a1", limit=2)  # already there: no error
    with pytest.raises(TooManySubscriptions):
        store.add_subscription(3, None, "a3", limit=2)
    assert store.add_subscription(3, None, "a3")  # no limit: routes and operators


def test_subscriptions_per_topic_and_removal(store: Store) -> None:
    store.add_subscription(5, None, "")
    store.add_subscription(5, 9, "meta")
    assert store.subscriptions(5, None) == [""]
    assert store.subscriptions(5, 9) == ["meta"]
    assert store.remove_subscription(5, 9, "meta") == 1
    assert store.remove_subscription(5, None, None) == 1
    store.deactivate_chat(5)
    assert store.active_subscriptions() == []


def test_database_is_sqlite_in_wal_mode(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state' / 'eventfeed.db'}")
    save(store, make_article(), HIRE)
    store.close()
    with sqlite3.connect(tmp_path / "state" / "eventfeed.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_the_same_event_twice_in_one_article_is_stored_once(store: Store) -> None:
    result = save(store, make_article(), HIRE, BONUS, HIRE, targets={HIRE.key: [(1, None)]})
    assert [e.event.type for e in result.new_events] == ["talent_move", "compensation"]
    assert result.queued == 1


def test_a_page_of_the_outbox_never_cuts_one_message_in_two(store: Store) -> None:
    targets = {HIRE.key: [(1, None), (2, None)], BONUS.key: [(1, None), (2, None)]}
    save(store, make_article(), HIRE, BONUS, targets=targets)
    due = store.due_deliveries(NOW, limit=3)  # rows: hire→1, hire→2, bonus→1 | bonus→2
    assert sorted((d.chat_id, len(d.events)) for d in due) == [(1, 2), (2, 2)]


def test_counts_are_totals_less_what_is_not_published(store: Store) -> None:
    """/healthz counts from small partial indexes (all rows less the others): each kind of
    row that is not published must come off, on both backends."""
    save(store, make_article("a.md"), HIRE, BONUS)
    save(store, make_article("a.md"), HIRE, digest="h2")  # BONUS inactive now
    save(store, make_article("b.md"), HIRE, BONUS, digest="h3")
    save(store, make_article("c.md"), HIRE, digest="h4")
    store.mark_deleted(["c.md"], NOW)
    for path, status in (("bad.md", "error"), ("big.md", "skipped")):
        store.record_failure(
            path, status=status, error="no", size=3, mtime_ns=5, content_hash=path, now=NOW
        )
    # Events stay active when their article goes (history): a's HIRE, b's two, c's HIRE.
    assert len(store.published_articles()) == 2
    assert store.counts() == {"articles": 2, "events": 4, "failed_files": 2}


def test_a_batch_stores_what_its_saves_one_by_one_would(store: Store, tmp_path: Path) -> None:
    """A batch's rows are written together: saving the same article three times in one batch
    (events added, dropped, refined), with other articles telling the same stories between,
    gives the same results, ids, stories and queued alerts as the saves one after the other."""
    one_by_one = Store(f"sqlite:///{tmp_path / 'one-by-one.sqlite'}")
    targets: Targets = {HIRE.key: [(42, None), (7, 3)], BONUS.key: [(42, None)]}
    retold = replace(BONUS, actors=("Meta", "OpenAI"))  # another key, the same happening
    deal = Event("acquisition", ("Meta", "Scale AI"), "Meta buys 49% of Scale AI.", "…")

    def make(path: str, *found: Event, digest: str = "h1", refined: bool = False) -> ArticleSave:
        return article_save(path, *found, digest=digest, targets=targets, refined=refined)

    saves = [
        make("a.md", HIRE),
        make("b.md", HIRE, BONUS),  # a's hire again: the same story
        make("a.md", HIRE, BONUS, deal, digest="h2"),  # b's bonus: the same story
        make("c.md", BONUS, deal),  # a's deal, not written when the edit of a.md ends
        make("a.md", retold, digest="h2", refined=True),  # hire dropped, bonus retold
        make("d.md", HIRE),
    ]
    try:
        batched = store.save_articles(saves)
        single = [one_by_one.save_articles([save])[0] for save in saves]
        assert batched == single
        assert [r.queued for r in batched] == [2, 3, 1, 1, 0, 2]
        assert store.published_articles() == one_by_one.published_articles()
        due = store.due_deliveries(NOW)
        assert due == one_by_one.due_deliveries(NOW)
        assert sum(len(d.events) for d in due) == 9
        listing = store.feed_list()  # the feed index, entry by entry
        assert listing == one_by_one.feed_list()
        assert len(listing) > 5
        for name, (size, _label) in listing.items():
            assert store.feed_rows(name, 0, size, size) == one_by_one.feed_rows(name, 0, size, size)
    finally:
        one_by_one.close()


def test_a_publish_reads_the_articles_a_save_just_wrote_from_memory(tmp_path: Path) -> None:
    """A save keeps each article as a read of the database would make it (on SQLite): the
    read of the publish that shows it next reads no article row, and gets the same articles
    as a read of the database — events in id order, a later report of a story not its first,
    an article saved twice as its last save left it, an event it dropped gone."""
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    store, reader = Store(url), Store(url)  # the reader keeps nothing in memory

    def make(path: str, *found: Event, digest: str = "h1", now: datetime = NOW) -> ArticleSave:
        return article_save(path, *found, digest=digest, now=now)

    statements: list[str] = []
    try:
        store.save_articles(
            [make("a.md", HIRE), make("b.md", BONUS, HIRE), make("a.md", BONUS, HIRE, digest="h2")]
        )
        later = NOW + timedelta(hours=1)
        store.save_articles([make("c.md", HIRE), make("b.md", BONUS, digest="h3", now=later)])
        sqlalchemy.event.listen(
            store.engine, "before_cursor_execute", lambda *args: statements.append(args[2])
        )
        for name in ("articles", "events"):
            size = store.feed_list()[name][0]
            rows = store.feed_rows(name, 0, size, size)
            items = store.feed_items(rows)
            assert items == reader.feed_items(rows)
            assert repr(items) == repr(reader.feed_items(rows))  # time zones too
        assert statements and not [s for s in statements if "articles.data" in s]
        by_path = {i.stored.article.path: i.stored for i in store.feed_items(rows)}
        assert [e.event.type for e in by_path["a.md"].events] == ["talent_move", "compensation"]
        assert [e.first_report for e in by_path["a.md"].events] == [True, False]  # b's bonus
        assert [e.event.type for e in by_path["b.md"].events] == ["compensation"]
    finally:
        store.close()
        reader.close()


def test_story_candidates_read_at_start_are_what_a_save_would_read(tmp_path: Path) -> None:
    """A restarted store reads the recent events of each type at once (the daemon's first
    scan): the first new article of a type then reads none of them, and its events join the
    stories they would have joined without it."""
    first = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    first.save_articles(
        [article_save("a.md", HIRE, BONUS), article_save("b.md", HIRE, digest="h2")]
    )
    first.close()

    def restart_and_save(warm: bool) -> tuple[list[str], list[tuple[str, str, bool]]]:
        copy = tmp_path / f"warm-{warm}.sqlite"
        shutil.copyfile(tmp_path / "state.sqlite", copy)
        store = Store(f"sqlite:///{copy}")
        statements: list[str] = []
        try:
            if warm:
                store.warm_story_candidates(["talent_move", "compensation", "launch"])
            sqlalchemy.event.listen(
                store.engine, "before_cursor_execute", lambda *args: statements.append(args[2])
            )
            (result,) = store.save_articles([article_save("c.md", HIRE, BONUS, digest="h3")])
        finally:
            store.close()
        reads = [s for s in statements if "events.article_id" in s and "events.id DESC" in s]
        stories = [(e.event.type, e.story_id, e.first_report) for e in result.article.events]
        return reads, stories

    cold_reads, cold_stories = restart_and_save(warm=False)
    warm_reads, warm_stories = restart_and_save(warm=True)
    assert cold_reads and not warm_reads
    assert warm_stories == cold_stories
    assert [first_report for _type, _story, first_report in warm_stories] == [False, False]


def test_a_snapshot_asks_for_the_reports_of_a_story_once(tmp_path: Path) -> None:
    """An event is in several feeds (events, its type, each actor): within one snapshot the
    articles reporting its story are read for the first page that shows it, and every page
    gets what a read of the database gives."""
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    store, reader = Store(url), Store(url)
    statements: list[str] = []
    try:
        store.save_articles(
            [
                article_save("a.md", HIRE, digest="h1"),
                article_save("b.md", BONUS, HIRE, digest="h2"),
                article_save("c.md", HIRE, digest="h3"),
            ]
        )
        sqlalchemy.event.listen(
            store.engine, "before_cursor_execute", lambda *args: statements.append(args[2])
        )
        stories: set[str] = set()
        with store.snapshot():
            for name in sorted(store.feed_list()):
                size = store.feed_list()[name][0]
                for row in store.feed_rows(name, 0, size, size):  # a page a row
                    assert store.feed_items([row]) == reader.feed_items([row])
                    stories |= {row.story} if row.event_id is not None and row.story else set()
        asked = [s for s in statements if "events.story IN" in s]
        assert stories and len(asked) == len(stories)
        assert any(item.also for item in reader.feed_items(store.feed_rows("events", 0, 9, 9)))
    finally:
        store.close()
        reader.close()


def test_the_feed_index_a_save_keeps_is_the_one_a_rebuild_makes(store: Store) -> None:
    """Kept save by save — a story's first report in an article the batch does not touch
    keeps its rows — the index equals one built from scratch, as first reports move (an
    edit drops one, a deletion another) or their article's date does."""
    from sqlalchemy import select

    from bot.store.schema import feed_entries, feeds

    def index() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        with store.engine.connect() as conn:
            rows = sorted(tuple(r) for r in conn.execute(select(feed_entries)))
            return rows, sorted(tuple(r) for r in conn.execute(select(feeds)))

    def check() -> None:
        kept = index()
        store.rebuild_feed_index()
        assert kept == index()

    store.ensure_feed_index()
    save(store, make_article("a.md"), HIRE)
    save(store, make_article("b.md"), HIRE, BONUS)  # a's hire stays the story's first report
    check()
    save(store, make_article("a.md"), BONUS, digest="h2")  # b's hire is the first report now
    save(store, make_article("c.md"), HIRE, BONUS)
    check()
    store.mark_deleted(["b.md"], NOW)
    check()
    moved = replace(make_article("c.md"), published=datetime(2025, 6, 20, tzinfo=UTC))
    save(store, moved, HIRE, BONUS, digest="h3")  # still first reports, of another date
    check()
    assert len(index()[0]) > 6


def test_a_batch_naming_many_new_feeds_gets_the_labels_a_rebuild_gives(store: Store) -> None:
    """A batch asks the oldest entry's label of all its feeds in one statement (names padded
    to a multiple of 50): 120 new feeds at once, then a batch whose older articles spell some
    of them otherwise (the label moves) beside new ones, give the feeds a rebuild makes."""
    from sqlalchemy import select

    from bot.store.schema import feeds

    def batch(first: int, spelling: str, day: int) -> list[ArticleSave]:
        made = []
        for i in range(first, first + 60):
            names = (spelling.format(i), spelling.format(i + 60))
            article = replace(
                make_article(f"{spelling[0]}{i}.md"),
                categories=names,
                published=datetime(2025, 6, day, tzinfo=UTC),
            )
            made.append(replace(article_save(article.path, HIRE), article=article))
        return made

    def listing() -> list[tuple[object, ...]]:
        with store.engine.connect() as conn:
            return sorted(tuple(row) for row in conn.execute(select(feeds)))

    store.ensure_feed_index()
    store.save_articles(batch(0, "Topic {}", 21))  # 120 new category feeds
    store.save_articles(batch(30, "topic {}", 20))  # older: 60 labels move, 30 feeds are new
    kept = listing()
    assert ("category/topic-40", 2, "topic 40") in kept and len(kept) > 150
    store.rebuild_feed_index()
    assert kept == listing()


def test_saved_articles_are_kept_beyond_the_memo_until_a_publish_has_shown_them() -> None:
    """Between a scan and its publish the memo holds what the scan saved (up to a bound);
    once a publish ends, it is back to its own size."""
    from bot.core.model import StoredArticle
    from bot.store.reads import _ArticleMemo

    memo = _ArticleMemo(size=2, saved_max=5)
    saved = [StoredArticle(i, f"u{i}", make_article(), "", "", NOW, NOW) for i in range(1, 8)]
    memo.keep_saved([(NOW, stored) for stored in saved])
    assert len(memo) == 5 and memo.get_version(7, NOW) == saved[-1]  # the newest five
    assert memo.get_version(7, NOW + timedelta(seconds=1)) is None  # saved again since
    with memo.holding(3):
        assert len(memo) == 5
    assert len(memo) == 2 and memo.size == 2


@given(
    kept=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 2)), max_size=12),
    asked=st.dictionaries(st.integers(0, 9), st.integers(0, 2), max_size=10),
)
@settings(max_examples=200)
def test_the_memo_hands_back_versions_together_as_one_by_one(
    kept: list[tuple[int, int]], asked: dict[int, int]
) -> None:
    """`of_versions` (a page's articles under one lock) is `get_version` of each: the same
    articles, and the same ones kept longest after it."""
    from bot.core.model import StoredArticle
    from bot.store.reads import _ArticleMemo

    memos = _ArticleMemo(size=6), _ArticleMemo(size=6)
    for memo in memos:
        for article_id, version in kept:
            memo.put(
                article_id,
                (version, StoredArticle(article_id, "u", make_article(), "", "", NOW, NOW)),
            )
    together = memos[0].of_versions(asked)
    alone = {}
    for article_id, version in asked.items():  # the long way: Lru.get, then the version
        found = memos[1].get(article_id)
        if found is not None and found[0] == version:
            alone[article_id] = found[1]
    assert together == alone
    assert list(memos[0]._items) == list(memos[1]._items)


def test_paths_of_deleted_articles_are_looked_up_only_when_some_are(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`_deleted_at` asks first whether any article is deleted (a backfill: none): it finds
    what its query finds without asking, whether some are or none."""
    from bot.store import articles as saving

    paths = {"a.md", "b.md", "x/a.md"}
    found = []
    for deleted in ([], ["a.md"]):
        save(store, make_article("a.md"), HIRE)
        save(store, make_article("x/a.md"), HIRE, digest="h2")
        store.mark_deleted(deleted, NOW)
        for ask in (saving._ANY_DELETED, sqlalchemy.select(sqlalchemy.literal(1))):
            monkeypatch.setattr(saving, "_ANY_DELETED", ask)  # then: the query always runs
            with store.engine.connect() as conn:
                found.append(
                    {p: [r.id for r in rows] for p, rows in store._deleted_at(conn, paths).items()}
                )
    assert found[0] == found[1] == {} and found[2] == found[3] != {}
