"""The orchestrator of a scan tick: files → articles → events → store (which queues the alerts)
→ feeds.

Each step's side effects belong to another module (files, store, publish); this one decides
what happens in which order, and makes sure one bad file stops nothing. The alerts it queues
are sent by the Telegram side (`bot.telegram.delivery`): the pipeline only says, through
`on_queued`, that there are some.

One module of ~750 lines: the full scan, the safety net's partial passes and the model's late
answers (llm+rules) all read and update one state (the known files' stat data, the folder
stamps, the subscriptions and their parsed filters, the answers awaited), kept in `Pipeline`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import partial
from pathlib import Path

from bot.core.articles import limit_names
from bot.core.config import Config
from bot.core.filters import Filter, FilterError, parse_filter
from bot.core.model import Article, Extraction, StoredArticle
from bot.extract import RulePack
from bot.runtime import files, heap, pool
from bot.runtime.llm import LlmExtractor
from bot.runtime.pool import Failure, Job
from bot.runtime.publish import EntryCache, Publisher
from bot.site.permalinks import article_url, is_daemon_url, page_url
from bot.site.render import FeedSite
from bot.store import FileState, Store, Subscription, Targets
from bot.store.articles import ArticleSave
from bot.store.base import DataRefused, article_uid, utc_now
from bot.store.feedindex import FeedChanges
from bot.store.filestates import pack_stat

log = logging.getLogger(__name__)

POOL_MIN = 50  # files to parse before a scan starts worker processes (see `bot.runtime.pool`)
# What a file whose analysis is still running says until it ends (see _analysis_started).
UNFINISHED = (
    "analysis did not finish: the daemon stopped during it (tried again when the file changes)"
)
BATCH = 100  # articles a scan stores per transaction
BATCH_WAIT = 0.25  # seconds an analysed article waits for the rest of its batch, at most


@dataclass(frozen=True)
class Source:
    """Where articles come from and how their links are made."""

    folder: Path
    max_bytes: int
    timezone: tzinfo
    base_url: str
    permalink: str
    # The base URL is the daemon itself (see `permalinks.is_daemon_url`): every article links
    # to the page the daemon serves for it, which only the store's uid names.
    own_pages: bool = False
    max_categories: int = 50  # per article (see `articles.limit_names`)
    max_tags: int = 50
    allow_empty_folder: bool = False  # see `Pipeline._check_not_emptied`


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
    pool_from: int = POOL_MIN  # files to analyse before a scan starts worker processes
    batch: int = BATCH  # articles a scan stores per transaction
    max_chars: int | None = None  # of an article's text analysed for events
    # None: analysis in this process (tools, tests). A number (the daemon): every file is
    # analysed in a worker process, within this many seconds (see `pool.Analyser`).
    budget: float | None = None
    # Called (in the scanning thread) once a stored article queued alerts: delivery need not
    # wait for the end of a long scan.
    on_queued: Callable[[], object] | None = None
    # extract.backend llm or llm+rules (see `bot.runtime.llm`); None: the rules alone.
    llm: LlmExtractor | None = None
    # llm+rules: called (in a model thread) when an answer for an article stored with the
    # rules' events is in; the caller then runs `apply_refined` where it may write.
    on_refined: Callable[[], object] | None = None
    _refining: list[tuple[ArticleSave, Future[Extraction | None]]] = field(
        default_factory=list, repr=False
    )
    _subscriptions: Sequence[Subscription] = field(default=(), repr=False)
    _filters: dict[str, Filter | None] = field(default_factory=dict)
    _published: bool = False  # this pipeline has published once (see publish_feeds)
    _relinked: bool = False  # the stored links follow this pipeline's settings (see _relink)
    _warmed: bool = False  # the story candidates were read (see _warm)
    _republish: bool = False  # the relink changed links: write every page once
    # path → (size, mtime_ns) of every file the store knows; None until the first scan.
    _known_stats: dict[str, int] | None = field(default=None, repr=False)
    # The safety net's folder stamps (see `rescan`), and whose turn it is among the files.
    _folders: dict[str, files.Stamp] | None = field(default=None, repr=False)
    _turn: int = field(default=0, repr=False)
    _publisher: Publisher = field(init=False, repr=False)
    _analyser: pool.Analyser | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._publisher = Publisher(
            self.feeds_folder,
            self.site,
            self.store,
            self.max_entries,
            event_types=lambda: self.pack.event_types,  # follows reloads
        )

    def use_pack(self, pack: RulePack, max_chars: int | None, budget: float | None) -> None:
        """A reload: this pack and these extract settings from the next scan on."""
        self.pack = pack
        self._filters.clear()  # filters resolve aliases and types with the pack
        self.max_chars = max_chars
        self.budget = budget

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

        Articles are stored `batch` per transaction, in file order; a scan of `pool_from`
        files or more parses and extracts in worker processes meanwhile (see `bot.runtime.pool`).
        The store ends up exactly as after storing the files one by one.
        """
        folder = self.source.folder
        if not folder.is_dir():
            raise files.FolderMissing(
                f"the articles folder {folder} is missing: no article is taken for deleted "
                "until it is back (an empty folder would remove them all)"
            )
        if self.budget is not None or (paths is None and pool.workers() > 1):
            pool.start_server()  # workers may be wanted: their imports overlap the listing
        report = ScanReport()
        self.store.ensure_feed_index()  # before the first change, so the index follows it
        self._relink()
        self._warm()
        known = self._known()
        listing = None if paths is None else self._stat_paths(set(paths))
        if listing is None:
            wanted = []
            # The known paths' own strings, struck off as they are listed: a set of the listed
            # paths would hold a second copy of every one (8 MB at 100,000 files).
            unseen = set(known)
            for info in files.walk_folder(self.source.folder):
                report.seen += 1
                unseen.discard(info.path)
                if known.get(info.path) != _stat(info):
                    wanted.append(info)
            gone = [path for path in known if path in unseen]
            del unseen
        else:
            wanted, gone = listing
            report.seen = len(wanted)
        if gone:
            self._check_not_emptied(known, listed=listing is None and report.seen > 0)
        # Deletions first, so that a renamed file is recognised by its content.
        report.deleted = self.store.mark_deleted(gone, self.clock())
        for path in gone:
            known.pop(path, None)
        subscriptions = self.store.active_subscriptions() if wanted else []
        self._subscriptions = subscriptions
        # In path order; large files last, so that the articles beside them wait for none.
        ordered = sorted(wanted, key=lambda i: (i.size >= pool.ALONE, i.path))
        states = self.store.file_states_of([info.path for info in ordered])
        jobs = (self._read(info, states.get(info.path)) for info in ordered)
        changed = sum(
            1
            for info in ordered
            if info.path not in states or _stat(states[info.path]) != _stat(info)
        )
        with contextlib.ExitStack() as stack:
            stack.enter_context(heap.fewer_collections())
            if self.budget is not None:
                analysed = self._analyser_now(self.budget).analyse_all(jobs)
            elif changed >= self.pool_from and pool.workers() > 1:
                analysed = stack.enter_context(
                    pool.AnalysisPool(self.pack, pool.workers())
                ).analyse_all(jobs)
            else:
                analysed = ((f, None if j is None else pool.analyse(j, self.pack)) for f, j in jobs)
            batch: list[tuple[_File, ArticleSave]] = []
            since = 0.0  # when the batch's first article was analysed
            small = sum(1 for info in ordered if info.size < pool.ALONE)  # these come first
            for done, (found, analysis) in enumerate(analysed):
                if progress is not None:  # (files checked, files to check): for long first scans
                    progress(done, len(ordered))
                if isinstance(analysis, tuple):
                    batch.append((found, self._to_save(found, *analysis, subscriptions)))
                    since = since if len(batch) > 1 else time.monotonic()
                    # Stored once full, before the large files, or once a file slow to
                    # analyse has kept it waiting.
                    if (
                        len(batch) >= self.batch
                        or done + 1 == small
                        or time.monotonic() - since > BATCH_WAIT
                    ):
                        self._store(batch, report)
                        batch = []
                    continue
                if found.action in ("touch", "fail", "analyse"):  # a write: after the batch's
                    self._store(batch, report)
                    batch = []
                self._process(found, analysis, report)
            self._store(batch, report)
        if progress is not None:
            progress(len(ordered), len(ordered))
        return report

    def _analyser_now(self, budget: float) -> pool.Analyser:
        """The worker processes, started again after a reload changed the pack or budget."""
        current = self._analyser
        if current is None or current.pack is not self.pack or current.budget != budget:
            self.close()
            current = self._analyser = pool.Analyser(
                self.pack, pool.workers(), budget, on_slow=self._analysis_started
            )
        return current

    def close(self) -> None:
        """End the worker processes, if any."""
        if self._analyser is not None:
            self._analyser.close()
            self._analyser = None

    def _analysis_started(self, found: _File) -> None:
        """A file's analysis is still running: recorded as unfinished until it ends, so that
        a daemon killed meanwhile skips the file at its next start instead of trying it (and
        maybe dying) again; it is tried again when it changes."""
        info = found.info
        log.warning("analysis is slow path=%s; recorded as unfinished until it ends", info.path)
        self._known()[info.path] = _stat(info)
        self.store.record_failure(
            info.path,
            status="error",
            error=UNFINISHED,
            size=info.size,
            mtime_ns=info.mtime_ns,
            content_hash=found.digest,
            now=self.clock(),
        )

    def rescan(
        self,
        progress: Callable[[int, int], None] | None = None,
        *,
        parts: int = 1,
        full: bool = False,
    ) -> ScanReport:
        """The safety net: a scan for what the watcher may have missed.

        `full`, or `parts` 1: a full scan. Otherwise only what can have changed unseen, at
        the cost of a stat per folder (`files.look_again`): the files of the folders whose
        stamp changed (an entry created, deleted or renamed); and, since an edit in place
        changes no folder, one `parts`-th of the known files by turn (and one `parts`-th of
        the folders by name), so that every file is statted at least once every `parts`
        passes. A full scan too whenever only a full listing can tell (a link in the tree).
        """
        root, now_ns = self.source.folder, int(self.clock().timestamp() * 1e9)
        look = None
        if not full and parts > 1 and self._folders is not None and root.is_dir():
            self._turn = turn = (self._turn + 1) % parts
            look = files.look_again(root, self._folders, lambda f: hash(f) % parts == turn, now_ns)
        unseen = None if look is None else self._unseen(look, parts, self._turn)
        if look is None or unseen is None:
            # Stamped before the listing, so that whatever changes during it shows next time.
            self._folders = files.folder_stamps(root, now_ns) if parts > 1 else None
            return self.scan(None, progress)
        self._folders = look.stamps
        paths, checked = unseen
        report = self.scan(paths, progress) if paths else ScanReport()
        report.seen = checked
        return report

    def _check_not_emptied(self, known: dict[str, int], listed: bool) -> None:
        """Raise FolderEmpty before files are taken for deleted while the folder lists none and
        several articles are known: an unmounted disk leaves an empty mount point, and every
        article would leave the feeds (the safety net's passes would remove them a share at
        a time). `listed`: a full listing found files."""
        if self.source.allow_empty_folder or len(known) < 2 or listed:
            return
        if next(iter(files.walk_folder(self.source.folder)), None) is not None:
            return
        raise files.FolderEmpty(
            f"the articles folder {self.source.folder} is empty but {len(known)} articles are "
            "known: none is removed (an unmounted disk?); to remove them all, set "
            "scan.allow_empty_folder: true"
        )

    def _unseen(self, look: files.FolderLook, parts: int, turn: int) -> tuple[set[str], int] | None:
        """The paths to scan after `look` (changed, new or gone) and how many files were
        checked; None when only a full listing can tell (a hard link)."""
        known = self._known()
        paths: set[str] = set()
        listed: set[str] = set()
        for info in look.files:
            listed.add(info.path)
            if known.get(info.path) != _stat(info):
                paths.add(info.path)
        paths.update(path for path in look.names if path not in known)
        checked = len(look.files) + len(look.names)
        changed = look.changed
        for path, before in known.items():
            if changed and path.rpartition("/")[0] in changed:
                if path not in listed:  # gone from its folder
                    paths.add(path)
            # mtime -1: unreadable last time, read again on every pass as a full scan does.
            elif before < 0 or hash(path) % parts == turn:
                checked += 1
                now = files.file_info(self.source.folder, path)
                if now is False:
                    return None
                if now is None or _stat(now) != before:
                    paths.add(path)
        return paths, checked

    def _known(self) -> dict[str, int]:
        """path → `_stat` as the store has them, read once per pipeline."""
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

    def _read(self, info: files.FileInfo, state: FileState | None) -> tuple[_File, Job | None]:
        """The file's bytes as a job to analyse, or what to do instead."""
        if state and _stat(state) == _stat(info):
            return _File(info, state, action="skip"), None
        try:
            data = files.read_file(self.source.folder, info.path, self.source.max_bytes)
        except files.FileTooLarge as exc:
            return _File(info, state, action="fail", status="skipped", error=str(exc)), None
        except (PermissionError, files.OutsideRoot) as exc:
            # Recorded, and read again on every scan: a chmod leaves size and mtime alone.
            reason = f"cannot read: {exc.strerror or exc}"
            failed = info._replace(mtime_ns=-1)
            return _File(failed, state, action="fail", status="error", error=reason), None
        except OSError as exc:  # vanished between listing and reading: the next scan sees
            log.warning("cannot read file=%s error=%s", info.path, exc.strerror or exc)
            return _File(info, state, action="gone"), None
        digest = files.content_hash(data)
        if state and state.content_hash == digest:
            return _File(info, state, digest, action="touch"), None
        mtime = _from_ns(info.mtime_ns, self.clock())
        job = Job(data, info.path, mtime, self.source.timezone, self.max_chars)
        return _File(info, state, digest), job

    def _process(self, found: _File, analysis: Failure | None, report: ScanReport) -> None:
        """Record a file that yields no article to store (unchanged, unreadable, invalid)."""
        info, known = found.info, self._known()
        if found.action == "skip" and found.state is not None:
            known[info.path] = _stat(found.state)
        elif found.action == "touch":
            self.store.touch_file(info.path, info.size, info.mtime_ns)
            known[info.path] = _stat(info)
        elif found.action == "gone":
            if found.state is None:
                known.pop(info.path, None)
            else:
                known[info.path] = _stat(found.state)
        elif found.action == "fail":
            self._fail(info, found.status, found.error, "", report)
        elif analysis is not None:
            if analysis.traceback:  # a bug, not bad input
                log.error("failed to process file=%s\n%s", info.path, analysis.traceback)
            self._fail(info, "error", analysis.error, found.digest, report)

    def _relink(self) -> None:
        """At the first scan: links made by other settings (an upgrade, a new base URL or
        permalink) are made again, and every page that shows one is written again."""
        if self._relinked:
            return
        source = self.source
        rule = f"1 {source.own_pages} {source.base_url} {source.permalink}"
        changed = self.store.relink(rule, self._url_of)
        if changed:
            log.info("article links made again links=%d", changed)
            self._republish = True
            self._publisher.cache = EntryCache()  # entries made with the old links
        self._relinked = True

    def _warm(self) -> None:
        """At the first scan: the recent events of every type, which a new article's events
        are compared with, read now rather than by the first article of each type."""
        if not self._warmed:
            self.store.warm_story_candidates(self.pack.event_types)
            self._warmed = True

    def _url_of(self, uid: str, article: Article) -> str:
        if self.source.own_pages:
            return page_url(self.source.base_url, uid)
        return article_url(article, self.source.base_url, self.source.permalink)

    def _to_save(
        self,
        found: _File,
        article: Article,
        extraction: Extraction,
        subscriptions: Sequence[Subscription],
    ) -> ArticleSave:
        article, cut = limit_names(article, self.source.max_categories, self.source.max_tags)
        if cut:  # once per article, not once per name
            log.warning("article names left out path=%s %s", article.path, cut)
        url: str | Callable[[str], str]
        if self.source.own_pages:
            url = partial(page_url, self.source.base_url)
            draft_url = url(article.feed_id or article_uid(article))
        else:
            url = draft_url = article_url(article, self.source.base_url, self.source.permalink)
        return ArticleSave(
            article,
            extraction,
            url,
            size=found.info.size,
            mtime_ns=found.info.mtime_ns,
            content_hash=found.digest,
            now=self.clock(),
            targets=self._targets(article, extraction, draft_url, subscriptions),
        )

    def _store(self, batch: Sequence[tuple[_File, ArticleSave]], report: ScanReport) -> None:
        """Store a batch of articles in one transaction."""
        if not batch:
            return
        later: set[int] = set()  # ids of the saves to refine once stored
        if self.llm is not None:
            batch, refine = self._with_model(self.llm, batch)
            later = {id(save) for save in refine}
        try:
            results = self.store.save_articles([save for _found, save in batch])
        except DataRefused as exc:  # data the schema refuses: this file fails, not the scan
            if len(batch) > 1:  # which file? One at a time tells.
                for one in batch:
                    self._store([one], report)
                return
            info, digest = batch[0][0].info, batch[0][0].digest
            log.exception("cannot store file=%s", info.path)
            self._fail(info, "error", f"cannot store: {exc.orig}", digest, report)
            return
        known = self._known()
        for (found, save), result in zip(batch, results, strict=True):
            info = found.info
            if self.max_chars is not None and len(save.article.text) > self.max_chars:
                log.info(
                    "article analysed in part path=%s chars=%d analysed=%d",
                    info.path,
                    len(save.article.text),
                    self.max_chars,
                )
            known[info.path] = _stat(info)
            if id(save) in later:
                self._refine(save)
            if found.state is not None:
                report.changed += 1
            else:
                report.new += 1
            report.events += len(result.new_events)
            report.queued += result.queued
            if result.queued and self.on_queued is not None:
                self.on_queued()
            log.info(
                "article path=%s events=%d new_events=%d queued=%d",
                info.path,
                len(save.extraction.events),
                len(result.new_events),
                result.queued,
            )

    # -- the extraction model (extract.backend llm, llm+rules) ----------------------------

    def _with_model(
        self, llm: LlmExtractor, batch: Sequence[tuple[_File, ArticleSave]]
    ) -> tuple[list[tuple[_File, ArticleSave]], list[ArticleSave]]:
        """The batch with the model's events where it has answered before (the cache), and
        with backend llm where it answers now; and the saves to refine once stored (llm+rules:
        the rules' events go out first, the model's replace them when it answers)."""
        items = [(save.article, save.extraction) for _found, save in batch]
        found: list[Extraction | None] = llm.known(items, self.pack)
        later: list[ArticleSave] = []
        if llm.backend == "llm":  # asked now, all at once (within max_concurrent)
            asked = {
                i: llm.submit(items[i][0], self.pack, items[i][1])
                for i, got in enumerate(found)
                if got is None
            }
            wait(asked.values())
            for i, future in asked.items():
                found[i] = _answer(future, batch[i][1])
        out = []
        for (file, save), extraction in zip(batch, found, strict=True):
            if extraction is not None:
                save = self._replaced(save, extraction, self._subscriptions)
            elif llm.backend == "llm+rules":
                later.append(save)
            out.append((file, save))
        return out, later

    def _replaced(
        self, save: ArticleSave, extraction: Extraction, subscriptions: Sequence[Subscription]
    ) -> ArticleSave:
        url = save.url
        draft_url = (
            url if isinstance(url, str) else url(save.article.feed_id or article_uid(save.article))
        )
        targets = self._targets(save.article, extraction, draft_url, subscriptions)
        return dataclasses.replace(save, extraction=extraction, targets=targets)

    def _refine(self, save: ArticleSave) -> None:
        assert self.llm is not None
        future = self.llm.submit(save.article, self.pack, save.extraction)
        self._refining.append((save, future))
        if self.on_refined is not None:
            future.add_done_callback(lambda _done: self.on_refined and self.on_refined())

    @property
    def refining(self) -> int:
        """Articles stored with the rules' events whose model answer is not applied yet."""
        return len(self._refining)

    def apply_refined(self, wait_all: bool = False) -> ScanReport:
        """Store the model's events of the articles it has answered about since they were
        stored with the rules' (`wait_all`: wait for every answer first). An event the model
        tells as the rules did keeps its story, so an alert already sent is edited, not sent
        again (see `ArticleSave.refined`). A file changed or gone meanwhile is left alone."""
        report = ScanReport()
        if wait_all:
            wait([future for _save, future in self._refining])
        ready = [(s, f) for s, f in self._refining if f.done()]
        self._refining = [(s, f) for s, f in self._refining if not f.done()]
        answered: list[tuple[ArticleSave, Extraction]] = []
        for save, future in ready:
            extraction = _answer(future, save)
            if extraction is not None and extraction != save.extraction:
                answered.append((save, extraction))
        if not answered:
            return report
        states = self.store.file_states_of([save.article.path for save, _ in answered])
        subscriptions = self.store.active_subscriptions()
        saves = []
        for save, extraction in answered:
            state = states.get(save.article.path)
            if state is None or state.content_hash != save.content_hash:
                continue
            replaced = self._replaced(save, extraction, subscriptions)
            saves.append(
                dataclasses.replace(
                    replaced,
                    size=state.size,
                    mtime_ns=state.mtime_ns,
                    now=self.clock(),
                    refined=True,
                )
            )
        if not saves:
            return report
        try:
            results = self.store.save_articles(saves)
        except BaseException:  # the store is down: tried again with the next answer
            self._refining[:0] = ready
            raise
        for save, result in zip(saves, results, strict=True):
            report.changed += 1
            report.events += len(result.new_events)
            report.queued += result.queued
            log.info(
                "model events stored path=%s events=%d new_events=%d queued=%d",
                save.article.path,
                len(save.extraction.events),
                len(result.new_events),
                result.queued,
            )
        if report.queued and self.on_queued is not None:
            self.on_queued()
        return report

    def _fail(
        self, info: files.FileInfo, status: str, error: str, digest: str, report: ScanReport
    ) -> None:
        report.failed += 1
        log.warning("article failed path=%s status=%s error=%s", info.path, status, error)
        self._known()[info.path] = _stat(info)
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

    def publish_feeds(
        self, everything: bool = False, only: Collection[str] | None = None
    ) -> list[str]:
        """Write the feed pages the changes since the last publish touched, and remove feeds
        left without entries; returns the paths that changed. The first publish of a pipeline
        also writes every feed's current page and the statics (repairing what a power loss
        left wrong); `everything` (or a feed index just built) writes every archive page too.

        `only`: just the pages of these feeds; the other feeds' changes wait for the next
        call. A first or whole publish ignores it (it writes everything)."""
        if self.store.ensure_feed_index() or self._republish:
            everything = True
        changes = self.store.take_feed_changes()
        if only is not None and self._published and not everything:
            rest = FeedChanges(
                {name: c for name, c in changes.feeds.items() if name not in only},
                changes.catalog,
            )
            changes = FeedChanges({n: c for n, c in changes.feeds.items() if n in only})
            self.store.return_feed_changes(rest)
        try:
            with heap.fewer_collections():
                written = self._publisher.publish(
                    changes, check=not self._published, everything=everything
                )
        except BaseException:
            self.store.return_feed_changes(changes)
            raise
        self._published = True
        self._republish = False
        return written


