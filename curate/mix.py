"""Mix cleaned records by weights / counts / type shares, then split train/test — all seeded."""

from __future__ import annotations

import numpy as np
import polars as pl

from curate.core.hashing import sha256_text
from curate.recipe import Mix, Split


def _seeded_order(table: pl.DataFrame, seed: int, salt: str) -> pl.DataFrame:
    """A shuffle that depends only on (seed, ids): stable when unrelated records come or go."""
    keys = [sha256_text(f"{seed}:{salt}:{i}:{rid}")[:16] for i, rid in enumerate(table["id"].to_list())]
    return table.with_columns(pl.Series("_key", keys)).sort("_key").drop("_key")


def _targets(mix: Mix, available: dict[str, int]) -> dict[str, float]:
    """Requested records per group (source or type)."""
    if mix.counts is not None:
        return {g: float(n) for g, n in mix.counts.items()}
    weights = mix.weights if mix.weights is not None else mix.by_type
    total = mix.total if mix.total is not None else sum(available.values())
    if weights is None:
        all_n = sum(available.values()) or 1
        return {g: total * n / all_n for g, n in available.items()}
    wsum = sum(weights.values()) or 1.0
    return {g: total * w / wsum for g, w in weights.items()}


def _round_preserving_total(targets: dict[str, float]) -> dict[str, int]:
    """Largest-remainder rounding, so the parts add up to the rounded total."""
    floor = {g: int(np.floor(v)) for g, v in targets.items()}
    short = int(round(sum(targets.values()))) - sum(floor.values())
    for g in sorted(targets, key=lambda g: (-(targets[g] - floor[g]), g))[:max(short, 0)]:
        floor[g] += 1
    return floor


def mix_records(table: pl.DataFrame, mix: Mix, seed: int) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Return (selected, not selected, realized-vs-requested report)."""
    group_col = "type" if mix.by_type is not None else "source"
    available = dict(sorted(table.group_by(group_col).len().iter_rows()))
    if mix.total is None and mix.weights is None and mix.counts is None and mix.by_type is None:
        return table, table.clear(), {"rule": "keep_all", "group_by": group_col, "requested": None,
                                      "realized": available, "available": available, "shortfall": {}}
    targets = _round_preserving_total(_targets(mix, available))
    chosen, dropped, realized, shortfall = [], [], {}, {}
    rng = np.random.default_rng(seed)
    for group in sorted(set(available) | set(targets)):
        part = _seeded_order(table.filter(pl.col(group_col) == group), seed, group)
        want, have = targets.get(group, 0), part.height
        if mix.replace and want > have > 0:
            extra = rng.integers(0, have, size=want - have)
            take = pl.concat([part, part[extra.tolist()]])
            rest = part.clear()
        else:
            take, rest = part.head(want), part.slice(min(want, have))
        if want > have and not mix.replace:
            shortfall[group] = want - have
        chosen.append(take)
        dropped.append(rest)
        realized[group] = take.height
    report = {"rule": "counts" if mix.counts is not None else ("by_type" if mix.by_type is not None else "weights"),
              "group_by": group_col, "total": mix.total, "replace": mix.replace,
              "requested": targets, "realized": realized, "available": available, "shortfall": shortfall}
    return pl.concat(chosen), pl.concat(dropped), report


def split_records(table: pl.DataFrame, split: Split, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Assign each id to test with probability `split.test` by a seeded hash (same id, same side)."""
    ordered = _seeded_order(table, seed, "order")
    if split.test <= 0 or ordered.height == 0:
        return ordered, ordered.clear()
    u = [int(sha256_text(f"{seed}:split:{rid}")[:8], 16) / 0xFFFFFFFF for rid in ordered["id"].to_list()]
    mask = pl.Series([x < split.test for x in u])
    return ordered.filter(~mask), ordered.filter(mask)
