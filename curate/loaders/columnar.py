"""The fast path of the loader: whole blocks of JSONL lines, JSON lists and Parquet tables converted by Arrow and
turned into records by polars expressions, for the common formats (alpaca/belle, sharegpt).

A block is taken only when Arrow's strict reading and the checks below guarantee the record-by-record
path (`formats.CONVERTERS`) would keep every line of it with the same messages: an explicit schema (from the format and the
block's first record), so a number or list where text belongs, a repeated key, a lone surrogate, NaN or an unknown key
makes Arrow refuse the block, as do bytes that are not UTF-8; a missing field, an unknown role, turns out of order or a history makes
`to_records` refuse it. A refused block goes line by line through the exact path (its rejects, its
file:line errors). tests/test_loaders_columnar.py holds both paths against each other.
"""

from __future__ import annotations

import io
from typing import Iterator

import polars as pl

from curate.loaders.formats import ROLE_ALIASES

BLOCK_LINES = 16_384
# str.strip()'s whitespace (str.isspace), so "is `input` blank" means what it means in formats.py
PY_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                 "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
FAST_FORMATS = ("alpaca", "belle", "sharegpt")
MESSAGE_TYPE = pl.List(pl.Struct({"role": pl.String, "content": pl.String}))


def arrow_schema(fmt: str, first: dict):
    """The format's fields, plus the other keys of the block's first record when they hold text, a whole
    number or a boolean (an `id`, a `lang`); None when one holds a list, an object or a float."""
    import pyarrow as pa

    if fmt == "sharegpt":
        turn = pa.struct([("from", pa.string()), ("value", pa.string())])
        fields = [("conversations", pa.list_(turn)), ("system", pa.string())]
    else:
        fields = [("instruction", pa.string()), ("input", pa.string()), ("output", pa.string()),
                  ("system", pa.string()), ("history", pa.list_(pa.list_(pa.string())))]
    known = {name for name, _ in fields}
    for key, value in first.items():
        if key in known:
            continue
        if value is None or isinstance(value, str):
            fields.append((key, pa.string()))
        elif isinstance(value, bool):
            fields.append((key, pa.bool_()))
        elif isinstance(value, int) and -2**63 <= value < 2**63:
            fields.append((key, pa.int64()))  # Arrow refuses a literal past int64 (Python's past 4,300 digits)
        else:
            return None
    return pa.schema(fields)


def parse_block(lines: list[bytes], fmt: str, first: dict) -> pl.DataFrame | None:
    """Arrow's strict parse of JSONL lines into the format's columns; None when Arrow refuses any line."""
    import pyarrow.json as pj

    schema = arrow_schema(fmt, first)
    if schema is None:
        return None
    data = b"\n".join(lines)
    try:
        data.decode("utf-8")  # Arrow's JSON reader does not check the bytes inside strings
        table = pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(block_size=max(len(data) + 1, 1 << 20)),
                             parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error"))
    except Exception:  # noqa: BLE001 - any refusal sends the block down the exact path
        return None
    if table.num_rows != len(lines):  # two objects on one line
        return None
    return pl.from_arrow(table)


def _text_ok(df: pl.DataFrame, col: str, required: bool) -> bool:
    if col not in df.columns:
        return not required
    if df.schema[col] == pl.Null:
        return not required
    return df.schema[col] == pl.String and not (required and df[col].null_count())


def turn_lists(slots: list[tuple[str, pl.Series, pl.Series | None]]) -> pl.Series:
    """Messages from turn slots (role, contents, which rows have this turn; None: all), in slot order.

    Built as one Arrow list array: `pl.concat_list` over structs costs ~4 µs a row, this ~0.1 µs."""
    import numpy as np
    import pyarrow as pa

    n = len(slots[0][1])
    present = np.stack([np.ones(n, bool) if has is None else has.fill_null(False).to_numpy() for _, _, has in slots], 1)
    rows, slot = np.nonzero(present)  # row-major: each row's turns in slot order
    take = pa.array(slot * n + rows)
    contents = pa.concat_arrays([c.to_arrow().cast(pa.large_string()) for _, c, _ in slots]).take(take)
    roles = pa.concat_arrays([pa.array([r] * n, pa.large_string()) for r, _, _ in slots]).take(take)
    offsets = pa.array(np.concatenate([[0], np.cumsum(present.sum(1))]).astype(np.int64))
    turns = pa.StructArray.from_arrays([roles, contents], names=["role", "content"])
    return pl.Series("messages", pa.LargeListArray.from_arrays(offsets, turns)).cast(MESSAGE_TYPE)


