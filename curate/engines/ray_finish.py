"""The end of `--engine ray`, block by block: mix, split, Parquet, accounting and the report's inputs.

A record's mix position is its rank in its group in load order; its split position its rank in the
chosen table. Both come from per-block counts over sorted blocks (by `_ord`, then by (group, key)):
tiny dicts to the driver, prefix sums back to one task per block, which calls mix.py's own key
functions (`seeded_keys`, `test_flags`) and report_data.py's summaries. Train/test (sorted by the
split key) and the rejects (by stage position and `_ord`, then the mix's drops) are cut into the
writer's fixed row groups; workers encode one row group each (`core/parquet.encode_rows`) and a
task on the driver's node lays them end to end under one footer (`ParquetConcat`), holding one at a
time. No process holds the corpus: the driver sees counts, summaries and block references.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from curate.core.parquet import ParquetConcat, arrow_schema, encode_rows, row_group_plan
from curate.core.records import RECORD_SCHEMA, REJECT_SCHEMA, as_rejects
from curate.mix import group_column, keeps_all, mix_report, mix_targets, seeded_keys, test_flags
from curate.report_data import kept_lengths, length_counts, length_edges, merge, summarize_kept, summarize_rejects

LAST: dict = {}  # the last Ray finish on this driver: blocks and the largest block any of its tasks held (tests)


def _group_counts(block: pa.Table, col: str) -> dict:
    """Records per mix group in one block (and its size: the largest frame a task holds)."""
    df = pl.from_arrow(block)
    return {"groups": dict(df.group_by(col).len().iter_rows()), "rows": df.height}


def _offsets(counts: list[dict]) -> list[dict]:
    """Per block: records of each group in the blocks before it (prefix sums of `_group_counts`)."""
    run, out = Counter(), []
    for c in counts:
        out.append(dict(run))
        run.update(c["groups"])
    return out


def _rank(df: pl.DataFrame, col: str, offset: dict) -> pl.Expr:
    """Rank of each record in its group over all blocks: the block's offset + its rank in the block."""
    start = pl.col(col).replace_strict(offset, default=0, return_dtype=pl.Int64) if offset else pl.lit(0, pl.Int64)
    return start + pl.int_range(pl.len(), dtype=pl.Int64).over(col)


def _keyed(block: pa.Table, offset: dict, col: str, seed: int) -> pa.Table:
    """The mix's seeded key of each record: its group as salt, its position in its group in load order."""
    df = pl.from_arrow(block)
    df = df.with_columns(_rank(df, col, offset).alias("_pos"))
    keys = seeded_keys(df["id"].to_list(), df["_pos"].to_list(), seed, df[col].to_list())
    return df.with_columns(pl.Series("_key", keys, dtype=pl.String)).to_arrow()


def _select(block: pa.Table, offset: dict, col: str, want: dict | None, start: dict, seed: int, share: float,
            stages: list[str]):
    """Chosen records (with split key, side and length), the not-sampled ones (as rejects) and counts.

    `want` None keeps every record (positions = load order); otherwise the first `want[g]` of each
    group in key order are chosen, at position start[g] + rank in the chosen table (groups in order)."""
    df = pl.from_arrow(block)
    if want is None:
        df = df.with_columns(pl.lit("", pl.String).alias("_all"))
        df = df.with_columns(_rank(df, "_all", offset).alias("_cpos"), pl.lit(True).alias("_chosen")).drop("_all")
    else:
        df = df.with_columns(_rank(df, col, offset).alias("_rank"))
        df = df.with_columns((pl.col("_rank") < pl.col(col).replace_strict(want, default=0, return_dtype=pl.Int64)).alias("_chosen"),
                             (pl.col(col).replace_strict(start, default=0, return_dtype=pl.Int64) + pl.col("_rank")).alias("_cpos"))
    chosen = df.filter(pl.col("_chosen"))
    ids = chosen["id"].to_list()
    side = test_flags(ids, seed, share) if share > 0 else [False] * len(ids)
    records = chosen.select(list(RECORD_SCHEMA))
    lengths = kept_lengths(records)
    out = records.with_columns(pl.Series("_okey", seeded_keys(ids, chosen["_cpos"].to_list(), seed, "order"), dtype=pl.String),
                               pl.Series("_test", side, dtype=pl.Boolean), lengths["n"].alias("_len"))
    dropped = as_rejects(df.filter(~pl.col("_chosen")).select(list(RECORD_SCHEMA)), "not_sampled", stage="mix")
    stats = {"in": Counter(df["source"].to_list()), "kept": Counter(records["source"].to_list()),
             "rejected": Counter(dropped["source"].to_list()), "test": sum(side), "rows": df.height,
             "summary": summarize_kept(records, stages, lengths=lengths)}
    return out.to_arrow(), dropped.to_arrow(), stats


