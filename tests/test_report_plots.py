"""The build report's plots count what their tables count (on a real demo build), and the ablation
heat map colours only the effects the summary calls shown."""

from __future__ import annotations

from pathlib import Path

import polars as pl


REPO = Path(__file__).resolve().parents[1]


def _kept(v):
    return pl.concat([v.split("train"), v.split("test")])


def test_mix_plot_counts_train_plus_test_like_its_table(demo, tmp_path):
    from curate.report_plots import plot_mix

    m = demo.manifest
    drawn = plot_mix(m, dict(_kept(demo).group_by("type").len().iter_rows()), tmp_path / "mix.png")
    assert sum(drawn["realized"].values()) == m["counts"]["train"] + m["counts"]["test"] == 58
    assert drawn["realized"] == {g: m["mix"]["realized"].get(g, 0) for g in drawn["realized"]}
    assert drawn["requested"] == {g: m["mix"]["requested"].get(g, 0) for g in drawn["requested"]}
    assert drawn["requested"] != drawn["realized"]  # the demo's alpaca shortfall is visible
    assert sum(drawn["by_type"].values()) == 58
    report = (demo.dir / "report.md").read_text(encoding="utf-8")
    for g, n in m["mix"]["realized"].items():  # the report's mix table: group | available | requested | realized
        assert f"| {g} | {m['mix']['available'].get(g, 0)} | {m['mix']['requested'].get(g, '—')} | {n} |" in report


def test_length_plot_uses_one_set_of_bins_and_counts_every_record(demo, tmp_path):
    from curate.report_data import kept_lengths, length_counts, length_edges, length_plot_data, summarize_kept
    from curate.report_plots import plot_lengths

    kept = _kept(demo)
    stages = [s["stage"] for s in demo.manifest["funnel"]]
    first = summarize_kept(kept, stages)
    bins = length_edges(first["len_min"], first["len_max"])
    halves = [length_counts(kept_lengths(kept.slice(0, 20)), bins), length_counts(kept_lengths(kept.slice(20)), bins)]
    from curate.report_data import merge

    drawn = plot_lengths(length_plot_data(merge(halves), bins), tmp_path / "lengths.png")
    assert len(drawn["edges"]) == 31
    per_source = dict(kept.group_by("source").len().iter_rows())
    assert {s: sum(c) for s, c in drawn["counts"].items()} == per_source


def test_language_plot_draws_the_records_the_stage_kept(demo):
    from curate.report_data import merge, summarize_kept, summarize_rejects
    from curate.report_sections import _options

    m = demo.manifest
    stages = [s["stage"] for s in m["funnel"]]
    index = stages.index("language")
    rejected = demo.rejected()
    parts = [summarize_kept(_kept(demo), stages), summarize_rejects(rejected.slice(0, 9), stages, chunk=0),
             summarize_rejects(rejected.slice(9), stages, chunk=1)]
    passed = merge(parts)["passed"][index]  # what the language plot draws: the records the stage kept
    assert passed["scores"] == sum(passed["counts"]) == m["funnel"][index]["kept"]
    assert _options(m, index)["min_score"] == 0.5
    assert "language_scores.png" in (demo.dir / "report.md").read_text(encoding="utf-8")


def test_cluster_plots_are_titled_by_their_stage(demo):
    report = (demo.dir / "report.md").read_text(encoding="utf-8")
    assert "plots/dedup_exact_clusters.png" in report and "plots/dedup_minhash_clusters.png" in report


def test_heatmap_colours_only_shown_effects(tmp_path):
    from curate.app.ablation.report import plot_heatmap

    deltas = pl.DataFrame({
        "variant": ["+cot", "+cot", "-belle"], "task": ["ceval", "ceval", "ceval"], "group": ["STEM", "(all)", "STEM"],
        "delta": [0.20, 0.01, -0.05], "lo": [-0.10, 0.002, -0.08], "hi": [0.50, 0.02, -0.01],
        "shown": [False, True, True], "n_items": [10, 30, 10]})
    drawn = plot_heatmap(deltas, tmp_path / "h.png")
    assert drawn == {"shown": 2, "cells": 3, "coloured": 2}  # the largest |Δ| (not shown) stays grey
    assert (tmp_path / "h.png").stat().st_size > 0


def test_figures_rendered_by_the_child_process_are_the_same_bytes(tmp_path, monkeypatch):
    """A big build sends every other figure to a renderer process: same report and plots as inline."""
    from curate import figures
    from curate.build import build

    recipe = REPO / "recipes" / "demo.yaml"
    monkeypatch.setenv("ZHTUNE_FIGURE_PROCESS", "0")
    inline = build(recipe, tmp_path / "inline", force=True)
    monkeypatch.setenv("ZHTUNE_FIGURE_PROCESS", "1")
    monkeypatch.setattr(figures, "RENDER_AHEAD_RECORDS", 1)  # the demo is small: force the child
    sent = []
    original = figures.FigureRenderer.finish

    def counting(self):
        sent.append(len(self.sent))
        return original(self)

    monkeypatch.setattr(figures.FigureRenderer, "finish", counting)
    child = build(recipe, tmp_path / "child", force=True)
    assert sent and sent[0] >= 3  # about half of the demo's figures went to the child
    names = sorted(p.relative_to(inline.dir) for p in inline.dir.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(child.dir) for p in child.dir.rglob("*") if p.is_file())
    assert any(str(n).startswith("plots/") for n in names)
    for n in names:
        assert (inline.dir / n).read_bytes() == (child.dir / n).read_bytes(), n
    assert figures._renderer is None
