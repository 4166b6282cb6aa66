"""Sum per-batch funnel payloads into the local engine's funnel step (counts, reasons, stats)."""

from __future__ import annotations

import json
from collections import Counter

import polars as pl

from curate.pipeline import Funnel


def _sum(a, b):
    """Counts add up, nested dicts merge; anything else is a fact of the stage (kept from the first batch)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = _sum(out[k], v) if k in out else v
        return out
    return a


def _sized(d: dict) -> dict:
    return dict(sorted(d.items(), key=lambda kv: int(kv[0])))


def merge_stats(name: str, parts: list[tuple[int, dict]], extra=None) -> dict:
    """Stats of one stage from its batches' (records in, stats); `name` picks the stage's own rules."""
    parts = [(n, s) for n, s in parts if s]
    if not parts:
        return {}
    if name == "decontaminate":
        from curate.stages.decontaminate import contamination_stats

        m = [r for _, s in parts for r in s["_parts"]["matches"]]
        f = [r for _, s in parts for r in s["_parts"]["first"]]
        matches = pl.DataFrame(m, schema={"item": pl.Int64, "set": pl.String}, orient="row")
        first = pl.DataFrame(f, schema={"rule": pl.Int32, "set": pl.String}, orient="row")
        return contamination_stats(extra, matches, first, sum(s["_parts"]["near_candidates"] for _, s in parts))
    out = parts[0][1]
    for _, s in parts[1:]:
        out = _sum(out, s)
    n = sum(k for k, _ in parts)
    if name == "convert":
        for side in ("before", "after"):
            out[f"traditional_share_{side}"] = round(float(out[f"traditional_records_{side}"]) / n, 4)
        out["traditional_before_by_source"] = dict(sorted(out["traditional_before_by_source"].items()))
    if name == "language":
        out["languages"] = dict(sorted(out["languages"].items(), key=lambda kv: (-kv[1], kv[0])))
    if name == "dedup":  # exact: cluster facts
        out["largest_cluster"] = max(s["largest_cluster"] for _, s in parts)
        out["cluster_sizes"] = _sized(out["cluster_sizes"])
    return out


def add_steps(funnel: Funnel, payloads: list[str], names: dict[str, str], extras: dict | None = None,
              seconds: dict | None = None, stats: dict | None = None) -> None:
    """Payload rows (JSON) of one pass -> one funnel step per label, in pass order."""
    by_label: dict[str, list[dict]] = {}
    for p in payloads:
        d = json.loads(p)
        by_label.setdefault(d["label"], []).append(d)
    for label, name in names.items():
        got = by_label.get(label, [])
        total = lambda key: sum((Counter(d[key]) for d in got), Counter())  # noqa: E731
        st = stats[label] if stats and label in stats else merge_stats(name, [(d["n"], d["stats"]) for d in got],
                                                                      (extras or {}).get(label))
        funnel.add_counts(label, total("in"), total("kept"), total("rejected"), total("reasons"), st,
                          (seconds or {}).get(label, 0.0))
