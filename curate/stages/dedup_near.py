"""Near dedup: MinHash LSH over shingles, every candidate pair checked with the exact Jaccard.

Records whose shingle sets have Jaccard >= threshold are linked; a cluster is a connected
component of those links (so A~B and B~C put A, B, C together even if A and C differ more).
The cluster keeps one record by the twin rule in `dedup_twins.py`; the others are rejected with
reason `near_duplicate`, `twin_id` = the survivor, and the best Jaccard they reached.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from curate.minhash import (PERM_SEED, candidate_pairs, components, lsh_params, match_key_expr, shingle_sets, text_bands,
                            verify_pairs)
from curate.core.records import as_rejects
from curate.stages import StageContext, StageResult
from curate.stages.dedup_options import MinhashOptions
from curate.stages.dedup_twins import cluster_stats, priority_expr, survivors
from curate.text import text_expr


def datasketch_candidates(texts: list[str], opts: MinhashOptions, bands: int, rows: int, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs from datasketch's own MinHash + MinHashLSH (same shingles, same band split)."""
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    lsh = MinHashLSH(num_perm=opts.num_perm, params=(bands, rows))
    sets = shingle_sets(texts, opts.ngram, opts.tokenizer)
    found = []
    for i, shingles in enumerate(sets):
        if not shingles:
            continue
        m = MinHash(num_perm=opts.num_perm, seed=PERM_SEED % (1 << 32))
        m.update_batch([h.to_bytes(8, "little") for h in shingles])
        lean = LeanMinHash(m)
        found += [(j, i) for j in lsh.query(lean)]
        lsh.insert(i, lean, check_duplication=False)
        if progress and i % 1000 == 999:
            progress(1000)
    pairs = np.array(sorted(found), dtype=np.int64).reshape(-1, 2)
    return pairs, np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets))


def near_duplicate_links(texts: pl.Series, opts: MinhashOptions, progress=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Verified links (m, 2), their Jaccard, and counts, for a column of normalised texts."""
    bands, rows = lsh_params(opts.threshold, opts.num_perm)
    if opts.engine == "datasketch":
        pairs, counts = datasketch_candidates(texts.to_list(), opts, bands, rows, progress)
    else:
        keys, counts = text_bands(lambda lo, hi: texts.slice(lo, hi - lo).to_list(), texts.len(), ngram=opts.ngram,
                                  num_perm=opts.num_perm, bands=bands, rows=rows, tokenizer=opts.tokenizer,
                                  progress=progress)
        pairs = candidate_pairs(keys, counts > 0)
    jac = verify_pairs(pairs, lambda idx: texts.gather(idx).to_list(), opts.ngram, opts.tokenizer)
    ok = jac >= opts.threshold
    stats = {"bands": bands, "rows_per_band": rows, "candidate_pairs": int(len(pairs)),
             "pairs_verified": int(ok.sum()), "candidates_rejected_by_jaccard": int((~ok).sum()),
             "records_without_shingles": int((counts == 0).sum())}
    return pairs[ok], jac[ok], stats


def compared_texts(table: pl.DataFrame, opts: MinhashOptions) -> pl.Series:
    return table.select(match_key_expr(text_expr(opts.scope)).alias("t"))["t"]


def best_jaccard(links: np.ndarray, jac: np.ndarray) -> pl.DataFrame:
    """`_row` -> `_jac`: the highest Jaccard of any verified link of the row."""
    return (pl.DataFrame({"_row": np.concatenate([links[:, 0], links[:, 1]]).astype(np.uint32),
                          "_jac": np.concatenate([jac, jac])}, schema={"_row": pl.UInt32, "_jac": pl.Float64})
            .group_by("_row").agg(pl.col("_jac").max()))


def dedup_near(table: pl.DataFrame, opts: MinhashOptions, ctx: StageContext) -> StageResult:
    links, jac, stats = near_duplicate_links(compared_texts(table, opts), opts, ctx.progress)
    labels = components(table.height, links)
    return resolve_clusters(table, labels, best_jaccard(links, jac), stats, ctx)


def resolve_clusters(table: pl.DataFrame, labels: np.ndarray, best: pl.DataFrame, stats: dict,
                     ctx: StageContext) -> StageResult:
    """Given each row's cluster label and best Jaccard: keep one per cluster (the twin rule), reject the rest."""
    t = table.with_row_index("_row").with_columns(pl.Series("_group", labels, dtype=pl.Int64), priority_expr(ctx).alias("_prio"))
    t = survivors(t)
    twin = t.select(pl.col("_row").alias("_keep"), pl.col("id").alias("_twin_id"), pl.col("source").alias("_twin_source"),
                    pl.format("{}:{}", pl.col("meta").struct.field("file"), pl.col("meta").struct.field("line")).alias("_twin_at"))
    t = t.join(twin, on="_keep", how="left").join(best, on="_row", how="left").sort("_row")
    dup = pl.col("_row") != pl.col("_keep")
    kept = t.filter(~dup).select(table.columns)
    dups = t.filter(dup)
    detail = pl.format("jaccard {} in a cluster of {}, kept {}", pl.col("_jac").round(3), pl.col("_size"), pl.col("_twin_at"))
    rejected = as_rejects(dups, "near_duplicate", detail=detail, twin_id=pl.col("_twin_id"))
    stats = {"duplicates": dups.height,
             "cross_source": int((dups["source"] != dups["_twin_source"]).sum()) if dups.height else 0,
             **stats, **cluster_stats(t.group_by("_group").agg(pl.len())["len"])}
    return StageResult(kept, rejected, stats)
