"""Stage-specific report sections, driven by each stage's `stats` in the manifest funnel."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def _stats_table(step: dict) -> list[str]:
    flat = {k: v for k, v in step["stats"].items() if isinstance(v, (int, float, str, bool))}
    if not flat:
        return []
    return ["| statistic | value |", "|---|---:|", *[f"| {k} | {v} |" for k, v in flat.items()], ""]


def stage_sections(manifest: dict, rejects: pl.DataFrame, plots: Path) -> list[str]:
    """One section per stage that reported statistics, plus removal per source."""
    lines: list[str] = []
    for step in manifest["funnel"]:
        table = _stats_table(step)
        if not table:
            continue
        lines += [f"## Stage `{step['stage']}`", "", *table]
    return lines
