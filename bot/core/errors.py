"""The root of eventfeed's own errors, so the command line maps them to one-line messages and
exit codes in one place (`bot.cli.main`); each layer subclasses it for what can go wrong there."""

from __future__ import annotations


class EventfeedError(Exception):
    """An error eventfeed raises on purpose: its message is written for the user."""
