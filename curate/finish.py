"""Where both engines end: mix, split, account and write the version (its files and manifest)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from curate import __version__
from curate.categories import stage_category_counts
from curate.core.records import REJECT_SCHEMA, as_rejects
from curate.core.version import VersionWriter, file_records, write_json, write_parquet
from curate.mix import mix_records, split_records
from curate.pipeline import Funnel
from curate.recipe import Recipe


@dataclass
class BuildResult:
    dir: Path
    version: str
    cached: bool
    manifest: dict
    seconds: dict[str, float]
    notes: list[str] = field(default_factory=list)  # printed to stderr (e.g. a damaged cache rebuilt)



def _account(inputs: list[dict], final: pl.DataFrame, rejects: pl.DataFrame) -> dict:
    """records read = kept + rejected, per source; raise if it does not hold."""
    kept = final.unique(subset=["source", "meta"]).group_by("source").len()
    kept_n = dict(kept.iter_rows())
    rej_n = dict(rejects.group_by("source").len().iter_rows())
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


def finish_build(recipe: Recipe, vid: str, key: dict, writer: VersionWriter, replace: bool, funnel: Funnel,
                 inputs: list[dict], table: pl.DataFrame, rejects: list[pl.DataFrame]) -> dict:
    """Mix, split, account and write the version: where both engines end. Returns the manifest."""
    t0 = time.perf_counter()
    chosen, dropped, mix_report = mix_records(table, recipe.mix, recipe.seed)
    not_sampled = as_rejects(dropped, "not_sampled", stage="mix")
    funnel.add("mix", table, chosen.unique(subset=["source", "meta"]), not_sampled, seconds=time.perf_counter() - t0)
    rejects.append(not_sampled)
    train, test = split_records(chosen, recipe.split, recipe.seed)

    all_rejects = pl.concat([r.select(list(REJECT_SCHEMA)) for r in rejects]).cast(REJECT_SCHEMA)
    accounting = _account(inputs, chosen, all_rejects)
    manifest = {
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
        "counts": {"train": train.height, "test": test.height, "rejected": all_rejects.height},
        "accounting": accounting,
        "funnel": funnel.steps,
        "mix": mix_report,
        "categories": stage_category_counts(funnel.steps, chosen, all_rejects),
    }
    t0 = time.perf_counter()
    with writer.open(replace=replace) as tmp:  # --force rewrites an existing version
        write_parquet(train, tmp / "train.parquet")
        if test.height or recipe.split.test > 0:
            write_parquet(test, tmp / "test.parquet")
        write_parquet(all_rejects, tmp / "rejected.parquet")
        from curate.report import write_report

        write_report(tmp, manifest, train, test, all_rejects)
        manifest["files"] = file_records(tmp)  # checked on every cache hit and before export/publish/train
        write_json(manifest, tmp / "manifest.json")
    funnel.seconds["write"] = time.perf_counter() - t0
    return manifest

