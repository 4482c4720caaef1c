"""eventfeed: article folder → headline events → RSS/Atom feeds and Telegram alerts."""

__version__ = "0.1.0"
