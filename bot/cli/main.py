"""The `eventfeed` command: `run` the daemon, `extract` events from files and print them, or
`eval` the extractor on hand-labelled articles."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot import __version__
from bot.cli import db as db_cli
from bot.cli import operate
from bot.cli import outbox as outbox_cli
from bot.cli.config import DEFAULT_CONFIG, check_folders, load_again, load_config, load_pack
from bot.core.articles import ArticleError, parse_article
from bot.core.codec import extract_record
from bot.core.config import Config, ConfigError
from bot.core.errors import EventfeedError
from bot.core.model import Article, Event
from bot.core.stories import Linker, StoryKey
from bot.extract import extract
from bot.runtime.logs import redact
from bot.site.permalinks import article_url, is_daemon_url, page_url

EXIT_FAILED = 1
EXIT_CONFIG = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eventfeed", description=__doc__)
    parser.add_argument("--version", action="version", version=f"eventfeed {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the daemon")
    operate.config_option(run)
    run.add_argument(
        "--once", action="store_true", help="one scan, feed write and delivery pass, then exit"
    )

    ext = commands.add_parser("extract", help="print the headline events of article files")
    ext.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ext.add_argument("--format", choices=("jsonl", "json"), default="jsonl")
    ext.add_argument("--config", type=Path, default=None, help="YAML config file")

    ev = commands.add_parser(
        "eval", help="score the extractor on hand-labelled articles (a gold YAML file)"
    )
    ev.add_argument("gold", type=Path, metavar="GOLD.yaml")
    ev.add_argument(
        "folders",
        nargs="*",
        type=Path,
        metavar="ARTICLES_DIR",
        help="where the gold's files are (default: the gold file's articles/ and own folder)",
    )
    ev.add_argument("--batch", default=None, help="score only the articles marked batch: N")
    ev.add_argument("--by-lang", action="store_true", help="also a line per article language")
    ev.add_argument("--verbose", action="store_true", help="per article: counts and misses")
    ev.add_argument(
        "--errors",
        action="store_true",
        help="then the errors by class (missed, false alarm, amount), with examples",
    )
    ev.add_argument("--config", type=Path, default=None, help="YAML config file")
    ev.add_argument(
        "--backend",
        choices=("rules", "llm"),
        default="rules",
        help="the rules (default) or the model of extract.llm (the rules where it fails)",
    )

    operate.add_commands(commands)  # doctor, reprocess, export, import
    outbox_cli.add_command(commands)  # outbox [--retry]
    db_cli.add_command(commands)  # db current | upgrade

    args = parser.parse_args(argv)
    try:
        if hasattr(args, "handler"):
            return int(args.handler(args))
        if args.command == "run":
            tune_gc()
            return operate.run_once(args.config) if args.once else _run(args.config)
        if args.command == "eval":
            return _eval(args)
        return _extract(args.paths, args.format, args.config)
    except EventfeedError as exc:  # anything else: a traceback, its token masked by the hook
        status, line = failure(exc)
        print(redact(f"eventfeed: {line}"), file=sys.stderr)
        return status


def failure(exc: EventfeedError) -> tuple[int, str]:
    """The exit code and the one line (after "eventfeed: ") for an error raised on purpose;
    the one place that maps them, for every subcommand."""
    from bot.extract.scoring import GoldError

    if isinstance(exc, ConfigError):
        return EXIT_CONFIG, f"configuration error: {exc}"
    if isinstance(exc, GoldError):  # the gold file of `eval`: its path is in the message
        return EXIT_CONFIG, str(exc)
    from bot.store import BackupError  # here: alembic is slow to import for `extract`

    if isinstance(exc, BackupError):
        return EXIT_FAILED, f"cannot import: {exc}"
    return EXIT_FAILED, str(exc)


def tune_gc() -> None:
    """Run CPython's cycle collector once 10,000 more containers were made than freed, not 700.

    The daemon keeps a large heap for its whole life (rule pack, store, PTB, aiohttp): at the
    default a fan-out of 10,000 messages ran ~1,000 young and 9 full collections of 75 ms
    each, a quarter of the sender's CPU (docs/benchmarks.md, target 4) and a stall of the
    event loop each time. Reference counting still frees nearly everything at once; only
    garbage in reference cycles waits a little longer.
    """
    from bot.runtime.heap import FIRST_THRESHOLD

    gc.set_threshold(FIRST_THRESHOLD)


def _run(config_path: Path) -> int:
    from bot.app import run_daemon
    from bot.runtime.heap import fewer_malloc_arenas
    from bot.runtime.logs import setup_logging

    fewer_malloc_arenas()  # before any thread starts
    # PTB 22 warns on every RetryAfter unless it may hand out timedeltas, which we read.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    config = load_config(config_path, os.environ)
    check_folders(config, config_path, os.environ)
    pack = load_pack(config)
    setup_logging(config)
    asyncio.run(run_daemon(config, pack, config_path, lambda: load_again(config_path, os.environ)))
    return 0


def _user_config(config_path: Path | None) -> Config:
    """The config given, else ./config/eventfeed.yaml if there is one, else the defaults."""
    if config_path is None and DEFAULT_CONFIG.is_file():
        config_path = DEFAULT_CONFIG
    return load_config(config_path, os.environ)


def _extract(paths: Sequence[Path], fmt: str, config_path: Path | None) -> int:
    config = _user_config(config_path)
    pack = load_pack(config)
    linker = Linker()  # events of the given files reporting one happening share a story id
    status = 0
    for path in paths:
        try:
            article = _read_article(path, config)
        except (OSError, ArticleError) as exc:
            print(f"eventfeed: {path}: {exc}", file=sys.stderr)
            status = 1
            continue
        try:
            extraction = extract(article, pack, config.extract.max_chars)
        except Exception as exc:  # one article's bug must not hide the others' results
            print(
                f"eventfeed: {path}: extraction failed: {type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
            status = 1
            continue
        url = _public_url(article, path, config)
        day = None if article.undated else article.published.date()
        stories = tuple(
            linker.assign(f"{path.as_posix()}#{event.key}", StoryKey.of(event, day))
            for event in extraction.events
        )
        record = extract_record(article, url, extraction.summary, extraction.events, stories)
        indent = 2 if fmt == "json" else None
        print(json.dumps(record, ensure_ascii=False, indent=indent), flush=True)
    return status


def _read_article(path: Path, config: Config) -> Article:
    """The file parsed as the daemon would (its mtime only where it has no date of its own)."""
    data = path.read_bytes()
    mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    return parse_article(data, path.as_posix(), mtime, config.site.tz)


# What `eval` scores: each article's headline events, the articles given all at once (the
# model backend asks `extract.llm.max_concurrent` of them at a time).
Extractor = Callable[[Sequence[Article]], list[Sequence[Event]]]


def rule_extractor(config: Config) -> Extractor:
    """The extractor `eventfeed extract` and the daemon run, with the config's rule files."""
    pack = load_pack(config)
    limit = config.extract.max_chars
    return lambda articles: [extract(article, pack, limit).events for article in articles]


