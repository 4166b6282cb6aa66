"""The report's inputs summed over chunks are the inputs of the whole tables (what lets Ray build them block by block)."""

from __future__ import annotations

import polars as pl

from curate.categories import category_rows
from curate.report_data import (kept_lengths, length_counts, length_edges, length_plot_data, merge, summarize_kept,
                                summarize_rejects, top_reasons)


def _report_inputs(kept_chunks: list[pl.DataFrame], reject_chunks: list[pl.DataFrame], stages: list[str]) -> dict:
    parts = [summarize_kept(k, stages) for k in kept_chunks]
    parts += [summarize_rejects(r, stages, chunk=i) for i, r in enumerate(reject_chunks)]
    first = merge(parts)
    bins = length_edges(first["len_min"], first["len_max"])
    summary = merge(parts + [length_counts(kept_lengths(k), bins) for k in kept_chunks])
    lengths = length_plot_data(summary, bins)
    return {"top": top_reasons(summary), "passed": summary["passed"], "by_type": dict(summary["by_type"]),
            "kept": dict(summary["kept_by_source"]), "rejected": dict(summary["rejected_by_source"]),
            "categories": dict(summary["categories"]), "edges": lengths["edges"].tolist(), "n": lengths["n"],
            "counts": {s: c.tolist() for s, c in lengths["counts"].items()}, "sizes": lengths["sizes"]}


def _chunks(df: pl.DataFrame, sizes: list[int]) -> list[pl.DataFrame]:
    out, at = [], 0
    for k in sizes:
        out.append(df.slice(at, k))
        at += k
    return out + [df.slice(at)]


def test_summaries_of_uneven_chunks_equal_the_whole_tables(demo):
    m = demo.manifest
    stages = [s["stage"] for s in m["funnel"]]
    kept = pl.concat([demo.split("train"), demo.split("test")])
    rejects = demo.rejected()
    whole = _report_inputs([kept], [rejects], stages)
    chunked = _report_inputs(_chunks(kept, [1, 0, 20, 3]), _chunks(rejects, [2, 7, 0, 1]), stages)
    assert chunked == whole
    assert category_rows(m["funnel"], chunked["categories"]) == m["categories"]
    assert {s: r["kept"] for s, r in m["accounting"].items() if r["kept"]} == whole["kept"]
    assert whole["n"] == kept.height and sum(whole["by_type"].values()) == kept.height
    report = (demo.dir / "report.md").read_text(encoding="utf-8")
    for stage, reason, n, lines in whole["top"]:  # the report's examples: the first rejects in the file's order
        assert f"### {stage} · `{reason}` — {n}" in report and all(line in report for line in lines)
        assert len(lines) == min(3, n)
