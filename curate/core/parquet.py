"""Byte-stable Parquet, written in one go, streamed in chunks, or concatenated from parts that
others encoded: the same rows give the same bytes.

Row groups hold exactly `ROW_GROUP` rows (the last one the rest), each encoded from one contiguous
Arrow table, so every page, dictionary and statistic depends on the rows and their index only,
never on how they arrived (one frame locally). On Ray each row group is encoded by a worker
(`encode_rows`) and `ParquetConcat` lays their bytes end to end under one footer, whose offsets
it moves: the file a `ParquetStream` would have written.
"""

from __future__ import annotations

import struct
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from curate.core.thrift_compact import read_struct, write_struct

ROW_GROUP = 65_536
OPTIONS = dict(compression="zstd", compression_level=3, write_statistics=True, version="2.6",
               data_page_version="1.0", write_page_index=False, store_schema=True)
# dictionary pages only for the few-valued columns (ids and texts compress better plain)
DICTIONARY = ("source", "type", "lang", "stage", "reason", "meta.file", "messages.list.element.role")


def arrow_schema(schema: dict[str, pl.DataType] | pl.Schema) -> pa.Schema:
    """The Arrow schema polars gives a frame of this schema (large strings and lists)."""
    return pl.DataFrame(schema=dict(schema)).to_arrow().schema


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    paths = []

    def walk(prefix: str, t: pa.DataType) -> None:
        if pa.types.is_struct(t):
            for f in t:
                walk(f"{prefix}.{f.name}", f.type)
        elif pa.types.is_large_list(t) or pa.types.is_list(t):
            walk(f"{prefix}.list.element", t.value_type)
        else:
            paths.append(prefix)

    for f in schema:
        walk(f.name, f.type)
    return [p for p in paths if p in DICTIONARY]


class ParquetStream:
    """Append chunks (polars frames or Arrow tables) of one schema; `close` writes the last row group."""

    def __init__(self, path: Path, schema: dict[str, pl.DataType] | pl.Schema, row_group: int = ROW_GROUP):
        self.schema = arrow_schema(schema)
        self.row_group = row_group
        self.rows = 0
        self._buf: list[pa.Table] = []
        self._buffered = 0
        where = str(path) if isinstance(path, (str, Path)) else path  # or a pyarrow output stream
        self._writer = pq.ParquetWriter(where, self.schema, use_dictionary=_dictionary_columns(self.schema), **OPTIONS)

    def write(self, chunk: pl.DataFrame | pa.Table) -> None:
        table = chunk.to_arrow() if isinstance(chunk, pl.DataFrame) else chunk
        if table.num_rows == 0:
            return
        table = table.select(self.schema.names).cast(self.schema)
        self._buf.append(table)
        self._buffered += table.num_rows
        self.rows += table.num_rows
        while self._buffered >= self.row_group:
            self._flush(self.row_group)

    def _flush(self, n: int) -> None:
        whole = pa.concat_tables(self._buf)
        self._writer.write_table(whole.slice(0, n).combine_chunks(), row_group_size=n)
        rest = whole.slice(n)
        self._buf, self._buffered = ([rest] if rest.num_rows else []), rest.num_rows

    def close(self) -> None:
        if self._buffered:
            self._flush(self._buffered)
        self._writer.close()

    def __enter__(self) -> "ParquetStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_parquet(table: pl.DataFrame, path: Path) -> None:
    """A whole frame through the same writer (the local engine's path), one row group's rows at a time
    (so only that slice is ever converted to Arrow)."""
    with ParquetStream(path, table.schema) as out:
        for start in range(0, table.height, ROW_GROUP):
            out.write(table.slice(start, ROW_GROUP))


def encode_rows(chunk: pl.DataFrame | pa.Table, schema, row_group: int = ROW_GROUP) -> bytes:
    """A standalone Parquet file of these rows: whole row groups of the final file (its rows start
    at a multiple of `row_group`), for `ParquetConcat`."""
    sink = pa.BufferOutputStream()
    with ParquetStream(sink, schema, row_group) as out:
        out.write(chunk)
    return sink.getvalue().to_pybytes()


def row_group_plan(sizes: list[int], row_group: int = ROW_GROUP) -> list[list[tuple[int, int, int]]]:
    """Per row group of a file made of blocks of `sizes` rows, in order: its (block, start, end) pieces."""
    plan, current, room = [], [], row_group
    for b, n in enumerate(sizes):
        at = 0
        while at < n:
            take = min(room, n - at)
            current.append((b, at, at + take))
            at, room = at + take, room - take
            if room == 0:
                plan.append(current)
                current, room = [], row_group
    return plan + ([current] if current else [])


_CHUNK_OFFSETS = (2, 4, 6)  # ColumnChunk: file_offset, offset_index_offset, column_index_offset
_META_OFFSETS = (9, 10, 11, 14)  # ColumnMetaData: data/index/dictionary page and bloom filter offsets


def _field(fields: list, fid: int):
    return next(v for f, _, v in fields if f == fid)


def _moved(group: list, shift: int, ordinal: int) -> list:
    """A RowGroup's metadata with every file offset moved by `shift` and its ordinal set."""
    def chunk(fields):
        out = []
        for f, t, v in fields:
            if f == 3:
                v = [(mf, mt, mv + shift if mf in _META_OFFSETS else mv) for mf, mt, mv in v]
            elif f in _CHUNK_OFFSETS and v:  # 0: not set
                v += shift
            out.append((f, t, v))
        return out

    out = []
    for f, t, v in group:
        if f == 1:
            v = (v[0], [chunk(c) for c in v[1]])
        elif f == 5 and v:
            v += shift
        elif f == 7:
            v = ordinal
        out.append((f, t, v))
    return out


class ParquetConcat:
    """One Parquet file from `encode_rows` parts given in row order (one part held at a time)."""

    def __init__(self, path: Path, schema):
        self.path, self.schema = Path(path), schema
        self._file = open(self.path, "wb")
        self._file.write(b"PAR1")
        self._pos, self._groups, self._rows, self._meta = 4, [], 0, None

    def append(self, part: bytes) -> None:
        n = struct.unpack("<I", part[-8:-4])[0]
        meta, _ = read_struct(part[len(part) - 8 - n:len(part) - 8])
        for group in _field(meta, 4)[1]:
            self._groups.append(_moved(group, self._pos - 4, len(self._groups)))
        self._rows += _field(meta, 3)
        self._meta = self._meta or meta
        data = memoryview(part)[4:len(part) - 8 - n]
        self._file.write(data)
        self._pos += len(data)

    def close(self) -> None:
        if self._meta is None:  # no rows: the writer's own empty file
            self._file.close()
            ParquetStream(self.path, self.schema).close()
            return
        meta = [(f, t, self._rows if f == 3 else ((12, self._groups) if f == 4 else v)) for f, t, v in self._meta]
        footer = bytearray()
        write_struct(footer, meta)
        self._file.write(footer)
        self._file.write(struct.pack("<I", len(footer)) + b"PAR1")
        self._file.close()
