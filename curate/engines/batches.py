"""One batch through one or more stages, with the local engine's own stage code.

A batch (Arrow) carries records plus `_ord` (the record's load position: source, file, row, as one
int64). Out comes one "tagged" table: the kept records (`_spos` null), the rejected ones (`_spos` =
the stage's position, for the rejected file's order) and one `_payload` row per stage with what the
funnel needs (counts per source and reason, the stage's stats) to be summed on the driver.
"""

from __future__ import annotations

import json
from collections import Counter

import polars as pl

from curate.pipeline import apply_stage
from curate.core.records import RECORD_SCHEMA, REJECT_SCHEMA
from curate.stages import StageContext, StageResult

TAGGED_SCHEMA = {**REJECT_SCHEMA, "_ord": pl.Int64, "_spos": pl.Int64, "_payload": pl.String}
KEPT_SCHEMA = {**RECORD_SCHEMA, "_ord": pl.Int64}
EVAL_INDEX: dict[str, object] = {}  # decontaminate: the eval index broadcast to this worker, by step label


def tagged(frame: pl.DataFrame, **cols) -> pl.DataFrame:
    out = frame.with_columns(**{k: pl.lit(v) for k, v in cols.items()})
    missing = {c: pl.lit(None, dtype=t) for c, t in TAGGED_SCHEMA.items() if c not in out.columns}
    return out.with_columns(**missing).select(list(TAGGED_SCHEMA)).cast(TAGGED_SCHEMA)


def _decontaminate(label: str):
    """The stage's apply with the broadcast index; the stats become parts `merge_stats` can sum."""
    from curate.stages.decontaminate import find_contaminated

    def apply(table: pl.DataFrame, opts, ctx: StageContext) -> StageResult:
        kept, rejected, (index, matches, first, near_candidates) = find_contaminated(table, EVAL_INDEX[label], opts, ctx)
        parts = {"matches": matches.select("item", "set").unique().rows(), "first": first.select("rule", "set").rows(),
                 "near_candidates": near_candidates}
        return StageResult(kept, rejected, {"_parts": parts})
    return apply


def run_steps(df: pl.DataFrame, steps: list[tuple], ctx: StageContext, apply=None) -> pl.DataFrame:
    """steps: (spec, label, position); `apply` stands in for a stage's own
    (near dedup's cluster resolve). Returns the tagged table."""
    out = []
    for spec, label, spos in steps:
        fn = apply or (_decontaminate(label) if spec.name == "decontaminate" else None)
        kept, rejected, stats = apply_stage(spec, df, ctx, fn)
        # a stage keeps extra columns and rejects in input order: the rejected `_ord`s are the rest
        rej_ord = df.filter(~pl.col("_ord").is_in(kept["_ord"].implode()))["_ord"]
        if rej_ord.len() != rejected.height or kept.height + rejected.height != df.height:
            raise RuntimeError(f"stage {label} lost records in a batch: {df.height} in, {kept.height} kept + {rejected.height} rejected")
        rejected = rejected.with_columns(pl.lit(label).alias("stage"), rej_ord.alias("_ord"))
        payload = {"label": label, "in": Counter(df["source"].to_list()), "kept": Counter(kept["source"].to_list()),
                   "rejected": Counter(rejected["source"].to_list()), "reasons": Counter(rejected["reason"].to_list()),
                   "n": df.height, "stats": stats}
        out.append(tagged(rejected, _spos=spos))
        out.append(tagged(pl.DataFrame({"_payload": [json.dumps(payload, ensure_ascii=False)]})))
        df = kept.select(list(KEPT_SCHEMA)).cast(KEPT_SCHEMA)
    return pl.concat([tagged(df), *out])
