"""`eventfeed reprocess`: extract the stored articles again after the rule pack changed.

Events keep their identity (their key), so feed ids do not change and an event that already
alerted a chat is never queued again. Events found for the first time in old articles alert
nobody unless the operator asks (`--alert`), and even then not a chat that already heard about
an event of the same type in the same article.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.model import Extraction
from bot.extract import extract
from bot.runtime.pipeline import Pipeline
from bot.runtime.progress import ProgressHook
from bot.store import Reprocessable, Subscription, Targets

log = logging.getLogger(__name__)


@dataclass
class ReprocessReport:
    articles: int = 0  # looked at
    changed: int = 0  # whose events or summary changed
    new_events: int = 0
    dropped_events: int = 0  # no longer found: kept in history, out of the feeds
    queued: int = 0
    failed: int = 0
    feeds: int = 0  # feed files rewritten


def reprocess(
    pipeline: Pipeline,
    *,
    since: datetime | None = None,
    alert: bool = False,
    progress: ProgressHook | None = None,
) -> ReprocessReport:
    """Re-extract every stored article (published on or after `since`), then rewrite the feeds."""
    store = pipeline.store
    report = ReprocessReport()
    ids = store.reprocessable_ids(since)
    subscriptions = store.active_subscriptions() if alert else []
    for done, article_id in enumerate(ids):
        if progress is not None:
            progress(done, len(ids))
        item = store.reprocessable(article_id)
        if item is None:
            continue
        report.articles += 1
        stored = item.stored
        try:
            extraction = extract(stored.article, pipeline.pack, pipeline.max_chars)
            if pipeline.llm is not None:  # the model's answer stands where it gave one (cached)
                [answered] = pipeline.llm.known([(stored.article, extraction)], pipeline.pack)
                extraction = answered or extraction
        except Exception:  # a rule bug costs one article, never the run
            log.exception("reprocess failed path=%s", stored.article.path)
            report.failed += 1
            continue
        before = {ev.event.key: ev.event for ev in stored.events}
        after = {ev.key: ev for ev in extraction.events}
        if before == after and stored.summary == extraction.summary:
            continue
        targets: Targets = {}
        if alert:
            targets = _not_yet_alerted(pipeline, item, extraction, subscriptions)
        result = store.save_article(
            stored.article,
            extraction,
            stored.url,
            size=item.size,
            mtime_ns=item.mtime_ns,
            content_hash=item.content_hash,
            now=pipeline.clock(),
            targets=targets,
        )
        report.changed += 1
        report.new_events += len(result.new_events)
        report.dropped_events += len(before.keys() - after.keys())
        report.queued += result.queued
        log.info(
            "reprocessed path=%s new_events=%d dropped_events=%d queued=%d",
            stored.article.path,
            len(result.new_events),
            len(before.keys() - after.keys()),
            result.queued,
        )
    if progress is not None:
        progress(len(ids), len(ids))
    report.feeds = pipeline.write_feeds()
    return report


def _not_yet_alerted(
    pipeline: Pipeline,
    item: Reprocessable,
    extraction: Extraction,
    subscriptions: Sequence[Subscription],
) -> Targets:
    """The chats the new events match, less those told of the same kind of event already."""
    wanted = pipeline._targets(item.stored.article, extraction, item.stored.url, subscriptions)
    heard = pipeline.store.alerted(item.stored.id)
    kind = {ev.key: ev.type for ev in extraction.events}
    return {
        key: [chat for chat in chats if (*chat, kind[key]) not in heard]
        for key, chats in wanted.items()
    }
