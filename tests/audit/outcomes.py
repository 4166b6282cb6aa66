"""Run a clean list over the planted corpus (or the hand-labelled records) and score what each stage did.

Used by tests/test_dedup_audit.py and bench/clean_audit.py. A record's key is `meta.file:meta.line`.
Right and wrong, per stage:
- a dedup stage is right to remove a record whose kept twin is in the same planted group, wrong otherwise;
- the language stage is right to remove `english` / `japanese` records, wrong to remove any other;
- `filter` and the others have no truth here (the hand-labelled set judges them): only counted.
A group's recall after a stage: share of the kind's groups with exactly one member left.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from curate.core.errors import UserError
from curate.pipeline import Funnel, run_stages
from curate.recipe import parse_stage_entry
from curate.stages import StageContext

DEFAULT_CLEAN = ["normalize", {"convert": {"config": "t2s"}}, {"language": {"keep": ["zh"]}}, "filter",
                 {"dedup": {"method": "exact"}}, {"dedup": {"method": "minhash"}}]
LANGUAGE_REJECT = ("english", "japanese")
GROUP_KINDS = ("near_copy", "traditional_copy", "fullwidth_copy")
KEY = pl.format("{}:{}", pl.col("meta").struct.field("file"), pl.col("meta").struct.field("line"))


def clean(table: pl.DataFrame, entries: list) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """(kept, rejected, stage labels in order) after the clean list and the final validate step."""
    specs = [parse_stage_entry(e, i) for i, e in enumerate(entries)]
    funnel = Funnel()
    kept, rejects = run_stages(table, specs, StageContext(source_order=sorted(set(table["source"]))), funnel, quiet=True)
    return kept, pl.concat(rejects), [s["stage"] for s in funnel.steps]


def removals(truth: pl.DataFrame, table: pl.DataFrame, rejected: pl.DataFrame) -> pl.DataFrame:
    """One row per rejected record: key, stage, reason, kind, group, right (bool or null = no truth)."""
    ids = table.select(pl.col("id").alias("twin_id"), KEY.alias("twin_key"))
    r = (rejected.select(KEY.alias("key"), "stage", "reason", "twin_id").join(truth, on="key", how="left")
         .join(ids.unique("twin_id", keep="first"), on="twin_id", how="left")
         .join(truth.select(pl.col("key").alias("twin_key"), pl.col("group").alias("twin_group")), on="twin_key", how="left"))
    is_dedup = pl.col("stage").str.starts_with("dedup")
    right = (pl.when(is_dedup).then(pl.col("twin_group") == pl.col("group"))
             .when(pl.col("stage") == "language").then(pl.col("kind").is_in(LANGUAGE_REJECT))
             .otherwise(None))
    return r.with_columns(right.alias("right")).select("key", "stage", "reason", "kind", "group", "right")


def stage_table(truth: pl.DataFrame, removed: pl.DataFrame, stages: list[str]) -> pl.DataFrame:
    """Per stage x kind: records in, removed, right, wrong (should have stayed), group recall after."""
    rows = []
    gone: set[str] = set()
    for stage in stages:
        here = removed.filter(pl.col("stage") == stage)
        before = truth.filter(~pl.col("key").is_in(list(gone)))
        gone |= set(here["key"].to_list())
        after = truth.filter(~pl.col("key").is_in(list(gone)))
        left = after.group_by("group").len()
        for kind in sorted(set(truth["kind"])):
            h = here.filter(pl.col("kind") == kind)
            row = {"stage": stage, "kind": kind, "in": before.filter(pl.col("kind") == kind).height, "removed": h.height,
                   "right": int(h["right"].sum() or 0) if h.height == 0 or h["right"].null_count() < h.height else None,
                   "wrong": int((h["right"] == False).sum()) if h.height == 0 or h["right"].null_count() < h.height else None}  # noqa: E712
            if kind in GROUP_KINDS:
                groups = truth.filter(pl.col("kind") == kind).select("group").unique()
                n = groups.join(left, on="group", how="left")["len"].fill_null(0)
                row["groups_with_one"] = round(float((n == 1).mean()), 3)
            rows.append(row)
    return pl.DataFrame(rows)


def dedup_scores(truth: pl.DataFrame, removed: pl.DataFrame) -> dict:
    """The done-when numbers. Dedup is judged on what reached it (records other stages removed are
    out of its hands); `english_removed` is over the whole clean list."""
    pre = removed.filter(~pl.col("stage").str.starts_with("dedup"))
    reached = truth.filter(~pl.col("key").is_in(pre["key"].to_list()))
    gone = set(removed["key"].to_list())
    end = reached.with_columns(pl.col("key").is_in(list(gone)).not_().alias("kept"))
    out = {}
    for kind in GROUP_KINDS:
        g = end.filter(pl.col("kind") == kind).group_by("group").agg(pl.col("kept").sum())
        out[f"{kind}_groups_with_one"] = round(float((g["kept"] == 1).mean()), 4)
    for kind in ("distinct", "template_negative"):
        k = end.filter(pl.col("kind") == kind)
        out[f"{kind}_kept_by_dedup"] = round(float(k["kept"].mean()), 4)
    dd = removed.filter(pl.col("stage").str.starts_with("dedup"))
    out["dedup_precision"] = round(float(dd["right"].mean()), 4) if dd.height else 1.0
    en = truth.filter(pl.col("kind") == "english")
    out["english_removed"] = round(float(en["key"].is_in(list(gone)).mean()), 4)
    ja = truth.filter(pl.col("kind") == "japanese")
    out["japanese_removed"] = round(float(ja["key"].is_in(list(gone)).mean()), 4)
    return out


def load_labels(path: Path) -> pl.DataFrame:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return pl.DataFrame(rows, schema={"file": pl.String, "line": pl.Int64, "kind": pl.String, "expect": pl.String,
                                      "reason": pl.String, "note": pl.String})


def labelled_records(shared: Path, labels: pl.DataFrame) -> pl.DataFrame:
    """The labelled real records, read by the project's loaders (format detected per file)."""
    from curate.loaders import load_source
    from curate.recipe import Source

    parts = []
    for i, rel in enumerate(sorted(set(labels["file"]))):
        t = load_source(Source(name=f"labelled{i}", path=rel), shared).records
        lines = labels.filter(pl.col("file") == rel)["line"].to_list()
        found = t.filter(pl.col("meta").struct.field("line").is_in(lines))
        missing = sorted(set(lines) - set(found["meta"].struct.field("line").to_list()))
        if missing:  # a label that matches no loaded record would silently count as "kept"
            raise UserError(f"labels: {rel}:{missing[0]} is not a record of that file ({len(missing)} such labels)")
        parts.append(found)
    return pl.concat(parts)


