"""Loaders: every format with its real-world quirks, and bad input named by file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import write_jsonl
from curate.core.errors import UserError
from curate.loaders import load_source
from curate.recipe import Source


def load(tmp_path: Path, filename: str, content, **source):
    path = tmp_path / filename
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    return load_source(Source(name="s", path=filename, **source), tmp_path)


def messages(result) -> list:
    return result.records["messages"].to_list()


def test_alpaca_list_with_input_history_and_system(tmp_path):
    res = load(tmp_path, "a.json", [
        {"instruction": "翻译成英文", "input": "你好", "output": "Hello", "system": "你是翻译。",
         "history": [["在吗", "在的"]]},
        {"instruction": "介绍长城", "input": "", "output": "长城很长。"},
    ])
    assert res.format == "alpaca"
    first, second = messages(res)
    assert [m["role"] for m in first] == ["system", "user", "assistant", "user", "assistant"]
    assert first[3]["content"] == "翻译成英文\n你好"
    assert second == [{"role": "user", "content": "介绍长城"}, {"role": "assistant", "content": "长城很长。"}]
    assert res.records["meta"].to_list() == [{"file": "a.json", "line": 1}, {"file": "a.json", "line": 2}]


def test_jsonl_under_json_name_is_detected(tmp_path):
    rows = [{"instruction": f"问题{i}", "input": "", "output": f"回答{i}"} for i in range(3)]
    path = write_jsonl(tmp_path / "belle.json", rows)
    res = load_source(Source(name="b", path=path.name, format="belle"), tmp_path)
    assert res.records.height == 3
    assert res.records["meta"].struct.field("line").to_list() == [1, 2, 3]


def test_sharegpt_roles_and_system(tmp_path):
    res = load(tmp_path, "s.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"conversations": [{"from": "system", "value": "助手"}, {"from": "human", "value": "你好"}, {"from": "gpt", "value": "你好！"}]},
        {"conversations": [{"role": "user", "content": "嗨"}, {"role": "assistant", "content": "嗨！"}]},
    ]))
    assert res.format == "sharegpt"
    assert [m["role"] for m in messages(res)[0]] == ["system", "user", "assistant"]
    assert messages(res)[1][1] == {"role": "assistant", "content": "嗨！"}


def test_preference_variants(tmp_path):
    strings = load(tmp_path, "p1.jsonl", json.dumps({"prompt": "问", "chosen": "好答", "rejected": "坏答"}, ensure_ascii=False))
    assert strings.format == "preference"
    assert messages(strings)[0][-1]["content"] == "好答" and strings.records["rejected"].to_list() == ["坏答"]

    lf = load(tmp_path, "p2.json", [{"conversations": [{"from": "system", "value": "系统"}, {"from": "human", "value": "问"}],
                                     "chosen": {"from": "gpt", "value": "好"}, "rejected": {"from": "gpt", "value": "坏"}}])
    assert [m["role"] for m in messages(lf)[0]] == ["system", "user", "assistant"]
    assert lf.records["rejected"].to_list() == ["坏"]

    medical = load(tmp_path, "p3.jsonl", json.dumps({"question": "头疼怎么办", "response_chosen": "休息", "response_rejected": "不管"}, ensure_ascii=False))
    assert medical.format == "preference" and medical.records["rejected"].to_list() == ["不管"]

    # oaast-style ranked list whose first two answers repeat: best vs next *different*
    oaast = load(tmp_path, "p4.json", [{"instruction": "你是谁", "input": "", "output": ["我是助手", "我是助手", "不告诉你"], "history": []}])
    assert messages(oaast)[0][-1]["content"] == "我是助手" and oaast.records["rejected"].to_list() == ["不告诉你"]


def test_cot_formats_and_headerless_tsv(tmp_path):
    flan = load(tmp_path, "c.json", [{"inputs": "2+3=?", "targets": "2+3=5。答案：5"}])
    assert flan.format == "cot" and messages(flan)[0][1]["content"] == "2+3=5。答案：5"
    (tmp_path / "g.tsv").write_text("小明有3个苹果，吃了1个，还剩几个？\t2\t3-1=2\n", encoding="utf-8")
    gsm = load_source(Source(name="g", path="g.tsv", format="cot", fieldnames=["question", "answer", "rationale"]), tmp_path)
    assert messages(gsm)[0][1]["content"] == "3-1=2\n2"


def test_columns_mapping_like_llamafactory(tmp_path):
    res = load(tmp_path, "odd.json", [{"q": "问题", "a": "回答"}], format="alpaca", columns={"instruction": "q", "output": "a"})
    assert messages(res)[0] == [{"role": "user", "content": "问题"}, {"role": "assistant", "content": "回答"}]


def test_malformed_line_fails_with_file_and_line(tmp_path):
    content = '{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": \n'
    with pytest.raises(UserError, match=r"bad\.jsonl:2: malformed JSON"):
        load(tmp_path, "bad.jsonl", content)


def test_malformed_line_rejected_when_recipe_says_so(tmp_path):
    content = '{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": \n{"instruction": "d"}\n'
    res = load(tmp_path, "bad.jsonl", content, on_error="reject")
    assert res.records.height == 1
    rej = res.rejects.to_dicts()
    assert [(r["reason"], r["meta"]["line"]) for r in rej] == [("parse_error", 2), ("schema_error", 3)]
    assert rej[0]["raw"].startswith('{"instruction": "c"') and "`output`: missing" in rej[1]["detail"]


def test_missing_field_names_field_and_line(tmp_path):
    with pytest.raises(UserError, match=r"m\.json:2: field `output`: missing"):
        load(tmp_path, "m.json", [{"instruction": "a", "output": "b"}, {"instruction": "c"}], format="alpaca")


def test_wrong_type_is_a_schema_error(tmp_path):
    with pytest.raises(UserError, match=r"field `conversations\[1\].value`: expected a string"):
        load(tmp_path, "w.jsonl", json.dumps({"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": 3.5}]}))


def test_non_utf8_bytes_name_the_line(tmp_path):
    data = '{"instruction": "好", "output": "好"}\n'.encode() + '{"instruction": "坏", "output": "坏"}\n'.encode("gbk")
    with pytest.raises(UserError, match=r"n\.jsonl:2: not UTF-8"):
        load(tmp_path, "n.jsonl", data)
    res = load(tmp_path, "n.jsonl", data, on_error="reject")
    assert res.records.height == 1 and res.rejects["reason"].to_list() == ["parse_error"]


def test_empty_file_and_unknown_format(tmp_path):
    with pytest.raises(UserError, match="e.json: file is empty"):
        load(tmp_path, "e.json", "")
    with pytest.raises(UserError, match=r"cannot tell the format .* \['foo'\]"):
        load(tmp_path, "u.jsonl", '{"foo": 1}\n')
    with pytest.raises(UserError, match="unknown file type"):
        load(tmp_path, "x.txt", "hello")


def test_turns_must_alternate(tmp_path):
    res = load(tmp_path, "t.jsonl", json.dumps({"conversations": [{"from": "human", "value": "a"}, {"from": "human", "value": "b"}]}),
               on_error="reject")
    assert res.rejects["reason"].to_list() == ["schema_error"] and "alternate" in res.rejects["detail"][0]


def test_glob_and_missing_path(tmp_path):
    for i in range(2):
        write_jsonl(tmp_path / "parts" / f"p{i}.jsonl", [{"instruction": f"问{i}", "output": f"答{i}"}])
    res = load_source(Source(name="s", path="parts/*.jsonl"), tmp_path)
    assert [f["path"] for f in res.inputs] == ["parts/p0.jsonl", "parts/p1.jsonl"]
    with pytest.raises(UserError, match="no file matches"):
        load_source(Source(name="s", path="nothing/*.json"), tmp_path)


def test_hub_source_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(UserError, match="cannot load Hub dataset `someone/nothing-here`"):
        load_source(Source(name="h", hub="someone/nothing-here", revision="0" * 40), tmp_path)


def test_hub_code_path_reads_a_local_dataset_folder(tmp_path):
    """`hub:` goes through datasets.load_dataset; a local folder stands in for the Hub offline."""
    write_jsonl(tmp_path / "ds" / "train.jsonl", [{"instruction": "问", "output": "答"}])
    res = load_source(Source(name="h", hub=str(tmp_path / "ds"), split="train"), tmp_path)
    assert messages(res) == [[{"role": "user", "content": "问"}, {"role": "assistant", "content": "答"}]]
    assert res.inputs[0]["reproducible"] is False
