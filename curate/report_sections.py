"""Stage-specific report sections, driven by each stage's `stats` in the manifest funnel."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def _bar_plot(path: Path, labels: list[str], values: list[int], title: str, xlabel: str) -> None:
    from curate.report import _plt, _save

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.bar(labels, values, color="#8172b3")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("records")
    ax.tick_params(axis="x", rotation=45 if len(labels) > 8 else 0)
    _save(fig, path)
    plt.close(fig)


def _scalar_table(stats: dict) -> list[str]:
    flat = {k: v for k, v in stats.items() if isinstance(v, (int, float, str, bool))}
    if not flat:
        return []
    return ["| statistic | value |", "|---|---:|", *[f"| {k} | {v} |" for k, v in flat.items()], ""]


def _slug(stage: str) -> str:
    return stage.replace(":", "_").replace("#", "_")


def _language(step: dict, plots: Path) -> list[str]:
    stats = step["stats"]
    lines = []
    langs = stats.get("languages") or {}
    if langs:
        lines += ["| language | records |", "|---|---:|", *[f"| {k} | {v} |" for k, v in list(langs.items())[:12]], ""]
    hist = stats.get("score_histogram") or {}
    if any(hist.values()):
        name = f"{_slug(step['stage'])}_scores.png"
        _bar_plot(plots / name, list(hist), list(hist.values()), "fastText score of the chosen label", "score bin")
        lines += [f"![language scores](plots/{name})", ""]
    return lines


def _clusters(step: dict, plots: Path) -> list[str]:
    sizes = step["stats"].get("cluster_sizes") or {}
    if not sizes:
        return []
    ordered = sorted(sizes.items(), key=lambda kv: int(kv[0]))
    name = f"{_slug(step['stage'])}_clusters.png"
    _bar_plot(plots / name, [str(k) for k, _ in ordered], [int(v) for _, v in ordered],
              "duplicate cluster sizes", "records in cluster")
    return [f"![cluster sizes](plots/{name})", ""]


def _traditional(step: dict) -> list[str]:
    stats = step["stats"]
    by_source = stats.get("traditional_before_by_source") or {}
    if "traditional_share_before" not in stats:
        return []
    lines = [f"Traditional-script share: **{stats['traditional_share_before']:.1%}** of records before, "
             f"**{stats['traditional_share_after']:.1%}** after.", ""]
    if by_source:
        lines += ["| source | Traditional records before |", "|---|---:|", *[f"| {s} | {n} |" for s, n in by_source.items()], ""]
    return lines


def _by_source(step: dict) -> list[str]:
    rows = [(s, c) for s, c in step["by_source"].items() if c["rejected"]]
    if not rows:
        return []
    return ["| source | in | removed | share |", "|---|---:|---:|---:|",
            *[f"| {s} | {c['in']} | {c['rejected']} | {c['rejected'] / max(c['in'], 1):.1%} |" for s, c in rows], ""]


def stage_sections(manifest: dict, rejects: pl.DataFrame, plots: Path) -> list[str]:
    """One section per stage: removal per source, its statistics, and its own plots."""
    lines: list[str] = []
    for step in manifest["funnel"]:
        if step["stage"] in ("load", "mix"):
            continue
        body = _by_source(step) + _scalar_table(step["stats"])
        name = step["stage"].split(":")[0].split("#")[0]
        if name == "convert":
            body += _traditional(step)
        elif name == "language":
            body += _language(step, plots)
        elif name == "dedup":
            body += _clusters(step, plots)
        if body:
            lines += [f"## Stage `{step['stage']}`", "", *body]
    return lines