def _system_slots(df: pl.DataFrame) -> list:
    """`formats._system`: a system turn first where `system` is a non-blank string."""
    if "system" not in df.columns or df["system"].null_count() == df.height:
        return []
    return [("system", df["system"], df.select(pl.col("system").str.strip_chars(PY_WHITESPACE).str.len_bytes() > 0)
             .to_series())]


def _alpaca_messages(df: pl.DataFrame) -> pl.Series | None:
    if not (_text_ok(df, "instruction", True) and _text_ok(df, "output", True) and _text_ok(df, "input", False)
            and _text_ok(df, "system", False)):
        return None
    history = df.schema.get("history", pl.Null)
    if history != pl.Null and (not isinstance(history, pl.List) or df["history"].list.len().fill_null(0).max()):
        return None  # a history: the exact path checks its pairs
    instruction = pl.col("instruction")
    if "input" in df.columns and df.schema["input"] == pl.String:
        extra = pl.col("input").fill_null("")
        user = pl.when(extra.str.strip_chars(PY_WHITESPACE).str.len_bytes() > 0) \
            .then(instruction + "\n" + extra).otherwise(instruction)
    else:
        user = instruction
    return turn_lists([*_system_slots(df), ("user", df.select(user).to_series(), None),
                       ("assistant", df["output"], None)])


def _sharegpt_messages(df: pl.DataFrame) -> pl.Series | None:
    if "conversations" not in df.columns or {"chosen", "rejected"} & set(df.columns) or not _text_ok(df, "system", False):
        return None
    turn = pl.Struct({"from": pl.String, "value": pl.String})
    if df.schema["conversations"] != pl.List(turn):
        return None
    conv = df["conversations"]
    if conv.null_count() or not conv.list.len().min():
        return None
    flat = conv.explode().struct.unnest()
    if flat["from"].null_count() or flat["value"].null_count():
        return None
    roles = flat["from"].str.to_lowercase().replace_strict(ROLE_ALIASES, default=None)
    if roles.null_count() or (roles == "system").any():
        return None
    position = pl.int_range(pl.len())
    in_order = pl.element() == pl.when(position % 2 == 0).then(pl.lit("user")).otherwise(pl.lit("assistant"))
    mapped = pl.col("conversations").list.eval(pl.element().struct.field("from").str.to_lowercase()
                                               .replace_strict(ROLE_ALIASES, default=None))
    if not df.select(mapped.list.eval(in_order).list.all().all()).item():
        return None
    turns = df.select(pl.col("conversations").list.eval(pl.struct(
        role=pl.element().struct.field("from").str.to_lowercase().replace_strict(ROLE_ALIASES, default=None),
        content=pl.element().struct.field("value")))).to_series().cast(MESSAGE_TYPE)
    system = _system_slots(df)
    if not system:
        return turns
    lead = turn_lists(system)
    return df.select(pl.concat_list(pl.lit(lead), pl.lit(turns))).to_series()


def to_records(df: pl.DataFrame, fmt: str, source: str, kind: str, file: str, lines: list[int]) -> pl.DataFrame | None:
    """Parsed rows -> records (RECORD_SCHEMA, ids unset), or None when any row needs the exact path."""
    if df.height == 0 or fmt not in FAST_FORMATS:
        return None
    messages = (_sharegpt_messages if fmt == "sharegpt" else _alpaca_messages)(df)
    if messages is None:
        return None
    from curate.core.records import RECORD_SCHEMA

    out = df.select(
        pl.lit(None, dtype=pl.String).alias("id"),
        pl.lit(source, dtype=pl.String).alias("source"),
        pl.lit(kind, dtype=pl.String).alias("type"),
        pl.lit(messages.alias("messages")),
        pl.lit(None, dtype=pl.String).alias("rejected"),
        pl.lit(None, dtype=pl.String).alias("lang"),
        pl.lit(None, dtype=pl.Float64).alias("lang_score"),
        pl.struct(file=pl.lit(file, dtype=pl.String), line=pl.Series(lines, dtype=pl.Int64)).alias("meta"),
    )
    return out.cast(RECORD_SCHEMA)


