"""Training loss of every ablation run: did the model learn at this size? (loss.png and a table)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from curate.report_plots import pyplot, save_figure


def loss_points(run_dir: Path | None) -> list[tuple[int, float]]:
    """(step, loss) of a run's logged training steps (metrics.jsonl); [] when it has none."""
    path = None if run_dir is None else Path(run_dir) / "metrics.jsonl"
    if path is None or not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(int(r["step"]), float(r["loss"])) for r in rows if "loss" in r and "step" in r]


def loss_table(runs) -> list[dict]:
    """Per variant: seeds with a loss log, steps, mean loss of the first and last logged quarter."""
    by_variant: dict[str, list[list[tuple[int, float]]]] = {}
    for r in runs:
        points = loss_points(r.run_dir)
        if points:
            by_variant.setdefault(r.variant.name, []).append(points)
    out = []
    for variant, curves in by_variant.items():
        firsts, lasts = [], []
        for points in curves:
            losses = [loss for _, loss in points]
            q = max(1, len(losses) // 4)
            firsts.append(np.mean(losses[:q]))
            lasts.append(np.mean(losses[-q:]))
        out.append({"variant": variant, "seeds": len(curves), "steps": max(p[-1][0] for p in curves),
                    "first": float(np.mean(firsts)), "last": float(np.mean(lasts))})
    return out


def loss_lines(table: list[dict]) -> list[str]:
    if not table:
        return []
    lines = ["Training loss (mean over seeds of the first and last logged quarter; [loss.png](loss.png)):", "",
             "| variant | seeds | last logged step | loss, first ¼ | loss, last ¼ | change |", "|---|---:|---:|---:|---:|---:|"]
    for t in table:
        lines.append(f"| {t['variant']} | {t['seeds']} | {t['steps']} | {t['first']:.3f} | {t['last']:.3f} | "
                     f"{t['last'] - t['first']:+.3f} |")
    return lines + [""]


def plot_loss(runs, path: Path) -> bool:
    """Loss against step, one line per variant (mean over its seeds at each logged step)."""
    curves: dict[str, dict[int, list[float]]] = {}
    for r in runs:
        for step, loss in loss_points(r.run_dir):
            curves.setdefault(r.variant.name, {}).setdefault(step, []).append(loss)
    if not curves:
        return False
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for variant, steps in curves.items():
        xs = sorted(steps)
        ax.plot(xs, [np.mean(steps[s]) for s in xs], marker=".", label=variant)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (mean over seeds)")
    ax.set_title("Training loss per variant")
    ax.legend(fontsize=7)
    save_figure(fig, path)
    plt.close(fig)
    return True
