"""decontaminate: drop training records whose prompt overlaps an evaluation item.

Texts are compared after `match_key_expr` (lower-case, no spaces, no punctuation). A record is
`contaminated` by an eval item when any of these holds (checked in this order):
1. exact: its text equals the item's text;
2. ngram: it contains at least `min_coverage` of the item's informative character n-grams
   (`ngram`, default 13). An n-gram found in `generic_items` (default 2) or more distinct eval
   items is boilerplate (a shared stem such as 下列关于…的说法正确的是, an instruction template)
   and does not count: what must be copied is what is specific to the item. An item with no
   informative n-gram (shorter than n, or made only of shared parts) is left to rules 1 and 3.
3. near: the Jaccard similarity of the two sets of character `near_ngram`-grams (default 3) is
   at least `near_threshold` (default 0.6: one character changed in a 14-character question
   still matches) and the record holds `min_coverage` of the item's informative near-grams
   (so a shared stem with different short options is not a match). Candidates come from
   MinHash LSH (recall-weighted bands, see `curate/minhash.py`); the Jaccard is then exact.
Multiple-choice items are stem + options (see `eval_sets.py`), so a generic stem alone never
matches: the record would have to share most of the item, options included. Items shorter than
`min_chars` are not used; identical items count once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from pydantic import Field, field_validator

from curate.core.records import as_rejects
from curate.core.schema import StrictFrozen
from curate.minhash import (BLOCK, HashSet, codepoints, jaccard, lsh_params, match_key_expr, ngram_hashes, shingle_sets, text_bands,
                            on_threads)
from curate.stages import StageContext, StageResult
from curate.stages.eval_sets import EvalItem, eval_files, read_eval_items
from curate.text import text_expr


class Options(StrictFrozen):
    against: list[str] = Field(min_length=1)  # eval files or folders, relative to the recipe
    scope: Literal["instruction", "prompt", "conversation"] = "prompt"  # training text compared
    ngram: int = Field(13, ge=4, le=64)  # characters per n-gram for the overlap rule
    min_coverage: float = Field(0.5, gt=0, le=1)  # share of an item's informative n-grams a record must hold
    generic_items: int = Field(2, ge=2)  # an n-gram found in this many eval items is boilerplate, not evidence
    near: bool = True  # also catch lightly edited copies by Jaccard similarity
    near_threshold: float = Field(0.6, gt=0, le=1)
    near_ngram: int = Field(3, ge=1, le=32)
    num_perm: int = Field(128, ge=16, le=1024)  # MinHash signature length for the near rule
    min_chars: int = Field(8, ge=1)  # eval items shorter than this (after normalisation) are ignored

    @field_validator("against")
    @classmethod
    def _paths(cls, v: list[str]) -> list[str]:
        if any(not p.strip() for p in v):
            raise ValueError("empty path in `against`")
        return v


def _norm(texts: list[str]) -> pl.Series:
    return pl.DataFrame({"t": texts}, schema={"t": pl.String}).select(match_key_expr(pl.col("t")))["t"]


class EvalIndex:
    """The eval items (identical ones once, too short ones out) and their n-gram tables."""

    def __init__(self, items: list[EvalItem], opts: Options):
        self.opts = opts
        keys = _norm([i.text for i in items])
        frame = pl.DataFrame({"key": keys, "i": np.arange(len(items))}).filter(pl.col("key").str.len_chars() > 0)
        groups = frame.group_by("key", maintain_order=True).agg(pl.col("i").first())
        self.repeated = int(frame.height - groups.height)  # identical items count once (the first is named)
        short = groups["key"].str.len_chars() < opts.min_chars
        self.too_short = int(short.sum())
        groups = groups.filter(~short)
        self.items = [items[i] for i in groups["i"].to_list()]
        self.keys = groups["key"]
        self.ngram = self._grams(opts.ngram)
        self.near = self._grams(opts.near_ngram) if opts.near else None

    def _grams(self, n: int) -> dict:
        """Each item's specific n-grams (found in fewer than `generic_items` items) and their count."""
        flat, lengths = codepoints(self.keys.to_list())
        hashes, counts = ngram_hashes(flat, lengths, n)
        item = np.repeat(np.arange(len(lengths)), counts)
        keep = np.repeat(lengths >= n, counts)
        df = pl.DataFrame({"item": item[keep], "gram": hashes[keep]}).unique()
        freq = df.group_by("gram").agg(pl.len().alias("items"))
        is_generic = pl.col("items") >= self.opts.generic_items
        specific = df.join(freq, on="gram").filter(~is_generic).select("gram", "item")
        generic = freq.filter(is_generic)["gram"]
        return {"n": n, "specific": specific, "sizes": specific.group_by("item").agg(pl.len().alias("total")),
                "lookup": HashSet(specific["gram"].to_numpy()), "generic": frozenset(generic.to_list()),
                "generic_ngrams": generic.len()}