def _as_rejects(block: pa.Table) -> pa.Table:
    """A pass's rejected block in one schema (the rejects' sort needs the same columns in every block)."""
    schema = {**REJECT_SCHEMA, "_spos": pl.Int64, "_ord": pl.Int64}
    df = pl.from_arrow(block)
    return df.with_columns(**{c: pl.lit(None, dtype=t) for c, t in schema.items() if c not in df.columns}) \
        .select(list(schema)).cast(schema).to_arrow()


def _lengths(block: pa.Table, bins) -> dict:
    df = pl.from_arrow(block)
    return {"summary": length_counts(df.select("source", pl.col("_len").alias("n")), bins), "rows": df.height}


def _reject_summary(block: pa.Table, stages: list[str], chunk: int) -> dict:
    df = pl.from_arrow(block)
    return {"summary": summarize_rejects(df, stages, chunk), "rows": df.height}


def _side_counts(block: pa.Table) -> dict:
    """Rows of a sorted chosen block that go to train and to test."""
    n_test = (pc.sum(block["_test"]).as_py() or 0) if block.num_rows else 0
    return {"train": block.num_rows - n_test, "test": n_test}


def _encode(schema: dict, side: bool | None, pieces: list[tuple[int, int]], *blocks: pa.Table) -> bytes:
    """One row group of a file (from slices of its blocks), encoded as a standalone Parquet part.
    side: the chosen blocks' `_test` value this file takes (None: every row, the rejects)."""
    parts, arrow = [], arrow_schema(schema)
    for (start, end), block in zip(pieces, blocks, strict=True):
        if side is None:
            part = block.slice(start, end - start)
        else:
            mask = block["_test"] if side else pc.invert(block["_test"])
            part = block.take(pc.indices_nonzero(mask)[start:end])
        parts.append(part.select(arrow.names).cast(arrow))
    return encode_rows(pa.concat_tables(parts), schema)


def _concat(path: str, schema: dict, parts: list) -> None:
    """On the driver's node: the encoded row groups, in order, into one file (one part held at a time)."""
    import ray

    out = ParquetConcat(Path(path), schema)
    for i in range(len(parts)):
        out.append(ray.get(parts[i]))
        parts[i] = None  # let the object store free the part
    out.close()


def _write_file(tasks, path: Path, schema: dict, blocks: list, sizes: list[int], side: bool | None):
    """Launch one encoding task per row group of the file and the task that concatenates them."""
    plan = row_group_plan(sizes)
    parts = [tasks.encode.remote(schema, side, [(s, e) for _, s, e in group], *[blocks[b] for b, _, _ in group])
             for group in plan]
    return tasks.concat.remote(str(path), schema, parts), max((sum(e - s for _, s, e in g) for g in plan), default=0)


def _sorted_refs(ray, refs: list, key) -> list:
    """Blocks of `refs` sorted by `key` (Ray Data's distributed sort), in order; [] when there are no rows."""
    ds = ray.data.from_arrow_refs(refs) if refs else None
    if ds is None or ds.count() == 0:
        return []
    return ds.sort(key).to_arrow_refs()


class _Tasks:
    """This module's functions as Ray tasks (made once per finish)."""

    def __init__(self, ray, here):
        self.ray = ray
        self.counts, self.keyed, self.lengths, self.as_rejects, self.reject_summary, self.sides, self.encode = (
            ray.remote(f) for f in (_group_counts, _keyed, _lengths, _as_rejects, _reject_summary, _side_counts, _encode))
        self.select = ray.remote(num_returns=3)(_select)
        self.concat = ray.remote(_concat).options(scheduling_strategy=here)  # the version is written on the driver's node

    def group_counts(self, blocks: list, col: str) -> list[dict]:
        return self.ray.get([self.counts.remote(b, col) for b in blocks])


