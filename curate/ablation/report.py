"""Ablation outputs: results table (CSV + markdown), deltas against the base with bootstrap
intervals, plots (per-category deltas, heat map), and a summary that states each effect in one sentence."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import polars as pl

from curate.ablation.stats import bootstrap_delta, mean_interval, shown

ALL = "(all)"


def _matrix(scores: pl.DataFrame, variant: str, task: str, group: str, items: list[str]) -> np.ndarray:
    sub = scores.filter((pl.col("variant") == variant) & (pl.col("task") == task))
    if group != ALL:
        sub = sub.filter(pl.col("group") == group)
    wide = sub.pivot(on="item", index="seed", values="score", aggregate_function="mean").sort("seed")
    return wide.select(items).to_numpy()


def summarize(scores: pl.DataFrame, base: str = "base", reps: int = 2000) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(results: variant x task x group mean over seeds, deltas: variant vs base with intervals)."""
    with_all = pl.concat([scores, scores.with_columns(pl.lit(ALL).alias("group"))])
    per_seed = with_all.group_by("variant", "task", "group", "seed").agg(pl.col("score").mean().alias("score"),
                                                                         pl.len().alias("n_items"))
    results = []
    for (variant, task, group), part in sorted(per_seed.group_by("variant", "task", "group").__iter__(), key=lambda kv: kv[0]):
        m, lo, hi = mean_interval(part.sort("seed")["score"].to_list())
        results.append({"variant": variant, "task": task, "group": group, "mean": m, "lo": lo, "hi": hi,
                        "seeds": part.height, "n_items": int(part["n_items"].max())})
    deltas = []
    for (task, group), _ in sorted(per_seed.group_by("task", "group").__iter__(), key=lambda kv: kv[0]):
        sub = with_all.filter((pl.col("task") == task) & (pl.col("group") == group))
        base_items = set(sub.filter(pl.col("variant") == base)["item"].to_list())
        for variant in sorted(set(sub["variant"]) - {base}):
            items = sorted(base_items & set(sub.filter(pl.col("variant") == variant)["item"].to_list()))
            if not items:
                continue
            d, lo, hi = bootstrap_delta(_matrix(with_all, variant, task, group, items),
                                        _matrix(with_all, base, task, group, items), reps=reps)
            deltas.append({"variant": variant, "task": task, "group": group, "delta": d, "lo": lo, "hi": hi,
                           "shown": shown(lo, hi), "n_items": len(items)})
    schema_r = {"variant": pl.String, "task": pl.String, "group": pl.String, "mean": pl.Float64, "lo": pl.Float64,
                "hi": pl.Float64, "seeds": pl.Int64, "n_items": pl.Int64}
    schema_d = {"variant": pl.String, "task": pl.String, "group": pl.String, "delta": pl.Float64, "lo": pl.Float64,
                "hi": pl.Float64, "shown": pl.Boolean, "n_items": pl.Int64}
    return pl.DataFrame(results, schema=schema_r), pl.DataFrame(deltas, schema=schema_d)


def _pct(x: float | None) -> str:
    return "—" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{100 * x:.1f}"


def _interval(lo, hi) -> str:
    return "" if lo is None else f" [{_pct(lo)}, {_pct(hi)}]"


def results_markdown(results: pl.DataFrame, deltas: pl.DataFrame) -> str:
    lines = ["| variant | task | group | mean [95% CI over seeds] | Δ vs base [95% bootstrap CI] |", "|---|---|---|---:|---:|"]
    dmap = {(d["variant"], d["task"], d["group"]): d for d in deltas.to_dicts()}
    for r in results.sort(["task", "group", "variant"]).to_dicts():
        d = dmap.get((r["variant"], r["task"], r["group"]))
        delta = "" if d is None else f"{'+' if d['delta'] >= 0 else ''}{_pct(d['delta'])}{_interval(d['lo'], d['hi'])}" + ("" if d["shown"] else " (not shown)")
        lines.append(f"| {r['variant']} | {r['task']} | {r['group']} | {_pct(r['mean'])}{_interval(r['lo'], r['hi'])} | {delta} |")
    return "\n".join(lines) + "\n"


def sentence(d: dict) -> str:
    where = d["task"] + ("" if d["group"] == ALL else f" / {d['group']}")
    ci = f"(Δ {d['delta'] * 100:+.1f} points, 95% CI [{d['lo'] * 100:+.1f}, {d['hi'] * 100:+.1f}], {d['n_items']} items)"
    if not d["shown"]:
        return f"- `{d['variant']}` on {where}: **no effect shown** {ci}."
    verb = "raises" if d["delta"] > 0 else "lowers"
    return f"- `{d['variant']}` {verb} {where} {ci}."


