"""convert: Traditional -> Simplified Chinese with OpenCC (t2s, tw2sp, hk2s, ...), globally or per source.

Rejects nothing. Counts records in Traditional script before (a record whose t2s differs from
itself) and after, and how many records and turns it changed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from curate.core.records import empty_rejects, with_ids
from curate.core.schema import StrictFrozen
from curate.stages import StageContext, StageResult
from curate.text import map_contents, text_expr

Config = Literal["t2s", "tw2s", "tw2sp", "hk2s", "t2tw", "t2hk", "s2t", "s2tw", "s2twp", "s2hk", "off"]


class Options(StrictFrozen):
    config: Config = "t2s"
    per_source: dict[str, Config] = Field(default_factory=dict)  # source -> config, overrides `config`


@lru_cache(maxsize=None)
def converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def traditional_flags(texts: list[str | None]) -> list[bool]:
    """True where OpenCC t2s would change the text (the record is at least partly Traditional)."""
    t2s = converter("t2s")
    return [bool(t) and t2s.convert(t) != t for t in texts]


def _record_texts(table: pl.DataFrame) -> list[str]:
    return table.select(text_expr().alias("t"))["t"].to_list()


def apply(table: pl.DataFrame, opts: Options, ctx: StageContext) -> StageResult:
    if table.height == 0:
        return StageResult(table, empty_rejects(), {})
    texts_before = _record_texts(table)
    before = pl.Series(traditional_flags(texts_before), dtype=pl.Boolean)
    config_of = pl.col("source").replace_strict(opts.per_source, default=opts.config, return_dtype=pl.String)
    indexed = table.with_row_index("_pos").with_columns(config_of.alias("_config"))
    parts, turns_changed = [], 0
    for (config,), part in sorted(indexed.partition_by("_config", as_dict=True).items()):
        if config != "off":
            cc = converter(config)
            counter = [0]

            def convert(texts: list, cc=cc, counter=counter) -> list:
                out = [cc.convert(t) if t else t for t in texts]
                counter[0] += sum(a != b for a, b in zip(texts, out))
                return out

            part = map_contents(part, convert)
            turns_changed += counter[0]
        parts.append(part)
        if ctx.progress:
            ctx.progress(part.height)
    out = pl.concat(parts).sort("_pos").drop("_pos", "_config")
    texts_after = _record_texts(out)
    # to-Simplified configs never add Traditional script: only records flagged before need a look
    to_simplified = {opts.config, *opts.per_source.values()} <= {"t2s", "tw2s", "tw2sp", "hk2s", "off"}
    flagged = [i for i, b in enumerate(before.to_list()) if b or not to_simplified]
    still = traditional_flags([texts_after[i] for i in flagged])
    after = pl.Series([False] * len(texts_after), dtype=pl.Boolean).scatter(flagged, still) if flagged else before
    n = table.height
    per_source = table.with_columns(before.alias("_t")).group_by("source").agg(pl.col("_t").sum()).sort("source")
    stats = {
        "traditional_records_before": int(before.sum()),
        "traditional_share_before": round(float(before.sum()) / n, 4),
        "traditional_records_after": int(after.sum()),
        "traditional_share_after": round(float(after.sum()) / n, 4),
        "records_converted": sum(a != b for a, b in zip(texts_before, texts_after)),
        "turns_converted": turns_changed,
        "traditional_before_by_source": {s: int(c) for s, c in per_source.iter_rows()},
    }
    return StageResult(with_ids(out), empty_rejects(), stats)


def report_section(step: dict, options: dict, plots: Path, passed) -> list[str]:
    """report.md: Traditional-script share before and after, per source."""
    stats = step["stats"]
    by_source = stats.get("traditional_before_by_source") or {}
    if "traditional_share_before" not in stats:
        return []
    lines = [f"Traditional-script share: **{stats['traditional_share_before']:.1%}** of records before, "
             f"**{stats['traditional_share_after']:.1%}** after.", ""]
    if by_source:
        lines += ["| source | Traditional records before |", "|---|---:|", *[f"| {s} | {n} |" for s, n in by_source.items()], ""]
    return lines
