"""Masking secrets (the bot token, the model's API key) in text and in log records."""

from __future__ import annotations

import logging
import re


class TokenRedactor(logging.Filter):
    """Replaces the bot token in log records, tracebacks included; attach to the handlers.

    httpx logs every request URL, and the URL holds the token; PTB capitalises API error
    descriptions, so the token is matched in any case, and so is its secret half alone.
    """

    def __init__(self, token: str | None, *secrets: str) -> None:
        """`secrets`: other keys to mask whole (the extraction model's API key)."""
        super().__init__()
        secret = (token or "").partition(":")[2]
        needles = [re.escape(n) for n in (token or "", secret, *secrets) if len(n) >= 6]
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
