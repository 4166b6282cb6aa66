"""normalize: Unicode NFKC (keeping Chinese full-width punctuation), odd spaces, control chars, whitespace runs.

Rejects nothing; changes text, so ids are recomputed. Counts what it changed for the report.
"""

from __future__ import annotations

import polars as pl

from curate.core.records import empty_rejects, with_ids_where_changed
from curate.core.schema import StrictFrozen
from curate.stages import StageContext, StageResult
from curate.text import map_text, text_expr

# NFKC would turn Chinese full-width punctuation into ASCII (，→ ,): protect it through private-use chars.
FULLWIDTH_PUNCT = "，！？：；（）～＂＇"
_PLACEHOLDERS = [chr(0xE000 + i) for i in range(len(FULLWIDTH_PUNCT))]

ZERO_WIDTH = r"[\x{200B}\x{200C}\x{200D}\x{2060}\x{FEFF}]"
CONTROL = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F\x{80}-\x{9F}]"
ODD_SPACES = r"[\x{00A0}\x{1680}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}]"


class Options(StrictFrozen):
    nfkc: bool = True
    keep_fullwidth_punct: bool = True
    strip: bool = True
    collapse_spaces: bool = True
    max_newlines: int = 2  # runs of more blank lines are cut to this many newlines


def normalize_expr(e: pl.Expr, opts: Options) -> pl.Expr:
    if opts.nfkc:
        if opts.keep_fullwidth_punct:
            e = e.str.replace_many(list(FULLWIDTH_PUNCT), _PLACEHOLDERS)
        e = e.str.normalize("NFKC")
        if opts.keep_fullwidth_punct:
            e = e.str.replace_many(_PLACEHOLDERS, list(FULLWIDTH_PUNCT))
    e = e.str.replace_all("\r\n?", "\n").str.replace_all(ZERO_WIDTH, "").str.replace_all(CONTROL, "")
    e = e.str.replace_all(ODD_SPACES, " ")
    if opts.collapse_spaces:
        e = e.str.replace_all(r"[ \t]+", " ").str.replace_all(r" *\n *", "\n")
    if opts.max_newlines > 0:
        e = e.str.replace_all("\n{" + str(opts.max_newlines + 1) + ",}", "\n" * opts.max_newlines)
    if opts.strip:
        e = e.str.strip_chars()
    return e


def apply(table: pl.DataFrame, opts: Options, ctx: StageContext) -> StageResult:
    before = table.select(text_expr().alias("t"))["t"]
    out = map_text(table, lambda e: normalize_expr(e, opts))
    after = out.select(text_expr().alias("t"))["t"]
    changed = int((before != after).sum()) if table.height else 0
    return StageResult(with_ids_where_changed(table, out), empty_rejects(), {"records_changed": changed})