def jsonl_blocks(data: bytes) -> Iterator[tuple[list[int], list[bytes]]]:
    """(1-based line numbers, lines) of the non-blank lines, BLOCK_LINES at a time."""
    numbers: list[int] = []
    lines: list[bytes] = []
    for n, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            numbers.append(n)
            lines.append(line)
            if len(lines) == BLOCK_LINES:
                yield numbers, lines
                numbers, lines = [], []
    if lines:
        yield numbers, lines


def file_pieces(path, shown: str, src, fmt_holder: list, tally) -> Iterator:
    """A local file as records frames (blocks the fast path took) and RawRows (lines it did not), in file
    order. Same records, rejects and tally as `files.read_file`; `fmt_holder[0]` is the source's format."""
    from curate.core.files import (data_suffix, is_json_list, json_file_bytes, json_list_items, jsonl_row,
                                   numbered_rows, parquet_table, read_file)

    suffix = data_suffix(path)
    base = suffix[:-3] if suffix.endswith(".gz") else suffix
    if src.columns or src.limit or base not in (".json", ".jsonl", ".ndjson", ".parquet"):
        yield from read_file(path, shown, src.fieldnames, tally)  # columns/limit apply per row
        return
    if base == ".parquet":
        table = parquet_table(path, shown, tally)
        frame = to_records(table, _format(fmt_holder, table.row(0, named=True)), src.name, src.type, shown,
                           list(range(1, table.height + 1)))
        if frame is not None:
            yield frame
        else:
            yield from numbered_rows(shown, table.iter_rows(named=True))
        return
    data = json_file_bytes(path, shown)
    if is_json_list(data):
        items = json_list_items(data, shown, tally)
        frame = list_records(items, fmt_holder, src, shown)
        if frame is not None:
            yield frame
        else:
            yield from numbered_rows(shown, items)
        return
    seen = 0
    for numbers, lines in jsonl_blocks(data):
        seen += len(lines)
        frame = None
        first = jsonl_row(shown, numbers[0], lines[0]).value
        fmt = fmt_holder[0] if fmt_holder[0] or not isinstance(first, dict) else _format(fmt_holder, first)
        if fmt in FAST_FORMATS and isinstance(first, dict):
            parsed = parse_block(lines, fmt, first)
            frame = None if parsed is None else to_records(parsed, fmt, src.name, src.type, shown, numbers)
        if frame is not None:
            yield frame
        else:
            yield from (jsonl_row(shown, n, line) for n, line in zip(numbers, lines))
    tally.expected, tally.unit = seen, "non-blank lines"
    release_arrow_memory()


def release_arrow_memory() -> None:
    """Hand back to the system what the parsed blocks left free in Arrow's pool and in the C heap (the
    lines and blocks of bytes): polars allocates from neither, so kept it would only add to the peak."""
    import ctypes

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def list_records(items: list, fmt_holder: list, src, shown: str) -> pl.DataFrame | None:
    """A JSON list file's elements (parsed by Python's json, as the exact path parses them) as records,
    when every element is an object whose fields Arrow converts strictly; else None."""
    import pyarrow as pa

    if not items or not all(isinstance(item, dict) for item in items):
        return None
    fmt = _format(fmt_holder, items[0])
    if fmt not in FAST_FORMATS:
        return None
    schema = arrow_schema(fmt, {})
    keys = set().union(*map(dict.keys, items))
    if fmt == "sharegpt" and keys & {"chosen", "rejected"}:
        return None  # the exact path reads these as preference records
    try:
        table = pa.Table.from_pylist(items, schema=schema)  # other keys are ignored, as the converters do
    except Exception:  # noqa: BLE001 - a number where text belongs, a lone surrogate...: the exact path
        return None
    return to_records(pl.from_arrow(table), fmt, src.name, src.type, shown, list(range(1, len(items) + 1)))


def _format(fmt_holder: list, first: dict) -> str | None:
    """The source's format: as set, or detected from its first record (as the exact path detects it)."""
    from curate.loaders.formats import detect_format

    if fmt_holder[0] is None:
        fmt_holder[0] = detect_format(first)  # None: the exact path raises its error on that record
    return fmt_holder[0]
