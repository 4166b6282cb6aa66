"""Dedup on Ray: hash shuffles so that every duplicate group lands whole in one bucket.

Exact: bucket = hash(group key); each bucket runs the local `dedup` stage itself (a bucket holds
complete groups, sorted by load position, so the twin rule picks what it picks locally).
Near (MinHash): signatures and band keys per batch -> candidate pairs per (band, key) bucket (each
member paired with the bucket's first and its predecessor in load order, as `candidate_pairs`) ->
texts joined to both ends -> exact Jaccard -> connected components by large-star / small-star
rounds (Kiveris et al. 2014) on the link dataset -> records shuffled by component, each bucket
resolved by the local `resolve_clusters`. The driver only sees counts.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from curate.engines.batches import KEPT_SCHEMA, run_steps

LINK = {"a": pl.Int64, "b": pl.Int64}


def _pl(batch) -> pl.DataFrame:
    return pl.from_arrow(batch)


def _bucketed(df: pl.DataFrame, key: pl.Expr, buckets: int) -> pl.DataFrame:
    return df.with_columns((key.hash(seed=7) % buckets).cast(pl.Int64).alias("_bucket"))


def shuffle(ds, key_fn, buckets: int, fn, **kw):
    """Hash-partition rows by `key_fn(df)` into buckets and run `fn(df, **kw)` on each whole bucket."""
    keyed = ds.map_batches(lambda b: _bucketed(_pl(b), key_fn(_pl(b)), buckets).to_arrow(), batch_format="pyarrow")
    def one(b):
        df = _pl(b).drop("_bucket")
        cols = _sort_cols(b)
        return fn(df.sort(cols) if cols else df, **kw).to_arrow()

    return keyed.groupby("_bucket", num_partitions=buckets).map_groups(one, batch_format="pyarrow")


def bucket_join(left, right, left_on: str, right_on: str, buckets: int, how: str = "inner"):
    """Join by a hash shuffle of both sides into the same buckets (a `groupby`, no actor pools)."""
    ls, rs = left.schema(), right.schema()

    def side(tag, key):
        def fn(b):
            df = pl.from_arrow(b)
            return df.select(pl.lit(tag, dtype=pl.Int8).alias("_side"), pl.col(key).alias("_k"),
                             pl.struct(df.columns).alias(f"_s{tag}")).to_arrow()
        return fn

    lt = left.map_batches(side(0, left_on), batch_format="pyarrow")
    rt = right.map_batches(side(1, right_on), batch_format="pyarrow")
    both = lt.map_batches(lambda b: _pad(b, rs, 1), batch_format="pyarrow").union(
        rt.map_batches(lambda b: _pad(b, ls, 0), batch_format="pyarrow"))

    def one(df: pl.DataFrame) -> pl.DataFrame:
        lhs = df.filter(pl.col("_side") == 0).select("_k", "_s0").unnest("_s0")
        rhs = df.filter(pl.col("_side") == 1).select("_k", "_s1").unnest("_s1")
        rhs = rhs.drop(right_on)  # equal to the left key
        return lhs.join(rhs, on="_k", how=how).drop("_k")

    return shuffle(both, lambda df: pl.col("_k"), buckets, one)


def _pad(b, schema, tag: int):
    """Add the other side's (null) struct column so both sides share one schema."""
    import pyarrow as pa

    other = pa.struct([pa.field(n, t) for n, t in zip(schema.names, schema.types)])
    col = pa.nulls(b.num_rows, type=other)
    cols = {"_side": b.column("_side"), "_k": b.column("_k")}
    mine = b.column(f"_s{1 - tag}")
    cols[f"_s{1 - tag}"] = mine
    cols[f"_s{tag}"] = col
    return pa.table({k: cols[k] for k in ("_side", "_k", "_s0", "_s1")})


def _sort_cols(b) -> list[str]:
    cols = b.schema.names
    return ["_ord"] if "_ord" in cols else [c for c in ("a", "b") if c in cols]


def exact(ds, step, ctx, buckets: int):
    from curate.stages.dedup_exact import group_key_expr

    spec = step[0]
    return shuffle(ds, lambda df: group_key_expr(spec.options), buckets, run_steps, steps=[step], ctx=ctx)


# ---- near duplicates ------------------------------------------------------------------------------

def _band_rows(df: pl.DataFrame, opts) -> pl.DataFrame:
    from curate.minhash import lsh_params, text_bands
    from curate.stages.dedup_near import compared_texts

    bands, rows = lsh_params(opts.threshold, opts.num_perm)
    texts = compared_texts(df, opts)
    keys, counts = text_bands(lambda lo, hi: texts.slice(lo, hi - lo).to_list(), texts.len(), ngram=opts.ngram,
                              num_perm=opts.num_perm, bands=bands, rows=rows, tokenizer=opts.tokenizer)
    has = counts > 0
    ords = df["_ord"].to_numpy()[has]
    out = pl.DataFrame({"_ord": np.tile(ords, bands), "band": np.repeat(np.arange(bands), len(ords)),
                        "key": keys[:, has].reshape(-1)}, schema={"_ord": pl.Int64, "band": pl.Int64, "key": pl.UInt64})
    empty = pl.DataFrame({"_ord": [-1], "band": [-1], "key": [int((~has).sum())]},
                         schema={"_ord": pl.Int64, "band": pl.Int64, "key": pl.UInt64})
    return pl.concat([out, empty])  # band -1: records without shingles in this batch