def model_extractor(config: Config) -> Extractor:
    """`extract.backend: llm` as the daemon runs it: the model's grounded events, cached in
    `state.url` (a second evaluation asks nothing), the rules' where the model fails."""
    from bot.runtime.llm import extract_all

    pack = load_pack(config)
    limit = config.extract.max_chars
    return lambda articles: [x.events for x in extract_all(articles, pack, config, limit)]


def _eval(args: argparse.Namespace) -> int:
    import yaml

    from bot.extract.scoring import GoldError, error_lines, errors, read_gold, score

    config = _user_config(args.config)
    try:
        gold = read_gold(yaml.safe_load(args.gold.read_text(encoding="utf-8")), args.batch)
    except (OSError, yaml.YAMLError, GoldError) as exc:
        raise GoldError(f"{args.gold}: {exc}") from None
    extractor = (model_extractor if args.backend == "llm" else rule_extractor)(config)
    names: list[str] = []
    articles: list[Article] = []
    status = 0
    for entry in gold:
        path = _gold_file(entry.file, entry.seed, args.gold.parent, args.folders)
        if path is None:
            print(f"eventfeed: {entry.file}: not found", file=sys.stderr)
            status = 1
            continue
        try:
            articles.append(_read_article(path, config))
        except (OSError, ArticleError) as exc:
            print(f"eventfeed: {path}: {exc}", file=sys.stderr)
            status = 1
        else:
            names.append(entry.name)
    predicted = dict(zip(names, extractor(articles), strict=True))
    for line in score(gold, predicted).lines(args.by_lang, args.verbose):
        print(line)
    if args.errors:
        for line in error_lines(errors(gold, predicted), args.by_lang):
            print(line)
    return status


def _gold_file(file: str, seed: bool, home: Path, folders: Sequence[Path]) -> Path | None:
    """A gold entry's file: in the folders given, else beside the gold file in `articles/`,
    the gold file's own folder and (a seed) `../seeds/`, the shared corpus's layout. Its path
    as written first, then its name alone."""
    if not folders:
        folders = [home / "articles", home, *([home.parent / "seeds"] if seed else [])]
    name = Path(file).name
    for folder in folders:
        for candidate in (folder / file, folder / name):
            if candidate.is_file():
                return candidate
    return None


def _public_url(article: Article, path: Path, config: Config) -> str:
    """The link the daemon would give the file: made from its path in the articles folder (a
    file outside it by its name alone), never from where it lies on this machine."""
    from bot.store.base import article_uid

    try:
        relative = path.resolve().relative_to(config.articles.folder.resolve()).as_posix()
    except (OSError, ValueError):
        relative = path.name
    as_scanned = dataclasses.replace(article, path=relative)
    if is_daemon_url(config.site.base_url, config.http.bind):
        return page_url(config.site.base_url, article.feed_id or article_uid(as_scanned))
    return article_url(as_scanned, config.site.base_url, config.site.permalink)


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig()
    raise SystemExit(main())
