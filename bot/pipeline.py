"""The orchestrator: a scan tick (files → articles → events → store → feeds) and a delivery pass.

Each step's side effects belong to another module (files, store, sender); this one decides
what happens in which order, and makes sure one bad file or one failing chat stops nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from bot import files
from bot.articles import ArticleError, article_url, parse_article
from bot.delivery import Deliverer, DeliveryReport
from bot.extract import RulePack, extract
from bot.feeds import FeedSite
from bot.filters import Filter, FilterError, parse_filter
from bot.model import Article, Extraction, StoredArticle
from bot.publish import Publisher
from bot.sender import Sender
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
    _published: bool = False  # this pipeline has published once (see publish_feeds)
    # path → (size, mtime_ns) of every file the store knows; None until the first scan.
    _known_stats: dict[str, tuple[int, int]] | None = field(default=None, repr=False)
    _publisher: Publisher = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._publisher = Publisher(self.feeds_folder, self.site, self.store, self.max_entries)

    # -- scanning ---------------------------------------------------------------------

    def scan(
        self,
        paths: Iterable[str] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> ScanReport:
        """Process new and changed files: every file when `paths` is None, else just those.

        A full scan also notices deleted files. Unchanged files (same size and mtime) are not
        read at all, and their stat data is compared with a copy kept in memory (the pipeline
        is the store's only writer of it), which keeps the safety-net rescan of a large folder
        cheap: one stat per file.
        """
        report = ScanReport()
        self.store.ensure_feed_index()  # before the first change, so the index follows it
        known = self._known()
        listing = None if paths is None else self._stat_paths(set(paths))
        if listing is None:
            present: set[str] = set()
            wanted = []
            for info in files.walk_folder(self.source.folder):
                present.add(info.path)
                if known.get(info.path) != (info.size, info.mtime_ns):
                    wanted.append(info)
            report.seen = len(present)
            gone = [path for path in known if path not in present]
        else:
            wanted, gone = listing
            report.seen = len(wanted)
        # Deletions first, so that a renamed file is recognised by its content.
        report.deleted = self.store.mark_deleted(gone, self.clock())
        for path in gone:
            known.pop(path, None)
        subscriptions = self.store.active_subscriptions() if wanted else []
        ordered = sorted(wanted, key=lambda i: i.path)
        for done, info in enumerate(ordered):
            if progress is not None:  # (files checked, files to check): for long first scans
                progress(done, len(ordered))
            state = self.store.file_state(info.path)
            if state and (state.size, state.mtime_ns) == (info.size, info.mtime_ns):
                known[info.path] = (state.size, state.mtime_ns)
                continue
            self._process(info, state, subscriptions, report)
            after = self.store.file_state(info.path)
            if after is None:
                known.pop(info.path, None)
            else:
                known[info.path] = (after.size, after.mtime_ns)
        if progress is not None:
            progress(len(ordered), len(ordered))
        return report

    def _known(self) -> dict[str, tuple[int, int]]:
        """path → (size, mtime_ns) as the store has them, read once per pipeline."""
        if self._known_stats is None:
            self._known_stats = self.store.file_stats()
        return self._known_stats

    def _stat_paths(self, chosen: set[str]) -> tuple[list[files.FileInfo], list[str]] | None:
        """The listing of just these paths (present ones, gone ones), or None when only a
        full listing can tell (a symlink or a hard link on the way)."""
        wanted: list[files.FileInfo] = []
        gone: list[str] = []
        known = self._known()
        for path in chosen:
            info = files.file_info(self.source.folder, path)
            if info is False:
                return None
            if info is not None:
                wanted.append(info)
            elif path in known:
                gone.append(path)
        return wanted, gone

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
            self._fail(info._replace(mtime_ns=-1), "error", reason, "", report)
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

    def publish_feeds(self, everything: bool = False) -> list[str]:
        """Write the feed pages the changes since the last publish touched, and remove feeds
        left without entries; returns the paths that changed. The first publish of a pipeline
        also writes every feed's current page and the statics (repairing what a power loss
        left wrong); `everything` (or a feed index just built) writes every archive page too."""
        if self.store.ensure_feed_index():
            everything = True
        changes = self.store.take_feed_changes()
        try:
            written = self._publisher.publish(
                changes, check=not self._published, everything=everything
            )
        except BaseException:
            self.store.return_feed_changes(changes)
            raise
        self._published = True
        return written

    # -- delivery -----------------------------------------------------------------------

    async def deliver(
        self,
        sender: Sender,
        concurrency: int = 64,
        stop: asyncio.Event | None = None,
        *,
        instance: str = "local",
        lease: timedelta = timedelta(seconds=60),
    ) -> DeliveryReport:
        """Send every due outbox message (see `bot.delivery`): chats in parallel, in order.

        Once `stop` is set no new message is started; those in flight finish and are recorded.
        `instance` claims the chats it sends to for `lease` (several instances, one database).
        """
        deliverer = Deliverer(
            self.store, self.clock, concurrency=concurrency, instance=instance, lease=lease
        )
        return await deliverer.deliver(sender, stop)


def _from_ns(mtime_ns: int, now: datetime) -> datetime:
    return datetime.fromtimestamp(mtime_ns / 1e9, tz=now.tzinfo)
