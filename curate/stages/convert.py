"""convert: Traditional -> Simplified Chinese with OpenCC (t2s, tw2sp, hk2s, ...), globally or per source.

Rejects nothing. Counts records in Traditional script before (a record whose t2s differs from
itself) and after, and how many records and turns it changed. OpenCC only sees the texts that
hold a character of one of its config's dictionary keys (`dictionary_chars`): any other text
cannot change, and in a Simplified corpus that is most of them.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from curate.core.records import empty_rejects, with_ids_where_changed
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


def _opencc_share() -> Path:
    import opencc

    return Path(opencc.__file__).parent / "clib"


@lru_cache(maxsize=None)
def dictionary_chars(config: str) -> str | None:
    """A polars regex of witness characters: every entry of the config's dictionaries that changes text
    (key != its first value, the one OpenCC writes) holds at least one, or None if the dictionaries are unknown.

    A text without a witness matches no such entry, so OpenCC returns it unchanged. A one-character
    entry is its own witness; a phrase is covered by a character already in the set, else by the
    characters it changes (沈 in 深沈 -> 深沉). Entries are read with `opencc_dict` (shipped in the
    opencc wheel, ocd2 -> text); without it, None (every text is converted, as before).
    """
    entries = _dictionary_entries(config)
    if entries is None:
        return None
    witness = {k for k, v in entries if len(k) == 1 and v != k}
    for key, value in entries:
        if len(key) > 1 and value != key and not witness & set(key):
            changed = {a for a, b in zip(key, value) if a != b} if len(key) == len(value) else set(key)
            witness |= changed or set(key)
    witness -= {"\n", "\r"}
    return "[" + "".join(re.escape(c) if c in "\\^-[]&~|" else c for c in sorted(witness)) + "]" if witness else None


def _dictionary_entries(config: str) -> list[tuple[str, str]] | None:
    """(key, first value) of every entry of every dictionary a config file names."""
    clib = _opencc_share()
    tool, share = clib / "bin" / "opencc_dict", clib / "share" / "opencc"
    conf = share / f"{config}.json"
    if not tool.exists() or not conf.exists():
        return None
    files = sorted(set(re.findall(r'"file"\s*:\s*"([^"]+)"', conf.read_text(encoding="utf-8"))))
    if not files or any(not f.endswith(".ocd2") for f in files):  # a text dictionary: not read here, so unknown
        return None
    entries = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in files:
            out = Path(tmp) / f"{name}.txt"
            done = subprocess.run([str(tool), "-i", str(share / name), "-o", str(out), "-f", "ocd2", "-t", "text"],
                                  capture_output=True)
            if done.returncode or not out.exists():
                return None
            for line in out.read_text(encoding="utf-8").splitlines():
                key, _, values = line.partition("\t")
                entries.append((key, values.split(" ")[0]))
    return entries


def traditional_flags(texts: list[str | None]) -> list[bool]:
    """True where OpenCC t2s would change the text (the record is at least partly Traditional)."""
    t2s = converter("t2s")
    return [bool(t) and t2s.convert(t) != t for t in texts]


def traditional_mask(texts: pl.Series) -> pl.Series:
    """traditional_flags of a string Series, OpenCC run only on texts holding a t2s dictionary character."""
    chars = dictionary_chars("t2s")
    picked = texts.str.contains(chars).fill_null(False) if chars else texts.is_not_null()
    idx = picked.arg_true()
    flags = pl.Series([False] * texts.len(), dtype=pl.Boolean)
    return flags.scatter(idx, traditional_flags(texts.gather(idx).to_list())) if idx.len() else flags


def _record_texts(table: pl.DataFrame) -> pl.Series:
    return table.select(text_expr().alias("t"))["t"]


def apply(table: pl.DataFrame, opts: Options, ctx: StageContext) -> StageResult:
    if table.height == 0:
        return StageResult(table, empty_rejects(), {})
    texts_before = _record_texts(table)
    configs = {opts.config, *opts.per_source.values()}
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

            part = map_contents(part, convert, only=dictionary_chars(config))
            turns_changed += counter[0]
        parts.append(part)
        if ctx.progress:
            ctx.progress(part.height)
    out = pl.concat(parts).sort("_pos").drop("_pos", "_config") if len(parts) > 1 else parts[0].drop("_pos", "_config")
    texts_after = _record_texts(out)
    changed = (texts_before != texts_after).fill_null(False)
    # t2s everywhere: a record is Traditional exactly when t2s changed it (no second OpenCC pass)
    before = changed if configs == {"t2s"} else traditional_mask(texts_before)
    # to-Simplified configs never add Traditional script: only records flagged before need a look
    to_simplified = configs <= {"t2s", "tw2s", "tw2sp", "hk2s", "off"}
    look = before if to_simplified else pl.Series([True] * table.height, dtype=pl.Boolean)
    idx = look.arg_true()
    after = pl.Series([False] * table.height, dtype=pl.Boolean)
    if idx.len():
        after = after.scatter(idx, traditional_flags(texts_after.gather(idx).to_list()))
    per_source = table.with_columns(before.alias("_t")).group_by("source").agg(pl.col("_t").sum()).sort("source")
    n = table.height
    stats = {
        "traditional_records_before": int(before.sum()),
        "traditional_share_before": round(float(before.sum()) / n, 4),
        "traditional_records_after": int(after.sum()),
        "traditional_share_after": round(float(after.sum()) / n, 4),
        "records_converted": int(changed.sum()),
        "turns_converted": turns_changed,
        "traditional_before_by_source": {s: int(c) for s, c in per_source.iter_rows()},
    }
    return StageResult(with_ids_where_changed(table, out), empty_rejects(), stats)


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