def _hits(keys: pl.Series, g: dict, progress) -> pl.DataFrame:
    """(row, gram) for every training n-gram that is a specific n-gram of some eval item."""
    n, lookup = g["n"], g["lookup"]

    def one(lo: int) -> tuple[np.ndarray, np.ndarray]:
        flat, lengths = codepoints(keys.slice(lo, BLOCK).to_list())
        hashes, counts = ngram_hashes(flat, lengths, n)
        rows = np.repeat(np.arange(lo, lo + len(lengths)), counts)
        hit = lookup.contains(hashes) & np.repeat(lengths >= n, counts) if len(lookup) else np.zeros(len(hashes), bool)
        if progress is not None:
            progress(len(lengths))
        return rows[hit], hashes[hit]

    parts = on_threads(one, range(0, keys.len(), BLOCK))
    rows = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
    grams = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.uint64)
    return pl.DataFrame({"row": rows, "gram": grams}).unique()


def _ngram_matches(hits: pl.DataFrame, g: dict, opts: Options) -> pl.DataFrame:
    need = g["sizes"].with_columns((pl.col("total").cast(pl.Float64) * opts.min_coverage).ceil().cast(pl.Int64).clip(1).alias("need"))
    shared = hits.join(g["specific"], on="gram").group_by("row", "item").agg(pl.len().alias("shared"))
    m = shared.join(need, on="item").filter(pl.col("shared") >= pl.col("need"))
    return m.select("row", "item", pl.format("ngram{} {}/{}", pl.lit(g["n"]), "shared", "total").alias("how"))


def _near_matches(keys: pl.Series, index: EvalIndex, opts: Options) -> tuple[pl.DataFrame, int]:
    """MinHash LSH candidates (eval item, record), then the exact Jaccard and coverage checks."""
    g = index.near
    bands, rows = lsh_params(opts.near_threshold, opts.num_perm)
    kw = dict(ngram=g["n"], num_perm=opts.num_perm, bands=bands, rows=rows)
    ek, ec = text_bands(lambda lo, hi: index.keys.slice(lo, hi - lo).to_list(), index.keys.len(), **kw)
    tk, tc = text_bands(lambda lo, hi: keys.slice(lo, hi - lo).to_list(), keys.len(), **kw)
    found = []
    for b in range(bands):
        e = pl.DataFrame({"key": ek[b][ec > 0], "item": np.flatnonzero(ec > 0)})
        if e.height == 0:
            continue
        hit = np.flatnonzero(HashSet(e["key"].to_numpy()).contains(tk[b]) & (tc > 0))
        found.append(pl.DataFrame({"key": tk[b][hit], "row": hit}).join(e, on="key").select("row", "item"))
    empty = pl.DataFrame(schema={"row": pl.Int64, "item": pl.Int64, "how": pl.String})
    if not found:
        return empty, 0
    cand = pl.concat(found).unique().sort("row", "item")
    if cand.height == 0:
        return empty, 0
    rows_, items = cand["row"].to_numpy(), cand["item"].to_numpy()
    ur, ui = np.unique(rows_), np.unique(items)
    tset = dict(zip(ur.tolist(), shingle_sets(keys.gather(ur).to_list(), g["n"])))
    eset = dict(zip(ui.tolist(), shingle_sets(index.keys.gather(ui).to_list(), g["n"])))
    generic = g["generic"]
    specific = {i: e - generic for i, e in eset.items()}
    jac, cov = np.zeros(len(rows_)), np.zeros(len(rows_))
    for k, (r, i) in enumerate(zip(rows_.tolist(), items.tolist())):
        jac[k] = jaccard(tset[r], eset[i])
        if jac[k] >= opts.near_threshold and specific[i]:
            cov[k] = len(tset[r] & specific[i]) / len(specific[i])
    m = (cand.with_columns(pl.Series("j", jac), pl.Series("c", cov))
         .filter((pl.col("j") >= opts.near_threshold) & (pl.col("c") >= opts.min_coverage)))
    return m.select("row", "item", pl.format("jaccard{}", pl.col("j").round(2)).alias("how")), cand.height


def referenced_files(opts: Options, base_dir: Path) -> list[tuple[Path, str]]:
    """Every eval file read: hashed into the version id, so a changed eval set gives a new version."""
    return [(path, shown) for path, shown, _ in eval_files(opts.against, base_dir)]


def eval_index(opts: Options, base_dir: Path) -> EvalIndex:
    return EvalIndex(read_eval_items(opts.against, base_dir), opts)


