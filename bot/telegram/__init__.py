"""Telegram: sending, rate limits, the delivery of queued alerts and the chat commands. Imports `bot.core` and the store, never `bot.runtime`."""
