"""Stage-specific report sections, driven by each stage's `stats` in the manifest funnel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl


def _scalar_table(stats: dict) -> list[str]:
    flat = {k: v for k, v in stats.items() if isinstance(v, (int, float, str, bool))}
    if not flat:
        return []
    return ["| statistic | value |", "|---|---:|", *[f"| {k} | {v} |" for k, v in flat.items()], ""]


def _slug(stage: str) -> str:
    return stage.replace(":", "_").replace("#", "_")


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


def _language(step: dict, plots: Path, passed: pl.DataFrame, min_score: float | None) -> list[str]:
    stats = step["stats"]
    lines = []
    langs = stats.get("languages") or {}
    if langs:
        lines += [f"Labels of the {step['in']} records the stage judged (kept and rejected):", "",
                  "| language | records |", "|---|---:|", *[f"| {k} | {v} |" for k, v in list(langs.items())[:12]], ""]
    scores = passed["lang_score"].drop_nulls().to_numpy()
    if len(scores):
        from curate.report import _plt, _save

        plt = _plt()
        name = f"{_slug(step['stage'])}_scores.png"
        counts, edges = np.histogram(scores, bins=np.linspace(0, 1, 21))
        fig, ax = plt.subplots(figsize=(6, 2.8))
        ax.stairs(counts, edges, fill=True, color="#8172b3")
        if min_score is not None:
            ax.axvline(min_score, color="#c44e52", linestyle="--", label=f"min_score {min_score}")
            ax.legend(fontsize=7, loc="upper left")
        if counts.max() > 0 and counts.max() / max(counts[counts > 0].min(), 1) >= 100:
            ax.set_yscale("log")
        ax.set_xlabel("fastText score of the record's label")
        ax.set_ylabel("records")
        ax.set_title(f"{step['stage']}: scores of the {len(scores)} records kept ({step['rejected']} rejected, "
                     "not shown)", fontsize=9)
        _save(fig, plots / name)
        plt.close(fig)
        lines += [f"![language scores of the kept records](plots/{name})", ""]
    return lines


def _clusters(step: dict, plots: Path) -> list[str]:
    sizes = step["stats"].get("cluster_sizes") or {}
    if not sizes:
        return []
    ordered = sorted(sizes.items(), key=lambda kv: int(kv[0]))
    name = f"{_slug(step['stage'])}_clusters.png"
    labels, values = [str(k) for k, _ in ordered], [int(v) for _, v in ordered]
    from curate.report import _plt, _save

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.bar(labels, values, color="#8172b3")
    log = max(values) / max(min(values), 1) >= 100
    if log:
        ax.set_yscale("log")
    ax.set_title(f"{step['stage']}: {sum(values)} duplicate clusters by size ({step['rejected']} records removed)",
                 fontsize=9)
    ax.set_xlabel("records in the cluster (kept twin + removed duplicates)")
    ax.set_ylabel("clusters")
    if not log:  # a LogLocator has no `integer`
        ax.yaxis.get_major_locator().set_params(integer=True)
    ax.tick_params(axis="x", rotation=45 if len(labels) > 8 else 0)
    _save(fig, plots / name)
    plt.close(fig)
    return [f"![duplicate clusters by size](plots/{name})", ""]


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


def stage_sections(manifest: dict, rejects: pl.DataFrame, plots: Path, kept: pl.DataFrame) -> list[str]:
    """One section per stage: removal per source, its statistics, and its own plots (`kept`: train + test)."""
    lines: list[str] = []
    for index, step in enumerate(manifest["funnel"]):
        if step["stage"] in ("load", "mix"):
            continue
        body = _by_source(step) + _scalar_table(step["stats"])
        name = step["stage"].split(":")[0].split("#")[0]
        if name == "convert":
            body += _traditional(step)
        elif name == "language":
            body += _language(step, plots, _passed(manifest, index, kept, rejects),
                              _options(manifest, index).get("min_score"))
        elif name == "dedup":
            body += _clusters(step, plots)
        if body:
            lines += [f"## Stage `{step['stage']}`", "", *body]
    return lines
