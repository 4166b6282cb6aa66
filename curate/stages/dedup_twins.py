"""The twin rule both dedup methods share: which member of a duplicate group survives, and cluster counts."""

from __future__ import annotations

import polars as pl

from curate.stages import StageContext

def priority_expr(ctx: StageContext) -> pl.Expr:
    """Rank of a record's source in the recipe (earlier = preferred); unknown sources come last."""
    order = {s: i for i, s in enumerate(ctx.source_order)}
    return pl.col("source").replace_strict(order, default=len(order), return_dtype=pl.Int64)


def survivors(groups: pl.DataFrame) -> pl.DataFrame:
    """groups: `_row`, `_group`, `_prio` -> adds `_keep` (row of the group's survivor) and `_size`."""
    best = (groups.sort(["_prio", "_row"]).group_by("_group", maintain_order=True)
            .agg(pl.col("_row").first().alias("_keep"), pl.len().alias("_size")))
    return groups.join(best, on="_group", how="left").sort("_row")


def cluster_stats(sizes: pl.Series) -> dict:
    """Sizes of duplicate groups (>= 2 members) -> clusters, largest, histogram size -> count."""
    sizes = sizes.filter(sizes >= 2)
    hist = dict(sorted(sizes.value_counts().iter_rows())) if sizes.len() else {}
    return {"clusters": int(sizes.len()), "largest_cluster": int(sizes.max() or 0),
            "cluster_sizes": {str(k): int(v) for k, v in hist.items()}}
