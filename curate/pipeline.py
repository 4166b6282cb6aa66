"""Run the recipe's stages in order. The runner, not the stages, counts, times and shows progress."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from curate.records import REJECT_SCHEMA, RECORD_SCHEMA, as_rejects
from curate.recipe import StageSpec
from curate.stages import StageContext, stage_module
from curate.text import contents_expr


@dataclass
class Funnel:
    """Per stage x per source: records in, kept, rejected; plus reasons and stage stats."""

    steps: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # printed, never written (not deterministic)

    def add(self, stage: str, before: pl.DataFrame, kept: pl.DataFrame, rejected: pl.DataFrame,
            stats: dict | None = None, seconds: float = 0.0) -> None:
        n_in, n_kept, n_rej = _counts(before["source"]), _counts(kept["source"]), _counts(rejected["source"])
        by_source = {s: {"in": n_in[s], "kept": n_kept[s], "rejected": n_rej[s]} for s in sorted(n_in | n_kept | n_rej)}
        reasons = dict(sorted(_counts(rejected["reason"]).items(), key=lambda kv: (-kv[1], kv[0])))
        self.steps.append({"stage": stage, "in": before.height, "kept": kept.height, "rejected": rejected.height,
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


# whitespace plus the invisible characters a turn can consist of and still look non-empty to strip()
INVISIBLE = r"[\s\x{200B}-\x{200F}\x{2060}-\x{2064}\x{FEFF}\x{00AD}\x{180E}]"


def visible(text: pl.Expr) -> pl.Expr:
    """The text with whitespace and zero-width characters removed (what a reader would see)."""
    return text.str.replace_all(INVISIBLE, "")


def validate_records(table: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Final invariants of a unified record, whatever stages ran: no empty turn (zero-width only counts
    as empty), ends on assistant, a preference pair's two replies differ."""
    last = pl.col("messages").list.last().struct
    empty_turn = contents_expr().list.eval(visible(pl.element()).str.len_chars() == 0).list.any()
    has_rejected = pl.col("rejected").is_not_null()
    reason = (pl.when(pl.col("messages").list.len() == 0).then(pl.lit("no_turns"))
              .when(last.field("role") != "assistant").then(pl.lit("ends_with_user"))
              .when(empty_turn).then(pl.lit("empty_turn"))
              .when(has_rejected & (visible(pl.col("rejected")).str.len_chars() == 0)).then(pl.lit("empty_rejected"))
              .when(has_rejected & (visible(pl.col("rejected")) == visible(last.field("content")))).then(pl.lit("identical_pair"))
              .otherwise(None))
    tagged = table.with_columns(reason.alias("_reason"))
    kept = tagged.filter(pl.col("_reason").is_null()).drop("_reason")
    bad = tagged.filter(pl.col("_reason").is_not_null())
    return kept, as_rejects(bad, pl.col("_reason"), stage="validate")


def apply_stage(spec: StageSpec, table: pl.DataFrame, ctx: StageContext):
    """Run one stage, on the sources it names; the others pass through, original order kept."""
    module = stage_module(spec.name)
    if not spec.sources:
        return module.apply(table, spec.options, ctx)
    indexed = table.with_row_index("_order")
    inside = pl.col("source").is_in(spec.sources)
    result = module.apply(indexed.filter(inside).drop("_order"), spec.options, ctx)
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
    taken: set[str] = {"load", "validate", "mix"}
    for spec in stages:
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
    start = time.perf_counter()
    kept, bad = validate_records(table)
    funnel.add("validate", table, kept, bad, seconds=time.perf_counter() - start)
    rejects.append(bad)
    return kept, rejects
