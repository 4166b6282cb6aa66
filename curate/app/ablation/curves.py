"""Training loss of every ablation run: did the model learn at this size? (loss.png and a table)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curate.report_plots import pyplot, save_figure
from train.runs import read_metrics


def loss_curves(runs) -> dict[str, list[list[tuple[int, float]]]]:
    """Per variant, each seed's logged (step, loss) pairs from its run's metrics.jsonl (runs without any skipped)."""
    out: dict[str, list[list[tuple[int, float]]]] = {}
    for r in runs:
        points = [(int(m["step"]), float(m["loss"])) for m in (read_metrics(Path(r.run_dir)) if r.run_dir else [])
                  if "loss" in m and "step" in m]
        if points:
            out.setdefault(r.variant.name, []).append(points)
    return out


def loss_table(curves: dict[str, list[list[tuple[int, float]]]]) -> list[dict]:
    """Per variant: seeds, last logged step, mean loss of the first and last logged quarter."""
    out = []
    for variant, seeds in curves.items():
        firsts, lasts = [], []
        for points in seeds:
            losses = [loss for _, loss in points]
            q = max(1, len(losses) // 4)
            firsts.append(np.mean(losses[:q]))
            lasts.append(np.mean(losses[-q:]))
        out.append({"variant": variant, "seeds": len(seeds), "steps": max(p[-1][0] for p in seeds),
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


def plot_loss(curves: dict[str, list[list[tuple[int, float]]]], path: Path) -> bool:
    """Loss against step, one line per variant (mean over its seeds at each logged step)."""
    if not curves:
        return False
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for variant, seeds in curves.items():
        by_step: dict[int, list[float]] = {}
        for step, loss in (p for points in seeds for p in points):
            by_step.setdefault(step, []).append(loss)
        xs = sorted(by_step)
        ax.plot(xs, [np.mean(by_step[x]) for x in xs], marker=".", label=variant)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss (mean over seeds)")
    ax.set_title("Training loss per variant")
    ax.legend(fontsize=7)
    save_figure(fig, path)
    plt.close(fig)
    return True