def _pairs(df: pl.DataFrame) -> pl.DataFrame:
    """Within each (band, key): every member with the first and with its predecessor (load order)."""
    df = df.sort("band", "key", "_ord")
    g = ["band", "key"]
    p = df.with_columns(pl.col("_ord").first().over(g).alias("f"), pl.col("_ord").shift(1).over(g).alias("p"))
    both = pl.concat([p.select(pl.col("f").alias("x"), "_ord"), p.select(pl.col("p").alias("x"), "_ord")])
    both = both.filter(pl.col("x").is_not_null() & (pl.col("x") != pl.col("_ord")))
    return both.select(pl.min_horizontal("x", "_ord").alias("a"), pl.max_horizontal("x", "_ord").alias("b")).unique().cast(LINK)


def _verify(df: pl.DataFrame, opts) -> pl.DataFrame:
    from curate.minhash import jaccard, shingle_sets

    sa = shingle_sets(df["ta"].to_list(), opts.ngram, opts.tokenizer)
    sb = shingle_sets(df["tb"].to_list(), opts.ngram, opts.tokenizer)
    jac = np.fromiter((jaccard(x, y) for x, y in zip(sa, sb)), dtype=np.float64, count=df.height)
    return df.select("a", "b").with_columns(pl.Series("jac", jac, dtype=pl.Float64))


def _large_star(df: pl.DataFrame) -> pl.DataFrame:
    m = pl.min_horizontal(pl.col("v").min().over("u"), pl.col("u"))
    return df.with_columns(m.alias("m")).filter(pl.col("v") > pl.col("u")).select(
        pl.col("m").alias("a"), pl.col("v").alias("b")).unique().cast(LINK)


def _small_star(df: pl.DataFrame) -> pl.DataFrame:
    # df: (u = child, v = parent < u); N = parents + u; link every other member of N to min(N)
    m = df.group_by("u").agg(pl.col("v").min().alias("m"))
    members = pl.concat([df.select("u", pl.col("v").alias("x")), df.select("u", pl.col("u").alias("x"))]).join(m, on="u")
    return members.filter(pl.col("x") != pl.col("m")).select(pl.col("m").alias("a"), pl.col("x").alias("b")).unique().cast(LINK)


def _star_violations(df: pl.DataFrame) -> pl.DataFrame:
    """Rows (node, role, parent): a node both child and parent, or a child with two parents, is not done."""
    child = df.filter(pl.col("role") == 0).group_by("node").agg(pl.col("parent").n_unique().alias("parents"))
    parents = df.filter(pl.col("role") == 1).select("node").unique()
    bad = child.filter(pl.col("parents") > 1).height + child.join(parents, on="node").height
    return pl.DataFrame({"bad": [bad]})


def components(links, buckets: int, max_rounds: int = 64):
    """links (a < b) -> (node, root) for every linked node: root = smallest member of its component."""
    edges = links.select_columns(["a", "b"])
    for _ in range(max_rounds):
        both = edges.map_batches(lambda b: pl.concat([_pl(b).select(pl.col("a").alias("u"), pl.col("b").alias("v")),
                                                      _pl(b).select(pl.col("b").alias("u"), pl.col("a").alias("v"))]).to_arrow(),
                                 batch_format="pyarrow")
        edges = shuffle(both, lambda df: pl.col("u"), buckets, _large_star).materialize()
        oriented = edges.map_batches(lambda b: _pl(b).select(pl.col("b").alias("u"), pl.col("a").alias("v")).to_arrow(),
                                     batch_format="pyarrow")
        edges = shuffle(oriented, lambda df: pl.col("u"), buckets, _small_star).materialize()
        roles = edges.map_batches(lambda b: pl.concat([
            _pl(b).select(pl.col("b").alias("node"), pl.lit(0).alias("role"), pl.col("a").alias("parent")),
            _pl(b).select(pl.col("a").alias("node"), pl.lit(1).alias("role"), pl.col("a").alias("parent"))]).to_arrow(),
            batch_format="pyarrow")
        if sum(r["bad"] for r in shuffle(roles, lambda df: pl.col("node"), buckets, _star_violations).take_all()) == 0:
            break
    else:
        raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")
    return edges.map_batches(lambda b: _pl(b).select(pl.col("b").alias("_ord"), pl.col("a").alias("_root")).to_arrow(),
                             batch_format="pyarrow")


