"""The orchestrator: a scan tick (files → articles → events → store → feeds) and a delivery pass.

Each step's side effects belong to another module (files, store, sender); this one decides
what happens in which order, and makes sure one bad file or one failing chat stops nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from bot import files
from bot.articles import ArticleError, article_url, parse_article
from bot.delivery import Deliverer, DeliveryReport
from bot.extract import RulePack, extract
from bot.feeds import FeedSite, RenderCache, build_feeds, render_all
from bot.filters import Filter, FilterError, parse_filter
from bot.model import Article, Extraction, StoredArticle
from bot.publish import write_folder
from bot.sender import Sender
from bot.statics import static_documents
from bot.store import FileState, Store, Subscription, Targets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """Where articles come from and how their links are made."""

    folder: Path
    max_bytes: int
    timezone: tzinfo
    base_url: str
    permalink: str


@dataclass
class ScanReport:
    seen: int = 0
    new: int = 0
    changed: int = 0
    failed: int = 0
    deleted: int = 0
    events: int = 0
    queued: int = 0

    @property
    def dirty(self) -> bool:
        return bool(self.new or self.changed or self.deleted)


@dataclass
class Pipeline:
    source: Source
    store: Store
    pack: RulePack
    site: FeedSite
    feeds_folder: Path
    max_entries: int
    clock: Callable[[], datetime]
    _filters: dict[str, Filter | None] = field(default_factory=dict)
    # Unchanged entries and pages are not rendered again on the next write.
    _render_cache: RenderCache = field(default_factory=RenderCache)

    # -- scanning ---------------------------------------------------------------------

    def scan(
        self,
        paths: Iterable[str] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> ScanReport:
        """Process new and changed files: every file when `paths` is None, else just those.

        A full scan also notices deleted files. Unchanged files (same size and mtime) are not
        read at all, which keeps the safety-net rescan of a large folder cheap.
        """
        report = ScanReport()
        listing = files.scan_folder(self.source.folder)
        present = {info.path: info for info in listing}
        known = self.store.file_states()
        if paths is None:
            wanted = list(present.values())
            gone = [path for path in known if path not in present]
        else:
            chosen = set(paths)
            wanted = [present[p] for p in chosen if p in present]
            gone = [p for p in chosen if p in known and p not in present]
        report.seen = len(listing)
        # Deletions first, so that a renamed file is recognised by its content.
        report.deleted = self.store.mark_deleted(gone, self.clock())
        subscriptions = self.store.active_subscriptions()
        ordered = sorted(wanted, key=lambda i: i.path)
        for done, info in enumerate(ordered):
            if progress is not None:  # (files checked, files to check): for long first scans
                progress(done, len(ordered))
            state = known.get(info.path)
            if state and (state.size, state.mtime_ns) == (info.size, info.mtime_ns):
                continue
            self._process(info, state, subscriptions, report)
        if progress is not None:
            progress(len(ordered), len(ordered))
        return report

    def _process(
        self,
        info: files.FileInfo,
        state: FileState | None,
        subscriptions: Sequence[Subscription],
        report: ScanReport,
    ) -> None:
        now = self.clock()
        try:
            data = files.read_file(self.source.folder, info.path, self.source.max_bytes)
        except files.FileTooLarge as exc:
            self._fail(info, "skipped", str(exc), "", report)
            return
        except (PermissionError, files.OutsideRoot) as exc:
            # Recorded, and read again on every scan: a chmod leaves size and mtime alone.
            reason = f"cannot read: {exc.strerror or exc}"
            self._fail(replace(info, mtime_ns=-1), "error", reason, "", report)
            return
        except OSError as exc:  # vanished between listing and reading: the next scan sees
            log.warning("cannot read file=%s error=%s", info.path, exc.strerror or exc)
            return
        digest = files.content_hash(data)
        if state and state.content_hash == digest:
            self.store.touch_file(info.path, info.size, info.mtime_ns)
            return
        try:
            article = parse_article(
                data, info.path, _from_ns(info.mtime_ns, now), self.source.timezone
            )
            extraction = extract(article, self.pack)
        except ArticleError as exc:
            self._fail(info, "error", str(exc), digest, report)
            return
        except Exception as exc:  # a bug must cost one file, never the daemon
            log.exception("failed to process file=%s", info.path)
            self._fail(
                info, "error", f"internal error: {type(exc).__name__}: {exc}", digest, report
            )
            return
        url = article_url(article, self.source.base_url, self.source.permalink)
        try:
            result = self.store.save_article(
                article,
                extraction,
                url,
                size=info.size,
                mtime_ns=info.mtime_ns,
                content_hash=digest,
                now=now,
                targets=self._targets(article, extraction, url, subscriptions),
            )
        except IntegrityError as exc:  # data the schema refuses: this file fails, not the scan
            log.exception("cannot store file=%s", info.path)
            self._fail(info, "error", f"cannot store: {exc.orig}", digest, report)
            return
        if state is not None:
            report.changed += 1
        else:
            report.new += 1
        report.events += len(result.new_events)
        report.queued += result.queued
        log.info(
            "article path=%s events=%d new_events=%d queued=%d",
            info.path,
            len(extraction.events),
            len(result.new_events),
            result.queued,
        )

    def _fail(
        self, info: files.FileInfo, status: str, error: str, digest: str, report: ScanReport
    ) -> None:
        report.failed += 1
        log.warning("article failed path=%s status=%s error=%s", info.path, status, error)
        self.store.record_failure(
            info.path,
            status=status,
            error=error,
            size=info.size,
            mtime_ns=info.mtime_ns,
            content_hash=digest,
            now=self.clock(),
        )

    def _targets(
        self,
        article: Article,
        extraction: Extraction,
        url: str,
        subscriptions: Sequence[Subscription],
    ) -> Targets:
        """Which chats each event would alert; the store queues only the events that are new."""
        if not subscriptions:
            return {}
        now = self.clock()
        draft = StoredArticle(0, "", article, extraction.summary, url, now, now)
        targets: dict[str, list[tuple[int, int | None]]] = {}
        for event in extraction.events:
            for sub in subscriptions:
                matcher = self._filter(sub.filter)
                if matcher is not None and matcher.matches(draft, event):
                    targets.setdefault(event.key, []).append((sub.chat_id, sub.thread_id))
        return targets

    def _filter(self, text: str) -> Filter | None:
        if text not in self._filters:
            try:
                self._filters[text] = parse_filter(text, self.pack.event_types, self.pack.canonical)
            except FilterError as exc:  # stored before a rule change made it invalid
                log.warning("ignoring subscription filter=%r error=%s", text, exc)
                self._filters[text] = None
        return self._filters[text]

    # -- feeds --------------------------------------------------------------------------

    def write_feeds(self) -> int:
        """Render every feed and replace the files that changed; returns how many changed."""
        return len(self.publish_feeds())

    def publish_feeds(self) -> list[str]:
        """Render every feed (archives, stylesheet, OPML too), write the files whose bytes
        changed and remove feeds left without entries; returns the paths that changed."""
        articles = self.store.published_articles()
        documents = render_all(self.site, articles, self.max_entries, self._render_cache)
        feeds = build_feeds(self.site, articles, self._render_cache.entry)
        documents |= static_documents(self.site, feeds)
        return write_folder(self.feeds_folder, documents)

    # -- delivery -----------------------------------------------------------------------

    async def deliver(
        self, sender: Sender, concurrency: int = 64, stop: asyncio.Event | None = None
    ) -> DeliveryReport:
        """Send every due outbox message (see `bot.delivery`): chats in parallel, in order.

        Once `stop` is set no new message is started; those in flight finish and are recorded.
        """
        deliverer = Deliverer(self.store, self.clock, concurrency=concurrency)
        return await deliverer.deliver(sender, stop)


def _from_ns(mtime_ns: int, now: datetime) -> datetime:
    return datetime.fromtimestamp(mtime_ns / 1e9, tz=now.tzinfo)
