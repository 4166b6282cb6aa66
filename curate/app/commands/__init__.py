"""Subcommands of the `curate` CLI (see curate.cli.COMMANDS)."""