def _resolve(df: pl.DataFrame, spec, label: str, spos: int, ctx) -> pl.DataFrame:
    """A bucket of whole clusters -> the local resolve_clusters, through the same step runner."""
    from curate.stages.dedup_near import resolve_clusters

    pos = {o: i for i, o in enumerate(df["_ord"].to_list())}
    labels = np.array([pos[r] for r in df["_group"].to_list()], dtype=np.int64)
    best = df.with_row_index("_row").filter(pl.col("_jac").is_not_null()).select("_row", "_jac")
    rows = df.drop("_group", "_jac")

    def apply(table, opts, c):
        return resolve_clusters(table, labels, best, {}, c)

    return run_steps(rows, [(spec.model_copy(update={"sources": None}), label, spos)], ctx, apply=apply)


def near(ds, step, ctx, buckets: int):
    """Returns (tagged dataset of the stage, the stats the driver adds to the cluster stats)."""
    from curate.minhash import lsh_params

    spec, label, spos = step
    opts = spec.options
    bands, rows = lsh_params(opts.threshold, opts.num_perm)
    band_rows = ds.map_batches(lambda b: _band_rows(_pl(b), opts).to_arrow(), batch_format="pyarrow").materialize()
    no_shingles = sum(r["key"] for r in _where(band_rows, pl.col("band") < 0).take_all())
    keyed = _where(band_rows, pl.col("band") >= 0)
    cands = shuffle(keyed, lambda df: pl.struct("band", "key"), buckets, _pairs)
    cands = shuffle(cands, lambda df: pl.struct("a", "b"), buckets, lambda df: df.unique()).materialize()
    n_cand = cands.count()
    n_ok = 0
    if n_cand:  # texts onto both ends of every candidate pair, then the exact Jaccard
        texts = ds.map_batches(lambda b: _pl(b).select("_ord", _texts(opts)).to_arrow(), batch_format="pyarrow")
        ta = bucket_join(cands, texts, "a", "_ord", buckets).rename_columns({"t": "ta"}).materialize()
        tb = bucket_join(ta, texts, "b", "_ord", buckets).rename_columns({"t": "tb"})
        checked = tb.map_batches(lambda b: _verify(_pl(b), opts).to_arrow(), batch_format="pyarrow")
        links = _where(checked, pl.col("jac") >= opts.threshold).materialize()
        n_ok = links.count()
    stats = {"bands": bands, "rows_per_band": rows, "candidate_pairs": int(n_cand), "pairs_verified": int(n_ok),
             "candidates_rejected_by_jaccard": int(n_cand - n_ok), "records_without_shingles": int(no_shingles)}
    if n_ok:  # per linked record: its component root and its best Jaccard, then onto the records
        roots = components(links, buckets)
        ends = links.map_batches(lambda b: pl.concat([_pl(b).select(pl.col("a").alias("_ord"), "jac"),
                                                      _pl(b).select(pl.col("b").alias("_ord"), "jac")]).to_arrow(),
                                 batch_format="pyarrow")
        marks = ends.map_batches(lambda b: pl.from_arrow(b).select("_ord", pl.lit(None, dtype=pl.Int64).alias("_root"),
                                                                   pl.col("jac").alias("_jac")).to_arrow(), batch_format="pyarrow")
        marks = marks.union(roots.map_batches(lambda b: pl.from_arrow(b).with_columns(
            pl.lit(None, dtype=pl.Float64).alias("_jac")).to_arrow(), batch_format="pyarrow"))
        per = shuffle(marks, lambda df: pl.col("_ord"), buckets,
                      lambda df: df.group_by("_ord").agg(pl.col("_root").min(), pl.col("_jac").max()).sort("_ord"))
        rec = bucket_join(ds, per.materialize(), "_ord", "_ord", buckets, how="left")
    else:
        rec = ds
    rec = rec.map_batches(lambda b: _with_group(_pl(b)).to_arrow(), batch_format="pyarrow")
    out = shuffle(rec, lambda df: pl.col("_group"), buckets, _resolve, spec=spec, label=label, spos=spos, ctx=ctx)
    return out, stats


def _where(ds, cond: pl.Expr):
    return ds.map_batches(lambda b: pl.from_arrow(b).filter(cond).to_arrow(), batch_format="pyarrow")


def _texts(opts) -> pl.Expr:
    from curate.minhash import match_key_expr
    from curate.text import text_expr

    return match_key_expr(text_expr(opts.scope)).alias("t")


def _with_group(df: pl.DataFrame) -> pl.DataFrame:
    if "_root" not in df.columns:
        df = df.with_columns(pl.lit(None, dtype=pl.Int64).alias("_root"), pl.lit(None, dtype=pl.Float64).alias("_jac"))
    return df.with_columns(pl.coalesce("_root", "_ord").alias("_group")).select(
        *KEPT_SCHEMA, "_group", pl.col("_jac").cast(pl.Float64))
