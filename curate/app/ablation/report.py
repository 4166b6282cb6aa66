"""Ablation outputs: results table (CSV + markdown), deltas against the base with bootstrap
intervals, plots (per-category deltas, heat map), and a summary that states each effect in one sentence."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from curate.app.ablation.curves import loss_curves, loss_lines, loss_table, plot_loss
from curate.app.ablation.stats import bootstrap_delta, mean_interval, shown

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


@dataclass(frozen=True)
class Metric:
    unit: str
    scale: float  # shown value = scale x score
    digits: int
    lower_is_better: bool


POINTS = Metric("points", 100.0, 1, False)
NATS_CHAR = Metric("nats/char", 1.0, 3, True)
NATS_TOKEN = Metric("nats/token", 1.0, 3, True)


def metric_of(task: str) -> Metric:
    """Accuracy and ROUGE-L are fractions shown in points (higher is better); ref_loglik is an NLL."""
    if task.endswith(":ref_loglik"):
        return NATS_CHAR
    if task.endswith(":ref_loglik_token"):
        return NATS_TOKEN
    return POINTS


def _fmt(x: float | None, m: Metric, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "—"
    return f"{m.scale * x:{'+' if sign else ''}.{m.digits}f}"


def _interval(lo, hi, m: Metric, sign: bool = False) -> str:
    return "" if lo is None else f" [{_fmt(lo, m, sign)}, {_fmt(hi, m, sign)}]"


def results_markdown(results: pl.DataFrame, deltas: pl.DataFrame) -> str:
    lines = ["| variant | task | group | unit | mean [95% CI over seeds] | Δ vs base [95% bootstrap CI] |",
             "|---|---|---|---|---:|---:|"]
    dmap = {(d["variant"], d["task"], d["group"]): d for d in deltas.to_dicts()}
    for r in results.sort(["task", "group", "variant"]).to_dicts():
        m = metric_of(r["task"])
        d = dmap.get((r["variant"], r["task"], r["group"]))
        delta = "" if d is None else f"{_fmt(d['delta'], m, True)}{_interval(d['lo'], d['hi'], m, True)}" + \
            ("" if d["shown"] else " (not shown)")
        unit = m.unit + (" ↓" if m.lower_is_better else "")
        lines.append(f"| {r['variant']} | {r['task']} | {r['group']} | {unit} | "
                     f"{_fmt(r['mean'], m)}{_interval(r['lo'], r['hi'], m)} | {delta} |")
    return "\n".join(lines) + "\n"


def improves(d: dict) -> bool:
    return (d["delta"] < 0) == metric_of(d["task"]).lower_is_better


def expectation_note(d: dict, expected: dict | None) -> str:
    if expected is None:
        return ""
    src = f" ({expected['source']})" if expected.get("source") else ""
    if not d["shown"]:
        return f" Expected: {expected['sign']}{src}; the sign cannot be checked while the interval crosses zero."
    same = improves(d) == (expected["sign"] == "better")
    return f" Sign {'matches' if same else 'is opposite to'} the study's ({expected['sign']}{src})."


def sentence(d: dict, expected: dict | None = None) -> str:
    """One line per effect: shown or not, its sign (better/worse, whatever the metric's direction)."""
    m = metric_of(d["task"])
    where = d["task"] + ("" if d["group"] == ALL else f" / {d['group']}")
    ci = (f"(Δ {_fmt(d['delta'], m, True)} {m.unit}{', lower is better' if m.lower_is_better else ''}, "
          f"95% CI [{_fmt(d['lo'], m, True)}, {_fmt(d['hi'], m, True)}], {d['n_items']} items)")
    if not d["shown"]:
        return f"- `{d['variant']}` on {where}: **not shown** {ci}.{expectation_note(d, expected)}"
    verb = "**better**" if improves(d) else "**worse**"
    return f"- `{d['variant']}` on {where}: shown, {verb} {ci}.{expectation_note(d, expected)}"


def plot_deltas(deltas: pl.DataFrame, path: Path) -> None:
    from curate.report_plots import pyplot, save_figure

    plt = pyplot()
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
            k_ = metric_of(task).scale
            y = [k_ * rows[c]["delta"] if c in rows else 0 for c in cats]
            err = [[k_ * (rows[c]["delta"] - rows[c]["lo"]) if c in rows else 0 for c in cats],
                   [k_ * (rows[c]["hi"] - rows[c]["delta"]) if c in rows else 0 for c in cats]]
            ax.bar(x, y, width, yerr=err, capsize=2, label=variant)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(np.arange(len(cats)) + 0.4 - width / 2, cats, rotation=30, fontsize=7)
        ax.set_ylabel(f"Δ vs base ({metric_of(task).unit})")
        ax.set_title(task)
        ax.legend(fontsize=6, ncol=3)
    save_figure(fig, path)
    plt.close(fig)


def plot_heatmap(deltas: pl.DataFrame, path: Path) -> dict:
    """Variants x (task, category): colour only where the 95% interval excludes zero (the effects the
    summary calls shown); other cells grey. Every cell prints Δ and its interval. Returns the grid drawn."""
    from curate.report_plots import pyplot, save_figure

    plt = pyplot()
    cols = sorted({(r["task"], r["group"]) for r in deltas.to_dicts()})
    variants = sorted(set(deltas["variant"]))
    grid = np.full((len(variants), len(cols)), np.nan)
    cells = {}
    for r in deltas.to_dicts():  # colour: improvement over the interval's half-width (unit-free across metrics)
        i, j = variants.index(r["variant"]), cols.index((r["task"], r["group"]))
        cells[(i, j)] = r
        half = (r["hi"] - r["lo"]) / 2 / 1.96 if r["hi"] > r["lo"] else float("nan")
        if r["shown"]:
            grid[i, j] = (-r["delta"] if metric_of(r["task"]).lower_is_better else r["delta"]) / half
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(cols)), 0.55 * len(variants) + 2.2))
    ax.set_facecolor("#d9d9d9")  # masked (not shown) cells let it through
    lim = np.nanmax(np.abs(grid)) if np.isfinite(grid).any() else 1.0
    im = ax.imshow(np.ma.masked_invalid(grid), cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    for (i, j), r in cells.items():
        m = metric_of(r["task"])
        ax.text(j, i, f"{_fmt(r['delta'], m, True)}\n{_interval(r['lo'], r['hi'], m, True).strip()}", ha="center",
                va="center", fontsize=5.5, color="black" if not np.isfinite(grid[i, j]) or abs(grid[i, j]) < 0.6 * lim
                else "white")
    ax.set_yticks(range(len(variants)), variants, fontsize=7)
    ax.set_xticks(range(len(cols)), [f"{t.split(':')[0]}/{g}" for t, g in cols], rotation=60, ha="right", fontsize=6)
    fig.colorbar(im, ax=ax, label="improvement / standard error (blue = better), shown effects only")
    n_shown = sum(bool(r["shown"]) for r in cells.values())
    ax.set_title(f"Δ vs base [95% bootstrap CI], in each metric's unit: {n_shown} of {len(cells)} cells shown "
                 "(CI excludes 0); grey: not shown", fontsize=8)
    save_figure(fig, path)
    plt.close(fig)
    return {"shown": n_shown, "cells": len(cells), "coloured": int(np.isfinite(grid).sum())}


def expectations(spec) -> dict[tuple[str, str, str], dict]:
    return {(v.name, e.task, e.group): e.model_dump() for v in spec.variants if v.name for e in v.expect}


def metric_lines(deltas: pl.DataFrame) -> list[str]:
    """Which metric shows what: effects shown per task label, over every variant x group."""
    out = []
    for task in sorted(set(deltas["task"])):
        sub = deltas.filter(pl.col("task") == task)
        out.append(f"- {task} ({metric_of(task).unit}): {sub['shown'].sum()} of {sub.height} variant × group "
                   f"effects shown")
    return out


def write_ablation_report(out: Path, spec, runs, scores: pl.DataFrame, seconds: float, sizing=None) -> None:
    scores.write_parquet(out / "scores.parquet")
    results, deltas = summarize(scores)
    results.write_csv(out / "results.csv")
    deltas.write_csv(out / "deltas.csv")
    (out / "results.md").write_text(results_markdown(results, deltas), encoding="utf-8")
    if deltas.height:
        plot_deltas(deltas, out / "deltas.png")
        plot_heatmap(deltas, out / "heatmap.png")
    curves = loss_curves(runs)
    plot_loss(curves, out / "loss.png")
    plan = [{"variant": r.variant.name, "change": r.variant.change, "seed": r.seed, "version": r.version_id,
             "run": str(r.run_dir) if r.run_dir else None} for r in runs]
    (out / "plan.json").write_text(json.dumps(plan, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    expected = expectations(spec)
    rows = {(d["variant"], d["task"], d["group"]): d for d in deltas.to_dicts()}
    overall = deltas.filter(pl.col("group") == ALL).sort(["task", "variant"]).to_dicts()
    groups = deltas.filter((pl.col("group") != ALL) & pl.col("shown")).sort(["task", "variant", "group"]).to_dicts()
    seeds = len({r.seed for r in runs})
    lines = [f"# Ablation `{spec.name}`", "",
             f"{len(runs)} runs ({seeds} seeds × {len({r.variant.name for r in runs})} variants); this "
             f"invocation took {seconds / 60:.1f} min on {platform.machine()} (cached steps cost nothing).", ""]
    if sizing is not None:
        lines += ["```", sizing.describe(), "```", ""]
    if expected:
        lines += ["The study's findings, checked (an interval that crosses zero is *not shown*):", ""]
        for key, e in expected.items():
            d = rows.get(key)
            lines.append(sentence(d, e) if d else f"- `{key[0]}` on {key[1]} / {key[2]}: no scores (task or group "
                                                  f"not evaluated).")
        lines.append("")
    lines += ["Effects against `base` (bootstrap over items and seeds; an interval that crosses zero is *not shown*):", "",
              *[sentence(d, expected.get((d["variant"], d["task"], d["group"]))) for d in overall], ""]
    if groups:
        lines += ["Per-category effects whose interval excludes zero:", "", *[sentence(d) for d in groups], ""]
    if deltas.height:
        lines += ["Which metric shows what:", "", *metric_lines(deltas), ""]
    lines += loss_lines(loss_table(curves))
    lines += ["![deltas](deltas.png)", "", "![heat map](heatmap.png)", "", "Full table: [results.md](results.md).", ""]
    (out / "summary.md").write_text("\n".join(lines), encoding="utf-8")
