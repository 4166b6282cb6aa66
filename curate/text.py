"""Vectorised access to the text inside records (polars expressions over `messages`)."""

from __future__ import annotations

from typing import Callable, Literal

import polars as pl

Scope = Literal["instruction", "conversation", "assistant", "prompt"]

CJK_RANGE = r"\x{3400}-\x{4DBF}\x{4E00}-\x{9FFF}\x{F900}-\x{FAFF}\x{20000}-\x{2FA1F}"


def map_text(table: pl.DataFrame, fn: Callable[[pl.Expr], pl.Expr]) -> pl.DataFrame:
    """Apply a string expression to every turn's content and to `rejected`."""
    return table.with_columns(
        pl.col("messages").list.eval(pl.element().struct.with_fields(fn(pl.field("content")))),
        fn(pl.col("rejected")),
    )


def contents_expr(role: str | None = None) -> pl.Expr:
    """List of turn contents (optionally of one role) per record."""
    if role is None:
        return pl.col("messages").list.eval(pl.element().struct.field("content"))
    return pl.col("messages").list.eval(
        pl.element().filter(pl.element().struct.field("role") == role).struct.field("content"))


def text_expr(scope: Scope = "conversation") -> pl.Expr:
    """One string per record: the first user turn, the prompt turns, assistant turns, or everything."""
    if scope == "instruction":
        return contents_expr("user").list.first().fill_null("")
    if scope == "assistant":
        return contents_expr("assistant").list.join("\n")
    if scope == "prompt":
        return pl.col("messages").list.slice(0, pl.col("messages").list.len() - 1).list.eval(
            pl.element().struct.field("content")).list.join("\n")
    return pl.concat_str([contents_expr().list.join("\n"), pl.col("rejected").fill_null("")], separator="\n").str.strip_chars("\n")


def cjk_count_expr(text: pl.Expr) -> pl.Expr:
    return text.str.count_matches(f"[{CJK_RANGE}]")


def map_contents(table: pl.DataFrame, fn: Callable[[list], list]) -> pl.DataFrame:
    """Apply a Python batch function to every turn's content and to `rejected`, in one call each.

    Works on the Arrow buffers (offsets kept), so the per-record cost is only `fn`'s own.
    """
    import pyarrow as pa

    if table.height == 0:
        return table
    msgs = table["messages"].to_arrow()
    msgs = msgs.combine_chunks() if isinstance(msgs, pa.ChunkedArray) else msgs
    if msgs.offset:  # a sliced array: rebase so offsets start at 0
        msgs = pa.concat_arrays([msgs])
    values = msgs.values
    roles, contents = values.field("role"), values.field("content")
    new_contents = pa.array(fn(contents.to_pylist()), type=contents.type)
    struct = pa.StructArray.from_arrays([roles, new_contents], names=["role", "content"])
    rebuilt = pa.ListArray.from_arrays(msgs.offsets, struct, mask=msgs.is_null())
    rejected = table["rejected"].to_list()
    idx = [i for i, r in enumerate(rejected) if r is not None]
    if idx:
        for i, new in zip(idx, fn([rejected[i] for i in idx])):
            rejected[i] = new
    return table.with_columns(pl.Series("messages", rebuilt).cast(table.schema["messages"]),
                              pl.Series("rejected", rejected, dtype=pl.String))