def apply(table: pl.DataFrame, opts: Options, ctx: StageContext) -> StageResult:
    kept, rejected, (index, matches, first, near_candidates) = find_contaminated(table, eval_index(opts, ctx.base_dir), opts, ctx)
    return StageResult(kept, rejected, contamination_stats(index, matches, first, near_candidates))


def find_contaminated(table: pl.DataFrame, index: EvalIndex, opts: Options, ctx: StageContext) -> tuple:
    """(kept, rejected, (index, matches, first match per row, near candidates)): what `_stats` sums up."""
    keys = table.select(match_key_expr(text_expr(opts.scope)).alias("t"))["t"]
    hits = _hits(keys, index.ngram, ctx.progress)
    exact = (pl.DataFrame({"key": keys, "row": np.arange(table.height)}).filter(pl.col("key").str.len_chars() > 0)
             .join(pl.DataFrame({"key": index.keys, "item": np.arange(len(index.items))}), on="key")
             .select("row", "item", pl.lit("exact").alias("how")))
    found = [exact.with_columns(pl.lit(0).alias("rule")),
             _ngram_matches(hits, index.ngram, opts).with_columns(pl.lit(1).alias("rule"))]
    near_candidates = 0
    if index.near:
        near, near_candidates = _near_matches(keys, index, opts)
        found.append(near.with_columns(pl.lit(2).alias("rule")))
    schema = {"row": pl.Int64, "item": pl.Int64, "how": pl.String, "rule": pl.Int32}
    matches = pl.concat([f.cast(schema) for f in found]).sort("row", "rule", "item")
    where = pl.Series("where", [i.where for i in index.items], dtype=pl.String)
    files = pl.Series("set", [i.group for i in index.items], dtype=pl.String)
    at = matches["item"].to_numpy()
    matches = matches.with_columns(where.gather(at), files.gather(at))
    first = matches.unique("row", keep="first", maintain_order=True)
    t = table.with_row_index("_row").with_columns(pl.col("_row").cast(pl.Int64)).join(
        first.rename({"row": "_row"}), on="_row", how="left").sort("_row")
    hit = pl.col("how").is_not_null()
    kept = t.filter(~hit).select(table.columns)
    rejected = as_rejects(t.filter(hit), "contaminated", detail=pl.format("{} {}", pl.col("where"), pl.col("how")))
    return kept, rejected, (index, matches, first, near_candidates)


def contamination_stats(index: EvalIndex, matches: pl.DataFrame, first: pl.DataFrame, near_candidates: int) -> dict:
    per_set: dict[str, dict] = {}  # by `against:` entry (a folder counts as one set)
    for item in index.items:
        per_set.setdefault(item.group, {"items": 0, "matched_items": 0, "records": 0})["items"] += 1
    for f, n in matches.group_by("set").agg(pl.col("item").n_unique()).iter_rows():
        per_set[f]["matched_items"] = int(n)
    for f, n in first.group_by("set").len().iter_rows():
        per_set[f]["records"] = int(n)
    by_rule = dict(first.group_by("rule").len().iter_rows())
    return {"eval_items": len(index.items), "eval_items_too_short": index.too_short,
            "eval_items_repeated": index.repeated, "generic_ngrams": index.ngram["generic_ngrams"],
            "contaminated": first.height, "matched_eval_items": int(matches["item"].n_unique()),
            "matched_exact": int(by_rule.get(0, 0)), "matched_ngram": int(by_rule.get(1, 0)),
            "matched_near": int(by_rule.get(2, 0)), "near_candidates": near_candidates,
            "eval_sets": per_set}


CARD_TITLE = "Decontamination"
CARD_ABSENT = ("**Not decontaminated** against any evaluation set: check overlap before reporting "
               "benchmark scores of models trained on this mix.")
_EVAL_KEYS = ("against", "eval", "bench", "sets", "tasks", "paths", "datasets", "files")


def eval_sets(opts: dict) -> list[str]:
    """The eval sets a decontamination stage compared against, from whatever keys name them."""
    found = []
    for key, value in opts.items():
        if not any(k in key.lower() for k in _EVAL_KEYS):
            continue
        items = value if isinstance(value, list) else list(value) if isinstance(value, dict) else [value]
        for item in items:
            label = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False, sort_keys=True)
            if label and label not in found:
                found.append(label)
    return found


def card_section(title: str, name: str, opts: dict, outcome: str, opts_yaml: str) -> list[str]:
    """The dataset card's paragraph on one decontamination stage: the eval sets it compared against."""
    sets = eval_sets(opts)
    listed = ", ".join(f"`{s}`" for s in sets) if sets else "(none named in its settings)"
    return [f"Decontaminated against: {listed}{outcome}. Settings of stage `{name}`:\n", f"```yaml\n{opts_yaml}\n```\n"]
