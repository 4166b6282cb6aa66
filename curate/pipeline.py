"""Run the recipe's stages in order. The runner, not the stages, counts, times and shows progress."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from curate.core.records import REJECT_SCHEMA, RECORD_SCHEMA
from curate.recipe import StageSpec
from curate.stages import StageContext, stage_module
from curate.stages.validate import Options as ValidateOptions

VALIDATE = StageSpec(name="validate", options=ValidateOptions())


@dataclass
class Funnel:
    """Per stage x per source: records in, kept, rejected; plus reasons and stage stats."""

    steps: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # printed, never written (not deterministic)

    def add(self, stage: str, before: pl.DataFrame, kept: pl.DataFrame, rejected: pl.DataFrame,
            stats: dict | None = None, seconds: float = 0.0) -> None:
        self.add_counts(stage, _counts(before["source"]), _counts(kept["source"]), _counts(rejected["source"]),
                        _counts(rejected["reason"]), stats, seconds)

    def add_counts(self, stage: str, n_in: Counter, n_kept: Counter, n_rej: Counter, n_reasons: Counter,
                   stats: dict | None = None, seconds: float = 0.0) -> None:
        """The same step from counts per source and per reason (what a distributed engine sums up)."""
        by_source = {s: {"in": n_in[s], "kept": n_kept[s], "rejected": n_rej[s]} for s in sorted(n_in | n_kept | n_rej)}
        reasons = dict(sorted(n_reasons.items(), key=lambda kv: (-kv[1], kv[0])))
        self.steps.append({"stage": stage, "in": sum(n_in.values()), "kept": sum(n_kept.values()), "rejected": sum(n_rej.values()),
                           "by_source": by_source, "reasons": reasons, "stats": stats or {}})
        self.seconds[stage] = seconds


def _counts(values: pl.Series) -> Counter:
    """Counter of a column's values, counted by polars (no Python object per row)."""
    return Counter(dict(values.value_counts().iter_rows())) if values.len() else Counter()


def stage_label(spec: StageSpec, taken: set[str]) -> str:
    """`dedup` with method minhash -> `dedup:minhash`; a repeated label gets a suffix."""
    method = getattr(spec.options, "method", None)
    label = f"{spec.name}:{method}" if method else spec.name
    n, out = 2, label
    while out in taken:
        out, n = f"{label}#{n}", n + 1
    taken.add(out)
    return out


def check_stage_output(label: str, before: pl.DataFrame, kept: pl.DataFrame, rejected: pl.DataFrame) -> None:
    """A stage must keep or reject every record it received: never lose or invent one."""
    if kept.height + rejected.height != before.height:
        raise RuntimeError(f"stage {label} lost records: {before.height} in, {kept.height} kept + {rejected.height} rejected")


def apply_stage(spec: StageSpec, table: pl.DataFrame, ctx: StageContext, apply=None):
    """Run one stage (or `apply`, a stand-in with the stage's signature) on the sources it names;
    the others pass through, original order kept."""
    apply = apply or stage_module(spec.name).apply
    if not spec.sources:
        return apply(table, spec.options, ctx)
    indexed = table.with_row_index("_order")
    inside = pl.col("source").is_in(spec.sources)
    result = apply(indexed.filter(inside).drop("_order"), spec.options, ctx)
    # (source, meta) identifies an input record, so kept rows find their old position
    kept = result.kept.join(indexed.filter(inside).select("_order", "source", "meta"), on=["source", "meta"], how="left")
    passed = indexed.filter(~inside)
    merged = pl.concat([kept.select(passed.columns), passed]).sort("_order").drop("_order")
    return type(result)(merged, result.rejected, result.stats)


def run_stages(table: pl.DataFrame, stages: list[StageSpec], ctx: StageContext, funnel: Funnel,
               quiet: bool = False) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Apply each stage in order; return the survivors and the rejects of every stage."""
    from tqdm import tqdm

    rejects: list[pl.DataFrame] = []
    taken: set[str] = {"load", "mix"}
    for spec in [*stages, VALIDATE]:  # validate always runs last: the invariants hold whatever ran before
        label = stage_label(spec, taken)
        with tqdm(total=table.height, desc=f"{label:<16}", unit="rec", disable=True if quiet else None, leave=False) as bar:
            ctx.progress = bar.update
            start = time.perf_counter()
            result = apply_stage(spec, table, ctx)
            seconds = time.perf_counter() - start
            bar.n = table.height
            bar.refresh()
        kept = result.kept.select(list(RECORD_SCHEMA)).cast(RECORD_SCHEMA)
        rejected = result.rejected.with_columns(pl.lit(label).alias("stage")).select(list(REJECT_SCHEMA)).cast(REJECT_SCHEMA)
        check_stage_output(label, table, kept, rejected)
        funnel.add(label, table, kept, rejected, result.stats, seconds)
        rejects.append(rejected)
        table = kept
    return table, rejects
