"""Build over the real public slices in ../shared/data (skipped when absent)."""

from __future__ import annotations

import polars as pl

from conftest import write_recipe
from curate.build import build
from curate.stages import STAGES
from curate.text import text_expr
from curate.core.version import load_version


def real_recipe(shared, clean):
    return {
        "name": "real",
        "sources": [
            {"name": "belle", "path": str(shared / "belle_train/Belle_open_source_1k.json"), "format": "belle", "type": "general",
             "license": "gpl-3.0"},
            {"name": "belle_math", "path": str(shared / "belle_train/dev1K.json"), "format": "belle", "type": "cot"},
            {"name": "sharegpt", "path": str(shared / "sharegpt_zh/sharegpt_zh_1K.json"), "type": "multiturn"},
            {"name": "dpo", "path": str(shared / "preference_zh/dpo_zh_500.jsonl"), "type": "alignment"},
            {"name": "oaast", "path": str(shared / "preference_zh/oaast_rm_zh.json"), "format": "preference", "type": "alignment",
             "on_error": "reject"},  # some ranked lists repeat one answer only
            {"name": "lf_dpo", "path": str(shared / "preference_zh/llamafactory_dpo_zh_demo.json"), "type": "alignment"},
            {"name": "medical", "path": str(shared / "preference_zh/medical_reward_test.json"), "type": "alignment"},
            {"name": "flan_cot", "path": str(shared / "cot/creak_train_first1000.json"), "format": "cot", "type": "cot"},
            {"name": "gsm8k", "path": str(shared / "cot/gsm8k_train_first1000.tsv"), "format": "cot", "type": "cot",
             "fieldnames": ["question", "answer", "rationale"]},
        ],
        "clean": clean,
    }


def test_every_real_format_loads_and_is_accounted(shared_data, tmp_path):
    res = build(write_recipe(tmp_path, real_recipe(shared_data, ["normalize"])), tmp_path / "out")
    acc = res.manifest["accounting"]
    assert {s: r["read"] for s, r in acc.items()} == {
        "belle": 1000, "belle_math": 1000, "sharegpt": 1000, "dpo": 500, "oaast": 775, "lf_dpo": 300, "medical": 100,
        "flan_cot": 1000, "gsm8k": 1000}
    assert all(r["read"] == r["kept"] + r["rejected"] for r in acc.values())
    rejected = load_version(res.dir).rejected()
    # the 7 ShareGPT conversations that end on a human turn (and the one with empty human turns) are caught
    share = rejected.filter(pl.col("source") == "sharegpt")
    assert share.filter(pl.col("reason") == "ends_with_user").height == 7
    assert share.filter(pl.col("reason") == "empty_turn").height >= 1  # ICZsSl7 and a few with an empty reply
    train = load_version(res.dir).split("train")
    prefs = train.filter(pl.col("rejected").is_not_null())
    assert set(prefs["source"].unique()) == {"dpo", "oaast", "lf_dpo", "medical"}


def test_cleaning_removes_what_is_really_there(shared_data, tmp_path):
    clean = ["normalize", {"convert": {"config": "t2s"}}, {"language": {"keep": ["zh"]}}, "filter"]
    clean += [{"dedup": {"method": "exact"}}] if "dedup" in STAGES else []
    res = build(write_recipe(tmp_path, real_recipe(shared_data, clean)), tmp_path / "out")
    funnel = {s["stage"]: s for s in res.manifest["funnel"]}
    conv = funnel["convert"]["stats"]
    # SOURCES.md: 90 ShareGPT conversations have a Traditional turn; all are converted
    assert conv["traditional_before_by_source"]["sharegpt"] >= 80
    assert conv["traditional_records_after"] == 0
    lang = funnel["language"]["by_source"]
    assert lang["flan_cot"]["rejected"] == 1000 and lang["gsm8k"]["rejected"] == 1000  # English CoT, keep: zh
    # the ~45 Belle rows with English material are Chinese tasks (translate, correct this sentence...): they stay;
    # only the English dialogue to summarize (line 183) is an English task
    assert lang["belle"]["rejected"] <= 3
    assert lang["belle_math"]["rejected"] <= 5  # Chinese math must survive
    reasons = funnel["filter"]["reasons"]
    assert reasons.get("vendor_mention", 0) >= 20  # ShareGPT answers presenting themselves as OpenAI's model
    assert reasons.get("ai_self_reference", 0) >= 1
    v = load_version(res.dir)
    texts = v.split("train").select(text_expr("assistant").alias("t"))["t"]  # replies may talk about OpenAI, not be it
    prose = texts.str.replace_all(r"(?s)```.*?```", "")  # a role-played dialogue inside a code block may say it
    assert not prose.str.contains("(?i)我是由openai|作为一个AI语言模型，我").any()
    assert texts.str.contains("(?i)chatgpt").sum() >= 20  # conversations about ChatGPT stay
    assert all(r["read"] == r["kept"] + r["rejected"] for r in res.manifest["accounting"].values())
