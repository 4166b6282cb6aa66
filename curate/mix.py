"""Mix cleaned records by weights / counts / type shares, then split train/test — all seeded.

The per-record key functions (`seeded_keys`, `test_flags`) and the plan (`mix_targets`, `mix_report`)
are what both engines call: locally on whole tables, on Ray per block with positions from block counts.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from curate.core.hashing import sha256_text
from curate.recipe import Mix, Split


def seeded_keys(ids: list[str], positions, seed: int, salt: str | list[str]) -> list[str]:
    """Sort keys of a seeded shuffle: (seed, salt, position in its table, id) hashed, per record
    (`salt`: one for all, or one per record: its mix group)."""
    if isinstance(salt, str):
        return [sha256_text(f"{seed}:{salt}:{i}:{rid}")[:16] for i, rid in zip(positions, ids)]
    return [sha256_text(f"{seed}:{g}:{i}:{rid}")[:16] for g, i, rid in zip(salt, positions, ids, strict=True)]


def test_flags(ids: list[str], seed: int, share: float) -> list[bool]:
    """True for the ids that go to test: a seeded hash below `share` (same id, same side)."""
    return [int(sha256_text(f"{seed}:split:{rid}")[:8], 16) / 0xFFFFFFFF < share for rid in ids]


def _seeded_order(table: pl.DataFrame, seed: int, salt: str) -> pl.DataFrame:
    """A shuffle that depends only on (seed, ids): stable when unrelated records come or go."""
    keys = seeded_keys(table["id"].to_list(), range(table.height), seed, salt)
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


def group_column(mix: Mix) -> str:
    return "type" if mix.by_type is not None else "source"


def keeps_all(mix: Mix) -> bool:
    return mix.total is None and mix.weights is None and mix.counts is None and mix.by_type is None


def mix_targets(mix: Mix, available: dict[str, int]) -> dict[str, int]:
    """Records wanted per group, from the records available per group."""
    return _round_preserving_total(_targets(mix, dict(sorted(available.items()))))


def mix_report(mix: Mix, available: dict[str, int], targets: dict[str, int] | None, realized: dict[str, int]) -> dict:
    """The manifest's realized-vs-requested account of the mix."""
    available = dict(sorted(available.items()))
    if targets is None:
        return {"rule": "keep_all", "group_by": group_column(mix), "requested": None,
                "realized": available, "available": available, "shortfall": {}}
    shortfall = {} if mix.replace else {g: targets.get(g, 0) - available.get(g, 0) for g in sorted(set(available) | set(targets))
                                        if targets.get(g, 0) > available.get(g, 0)}
    return {"rule": "counts" if mix.counts is not None else ("by_type" if mix.by_type is not None else "weights"),
            "group_by": group_column(mix), "total": mix.total, "replace": mix.replace,
            "requested": targets, "realized": realized, "available": available, "shortfall": shortfall}


def mix_records(table: pl.DataFrame, mix: Mix, seed: int) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Return (selected, not selected, realized-vs-requested report)."""
    group_col = group_column(mix)
    available = dict(sorted(table.group_by(group_col).len().iter_rows()))
    if keeps_all(mix):
        return table, table.clear(), mix_report(mix, available, None, {})
    targets = mix_targets(mix, available)
    chosen, dropped, realized = [], [], {}
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
        chosen.append(take)
        dropped.append(rest)
        realized[group] = take.height
    if not chosen:  # no records and no groups requested by name (e.g. `total:` after every record was rejected)
        return table, table.clear(), mix_report(mix, available, targets, realized)
    return pl.concat(chosen), pl.concat(dropped), mix_report(mix, available, targets, realized)


def split_records(table: pl.DataFrame, split: Split, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Assign each id to test with probability `split.test` by a seeded hash (same id, same side)."""
    ordered = _seeded_order(table, seed, "order")
    if split.test <= 0 or ordered.height == 0:
        return ordered, ordered.clear()
    mask = pl.Series(test_flags(ordered["id"].to_list(), seed, split.test), dtype=pl.Boolean)
    return ordered.filter(~mask), ordered.filter(mask)
