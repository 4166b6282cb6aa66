"""validate: the invariants every record of a version satisfies. Not listed in recipes: the runner
always appends it after the recipe's stages, so they hold whatever stages ran (or none)."""

from __future__ import annotations

import polars as pl

from curate.core.records import as_rejects
from curate.core.schema import StrictFrozen
from curate.stages import StageContext, StageResult
from curate.text import contents_expr


class Options(StrictFrozen):
    """No options: the invariants are not negotiable."""


# whitespace plus the invisible characters a turn can consist of and still look non-empty to strip()
INVISIBLE = r"[\s\x{200B}-\x{200F}\x{2060}-\x{2064}\x{FEFF}\x{00AD}\x{180E}]"


def visible(text: pl.Expr) -> pl.Expr:
    """The text with whitespace and zero-width characters removed (what a reader would see)."""
    return text.str.replace_all(INVISIBLE, "")


def apply(table: pl.DataFrame, opts: Options, ctx: StageContext) -> StageResult:
    """Final invariants of a unified record: no empty turn (zero-width only counts as empty), ends on
    assistant, a preference pair's two replies differ."""
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
    return StageResult(kept, as_rejects(bad, pl.col("_reason"), stage="validate"))
