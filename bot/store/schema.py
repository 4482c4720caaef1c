"""The database schema, shared by the store and by migrations."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(64), nullable=False, unique=True),
    # Compared byte by byte on both backends (as SQLite does), so that the unique index serves
    # the range of paths `find_article` asks for: /articles/PATH.html is PATH plus any extension.
    Column(
        "path", Text().with_variant(Text(collation="C"), "postgresql"), nullable=False, unique=True
    ),
    Column("size", BigInteger, nullable=False, default=0),
    Column("mtime_ns", BigInteger, nullable=False, default=0),
    Column("content_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # ok | error | skipped | deleted
    Column("error", Text),
    Column("published", DateTime(timezone=True), index=True),  # newest first: /, /latest
    Column("data", JSON),  # the Article, its summary and url
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
)

# /healthz counts the articles in the feeds as all articles less the others: their index is
# small, and an index of every status would lure the planner away from `published`.
Index(
    "ix_articles_not_ok",
    articles.c.status,
    sqlite_where=articles.c.status != "ok",
    postgresql_where=articles.c.status != "ok",
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(64), nullable=False, unique=True),
    Column("article_id", Integer, ForeignKey("articles.id"), nullable=False, index=True),
    Column("key", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("active", Boolean, nullable=False, default=True),  # False once an edit dropped it
    Column("story", String(32), index=True),  # see bot/core/stories.py
    Column("data", JSON, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    UniqueConstraint("article_id", "key"),
    # A new event is compared with the newest of its type (see bot/core/stories.py).
    Index("ix_events_type_id", "type", "id"),
)

chats = Table(
    "chats",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # Telegram chat id
    Column("kind", String(16), nullable=False),
    Column("title", Text),
    Column("language", String(16)),
    Column("active", Boolean, nullable=False, default=True),
    Column("created", DateTime(timezone=True), nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("chat_id", BigInteger, ForeignKey("chats.id"), nullable=False),
    Column("thread_id", BigInteger, nullable=False, default=0),  # 0: no forum topic
    Column("filter", Text, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("disabled", Text),  # why its filter no longer runs (checked at start); None: it runs
    UniqueConstraint("chat_id", "thread_id", "filter"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    Column("chat_id", BigInteger, nullable=False, index=True),
    Column("thread_id", BigInteger, nullable=False, default=0),
    Column("status", String(16), nullable=False, default="pending"),  # pending|sent|merged|…
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_attempt", DateTime(timezone=True), nullable=False),
    Column("message_id", BigInteger),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    # Several instances: the one sending this row, until when (a dead one's claim expires).
    Column("claimed_by", String(128)),
    Column("claimed_until", DateTime(timezone=True)),
    UniqueConstraint("event_id", "chat_id", "thread_id"),
    Index("ix_outbox_due", "status", "next_attempt"),  # every delivery pass asks for due rows
)

# Per chat (and forum topic) delivery settings; a missing row means the defaults.
chat_settings = Table(
    "chat_settings",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("thread_id", BigInteger, primary_key=True, autoincrement=False, default=0),
    Column("mode", String(16), nullable=False, default="instant"),  # instant | digest
    Column("digest_at", String(5)),  # "HH:MM" local time of the daily digest
    Column("quiet", String(11)),  # "HH:MM-HH:MM" local quiet hours, held until they end
    Column("timezone", String(64)),  # IANA zone for digest and quiet hours
    Column("language", String(16)),  # en | zh-Hans | zh-Hant; None: from the user's language
    Column("template", Text),  # message template; None: the default
    Column("digest_last", DateTime(timezone=True)),  # when the last digest went out
)

# An operator's /broadcast: its text and who asked, and one row per chat it goes to, so that a
# restart resumes it where it stopped rather than losing the rest.
broadcasts = Table(
    "broadcasts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("text", Text, nullable=False),  # Telegram HTML, as sent
    Column("from_chat", BigInteger, nullable=False),  # told when it is done
    Column("created", DateTime(timezone=True), nullable=False),
    Column("finished", DateTime(timezone=True)),  # None: chats left to send to
)

broadcast_chats = Table(
    "broadcast_chats",
    metadata,
    Column("broadcast_id", Integer, ForeignKey("broadcasts.id"), primary_key=True),
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False, default="pending"),  # pending|sent|gone|failed
)

# Daemon-wide switches set by operators (e.g. delivery paused), as key → text.
flags = Table(
    "flags",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Several instances on one database: the leader's lease ("leader") and one heartbeat row per
# running instance ("instance/ID"), each held until `expires` unless renewed.
leases = Table(
    "leases",
    metadata,
    Column("name", String(160), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires", DateTime(timezone=True), nullable=False),
)

# The store's feed index: which entries each feed holds, in feed order, so that a publish
# reads and renders only the pages a change touched (see bot/store/feedindex.py).
feed_entries = Table(
    "feed_entries",
    metadata,
    Column("feed", Text, primary_key=True),  # e.g. "articles", "actor/meta"
    # Entry ids are ASCII, compared byte by byte as Python compares them.
    Column("entry", Text().with_variant(Text(collation="C"), "postgresql"), primary_key=True),
    Column("sort", BigInteger, nullable=False),  # published, microseconds since the epoch
    Column("article_id", Integer, nullable=False, index=True),
    Column("event_id", Integer),  # None: an article entry
    Column("story", String(64), index=True),  # event entries: the story (or event uid)
    Column("label", Text, nullable=False),  # the name this entry gives the feed's actor, tag…
)
# Feeds list entries newest first (sort descending, ties by entry ascending): this index, read
# forwards or backwards, gives either direction without sorting.
Index(
    "ix_feed_entries_order",
    feed_entries.c.feed,
    feed_entries.c.sort.desc(),
    feed_entries.c.entry,
)

# The same for the active events: all of them less the inactive ones.
Index(
    "ix_events_inactive",
    events.c.active,
    sqlite_where=events.c.active.is_(False),
    postgresql_where=events.c.active.is_(False),
)

# One row per feed in the index: its size and title label, for listings and page counts.
feeds = Table(
    "feeds",
    metadata,
    Column("name", Text, primary_key=True),
    Column("size", Integer, nullable=False),
    Column("label", Text, nullable=False),  # the label of its oldest entry
)

# The extraction model's answers (bot/runtime/llm.py), by the hash of model, prompt version, schema
# and text: asked once per text, whatever restarts, rescans or other instances come after.
llm_answers = Table(
    "llm_answers",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("model", Text, nullable=False),
    Column("answer", Text, nullable=False),  # the model's JSON, as parsed (before grounding)
    Column("created", DateTime(timezone=True), nullable=False, index=True),  # the daily cap
)
