"""The loader's fast path (Arrow blocks -> polars records) gives exactly what the record-by-record path
gives: same records (ids, messages, file:line), same rejects, same tallies — on real slices and on
lines built to sit on every edge of the fast path's checks."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from curate import loaders
from curate.loaders import columnar, load_source
from curate.recipe import Source


def _load(path: Path, fast: bool, monkeypatch, **opts):
    src = Source.model_validate({"name": "s", "path": path.name, "on_error": "reject", **opts})
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(columnar, "FAST_FORMATS", ())
        pieces = []  # per piece of the file: True for a block the fast path took, False for one exact row
        original = loaders.file_pieces

        def counting(*a, **k):
            for piece in original(*a, **k):
                pieces.append(isinstance(piece, pl.DataFrame))
                yield piece

        m.setattr(loaders, "file_pieces", counting)
        return load_source(src, path.parent), pieces


def assert_same(path: Path, monkeypatch, **opts) -> list[bool]:
    fast, taken = _load(path, True, monkeypatch, **opts)
    exact, _ = _load(path, False, monkeypatch, **opts)
    assert fast.records.to_dicts() == exact.records.to_dicts()
    assert fast.records.schema == exact.records.schema
    assert fast.rejects.to_dicts() == exact.rejects.to_dicts()
    assert (fast.inputs, fast.format) == (exact.inputs, exact.format)
    return taken


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_bytes(b"".join((r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode()) + b"\n"
                              for r in rows))
    return path


def test_whitespace_set_is_pythons():
    assert set(columnar.PY_WHITESPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()}


EDGES = [
    {"instruction": "问", "input": "", "output": "答", "id": "a0", "n": 1, "ok": True},  # other keys: from here
    {"instruction": "问", "input": "\u3000\x1c ", "output": "答"},  # blank by str.strip, not by Rust's
    {"instruction": "问", "input": "补充", "output": "答"},
    {"instruction": "问", "input": None, "output": "答"},
    {"instruction": "问", "output": "答", "system": "你是助手"},
    {"instruction": "问", "output": "答", "system": "  "},
    {"instruction": "问", "output": "答", "history": []},
    {"instruction": "问", "output": "答", "id": "a1"},
]


@pytest.mark.parametrize("bad", [
    None,  # every block clean: the fast path takes all of it
    b'{"instruction": "\\ud800", "output": "x"}',  # lone surrogate: kept by json, refused by Arrow
    b'{"instruction": 5, "output": "x"}',
    b'{"instruction": "a", "output": "x", "instruction": "b"}',  # json keeps the last value
    b'{"instruction": "a", "output": "x", "extra": [[[[1]]]]}',
    b'{"instruction": "a", "output": "x", "n": 1.5}',
    b'{"instruction": "a", "output": "x", "n": 1000000000000000000000000000000}',
    b'{"instruction": "a", "output": ["x", "y"]}',
    b'{"instruction": "a"}',
    b'{"instruction": "a", "output": "x"} {"instruction": "b", "output": "y"}',
    b'{"instruction": "a", "output": NaN}',
    b'{"instruction": "a", "output": "x", "history": [["q", "a"]]}',
    b'{"instruction": "\xe5\x9d", "output": "x"}',  # not UTF-8
    b'not json',
    b'   ',
])
def test_alpaca_edges_match_the_exact_path(tmp_path, monkeypatch, bad):
    rows = EDGES * 3 + ([bad] if bad is not None else []) + EDGES
    taken = assert_same(write_jsonl(tmp_path / "a.jsonl", rows), monkeypatch)
    assert taken == ([True] if bad is None or bad.strip() == b"" else [False] * (len(EDGES) * 4 + 1))


@pytest.mark.parametrize("turns,fast", [
    ([{"from": "human", "value": "你好"}, {"from": "gpt", "value": "你好！"}], True),
    ([{"from": "HUMAN", "value": "q"}, {"from": "ChatGPT", "value": "a"}, {"from": "user", "value": "q2"},
      {"from": "bot", "value": "a2"}], True),
    ([{"from": "gpt", "value": "a"}, {"from": "human", "value": "q"}], False),  # out of order: a reject
    ([{"from": "human", "value": "q"}, {"from": "robot", "value": "a"}], False),  # unknown role
    ([{"from": "system", "value": "s"}, {"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}], False),
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], False),
    ([], False),
    ([{"from": "human", "value": None}, {"from": "gpt", "value": "a"}], False),
])
def test_sharegpt_edges_match_the_exact_path(tmp_path, monkeypatch, turns, fast):
    good = {"conversations": [{"from": "human", "value": "问"}, {"from": "gpt", "value": "答"}], "system": "系统"}
    rows = [{"id": "x0", **good}, {"conversations": turns}, {"id": "x", **good}]
    taken = assert_same(write_jsonl(tmp_path / "s.jsonl", rows), monkeypatch)
    assert taken == ([True] if fast else [False] * 3)


def test_blocks_keep_line_numbers_across_blank_lines_and_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(columnar, "BLOCK_LINES", 7)
    rows = []
    for i in range(40):
        rows.append({"instruction": f"问题{i}", "input": "", "output": f"回答{i}"})
        if i % 9 == 0:
            rows.append(b"")
        if i == 23:
            rows.append(b'{"instruction": 1}')
    taken = assert_same(write_jsonl(tmp_path / "b.jsonl", rows), monkeypatch, format="belle")
    assert taken.count(False) == 7  # only the block holding the bad line went line by line
    fast, _ = _load(tmp_path / "b.jsonl", True, monkeypatch, format="belle")
    lines = fast.records["meta"].struct.field("line").to_list()
    assert lines == sorted(lines) and fast.rejects["meta"].struct.field("line").to_list() == [28]


def test_parquet_fast_and_exact_agree(tmp_path, monkeypatch):
    pl.DataFrame(EDGES[:4] * 5).write_parquet(tmp_path / "p.parquet")
    assert assert_same(tmp_path / "p.parquet", monkeypatch) == [True]
    pl.DataFrame({"instruction": ["a", "b"], "output": [1.5, 2.0]}).write_parquet(tmp_path / "f.parquet")
    assert assert_same(tmp_path / "f.parquet", monkeypatch) == [False, False]


@pytest.mark.parametrize("rel", ["belle_train/Belle_open_source_1k.json", "belle_train/dev1K.json",
                                 "sharegpt_zh/sharegpt_zh_1K.json"])
def test_real_slices_load_the_same_on_both_paths(tmp_path, monkeypatch, shared_data, rel):
    src = shared_data / rel
    copy = tmp_path / (src.stem + ".jsonl")
    copy.write_bytes(src.read_bytes())
    assert assert_same(copy, monkeypatch) == [True]


@pytest.mark.parametrize("extra,fast", [
    (None, True),
    ({"instruction": 5, "output": "x"}, False),
    ({"instruction": "a\ud800", "output": "x"}, False),
    ({"instruction": "a", "output": ["x", "y"]}, False),
    ({"instruction": "a", "output": "x", "anything": [[1], {"k": 2}]}, True),  # other keys: ignored by both
    ({"instruction": "a"}, False),
    ("not an object", False),
])
def test_json_lists_match_the_exact_path(tmp_path, monkeypatch, extra, fast):
    items = EDGES * 2 + ([extra] if extra is not None else [])
    path = tmp_path / "l.json"
    path.write_text(json.dumps(items, indent=1), encoding="utf-8")  # ASCII escapes: a lone surrogate stays valid UTF-8
    assert assert_same(path, monkeypatch) == ([True] if fast else [False] * len(items))


def test_real_json_list_loads_the_same_on_both_paths(monkeypatch, shared_data):
    src = shared_data / "alpaca_style_demo" / "llamafactory_alpaca_zh_demo.json"
    assert assert_same(src, monkeypatch) == [True]
