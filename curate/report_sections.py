"""Per-stage report sections: removal per source, scalar stats, and the stage module's own
`report_section(step, options, plots, passed)` when it has one (`passed`: the sum of its
`report_summary(records)` over the records the stage kept, per chunk: report_data.py)."""

from __future__ import annotations

from pathlib import Path

from curate.stages import STAGES, stage_module


def _scalar_table(stats: dict) -> list[str]:
    flat = {k: v for k, v in stats.items() if isinstance(v, (int, float, str, bool))}
    if not flat:
        return []
    return ["| statistic | value |", "|---|---:|", *[f"| {k} | {v} |" for k, v in flat.items()], ""]


def stage_hook(stage: str, attr: str):
    """A funnel step's stage module function `attr` (`dedup:minhash#2` -> dedup's), or None."""
    name = stage.split(":")[0].split("#")[0]
    return getattr(stage_module(name), attr, None) if name in STAGES else None


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


def stage_sections(manifest: dict, plots: Path, passed: dict[int, dict]) -> list[str]:
    """One section per stage: removal per source, its statistics, and its own plots (`passed`: funnel
    index -> the stage's summary of the records it kept)."""
    lines: list[str] = []
    for index, step in enumerate(manifest["funnel"]):
        if step["stage"] in ("load", "mix"):
            continue
        body = _by_source(step) + _scalar_table(step["stats"])
        own = stage_hook(step["stage"], "report_section")
        if own:  # the stage's own section: (step, options, plots, its summary of the records it kept)
            body += own(step, _options(manifest, index), plots, passed.get(index))
        if body:
            lines += [f"## Stage `{step['stage']}`", "", *body]
    return lines
