"""The pure core: the model, text handling, article parsing, filters, templates and config parsing. Imports nothing else of `bot`, reads no clock and does no I/O."""
