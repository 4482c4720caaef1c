"""Telegram: sending, rate limits, the delivery of queued alerts, the chat commands, and the bot as the daemon runs it (`service`). Imports `bot.core` and the store, never `bot.runtime`."""