def plot_deltas(deltas: pl.DataFrame, path: Path) -> None:
    from curate.report import _plt, _save

    plt = _plt()
    groups = deltas.filter(pl.col("group") != ALL)
    tasks = sorted(set(groups["task"]))
    fig, axes = plt.subplots(len(tasks) or 1, 1, figsize=(8, 2.8 * max(len(tasks), 1)), squeeze=False)
    for ax, task in zip(axes[:, 0], tasks):
        sub = groups.filter(pl.col("task") == task)
        cats, variants = sorted(set(sub["group"])), sorted(set(sub["variant"]))
        width = 0.8 / max(len(variants), 1)
        for k, variant in enumerate(variants):
            rows = {r["group"]: r for r in sub.filter(pl.col("variant") == variant).to_dicts()}
            x = np.arange(len(cats)) + k * width
            y = [100 * rows[c]["delta"] if c in rows else 0 for c in cats]
            err = [[100 * (rows[c]["delta"] - rows[c]["lo"]) if c in rows else 0 for c in cats],
                   [100 * (rows[c]["hi"] - rows[c]["delta"]) if c in rows else 0 for c in cats]]
            ax.bar(x, y, width, yerr=err, capsize=2, label=variant)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(np.arange(len(cats)) + 0.4 - width / 2, cats, rotation=30, fontsize=7)
        ax.set_ylabel("Δ vs base (points)")
        ax.set_title(task)
        ax.legend(fontsize=6, ncol=3)
    _save(fig, path)
    plt.close(fig)


def plot_heatmap(deltas: pl.DataFrame, path: Path) -> dict:
    """Variants x (task, category): colour only where the 95% interval excludes zero (the effects the
    summary calls shown); other cells grey. Every cell prints Δ and its interval. Returns the grid drawn."""
    from curate.report import _plt, _save

    plt = _plt()
    cols = sorted({(r["task"], r["group"]) for r in deltas.to_dicts()})
    variants = sorted(set(deltas["variant"]))
    grid = np.full((len(variants), len(cols)), np.nan)
    cells = {}
    for r in deltas.to_dicts():
        i, j = variants.index(r["variant"]), cols.index((r["task"], r["group"]))
        cells[(i, j)] = r
        if r["shown"]:
            grid[i, j] = 100 * r["delta"]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(cols)), 0.55 * len(variants) + 2.2))
    ax.set_facecolor("#d9d9d9")  # masked (not shown) cells let it through
    lim = np.nanmax(np.abs(grid)) if np.isfinite(grid).any() else 1.0
    im = ax.imshow(np.ma.masked_invalid(grid), cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    for (i, j), r in cells.items():
        ax.text(j, i, f"{100 * r['delta']:+.1f}\n[{100 * r['lo']:+.1f}, {100 * r['hi']:+.1f}]", ha="center",
                va="center", fontsize=5.5, color="black" if not r["shown"] or abs(100 * r["delta"]) < 0.6 * lim
                else "white")
    ax.set_yticks(range(len(variants)), variants, fontsize=7)
    ax.set_xticks(range(len(cols)), [f"{t.split(':')[0]}/{g}" for t, g in cols], rotation=60, ha="right", fontsize=6)
    fig.colorbar(im, ax=ax, label="Δ vs base (points), shown effects only")
    n_shown = sum(bool(r["shown"]) for r in cells.values())
    ax.set_title(f"Δ vs base [95% bootstrap CI]: {n_shown} of {len(cells)} cells shown (CI excludes 0); grey: not shown",
                 fontsize=8)
    _save(fig, path)
    plt.close(fig)
    return {"shown": n_shown, "cells": len(cells), "coloured": int(np.isfinite(grid).sum())}


def write_ablation_report(out: Path, spec, runs, scores: pl.DataFrame, seconds: float) -> None:
    scores.write_parquet(out / "scores.parquet")
    results, deltas = summarize(scores)
    results.write_csv(out / "results.csv")
    deltas.write_csv(out / "deltas.csv")
    (out / "results.md").write_text(results_markdown(results, deltas), encoding="utf-8")
    if deltas.height:
        plot_deltas(deltas, out / "deltas.png")
        plot_heatmap(deltas, out / "heatmap.png")
    plan = [{"variant": r.variant.name, "change": r.variant.change, "seed": r.seed, "version": r.version_id,
             "run": str(r.run_dir) if r.run_dir else None} for r in runs]
    (out / "plan.json").write_text(json.dumps(plan, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    overall = deltas.filter(pl.col("group") == ALL).sort(["task", "variant"]).to_dicts()
    groups = deltas.filter((pl.col("group") != ALL) & pl.col("shown")).sort(["task", "variant", "group"]).to_dicts()
    lines = [f"# Ablation `{spec.name}`", "",
             f"{len(runs)} runs ({len(spec.seeds)} seeds × {len({r.variant.name for r in runs})} variants); this "
             f"invocation took {seconds / 60:.1f} min on {platform.machine()} (cached steps cost nothing).", "",
             "Effects against `base` (bootstrap over items and seeds; an interval that crosses zero is *not shown*):", "",
             *[sentence(d) for d in overall], ""]
    if groups:
        lines += ["Per-category effects whose interval excludes zero:", "", *[sentence(d) for d in groups], ""]
    lines += ["![deltas](deltas.png)", "", "![heat map](heatmap.png)", "", "Full table: [results.md](results.md).", ""]
    (out / "summary.md").write_text("\n".join(lines), encoding="utf-8")