def build_pipeline(config: Config, store: Store, pack: RulePack) -> Pipeline:
    """The pipeline the config describes (analysis in this process: see `Pipeline.budget`)."""
    site = config.site
    return Pipeline(
        source=Source(
            folder=config.articles.folder,
            max_bytes=config.articles.max_bytes,
            max_categories=config.articles.max_categories,
            max_tags=config.articles.max_tags,
            allow_empty_folder=config.scan.allow_empty_folder,
            timezone=site.tz,
            base_url=site.base_url,
            permalink=site.permalink,
            own_pages=is_daemon_url(site.base_url, config.http.bind),
        ),
        store=store,
        pack=pack,
        site=FeedSite(
            base_url=site.base_url,
            title=site.title,
            description=site.description,
            language=site.language,
            hub=config.feeds.websub_hub,
            author=site.author,
        ),
        feeds_folder=config.feeds.folder,
        max_entries=config.feeds.max_entries,
        clock=utc_now,
        max_chars=config.extract.max_chars,
    )


@dataclass(frozen=True, slots=True)
class _File:
    """A file a scan looked at, and what it found: `action` is "analyse" (its bytes went to
    parsing), "skip" (same stat data), "touch" (same content), "gone" (vanished) or "fail"."""

    info: files.FileInfo
    state: FileState | None
    digest: str = ""
    action: str = "analyse"
    status: str = ""  # "fail": the status and error to record
    error: str = ""


def _answer(future: Future[Extraction | None], save: ArticleSave) -> Extraction | None:
    """The model's events, or None (the rules' stand): it failed, was stopped, or its code
    raised (a bug there costs the article its model events, never the scan)."""
    if future.cancelled():
        return None
    error = future.exception()
    if error is not None:
        log.error("extraction model step failed path=%s", save.article.path, exc_info=error)
        return None
    return future.result()


def _stat(found: files.FileInfo | FileState) -> int:
    return pack_stat(found.size, found.mtime_ns)


def _from_ns(mtime_ns: int, now: datetime) -> datetime:
    return datetime.fromtimestamp(mtime_ns / 1e9, tz=now.tzinfo)
