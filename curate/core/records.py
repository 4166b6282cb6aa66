"""The unified record: one schema for every source, and the rule that gives each record its id."""

from __future__ import annotations

import hashlib

import polars as pl

from curate.core.hashing import sha256_obj

MESSAGE = pl.Struct({"role": pl.String, "content": pl.String})
META = pl.Struct({"file": pl.String, "line": pl.Int64})

RECORD_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String,
    "source": pl.String,
    "type": pl.String,
    "messages": pl.List(MESSAGE),
    "rejected": pl.String,
    "lang": pl.String,
    "lang_score": pl.Float64,
    "meta": META,
}

REJECT_EXTRA: dict[str, pl.DataType] = {
    "stage": pl.String,
    "reason": pl.String,
    "detail": pl.String,
    "twin_id": pl.String,
    "raw": pl.String,
}
REJECT_SCHEMA: dict[str, pl.DataType] = {**RECORD_SCHEMA, **REJECT_EXTRA}


def record_id(messages: list[dict], rejected: str | None) -> str:
    """Stable content hash of a conversation (16 hex chars); same text => same id."""
    convo = [{"role": m["role"], "content": m["content"]} for m in messages]
    return sha256_obj({"messages": convo, "rejected": rejected})[:16]


def empty_records() -> pl.DataFrame:
    return pl.DataFrame(schema=RECORD_SCHEMA)


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


def records_frame(rows: list[dict]) -> pl.DataFrame:
    """Build a record table from dicts; missing optional columns become null."""
    return pl.DataFrame(rows, schema=RECORD_SCHEMA) if rows else empty_records()


def canonical_json_expr() -> pl.Expr:
    """`stable_json({messages, rejected})` of each record, built by polars (keys in sorted order).

    Same string as `record_id` hashes (tests/test_records_ids.py compares them on control
    characters, quotes, backslashes and non-BMP text), without a Python dict per record.
    """
    turns = pl.col("messages").list.eval(pl.struct(pl.element().struct.field("content"), pl.element().struct.field("role")))
    return pl.struct(turns.alias("messages"), pl.col("rejected")).struct.json_encode()


def with_ids(table: pl.DataFrame) -> pl.DataFrame:
    """Recompute `id` from content (after any stage that changes text): `record_id` of every row."""
    if table.height == 0:
        return table
    sha = hashlib.sha256
    ids = [sha(s.encode()).hexdigest()[:16] for s in table.select(canonical_json_expr().alias("j"))["j"].to_list()]
    return table.with_columns(pl.Series("id", ids, dtype=pl.String))


def with_ids_where_changed(before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """`with_ids(after)` for a stage that edits text in place (same rows, same order): only the rows whose
    messages or `rejected` differ from `before` are hashed again; the rest keep their ids."""
    if after.height == 0 or before["id"].null_count():
        return with_ids(after)
    changed = _turns_differ(before["messages"], after["messages"]) | before["rejected"].ne_missing(after["rejected"])
    idx = changed.arg_true()
    if idx.len() == 0:
        return after
    fresh = with_ids(after[idx])["id"]
    return after.with_columns(before["id"].scatter(idx, fresh))


def _turns_differ(a: pl.Series, b: pl.Series) -> pl.Series:
    """Per record: does any turn's role or content differ? (Flat Arrow comparison: polars' `!=` on
    lists of structs costs ~1 µs a record.)"""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    def flat(s: pl.Series):
        arr = s.to_arrow()
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        return pa.concat_arrays([arr]) if arr.offset else arr  # rebased: offsets start at 0

    x, y = flat(a), flat(b)
    offsets = x.offsets.to_numpy()
    if x.null_count or y.null_count or not np.array_equal(offsets, y.offsets.to_numpy()):
        return (a != b).fill_null(True)  # turns added or removed: the general comparison
    xs, ys = x.values, y.values
    diff = pc.or_kleene(pc.not_equal(xs.field("content"), ys.field("content")).fill_null(True),
                        pc.not_equal(xs.field("role"), ys.field("role")).fill_null(True))
    diff = diff.to_numpy(zero_copy_only=False).astype(np.int64)
    per_turn = np.concatenate([[0], np.cumsum(diff)])
    return pl.Series(per_turn[offsets[1:]] - per_turn[offsets[:-1]] > 0)


def as_rejects(table: pl.DataFrame, reason: str | pl.Expr, *, stage: str | None = None,
               detail: str | pl.Expr | None = None, twin_id: pl.Expr | None = None) -> pl.DataFrame:
    """Tag records as rejected; the pipeline fills `stage` if not given."""
    lit = lambda v: v if isinstance(v, pl.Expr) else pl.lit(v, dtype=pl.String)  # noqa: E731
    out = table.with_columns(
        lit(stage).alias("stage"),
        lit(reason).alias("reason"),
        lit(detail).alias("detail"),
        (twin_id if twin_id is not None else pl.lit(None, dtype=pl.String)).alias("twin_id"),
        pl.lit(None, dtype=pl.String).alias("raw"),
    )
    return out.select(list(REJECT_SCHEMA)).cast(REJECT_SCHEMA)


def chat_messages(messages: list[dict]) -> list[dict]:
    """A record's messages as plain chat turns: `role` and `content` only."""
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def preference_row(messages: list[dict], rejected: str) -> dict:
    """TRL's conversational preference row: prompt turns, then one-turn chosen and rejected replies."""
    return {"prompt": messages[:-1], "chosen": [messages[-1]], "rejected": [{"role": "assistant", "content": rejected}]}
