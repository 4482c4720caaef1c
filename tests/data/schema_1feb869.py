# A verbatim copy of bot/store/schema.py at commit 1feb869, the last schema before migrations:
# the databases tests/store/test_migrations.py upgrades are made from it. Never edit.
"""The database schema, shared by the store and by migrations."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
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
    Column("path", Text, nullable=False, unique=True),
    Column("size", BigInteger, nullable=False, default=0),
    Column("mtime_ns", BigInteger, nullable=False, default=0),
    Column("content_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # ok | error | skipped | deleted
    Column("error", Text),
    Column("published", DateTime(timezone=True)),
    Column("data", JSON),  # the Article, its summary and url
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
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
    UniqueConstraint("event_id", "chat_id", "thread_id"),
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

# Daemon-wide switches set by operators (e.g. delivery paused), as key → text.
flags = Table(
    "flags",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
