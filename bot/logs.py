"""Logging: one line per record, key=value, and the bot token masked wherever it would appear."""

from __future__ import annotations

import json
import logging
import re
import sys

from bot.config import Config

FORMAT = "ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s"


class TokenRedactor(logging.Filter):
    """Replaces the bot token in log records, tracebacks included; attach to the handlers.

    httpx logs every request URL, and the URL holds the token; PTB capitalises API error
    descriptions, so the token is matched in any case, and so is its secret half alone.
    """

    def __init__(self, token: str | None) -> None:
        super().__init__()
        secret = (token or "").partition(":")[2]
        needles = [re.escape(n) for n in (token or "", secret) if len(n) >= 6]
        self._pattern = re.compile("|".join(needles), re.IGNORECASE) if needles else None

    def redact(self, text: str) -> str:
        return self._pattern.sub("***", text) if self._pattern else text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        if record.exc_info:  # kept apart from the message: written on lines of its own
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        record.msg, record.args = self.redact(record.getMessage()), None
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


def setup_logging(config: Config, level: int | None = None) -> None:
    """Log to stderr in the configured format and level; the token is masked in every line."""
    handler = logging.StreamHandler(sys.stderr)
    json_lines = config.log.format == "json"
    handler.setFormatter(JsonFormatter() if json_lines else KeyValueFormatter(FORMAT))
    token = config.telegram.token
    handler.addFilter(TokenRedactor(token.reveal() if token else None))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if level is not None else config.log.level.upper())
    # Request lines carry the token in their URL and say nothing an operator needs; alembic
    # narrates every migration step, where bot.migrations logs the one line that matters.
    for noisy in (
        "httpx",
        "httpcore",
        "apscheduler.executors.default",
        "aiohttp.access",
        "alembic",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