def _mix_plan(ray, tasks: _Tasks, kept_ds, mix, seed: int):
    """(blocks to select from: in load order, or by (group, key); their offsets; the plan: targets
    (None: keep all), available, realized and start per group; rows of each block a task held)."""
    col = group_column(mix)
    blocks = _sorted_refs(ray, kept_ds.to_arrow_refs(), "_ord")
    counts = tasks.group_counts(blocks, col)
    available = dict(sum((Counter(c["groups"]) for c in counts), Counter()))
    sizes = [c["rows"] for c in counts]
    if keeps_all(mix):  # every record, at its position in load order
        plan = {"targets": None, "available": available, "realized": {}, "start": {}}
        return blocks, _offsets([{"groups": {"": c["rows"]}} for c in counts]), plan, sizes
    targets = mix_targets(mix, available)
    keyed = [tasks.keyed.remote(b, o, col, seed) for b, o in zip(blocks, _offsets(counts))]
    blocks = _sorted_refs(ray, keyed, [col, "_key"])
    counts = tasks.group_counts(blocks, col)
    realized = {g: min(targets.get(g, 0), available.get(g, 0)) for g in sorted(set(available) | set(targets))}
    start, run = {}, 0  # where each group's chosen records begin in the chosen table (groups in order)
    for g, n in realized.items():
        start[g], run = run, run + n
    plan = {"targets": targets, "available": available, "realized": realized, "start": start}
    return blocks, _offsets(counts), plan, sizes + [c["rows"] for c in counts]


def finish_on_ray(ray, recipe, vid: str, key: dict, staged, funnel, inputs: list[dict], kept_ds, rejects_ds, here) -> dict:
    """Mix, split, account and write the version into `staged` (a folder on the driver's node). Returns the manifest."""
    from curate.finish import finish_summary, version_manifest, write_manifest
    from curate.report import write_report

    t0 = time.perf_counter()
    tasks, mix, seed = _Tasks(ray, here), recipe.mix, recipe.seed
    stages = [s["stage"] for s in funnel.steps] + ["mix"]
    blocks, offsets, plan, held = _mix_plan(ray, tasks, kept_ds, mix, seed)
    selected = [tasks.select.remote(b, o, group_column(mix), plan["targets"], plan["start"], seed, recipe.split.test, stages)
                for b, o in zip(blocks, offsets)]
    stats = ray.get([s[2] for s in selected])
    n_in, n_kept, n_rej = (sum((Counter(s[k]) for s in stats), Counter()) for k in ("in", "kept", "rejected"))
    n_drop = sum(n_rej.values())
    funnel.add_counts("mix", n_in, n_kept, n_rej, Counter({"not_sampled": n_drop}) if n_drop else Counter(),
                      seconds=time.perf_counter() - t0)

    t0 = time.perf_counter()
    chosen, kept_parts = [s[0] for s in selected], [s["summary"] for s in stats]
    first = merge(kept_parts)
    bins = length_edges(first.get("len_min"), first.get("len_max"))
    length_refs = [tasks.lengths.remote(c, bins) for c in chosen]
    split_blocks = _sorted_refs(ray, chosen, "_okey")
    rejected = [tasks.as_rejects.remote(b) for b in rejects_ds.to_arrow_refs()]
    reject_blocks = _sorted_refs(ray, rejected, ["_spos", "_ord"]) + [s[1] for s in selected]
    reject_refs = [tasks.reject_summary.remote(b, stages, i) for i, b in enumerate(reject_blocks)]
    n_test = sum(s["test"] for s in stats)
    sides = ray.get([tasks.sides.remote(b) for b in split_blocks])
    lengths, rejects = ray.get(length_refs), ray.get(reject_refs)
    files = [(staged.stage / "train.parquet", RECORD_SCHEMA, split_blocks, [c["train"] for c in sides], False),
             (staged.stage / "rejected.parquet", REJECT_SCHEMA, reject_blocks, [r["rows"] for r in rejects], None)]
    if n_test or recipe.split.test > 0:
        files.append((staged.stage / "test.parquet", RECORD_SCHEMA, split_blocks, [c["test"] for c in sides], True))
    launched = [_write_file(tasks, *f) for f in files]

    summary = finish_summary(kept_parts + [r["summary"] for r in rejects], [p["summary"] for p in lengths], bins)
    n_chosen, n_rejected = sum(n_kept.values()), sum(r["rows"] for r in rejects)
    counts = {"train": n_chosen - n_test, "test": n_test, "rejected": n_rejected}
    manifest = version_manifest(recipe, vid, key, funnel, inputs, mix_report(mix, plan["available"], plan["targets"], plan["realized"]), counts,
                                summary)
    write_report(staged.stage, manifest, summary)  # while the Parquet files are written
    ray.get([w for w, _ in launched])
    write_manifest(staged.stage, manifest)
    funnel.seconds["write"] = time.perf_counter() - t0
    held += [s["rows"] for s in stats] + [r["rows"] for r in rejects] + [p["rows"] for p in lengths]
    LAST.clear()
    LAST.update({"blocks": len(blocks), "reject_blocks": len(reject_blocks), "largest_block": max(held, default=0),
                 "largest_row_group": max((n for _, n in launched), default=0), "records": n_chosen + n_rejected})
    return manifest
