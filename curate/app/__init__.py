"""Orchestration: the `curate` CLI, its subcommands and the ablation runner. Imported by nothing."""
