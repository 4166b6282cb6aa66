"""The version files' Parquet writer: the same rows give the same bytes, however they are chunked."""

from __future__ import annotations

import random
import subprocess
import sys

import polars as pl

from curate.core.parquet import ParquetStream, write_parquet
from curate.core.records import REJECT_SCHEMA

from conftest import REPO


def _rows(n: int) -> pl.DataFrame:
    rnd = random.Random(7)
    rows = [{"id": f"{i:016x}", "source": rnd.choice(["a", "b", "繁體"]), "type": "sft",
             "messages": [{"role": "user", "content": "问" * rnd.randint(0, 40) + str(i)},
                          {"role": "assistant", "content": rnd.choice(["", "答𠀀" * rnd.randint(1, 90)])}],
             "rejected": None if i % 3 else "no", "lang": rnd.choice(["zh", "en", None]),
             "lang_score": None if i % 11 == 0 else rnd.random(), "meta": {"file": f"f{i % 2}.jsonl", "line": i},
             "stage": rnd.choice(["load", "filter", None]), "reason": "r", "detail": None, "twin_id": None, "raw": None}
            for i in range(n)]
    return pl.DataFrame(rows, schema=REJECT_SCHEMA)


def _chunked(df: pl.DataFrame, path, sizes, row_group: int, arrow: bool = False) -> bytes:
    with ParquetStream(path, REJECT_SCHEMA, row_group=row_group) as out:
        at = 0
        for k in sizes:
            part = df.slice(at, k)
            out.write(part.to_arrow() if arrow else part)
            at += k
        out.write(df.slice(at))
    return path.read_bytes()


def test_one_frame_or_uneven_chunks_give_the_same_bytes(tmp_path):
    df = _rows(530)
    whole = _chunked(df, tmp_path / "whole.parquet", [], 64)
    uneven = _chunked(df, tmp_path / "uneven.parquet", [1, 0, 63, 2, 200, 7, 64, 3], 64)
    tiny = _chunked(df, tmp_path / "tiny.parquet", [1] * 130, 64, arrow=True)
    assert whole == uneven == tiny
    assert pl.read_parquet(tmp_path / "uneven.parquet").equals(df)
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(tmp_path / "uneven.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [64] * 8 + [18]


def test_write_parquet_is_the_stream_and_byte_stable_across_processes(tmp_path):
    df = _rows(300)
    write_parquet(df, tmp_path / "a.parquet")
    assert _chunked(df, tmp_path / "b.parquet", [5, 100], 65_536) == (tmp_path / "a.parquet").read_bytes()
    code = ("import sys, polars as pl; from curate.core.parquet import write_parquet; "
            "write_parquet(pl.read_parquet(sys.argv[1]), sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.parquet"), str(tmp_path / "c.parquet")],
                   check=True, cwd=REPO)
    assert (tmp_path / "c.parquet").read_bytes() == (tmp_path / "a.parquet").read_bytes()


def test_an_empty_table_reads_back_with_its_schema(tmp_path):
    write_parquet(pl.DataFrame(schema=REJECT_SCHEMA), tmp_path / "e.parquet")
    back = pl.read_parquet(tmp_path / "e.parquet")
    assert back.height == 0 and back.schema == pl.Schema(REJECT_SCHEMA)


def test_parts_encoded_apart_and_concatenated_give_the_streamed_bytes(tmp_path):
    """Ray's layout: row groups encoded by workers from pieces of blocks, one footer with moved offsets."""
    from curate.core.parquet import ParquetConcat, encode_rows, row_group_plan
    from curate.core.thrift_compact import read_struct, write_struct

    df = _rows(530)
    blocks = _chunks_of(df, [100, 3, 0, 200, 227])
    plan = row_group_plan([b.height for b in blocks], 64)
    assert [sum(e - s for _, s, e in g) for g in plan] == [64] * 8 + [18]
    out = ParquetConcat(tmp_path / "cat.parquet", REJECT_SCHEMA)
    for group in plan:
        out.append(encode_rows(pl.concat([blocks[b].slice(s, e - s) for b, s, e in group]), REJECT_SCHEMA, 64))
    out.close()
    assert (tmp_path / "cat.parquet").read_bytes() == _chunked(df, tmp_path / "whole.parquet", [], 64)
    empty = ParquetConcat(tmp_path / "empty.parquet", REJECT_SCHEMA)
    empty.close()
    write_parquet(df.clear(), tmp_path / "e.parquet")
    assert (tmp_path / "empty.parquet").read_bytes() == (tmp_path / "e.parquet").read_bytes()
    whole = (tmp_path / "whole.parquet").read_bytes()  # the footer's thrift reads and writes back byte for byte
    n = int.from_bytes(whole[-8:-4], "little")
    fields, end = read_struct(whole[-8 - n:-8])
    again = bytearray()
    write_struct(again, fields)
    assert bytes(again) == whole[-8 - n:-8] and end == n


def _chunks_of(df: pl.DataFrame, sizes: list[int]) -> list[pl.DataFrame]:
    out, at = [], 0
    for k in sizes:
        out.append(df.slice(at, k))
        at += k
    return out
