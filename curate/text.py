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
