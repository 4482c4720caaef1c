"""Logging: one line per record, key=value, and the bot token masked wherever it would appear."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from types import TracebackType

from bot.core.config import Config
from bot.core.redact import TokenRedactor

FORMAT = "ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s"


class RepeatFilter(logging.Filter):
    """The same warning or error (logger, level and text) at most once per `interval`; the
    next one after it says how many were left out. Attach to the handlers.

    When the process ran out of file descriptors, asyncio logged every failed accept with its
    traceback: 36,000 lines in 20 s, drowning the one line that said why."""

    def __init__(
        self,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        remembered: int = 1024,
    ) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self.remembered = remembered
        self._seen: OrderedDict[tuple[str, int, str], tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()  # handlers filter before they take their own lock

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, record.getMessage())
        now = self.clock()
        with self._lock:
            said = self._seen.get(key)
            if said is not None and now - said[0] < self.interval:
                self._seen[key] = (said[0], said[1] + 1)
                return False
            self._seen[key] = (now, 0)
            self._seen.move_to_end(key)
            while len(self._seen) > self.remembered:
                self._seen.popitem(last=False)
        if said is not None and said[1]:
            record.msg = f"{key[2]} (repeated {said[1]} more times since last logged)"
            record.args = None
        return True


# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: a file name holding
# one split a line, and what followed read as a record of its own.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """Control characters as Python escapes ('\\n', '\\x1b'): one record, one line."""
    return _CONTROLS.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)


class KeyValueFormatter(logging.Formatter):
    """FORMAT, with control characters in the message escaped; a traceback (exc_info) still
    follows on lines of its own."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line (`log.format: json`), for log shippers that parse JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


# The redactor of the process's token, once the config is read: what leaves the process
# outside logging (an uncaught exception, the command's one-line errors) goes through it.
_active = TokenRedactor(None)


def secrets(config: Config) -> list[str]:
    """The secrets of the config beside the bot token, each masked whole wherever it shows."""
    key = config.extract.llm.api_key
    return [key.reveal()] if key is not None else []


def redact(text: str) -> str:
    """`text` with the configured token masked (before `setup_logging`: unchanged)."""
    return _active.redact(text)


def _print_exception(
    kind: type[BaseException], value: BaseException | None, tb: TracebackType | None
) -> None:
    text = "".join(traceback.format_exception(kind, value, tb))
    sys.stderr.write(redact(text))
    sys.stderr.flush()


def _print_thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    sys.stderr.write(f"Exception in thread {name}:\n")
    _print_exception(args.exc_type, args.exc_value, args.exc_traceback)


def setup_logging(config: Config, level: int | None = None) -> None:
    """Log to stderr in the configured format and level; the token is masked in every line,
    and in the traceback of any exception that escapes (a thread's too). asyncio's handler of
    lost exceptions logs, so it is masked as well."""
    global _active
    handler = logging.StreamHandler(sys.stderr)
    json_lines = config.log.format == "json"
    handler.setFormatter(JsonFormatter() if json_lines else KeyValueFormatter(FORMAT))
    token = config.telegram.token
    handler.addFilter(RepeatFilter())  # first: a repeat left out costs no redaction
    _active = TokenRedactor(token.reveal() if token else None, *secrets(config))
    handler.addFilter(_active)
    sys.excepthook = _print_exception
    threading.excepthook = _print_thread_exception
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if level is not None else config.log.level.upper())
    # Request lines carry the token in their URL and say nothing an operator needs; alembic
    # narrates every migration step, where bot.store.migrations logs the one line that matters.
    for noisy in (
        "httpx",
        "httpcore",
        "apscheduler.executors.default",
        "apscheduler.scheduler",  # "Adding job tentatively", "Scheduler started": not news
        "aiohttp.access",
        "alembic",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
