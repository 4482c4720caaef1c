"""The daemon's moving parts: files and the folder watcher, the worker pool, the pipeline and the scans (`scanner`), publishing, the HTTP server, instances. Never imports `bot.telegram`."""
