"""filter: rule-based quality filters. Every rule is on with a default and can be set or turned off (null).

Rules, in the order a record is judged (the first that fails is the reject reason):
ends_with_user, empty_reply, identical_pair, turn_too_short/long, record_too_short/long,
low_cjk_share, char_repetition, literal_escapes, truncated_reply, and the pattern sections
of quality_patterns.txt (ai_self_reference, refusal, vendor_mention, plus the user's own).
The cjk share, repetition, escapes and patterns read prose (curate.text: code, URLs, quoted and
translated material left out), so a Chinese question answered with code is not "low in Chinese"
and `import openai` is not a vendor claim. docs/cleaning-language.md has the measurements.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import Field

from curate.core.errors import UserError
from curate.core.records import as_rejects
from curate.core.schema import StrictFrozen
from curate.minhash import codepoints, ngram_hashes, on_threads, workers
from curate.stages import StageContext, StageResult
from curate.text import cjk_share, contents_expr, joined_prose, plain_han_expr, text_expr

PATTERNS_FILE = Path(__file__).with_name("quality_patterns.txt")
TRUNCATED_ENDINGS = r"[,，、:：；（“\-]$"  # ASCII ; and ( end lines of code, not cut-off prose
SENTENCE_END = r"[。！？.!?）)]$"
QUOTED = r"\"[^\"\n]*\"|'[^'\n]*'"  # printf("a\n") in unfenced code is not an escaped line break


class Options(StrictFrozen):
    min_turn_chars: int | None = Field(default=1, ge=0)
    max_turn_chars: int | None = Field(default=16000, ge=1)
    min_record_chars: int | None = Field(default=4, ge=0)
    max_record_chars: int | None = Field(default=64000, ge=1)
    min_cjk_share: float | None = Field(default=0.3, ge=0, le=1)  # for records tagged zh (or untagged)
    max_char_repetition: float | None = Field(default=0.5, ge=0, le=1)  # share of repeated char 10-grams in replies
    repetition_ngram: int = Field(default=10, ge=2)
    max_literal_escapes: int | None = Field(default=1, ge=0)  # literal "\n" pairs outside code, per record
    truncated: bool = True
    ends_with_user: bool = True
    empty_reply: bool = True
    identical_pair: bool = True
    patterns: bool = True
    patterns_file: str | None = None  # extra sections/patterns, relative to the recipe
    disable_sections: list[str] = Field(default_factory=list)  # e.g. [vendor_mention]


def read_patterns(path: Path) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            sections.setdefault(current, [])
            continue
        if current is None:
            raise UserError(f"{path}:{lineno}: pattern outside a [section]")
        try:
            re.compile(line)
        except re.error as e:
            raise UserError(f"{path}:{lineno}: invalid regular expression: {e}") from None
        sections[current].append(line)
    return sections


def referenced_files(opts: Options, base_dir: Path) -> list[tuple[Path, str]]:
    """The user's pattern file, hashed into the version id by the build."""
    if not opts.patterns_file:
        return []
    path = Path(opts.patterns_file)
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        raise UserError(f"filter.patterns_file not found: {path}")
    return [(path, opts.patterns_file)]


def pattern_sections(opts: Options, base_dir: Path) -> dict[str, str]:
    sections = read_patterns(PATTERNS_FILE) if opts.patterns else {}
    for path, _ in referenced_files(opts, base_dir):
        for name, pats in read_patterns(path).items():
            sections.setdefault(name, []).extend(pats)
    return {name: "(?i)(" + "|".join(pats) + ")" for name, pats in sections.items()
            if pats and name not in opts.disable_sections}


def repetition_ratio(text: str, n: int) -> float:
    """Share of repeated character n-grams."""
    count = len(text) - n + 1
    return 1.0 - len({text[i:i + n] for i in range(count)}) / count if count > 0 else 0.0


def _rules(opts: Options, patterns: dict[str, str]) -> list[tuple[str, pl.Expr, pl.Expr | None]]:
    """(reason, failing condition, detail) in judging order."""
    last = pl.col("messages").list.last()
    turn_len = contents_expr().list.eval(pl.element().str.len_chars())
    record = text_expr()
    record_len = record.str.len_chars()
    replies = contents_expr("assistant")
    rules: list[tuple[str, pl.Expr, pl.Expr | None]] = []
    if opts.ends_with_user:
        rules.append(("ends_with_user", last.struct.field("role") != "assistant", None))
    if opts.empty_reply:
        rules.append(("empty_reply", replies.list.eval(pl.element().str.strip_chars() == "").list.any(), None))
    if opts.identical_pair:
        rules.append(("identical_pair", pl.col("rejected").str.strip_chars() == last.struct.field("content").str.strip_chars(), None))
    if opts.min_turn_chars is not None:
        rules.append(("turn_too_short", turn_len.list.min() < opts.min_turn_chars, turn_len.list.min().cast(pl.String)))
    if opts.max_turn_chars is not None:
        rules.append(("turn_too_long", turn_len.list.max() > opts.max_turn_chars, turn_len.list.max().cast(pl.String)))
    if opts.min_record_chars is not None:
        rules.append(("record_too_short", record_len < opts.min_record_chars, record_len.cast(pl.String)))
    if opts.max_record_chars is not None:
        rules.append(("record_too_long", record_len > opts.max_record_chars, record_len.cast(pl.String)))
    if opts.min_cjk_share is not None:
        share = pl.col("_cjk_share")
        is_zh = pl.col("lang").is_null() | (pl.col("lang") == "zh")
        rules.append(("low_cjk_share", is_zh & (share < opts.min_cjk_share), share.round(3).cast(pl.String)))
    if opts.max_char_repetition is not None:
        ratio = pl.col("_repetition")
        rules.append(("char_repetition", ratio > opts.max_char_repetition, ratio.round(3).cast(pl.String)))
    if opts.max_literal_escapes is not None:
        escapes = pl.col("_prose").str.replace_all(QUOTED, "").str.count_matches(r"\\n")
        rules.append(("literal_escapes", escapes > opts.max_literal_escapes, escapes.cast(pl.String)))
    if opts.truncated:
        last_reply = replies.list.last().str.strip_chars()
        open_fence = (last_reply.str.count_matches("```") % 2 == 1) & ~last_reply.str.contains(SENTENCE_END)
        rules.append(("truncated_reply", last_reply.str.contains(TRUNCATED_ENDINGS) | open_fence, last_reply.str.slice(-12)))
    for name, regex in patterns.items():
        rules.append((name, pl.col("_reply_prose").str.contains(regex), pl.col("_reply_prose").str.extract(regex, 1)))
    return rules


