"""dedup: drop exact (`method: exact`) or near (`method: minhash`) duplicates, within and across sources.

Which twin survives: the record of the source listed first in the recipe (`ctx.source_order`);
among records of one source, the one seen first (input order). Every other member of a
duplicate group is rejected with `twin_id` = the survivor's id. The work is in
`dedup_exact.py` and `dedup_near.py`, the options in `dedup_options.py`, the twin rule in `dedup_twins.py`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from curate.stages import StageContext, StageResult
from curate.stages.dedup_options import Options  # noqa: F401  (the stage registry reads `dedup.Options`)


def apply(table: pl.DataFrame, opts: Options, ctx: StageContext) -> StageResult:
    if opts.method == "exact":
        from curate.stages.dedup_exact import dedup_exact

        return dedup_exact(table, opts, ctx)
    from curate.stages.dedup_near import dedup_near

    return dedup_near(table, opts, ctx)


def report_section(step: dict, options: dict, plots: Path, passed) -> list[str]:
    """report.md: duplicate clusters by size."""
    from curate.report_plots import plot_file, pyplot, save_figure

    sizes = step["stats"].get("cluster_sizes") or {}
    if not sizes:
        return []
    ordered = sorted(sizes.items(), key=lambda kv: int(kv[0]))
    name = plot_file(step["stage"], "clusters")
    labels, values = [str(k) for k, _ in ordered], [int(v) for _, v in ordered]
    plt = pyplot()
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
    save_figure(fig, plots / name)
    plt.close(fig)
    return [f"![duplicate clusters by size](plots/{name})", ""]


CARD_TITLE = "Deduplication"
CARD_ABSENT = "**No deduplication stage ran**: duplicates across or within sources were not removed."


def card_section(title: str, name: str, opts: dict, outcome: str, opts_yaml: str) -> list[str]:
    """The dataset card's paragraph on one dedup stage (`outcome`: what it removed)."""
    return [f"Stage `{title}` (of each duplicate group, the record of the source listed first in the "
            f"recipe is kept){outcome}:\n", f"```yaml\n{opts_yaml}\n```\n"]
