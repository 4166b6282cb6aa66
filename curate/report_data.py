"""What the manifest and report need from a version's tables, as sums of per-chunk summaries.

Both engines call these: locally once on the whole tables, on Ray once per block (then `merge`).
A summary is a dict of counts (summed), `len_min`/`len_max` (the lengths' range, needed before the
length histogram: `length_counts` is the second pass) and `examples` (the first rejects of each
(stage, reason), by (chunk, row): chunk = the block's place in the rejected file's order).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import polars as pl

from curate.categories import category_counts
from curate.text import text_expr

EXAMPLES_PER_REASON = 3
EXAMPLE_CHARS = 80
TOP_REASONS = 10
LENGTH_BINS = 30


def short(text: str | None) -> str:
    t = (text or "").replace("\n", " ").replace("|", "\\|")
    return t[:EXAMPLE_CHARS] + ("…" if len(t) > EXAMPLE_CHARS else "")


def _counts(values: pl.Series) -> Counter:
    return Counter(dict(values.value_counts().iter_rows())) if values.len() else Counter()


def _summarizers(stages: list[str]) -> dict[int, object]:
    """Funnel index -> the stage module's `report_summary(passed records) -> counts`, where it has one."""
    from curate.report_sections import stage_hook

    hooks = {i: stage_hook(s, "report_summary") for i, s in enumerate(stages)}
    return {i: h for i, h in hooks.items() if h}


def kept_lengths(kept: pl.DataFrame) -> pl.DataFrame:
    """(source, n): characters per record, all turns (what the length plot counts)."""
    return kept.select(pl.col("source"), text_expr().str.len_chars().cast(pl.Int64).alias("n"))


def summarize_kept(kept: pl.DataFrame, stages: list[str], distinct: pl.DataFrame | None = None,
                   lengths: pl.DataFrame | None = None) -> dict:
    """A chunk of train + test. `distinct`: the same records once each (differs only with mix.replace)."""
    distinct = kept if distinct is None else distinct
    lengths = kept_lengths(kept) if lengths is None else lengths
    n = lengths["n"]
    return {"kept_by_source": _counts(distinct["source"]), "by_type": _counts(kept["type"]),
            "categories": category_counts(distinct, pl.lit(len(stages), dtype=pl.Int64)),
            "passed": {i: fn(kept) for i, fn in _summarizers(stages).items()},
            "len_min": n.min() if n.len() else None, "len_max": n.max() if n.len() else None}


def stage_positions(rejects: pl.DataFrame, stages: list[str]) -> pl.Expr:
    order = {s: i for i, s in enumerate(stages)}
    unknown = set(rejects["stage"].unique().to_list()) - set(order)
    if unknown:
        raise RuntimeError(f"rejects name stages the funnel does not have: {sorted(unknown)}")
    return pl.col("stage").replace_strict(order, return_dtype=pl.Int64)


def _examples(rejects: pl.DataFrame, chunk: int) -> dict[tuple, list]:
    """The first EXAMPLES_PER_REASON rejects of each (stage, reason) in this chunk, as report lines."""
    first = (rejects.with_row_index("_row").filter(pl.int_range(pl.len()).over("stage", "reason") < EXAMPLES_PER_REASON)
             .select("_row", "stage", "reason", "detail", "twin_id", "raw", "meta", text_expr().alias("text")))
    out: dict[tuple, list] = {}
    for ex in first.iter_rows(named=True):
        where = f"{ex['meta']['file']}:{ex['meta']['line']}"
        extra = f" (twin `{ex['twin_id']}`)" if ex["twin_id"] else (f" — {short(ex['detail'])}" if ex["detail"] else "")
        out.setdefault((ex["stage"], ex["reason"]), []).append(
            (chunk, ex["_row"], f"- `{where}`{extra}: {short(ex['text'] or ex['raw'])}"))
    return out


def summarize_rejects(rejects: pl.DataFrame, stages: list[str], chunk: int = 0) -> dict:
    """A chunk of the rejected table (`chunk`: its place in the file's order)."""
    if rejects.height == 0:
        return {}
    pos = stage_positions(rejects, stages)
    with_pos = rejects.with_columns(pos.alias("_pos"))
    return {"rejected_by_source": _counts(rejects["source"]),
            "reasons": Counter({(s, r): n for s, r, n in rejects.group_by("stage", "reason").len().iter_rows()}),
            "examples": _examples(rejects, chunk), "categories": category_counts(rejects, pos),
            "passed": {i: fn(with_pos.filter(pl.col("_pos") > i)) for i, fn in _summarizers(stages).items()}}


def _add(a, b):
    if isinstance(a, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = _add(out[k], v) if k in out else v
        return type(a)(out) if isinstance(a, Counter) else out
    if isinstance(a, (list, np.ndarray)):
        return [x + y for x, y in zip(a, b, strict=True)]
    return a + b


def merge(parts: list[dict]) -> dict:
    """One summary from per-chunk summaries (in any order)."""
    out: dict = {}
    for part in parts:
        for k, v in part.items():
            if k not in out or out[k] is None:
                out[k] = v
            elif v is None:
                continue
            elif k == "len_min":
                out[k] = min(out[k], v)
            elif k == "len_max":
                out[k] = max(out[k], v)
            elif k == "examples":
                ex = dict(out[k])
                for key, rows in v.items():
                    ex[key] = sorted(ex.get(key, []) + rows)[:EXAMPLES_PER_REASON]
                out[k] = ex
            else:
                out[k] = _add(out[k], v)
    return out


def length_edges(len_min: int | None, len_max: int | None, bins: int = LENGTH_BINS):
    """(lo, hi, log_x, edges): one set of bin edges for every source (log-spaced over decades)."""
    from curate.report_plots import WIDE

    if len_min is None:
        return None
    lo, hi = max(int(len_min), 1), max(int(len_max), 2)
    log_x = hi / lo >= WIDE
    edges = np.geomspace(lo, hi + 1, bins + 1) if log_x else np.linspace(lo, hi + 1, bins + 1)
    return lo, hi, log_x, edges


def length_counts(lengths: pl.DataFrame, bins) -> dict:
    """Second pass over a chunk's (source, n): counts per source on the global bins (`length_edges`)."""
    if bins is None or lengths.height == 0:
        return {}
    lo, hi, _, edges = bins
    out: dict = {"length_counts": {}, "length_sizes": Counter()}
    for (source,), part in lengths.group_by("source"):
        counts, _ = np.histogram(np.clip(part["n"].to_numpy(), lo, hi), bins=edges)
        out["length_counts"][source] = counts.tolist()
        out["length_sizes"][source] = part.height
    return out


def length_plot_data(summary: dict, bins) -> dict:
    """What `report_plots.plot_lengths` draws: edges, counts and records per source, in all."""
    sizes = summary.get("length_sizes", {})
    return {"n": sum(sizes.values()), "log_x": bins[2] if bins else False, "edges": bins[3] if bins else None,
            "counts": {s: np.array(c, dtype=np.int64) for s, c in sorted(summary.get("length_counts", {}).items())},
            "sizes": dict(sizes)}


def top_reasons(summary: dict, top: int = TOP_REASONS) -> list[tuple[str, str, int, list[str]]]:
    """The most frequent (stage, reason) pairs with the report lines of their first rejects."""
    ranked = sorted(summary.get("reasons", {}).items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1]))[:top]
    return [(s, r, n, [line for _, _, line in summary["examples"].get((s, r), [])]) for (s, r), n in ranked]
