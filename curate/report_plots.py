"""The build report's mix and length plots. Each says what it counts, counts what its table counts
(train + test: the mix), and stays readable at 1M records (log scales once counts span decades).

Every plot function returns the numbers it drew, so tests can hold them against the report's tables.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curate.figures import pyplot, save_figure  # noqa: F401 - the report's plot helpers

WIDE = 100  # log scale once the largest count is this many times the smallest non-zero one


def plot_file(stage: str, what: str) -> str:
    """File name (under plots/) of a stage's plot: `dedup#2` -> `dedup_2_clusters.png`."""
    return f"{stage.replace(':', '_').replace('#', '_')}_{what}.png"


def _spans_decades(values) -> bool:
    nz = [v for v in values if v > 0]
    return bool(nz) and max(nz) / min(nz) >= WIDE


def plot_mix(manifest: dict, by_type: dict[str, int], path: Path) -> dict:
    """Requested vs realized per mix group (the report's mix table), and realized records by type
    (`by_type`: records of train + test per type)."""
    plt = pyplot()
    mix = manifest["mix"]
    groups = sorted(set(mix.get("available", {})) | set(mix.get("realized", {})) | set(mix.get("requested") or {}))
    drawn = {k: {g: int((mix.get(k) or {}).get(g, 0)) for g in groups} for k in ("available", "requested", "realized")}
    by_type = dict(sorted(by_type.items()))
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.35 * max(len(groups), len(by_type), 3) + 1.6),
                             gridspec_kw={"width_ratios": [3, 2]})
    y = np.arange(len(groups))
    h = 0.27
    for k, (key, color) in enumerate((("available", "#c7c7c7"), ("requested", "#8172b3"), ("realized", "#55a868"))):
        if key == "requested" and not mix.get("requested"):
            continue
        axes[0].barh(y + (k - 1) * h, [drawn[key][g] for g in groups], h, color=color, label=key)
    axes[0].set_yticks(y, groups, fontsize=8)
    axes[0].invert_yaxis()
    axes[0].legend(fontsize=7)
    axes[0].set_xlabel("records (train + test)")
    axes[0].set_title(f"mix by {mix.get('group_by', 'source')}: {sum(drawn['realized'].values())} realized", fontsize=9)
    axes[1].barh(list(by_type), list(by_type.values()), color="#55a868")
    axes[1].invert_yaxis()
    axes[1].set_xlabel("records (train + test)")
    axes[1].set_title(f"realized by type: {sum(by_type.values())}", fontsize=9)
    for ax, vals in ((axes[0], [v for d in drawn.values() for v in d.values()]), (axes[1], by_type.values())):
        if _spans_decades(vals):
            ax.set_xscale("log")
    save_figure(fig, path)
    plt.close(fig)
    return {**drawn, "by_type": by_type}


def plot_lengths(hist: dict, path: Path) -> dict:
    """Characters per record (all turns), per source, on one set of bin edges (log-spaced when the
    lengths span decades). `hist`: report_data.length_plot_data (edges, counts and sizes per source)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    out: dict = {"edges": [], "counts": {}}
    if hist["n"]:
        log_x, edges = hist["log_x"], hist["edges"]
        out["edges"] = edges.tolist()
        for source, counts in hist["counts"].items():
            out["counts"][source] = counts.tolist()
            ax.stairs(counts, edges, label=f"{source} ({hist['sizes'][source]})", linewidth=1.4)
        if log_x:
            ax.set_xscale("log")
        if _spans_decades([c for cs in out["counts"].values() for c in cs]):
            ax.set_yscale("log")
        ax.legend(fontsize=7)
    ax.set_xlabel("characters per record (all turns)")
    ax.set_ylabel("records")
    ax.set_title(f"Lengths of the {hist['n']} records in the mix (train + test), same bins for every source",
                 fontsize=9)
    save_figure(fig, path)
    plt.close(fig)
    return out
