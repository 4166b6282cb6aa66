"""Subcommands of the `curate` CLI (see curate.app.cli.COMMANDS)."""
