"""The `eventfeed` command: argument parsing, config loading and one subcommand a module."""
