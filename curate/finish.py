"""Where both engines end: mix, split, account and write the version (its files and manifest)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from curate import __version__
from curate.categories import category_rows
from curate.core.records import REJECT_SCHEMA, as_rejects
from curate.core.version import VersionWriter, file_records, write_json, write_parquet
from curate.mix import mix_records, split_records
from curate.pipeline import Funnel
from curate.recipe import Recipe
from curate.report_data import (kept_lengths, length_counts, length_edges, length_plot_data, merge, summarize_kept,
                                summarize_rejects)


@dataclass
class BuildResult:
    dir: Path
    version: str
    cached: bool
    manifest: dict
    seconds: dict[str, float]
    notes: list[str] = field(default_factory=list)  # printed to stderr (e.g. a damaged cache rebuilt)



def account(inputs: list[dict], kept_n: dict[str, int], rej_n: dict[str, int]) -> dict:
    """records read = kept + rejected, per source (counts of distinct kept records and of rejects); raise if not."""
    table, broken = {}, []
    for inp in inputs:
        s = inp["source"]
        row = {"read": inp["records_read"], "kept": kept_n.get(s, 0), "rejected": rej_n.get(s, 0)}
        row["balanced"] = row["read"] == row["kept"] + row["rejected"]
        table[s] = row
        if not row["balanced"]:
            broken.append(f"{s}: read {row['read']} != kept {row['kept']} + rejected {row['rejected']}")
    if broken:
        raise RuntimeError("accounting failed (a bug in zhtune, please report): " + "; ".join(broken))
    return table


def version_manifest(recipe: Recipe, vid: str, key: dict, funnel: Funnel, inputs: list[dict], mix_report: dict,
                     counts: dict, summary: dict) -> dict:
    """The manifest (without `files`), from the funnel and the tables' summary (report_data.py)."""
    return {
        "name": recipe.name,
        "version": vid,
        "zhtune": __version__,
        "reproducible": all(s.revision is not None for s in recipe.sources if s.hub),
        "recipe": recipe.resolved(),
        "inputs": inputs,
        "stage_inputs": [i for i in key["inputs"] if "stage" in i],
        "fingerprint": key["inputs"],
        "code": key["code"],
        "packages": key["packages"],
        "counts": counts,
        "accounting": account(inputs, summary.get("kept_by_source", {}), summary.get("rejected_by_source", {})),
        "funnel": funnel.steps,
        "mix": mix_report,
        "categories": category_rows(funnel.steps, summary.get("categories", Counter())),
    }


def finish_summary(parts: list[dict], length_parts: list[dict], bins) -> dict:
    """The merged summary, with the length plot's data (`bins` from the first pass's range)."""
    summary = merge(parts + length_parts)
    summary["lengths"] = length_plot_data(summary, bins)
    return summary


def write_manifest(folder: Path, manifest: dict) -> None:
    """manifest.json, last: it lists every file (checked on every cache hit and before export/publish/train)."""
    manifest["files"] = file_records(folder)
    write_json(manifest, folder / "manifest.json")


def finish_build(recipe: Recipe, vid: str, key: dict, writer: VersionWriter, replace: bool, funnel: Funnel,
                 inputs: list[dict], table: pl.DataFrame, rejects: list[pl.DataFrame]) -> dict:
    """Mix, split, account and write the version, all in memory (the local engine; Ray's fallback for
    mix.replace). Returns the manifest."""
    t0 = time.perf_counter()
    chosen, dropped, mix_report = mix_records(table, recipe.mix, recipe.seed)
    not_sampled = as_rejects(dropped, "not_sampled", stage="mix")
    distinct = chosen.unique(subset=["source", "meta"]) if recipe.mix.replace else chosen  # copies only then
    funnel.add("mix", table, distinct, not_sampled, seconds=time.perf_counter() - t0)
    rejects.append(not_sampled)
    train, test = split_records(chosen, recipe.split, recipe.seed)
    del table, chosen

    all_rejects = pl.concat([r.select(list(REJECT_SCHEMA)) for r in rejects]).cast(REJECT_SCHEMA)
    stages = [s["stage"] for s in funnel.steps]
    if recipe.mix.replace:  # repeated records: counted once, from `distinct`
        kept_parts = [(pl.concat([train, test]) if test.height else train, distinct)]
    else:  # summed over train and test apart (the summaries merge): no copy of the kept records
        kept_parts = [(part, part) for part in (train, test) if part.height] or [(train, train)]
    lengths = [kept_lengths(part) for part, _ in kept_parts]
    parts = [summarize_kept(part, stages, once, n) for (part, once), n in zip(kept_parts, lengths)]
    parts.append(summarize_rejects(all_rejects, stages))
    bins = length_edges(*(merge(parts).get(k) for k in ("len_min", "len_max")))
    summary = finish_summary(parts, [length_counts(n, bins) for n in lengths], bins)
    counts = {"train": train.height, "test": test.height, "rejected": all_rejects.height}
    manifest = version_manifest(recipe, vid, key, funnel, inputs, mix_report, counts, summary)
    t0 = time.perf_counter()
    with writer.open(replace=replace) as tmp:  # --force rewrites an existing version
        write_parquet(train, tmp / "train.parquet")
        if test.height or recipe.split.test > 0:
            write_parquet(test, tmp / "test.parquet")
        write_parquet(all_rejects, tmp / "rejected.parquet")
        from curate.report import write_report

        write_report(tmp, manifest, summary)
        write_manifest(tmp, manifest)
    funnel.seconds["write"] = time.perf_counter() - t0
    return manifest
