"""dedup: drop exact (`method: exact`) or near (`method: minhash`) duplicates, within and across sources.

Which twin survives: the record of the source listed first in the recipe (`ctx.source_order`);
among records of one source, the one seen first (input order). Every other member of a
duplicate group is rejected with `twin_id` = the survivor's id. The work is in
`dedup_exact.py` and `dedup_near.py`; this module holds the options and the twin rule.
"""

from __future__ import annotations

from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from curate.minhash import Tokenizer
from curate.stages import StageContext, StageResult

NEAR_ONLY = ("threshold", "ngram", "num_perm", "tokenizer", "engine")
DEFAULT_NGRAM = {"char": 3, "jieba": 2}
# minhash compares the whole record by default: a near copy carries its edits in prompt *and* reply,
# and a shared template prompt alone must not make two records near copies (docs/cleaning-dedup.md)
DEFAULT_SCOPE = {"exact": "prompt", "minhash": "conversation"}


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    method: Literal["exact", "minhash"] = "exact"
    # text compared: first user turn, every turn before the final reply, or the whole conversation;
    # default `prompt` for exact, `conversation` for minhash
    scope: Literal["instruction", "prompt", "conversation"] = "prompt"
    threshold: float = Field(0.7, gt=0, le=1)  # minhash: Jaccard similarity of shingle sets
    ngram: int = Field(3, ge=1, le=50)  # minhash: shingle size (characters, or words with jieba; jieba default 2)
    num_perm: int = Field(128, ge=16, le=1024)  # minhash: signature length
    tokenizer: Tokenizer = "char"  # minhash: `char` n-grams or `jieba` word n-grams
    # minhash: `numpy` = zhtune's vectorised signatures (fast); `datasketch` = datasketch.MinHash +
    # MinHashLSH per record (the reference implementation, ~10x slower); both verify by exact Jaccard
    engine: Literal["numpy", "datasketch"] = "numpy"

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "ngram" not in data and data.get("tokenizer") == "jieba":
            data = {**data, "ngram": DEFAULT_NGRAM["jieba"]}
        if "scope" not in data and data.get("method") in DEFAULT_SCOPE:
            data = {**data, "scope": DEFAULT_SCOPE[data["method"]]}
        return data

    @model_serializer(mode="wrap")
    def _only_what_applies(self, handler):
        """The resolved recipe (manifest, version id) lists only the options of the chosen method,
        so it loads back as a recipe."""
        out = handler(self)
        return {k: v for k, v in out.items() if k not in NEAR_ONLY} if self.method == "exact" else out

    @model_validator(mode="after")
    def _near_options_need_minhash(self) -> "Options":
        stray = [k for k in NEAR_ONLY if k in self.model_fields_set]
        if self.method == "exact" and stray:
            raise ValueError(f"{', '.join(stray)} only apply to `method: minhash`")
        return self


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


def apply(table: pl.DataFrame, opts: Options, ctx: StageContext) -> StageResult:
    if opts.method == "exact":
        from curate.stages.dedup_exact import dedup_exact

        return dedup_exact(table, opts, ctx)
    from curate.stages.dedup_near import dedup_near

    return dedup_near(table, opts, ctx)
