"""convert hands OpenCC only texts holding a witness character: every text it skips must be one OpenCC leaves alone."""

from __future__ import annotations

import json

import polars as pl
import pytest

from curate.stages import StageContext, convert
from curate.stages.convert import _dictionary_entries, converter, dictionary_chars

CONFIGS = ["t2s", "tw2sp", "hk2s", "s2t", "s2twp"]


@pytest.mark.parametrize("config", CONFIGS)
def test_every_changing_entry_and_character_holds_a_witness(config):
    regex, cc = dictionary_chars(config), converter(config)
    assert regex is not None
    keys = [k for k, _ in _dictionary_entries(config)]
    chars = [chr(c) for c in range(0x3400, 0xA000)] + [chr(c) for c in range(0xF900, 0xFB00)]
    texts = pl.Series(keys + chars, dtype=pl.String)
    skipped = texts.filter(~texts.str.contains(regex)).to_list()
    changed = [t for t in skipped if cc.convert(t) != t]
    assert changed == [], f"{config}: {len(changed)} skipped texts that OpenCC changes, e.g. {changed[:5]}"
    assert len(skipped) > 20000  # most CJK characters have no Traditional form to convert


def test_real_conversations_convert_as_with_opencc_on_every_turn(shared_data):
    lines = (shared_data / "sharegpt_zh/sharegpt_zh_1K.json").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(x) for x in lines if x.strip()]  # JSONL under a .json name
    turns = [t["value"] for r in rows for t in r["conversations"] if t.get("value")]
    msgs = [[{"role": ("user", "assistant")[i % 2], "content": t}] for i, t in enumerate(turns)]
    table = pl.DataFrame({"id": [""] * len(msgs), "source": ["s"] * len(msgs), "type": ["general"] * len(msgs),
                          "messages": msgs, "rejected": [None] * len(msgs), "lang": [None] * len(msgs),
                          "lang_score": [None] * len(msgs), "meta": [{"file": "f", "line": i} for i in range(len(msgs))]},
                         schema_overrides={"rejected": pl.String, "lang": pl.String, "lang_score": pl.Float64})
    out = convert.apply(table, convert.Options(), StageContext())
    t2s = converter("t2s")
    assert [m[0]["content"] for m in out.kept["messages"].to_list()] == [t2s.convert(t) for t in turns]
    changed = sum(t2s.convert(t) != t for t in turns)
    assert out.stats["turns_converted"] == changed == out.stats["traditional_records_before"] > 50
