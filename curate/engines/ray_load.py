"""Loading on Ray: one task per input file (one block each), with the local loader's own code."""

from __future__ import annotations

from collections import Counter

import polars as pl

from curate.engines.batches import KEPT_SCHEMA, tagged
from curate.recipe import Recipe, Source

FILE_BITS, ROW_BITS = 12, 32  # _ord = source << 44 | file << 32 | row: the local engine's load order


def order_base(source: int, file: int) -> int:
    return (source << (FILE_BITS + ROW_BITS)) | (file << ROW_BITS)


def load_one(src: Source, path: str | None, base_dir, source_i: int, file_i: int, fmt: str | None):
    """Records (with `_ord`) and rejects (tagged, `_spos` 0) of one file, or of a whole source when
    `path` is None (a `limit:` or a Hub source is read in one go, as the local loader does)."""
    from curate.loaders import load_source

    one = src if path is None else src.model_copy(update={"path": path, "format": fmt or src.format})
    res = load_source(one, base_dir)
    base = order_base(source_i, file_i)
    recs = res.records.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + base).alias("_ord"))
    rej = res.rejects.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + base).alias("_ord"))
    info = {"format": res.format, "files": res.inputs, "warnings": res.warnings,
            "read": res.records.height + res.rejects.height,
            "rejected": Counter(rej["reason"].to_list())}
    return recs.select(list(KEPT_SCHEMA)).cast(KEPT_SCHEMA).to_arrow(), tagged(rej, _spos=0).to_arrow(), info


def load_tasks(recipe: Recipe) -> list[tuple[int, Source, str | None, int]]:
    """(source index, source, absolute file or None, file index) in the local engine's order."""
    from curate.core.files import resolve_paths

    out = []
    for si, src in enumerate(recipe.sources):
        if src.hub or src.limit:
            out.append((si, src, None, 0))
            continue
        for fi, (path, _) in enumerate(resolve_paths(src.paths, recipe.base_dir, src.name)):
            out.append((si, src, str(path), fi))
    return out
