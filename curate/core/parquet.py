"""Byte-stable Parquet, written in one go or streamed in chunks: the same rows give the same bytes.

Row groups hold exactly `ROW_GROUP` rows (the last one the rest), each encoded from one contiguous
Arrow table, so every page, dictionary and statistic depends on the rows and their index only,
never on how they arrived (one frame locally, one block at a time on Ray).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

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
        self._writer = pq.ParquetWriter(str(path), self.schema, use_dictionary=_dictionary_columns(self.schema), **OPTIONS)

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
    """A whole frame through the same writer (the local engine's path)."""
    with ParquetStream(path, table.schema) as out:
        out.write(table)
