"""`eventfeed outbox`: list the deliveries that failed for good, and queue them again.

    eventfeed outbox                 the latest failed (400) and gone (blocked) deliveries
    eventfeed outbox --retry         queue every failed one again
    eventfeed outbox --retry --id 7  queue row 7 again (also a gone one, e.g. after an unblock)

The running daemon picks re-queued rows up on its next delivery pass.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from typing import Any

from bot.cli.config import load_config
from bot.cli.operate import config_option


def add_command(commands: Any) -> None:
    """Add `outbox` to the `eventfeed` parser's subparsers."""
    parser = commands.add_parser("outbox", help="list failed deliveries; --retry queues them again")
    config_option(parser)
    parser.add_argument("--retry", action="store_true", help="queue the failed deliveries again")
    parser.add_argument(
        "--id", dest="ids", type=int, action="append", metavar="ID", help="only this row (repeat)"
    )
    parser.add_argument("--limit", type=int, default=50, help="rows to list (default 50)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bot.store import Store

    config = load_config(args.config, os.environ)
    store = Store.open(config.state)
    try:
        if args.retry:
            queued = store.retry_failed(datetime.now(UTC), args.ids)
            print(f"queued again: {queued}")
            return 0
        counts = store.outbox_counts()
        print("outbox: " + (" ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "empty"))
        rows = store.failed_deliveries(args.limit)
        if args.ids:
            rows = [row for row in rows if row.id in set(args.ids)]
        for row in rows:
            topic = f"/{row.thread_id}" if row.thread_id else ""
            print(
                f"{row.id}\t{row.status}\tchat {row.chat_id}{topic}\tevent {row.event_uid}\t"
                f"attempts {row.attempts}\t{row.error}"
            )
        if not rows and counts:  # "empty" said it all
            print("no failed deliveries")
        return 0
    finally:
        store.close()
