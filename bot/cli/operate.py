"""The operator's subcommands: `doctor`, `reprocess`, `export` and `import`.

Argument parsing and wiring only; the work is done in `doctor`, `reprocess` and `backup`.
Each subcommand sets `handler`, which `bot.cli.main` calls with the parsed arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.cli.config import DEFAULT_CONFIG, check_folders, load_config, load_pack

log = logging.getLogger("eventfeed")


def add_commands(commands: Any) -> None:
    """Add the subcommands to the `eventfeed` parser's subparsers."""
    doctor = commands.add_parser("doctor", help="check the config, folders, database and bot")
    config_option(doctor)
    doctor.set_defaults(handler=_doctor)

    reprocess = commands.add_parser(
        "reprocess", help="extract events again from stored articles after the rules changed"
    )
    config_option(reprocess)
    reprocess.add_argument(
        "--since",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="only articles published on or after this day (site time zone)",
    )
    reprocess.add_argument(
        "--alert",
        action="store_true",
        help="alert subscribers of events found for the first time (default: feeds only)",
    )
    reprocess.set_defaults(handler=_reprocess)

    export = commands.add_parser("export", help="write chats, subscriptions and settings as JSON")
    config_option(export)
    export.add_argument(
        "output", nargs="?", type=Path, help="file to write (default: standard output)"
    )
    export.set_defaults(handler=_export)

    imp = commands.add_parser("import", help="load chats, subscriptions and settings from JSON")
    config_option(imp)
    imp.add_argument("input", type=Path, help="a file written by `eventfeed export`")
    imp.add_argument(
        "--no-scan",
        action="store_true",
        help="skip the silent first scan done when no article is stored yet",
    )
    imp.set_defaults(handler=_import)


def config_option(parser: argparse.ArgumentParser) -> None:
    """`--config`, the same for every subcommand."""
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="YAML config file")


def _doctor(args: argparse.Namespace) -> int:
    from bot.cli.doctor import run_checks

    os.environ.setdefault("PTB_TIMEDELTA", "true")
    path: Path | None = args.config
    checks = run_checks(path, os.environ)
    for check in checks:
        print(check.line(), flush=True)
    failed = sum(not c.ok for c in checks)
    print(f"{failed} of {len(checks)} checks failed" if failed else "all checks passed")
    return 1 if failed else 0


def _setup(args: argparse.Namespace) -> Any:
    from bot.runtime.logs import setup_logging

    config = load_config(args.config, os.environ)
    setup_logging(config)
    return config


def _reprocess(args: argparse.Namespace) -> int:
    from bot.cli.reprocess import reprocess
    from bot.runtime.llm import LlmExtractor
    from bot.runtime.pipeline import build_pipeline
    from bot.runtime.progress import ProgressReport
    from bot.store import Store

    config = _setup(args)
    check_folders(config, args.config, os.environ)
    pack = load_pack(config)
    since = None
    if args.since is not None:
        since = datetime.combine(args.since, datetime.min.time(), tzinfo=config.site.tz)
    store = Store.open(config.state)
    pipeline = build_pipeline(config, store, pack)
    if config.extract.backend != "rules":  # its cached answers only: reprocessing asks nothing
        pipeline.llm = LlmExtractor(
            config.extract.llm, store, lambda: datetime.now(UTC), config.extract.backend
        )
    try:
        with ProgressReport("reprocess") as progress:
            report = reprocess(pipeline, since=since, alert=args.alert, progress=progress)
    finally:
        if pipeline.llm is not None:
            pipeline.llm.close()
        store.close()
    print(
        f"reprocessed articles={report.articles} changed={report.changed} "
        f"new_events={report.new_events} dropped_events={report.dropped_events} "
        f"queued={report.queued} failed={report.failed} feeds={report.feeds}"
    )
    return 1 if report.failed else 0


def _export(args: argparse.Namespace) -> int:
    from bot.cli.backup import dumps, export_document
    from bot.runtime.files import atomic_write
    from bot.store import Store

    config = _setup(args)
    store = Store.open(config.state)
    try:
        document = export_document(store, datetime.now(UTC))
    finally:
        store.close()
    text = dumps(document)
    if args.output is None:
        sys.stdout.write(text)
    else:
        atomic_write(args.output, text.encode("utf-8"))
        log.info("exported chats=%d file=%s", len(document["chats"]), args.output)
    return 0


def _import(args: argparse.Namespace) -> int:
    from bot.cli.backup import import_document, parse_backup
    from bot.runtime.pipeline import build_pipeline
    from bot.runtime.progress import ProgressReport
    from bot.store import BackupError, Store

    config = _setup(args)
    try:
        document = parse_backup(args.input.read_text(encoding="utf-8"), str(args.input))
    except OSError as exc:
        raise BackupError(str(exc)) from None
    store = Store.open(config.state)
    try:
        if not store.counts()["articles"] and not args.no_scan:
            # A new machine: take in the folder's articles before any chat exists, so that the
            # daemon does not alert the imported chats of every old article as new.
            check_folders(config, args.config, os.environ)
            pipeline = build_pipeline(config, store, load_pack(config))
            with ProgressReport("scan") as progress:
                scanned = pipeline.scan(None, progress)
            pipeline.write_feeds()
            log.info("first scan before import seen=%d new=%d", scanned.seen, scanned.new)
        with ProgressReport("import") as progress:
            count = import_document(store, document, progress)
    finally:
        store.close()
    print(f"imported chats={count}")
    return 0


def run_once(config_path: Path) -> int:
    """`eventfeed run --once`."""
    from bot.app import run_once as once
    from bot.runtime.logs import setup_logging

    os.environ.setdefault("PTB_TIMEDELTA", "true")
    config = load_config(config_path, os.environ)
    check_folders(config, config_path, os.environ)
    pack = load_pack(config)
    setup_logging(config)
    return asyncio.run(once(config, pack))
