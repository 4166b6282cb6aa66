"""Exact dedup: records whose compared text is equal after `match_key_expr` (case, spaces, punctuation).

A text with nothing left after that normalisation (only punctuation or spaces) is compared as
written, so `？？？` and `!!!` stay distinct.
"""

from __future__ import annotations

import polars as pl

from curate.minhash import match_key_expr
from curate.core.records import as_rejects
from curate.stages import StageContext, StageResult
from curate.stages.dedup_options import ExactOptions
from curate.stages.dedup_twins import cluster_stats, priority_expr, survivors
from curate.text import text_expr


def group_key_expr(opts: ExactOptions) -> pl.Expr:
    """The text two records must share to be exact duplicates."""
    text = text_expr(opts.scope)
    key = match_key_expr(text)
    return pl.when(key == "").then(pl.lit("\u0000") + text.str.strip_chars()).otherwise(key)


def dedup_exact(table: pl.DataFrame, opts: ExactOptions, ctx: StageContext) -> StageResult:
    t = table.with_row_index("_row").with_columns(group_key_expr(opts).alias("_group"), priority_expr(ctx).alias("_prio"))
    t = survivors(t)
    twin = t.select(pl.col("_row").alias("_keep"), pl.col("id").alias("_twin_id"), pl.col("source").alias("_twin_source"),
                    pl.format("{}:{}", pl.col("meta").struct.field("file"), pl.col("meta").struct.field("line")).alias("_twin_at"))
    t = t.join(twin, on="_keep", how="left").sort("_row")
    dup = pl.col("_row") != pl.col("_keep")
    kept = t.filter(~dup).select(table.columns)
    dups = t.filter(dup)
    rejected = as_rejects(dups, "duplicate", detail=pl.format("same {} as {}", pl.lit(opts.scope), pl.col("_twin_at")),
                          twin_id=pl.col("_twin_id"))
    if ctx.progress is not None:
        ctx.progress(table.height)
    stats = {"duplicates": dups.height,
             "cross_source": int((dups["source"] != dups["_twin_source"]).sum()) if dups.height else 0,
             **cluster_stats(t.group_by("_group").agg(pl.len())["len"])}
    return StageResult(kept, rejected, stats)
