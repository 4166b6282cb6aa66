"""Per-stage report sections: removal per source, scalar stats, and the stage module's own
`report_section(step, options, plots, passed)` when it has one."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from curate.stages import STAGES, stage_module


def _scalar_table(stats: dict) -> list[str]:
    flat = {k: v for k, v in stats.items() if isinstance(v, (int, float, str, bool))}
    if not flat:
        return []
    return ["| statistic | value |", "|---|---:|", *[f"| {k} | {v} |" for k, v in flat.items()], ""]


def _passed(manifest: dict, index: int, kept: pl.DataFrame, rejects: pl.DataFrame) -> pl.DataFrame:
    """The records that step `index` of the funnel kept: the mix plus everything rejected later."""
    later = [s["stage"] for s in manifest["funnel"][index + 1:]]
    cols = ["source", "lang", "lang_score"]
    return pl.concat([kept.select(cols), rejects.filter(pl.col("stage").is_in(later)).select(cols)])


def _options(manifest: dict, index: int) -> dict:
    """The resolved options of funnel step `index` (step 0 is `load`, then the recipe's clean list)."""
    clean = manifest.get("recipe", {}).get("clean", [])
    entry = clean[index - 1] if 0 < index <= len(clean) else {}
    return next(iter(entry.values())) or {} if isinstance(entry, dict) and entry else {}


def _by_source(step: dict) -> list[str]:
    rows = [(s, c) for s, c in step["by_source"].items() if c["rejected"]]
    if not rows:
        return []
    return ["| source | in | removed | share |", "|---|---:|---:|---:|",
            *[f"| {s} | {c['in']} | {c['rejected']} | {c['rejected'] / max(c['in'], 1):.1%} |" for s, c in rows], ""]


def stage_sections(manifest: dict, rejects: pl.DataFrame, plots: Path, kept: pl.DataFrame) -> list[str]:
    """One section per stage: removal per source, its statistics, and its own plots (`kept`: train + test)."""
    lines: list[str] = []
    for index, step in enumerate(manifest["funnel"]):
        if step["stage"] in ("load", "mix"):
            continue
        body = _by_source(step) + _scalar_table(step["stats"])
        name = step["stage"].split(":")[0].split("#")[0]
        own = getattr(stage_module(name), "report_section", None) if name in STAGES else None
        if own:  # the stage's own section: (step, options, plots, passed() -> the records it kept)
            body += own(step, _options(manifest, index), plots, lambda: _passed(manifest, index, kept, rejects))
        if body:
            lines += [f"## Stage `{step['stage']}`", "", *body]
    return lines
