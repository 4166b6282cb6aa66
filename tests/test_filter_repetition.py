"""The filter's vectorised repetition ratio equals the per-text set count, chunk boundaries included."""

from __future__ import annotations

import json

import polars as pl

from curate.stages import quality_filter
from curate.stages.quality_filter import repetition_ratio, repetition_ratios


def test_vectorised_repetition_equals_per_text_sets_on_real_replies(shared_data, monkeypatch):
    lines = (shared_data / "sharegpt_zh/sharegpt_zh_1K.json").read_text(encoding="utf-8").splitlines()
    replies = [t["value"] for x in lines if x.strip() for t in json.loads(x)["conversations"] if t["from"] == "gpt"]
    # looped and short texts: the rule's positives and the texts shorter than n
    texts = replies + ["好的好的好的好的好的好的好的好的", "短", "", None, "一二三四五六七八九", "一二三四五六七八九十"]
    monkeypatch.setattr(quality_filter, "REPETITION_CHUNK", 97)  # many chunks, none aligned with anything
    for n in (3, 10):
        got = repetition_ratios(pl.Series(texts, dtype=pl.String), n).to_list()
        assert got == [repetition_ratio(t or "", n) for t in texts]
    assert max(got) > 0.5 and sum(r > 0 for r in got) > 100  # real replies do repeat 10-grams