REPETITION_CHUNK = 16384  # texts hashed at once (over all threads): bounds the n-gram arrays whatever the table size


def repetition_ratios(texts: pl.Series, n: int) -> pl.Series:
    """`repetition_ratio` of every text at once: 64-bit hashes of its n-grams, distinct ones counted by polars.

    Equal to the per-text sets unless two distinct n-grams of one text share a 64-bit hash.
    """
    texts = texts.fill_null("")
    lengths = texts.str.len_chars().to_numpy().astype(np.int64)
    out = np.zeros(len(lengths), dtype=np.float64)
    rows = np.flatnonzero(lengths >= n)
    size = max(REPETITION_CHUNK // workers(), 1)  # the threads' chunks together hold what one chunk did

    def one(start: int) -> None:
        chunk = rows[start:start + size]
        flat, lens = codepoints(texts.gather(chunk).to_list())
        hashes, counts = ngram_hashes(flat, lens, n)
        grams = pl.DataFrame({"r": np.repeat(np.arange(len(chunk)), counts), "h": hashes})
        distinct = grams.group_by("r").agg(pl.col("h").n_unique()).sort("r")["h"].to_numpy()
        out[chunk] = 1.0 - distinct / counts

    on_threads(one, range(0, len(rows), size))
    return pl.Series(out)


def with_prose_measures(table: pl.DataFrame, opts: Options) -> pl.DataFrame:
    """Add _cjk_share, _reply_prose, _prose and _repetition.

    Records of hanzi and punctuation only are their own prose with share 1.0: polars fills them in
    one pass, and only the rest (code, Latin, URLs...) go through the prose helpers (curate.text,
    plain Python per record). The repetition ratio is vectorised (`repetition_ratios`).
    """
    plain = table.select(plain_han_expr(contents_expr()).fill_null(False).alias("p"))["p"]
    fast = table.select(contents_expr("assistant").list.join("\n").alias("r"), contents_expr().list.join("\n").alias("a"))
    shares, replies, proses = pl.Series(np.ones(table.height)), fast.to_series(0), fast.to_series(1)
    del fast  # the two columns are ours now: scattered in place
    rest = (~plain).arg_true()
    if rest.len():
        msgs = table["messages"].gather(rest).to_list()
        shares = shares.scatter(rest, [cjk_share(m) for m in msgs])
        replies = replies.scatter(rest, pl.Series([joined_prose(m, "assistant") for m in msgs], dtype=pl.String))
        proses = proses.scatter(rest, pl.Series([joined_prose(m) for m in msgs], dtype=pl.String))
    repetition = (repetition_ratios(replies, opts.repetition_ngram) if opts.max_char_repetition is not None
                  else pl.Series(np.zeros(table.height)))
    return table.with_columns(shares.alias("_cjk_share"), replies.alias("_reply_prose"), proses.alias("_prose"),
                              repetition.alias("_repetition"))


def apply(table: pl.DataFrame, opts: Options, ctx: StageContext) -> StageResult:
    rules = _rules(opts, pattern_sections(opts, ctx.base_dir))
    table = with_prose_measures(table, opts)
    reason = pl.lit(None, dtype=pl.String)
    detail = pl.lit(None, dtype=pl.String)
    for name, cond, det in reversed(rules):  # the first failing rule wins
        reason = pl.when(cond.fill_null(False)).then(pl.lit(name)).otherwise(reason)
        detail = pl.when(cond.fill_null(False)).then(det if det is not None else pl.lit(None, dtype=pl.String)).otherwise(detail)
    tagged = table.with_columns(reason.alias("_reason"), detail.alias("_detail")).drop("_cjk_share", "_reply_prose", "_prose", "_repetition")
    if ctx.progress:
        ctx.progress(table.height)
    bad = tagged.filter(pl.col("_reason").is_not_null())
    kept = tagged.filter(pl.col("_reason").is_null()).drop("_reason", "_detail")
    return StageResult(kept, as_rejects(bad, pl.col("_reason"), detail=pl.col("_detail")), {})