def label_accuracy(labels: pl.DataFrame, rejected: pl.DataFrame) -> pl.DataFrame:
    """Per label kind: records, right keep/reject outcome, and for expected rejects the same reason."""
    got = rejected.select(pl.col("meta").struct.field("file").alias("file"), pl.col("meta").struct.field("line").alias("line"),
                          pl.col("stage"), pl.col("reason").alias("got_reason"))
    j = labels.join(got, on=["file", "line"], how="left").with_columns(
        pl.when(pl.col("got_reason").is_null()).then(pl.lit("keep")).otherwise(pl.lit("reject")).alias("got"))
    return (j.group_by("kind").agg(pl.len().alias("records"), (pl.col("got") == pl.col("expect")).sum().alias("right"),
                                   ((pl.col("expect") == "keep") & (pl.col("got") == "reject")).sum().alias("wrongly_rejected"),
                                   ((pl.col("expect") == "reject") & (pl.col("got") == "keep")).sum().alias("wrongly_kept"),
                                   ((pl.col("expect") == "reject") & pl.col("reason").is_not_null()
                                    & (pl.col("reason") == pl.col("got_reason"))).sum().alias("same_reason"))
            .with_columns((pl.col("right") / pl.col("records")).round(3).alias("accuracy")).sort("kind"))
