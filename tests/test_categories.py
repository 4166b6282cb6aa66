"""Content categories (curate/categories.py): the rules on realistic records, the manifest's table, the
report and `curate diff`, and the real slices."""

from __future__ import annotations

import json
from collections import Counter

import polars as pl
import pytest

from conftest import write_jsonl, write_recipe
from curate.build import build
from curate.categories import CATEGORIES, category_expr
from curate.diff import diff_versions, render_text
from curate.core.records import records_frame
from curate.stages import StageContext, stage_module
from curate.core.version import load_version

CSHARP = """下面是一个用 C# 计算斐波那契数列的程序：

```csharp
using System;

class Program
{
    static void Main(string[] args)
    {
        int a = 0, b = 1;
        for (int i = 0; i < 10; i++)
        {
            Console.WriteLine(a);
            int t = a + b;
            a = b;
            b = t;
        }
    }
}
```"""


def convo(*turns: str) -> list[dict]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]


def categories(*records: list[dict]) -> list[str]:
    rows = [{"id": str(i), "source": "s", "type": "general", "messages": m, "meta": {"file": "f", "line": i}}
            for i, m in enumerate(records)]
    return records_frame(rows).select(category_expr())["category"].to_list()


def test_rules_on_realistic_records():
    assert categories(
        convo("请问怎样打印斐波那契数列的前十项？", CSHARP),                                    # Chinese question, C# program
        convo("将以下句子翻译成中文：The quick brown fox jumps over the lazy dog.", "敏捷的棕色狐狸跳过了懒狗。"),
        convo("小明有8个苹果，他想平均送给4个朋友，每个朋友可以得到几个苹果？", "8÷4=2，每个朋友得到2个苹果。"),
        convo("让我们玩个游戏。", "当然，你想玩什么游戏？", "我们有4个词语：香蕉，竹子，炸弹，篮子。", "好的，请说规则。",
              "把香蕉叫做电脑。", "明白了，香蕉就是电脑。"),                                       # 3 user turns
        convo("请给出一个包含5个英文单词的列表。", "apple, river, cloud, stone, light"),
        convo("写一个Python函数，返回列表中的最大值。", "可以直接使用内置的 max 函数。"),                  # asks for code
        convo("给我推荐一本新的科幻小说。", "我推荐阿西莫夫的《银河帝国》系列。"),
    ) == ["code", "translation", "math", "multi-turn", "translation", "code", "other"]


def test_rules_ignore_words_that_only_look_like_a_category():
    assert categories(
        convo("为一款移动应用程序设计一个名字。", "“食光”：一款订餐应用程序。"),            # 应用程序 is an app
        convo("删除以下文本的最后两段。", "请提供文本。"),                                  # 删除以下 holds 除以
        convo("请求生成一句关于自然灾害的警示语。", "随时准备应对自然灾害！"),              # 请求 holds 求
        convo("2019年德国以德语为母语的人数是多少？", "大约7500万人。"),                    # a year, not a sum
        convo("确定二氧化碳和水反应的化学方程式。", "CO2 + H2O ⇌ H2CO3"),
        convo("Q: What involves interaction with ribosomes? Options: (A) translation (B) oxidation",
              "Translation reads the genetic code in mRNA and makes a protein."),
        convo("写一个销售电话脚本。", "您好，我是某公司的销售代表……"),
    ) == ["other"] * 7


def test_precedence_multi_turn_then_code_then_translation_then_math():
    assert categories(
        convo("这段代码有什么问题？", CSHARP, "能改成 Python 吗？", "可以。"),  # multi-turn beats code
        convo("将这段Python代码翻译成Java：print(1 + 2)", "System.out.println(1 + 2);"),  # code beats translation
        convo("把“3加5等于8”翻译成英文。", "Three plus five equals eight."),  # translation beats math
    ) == ["multi-turn", "code", "translation"]


def test_same_category_before_and_after_normalize_and_convert():
    """Categories are computed on kept and rejected tables, after text stages: they must not move."""
    records = [
        convo("請問怎樣用程式列印斐波那契數列？", CSHARP.replace("    ", "\t")),
        convo("將以下句子翻譯成中文：Ｈｅｌｌｏ　ｗｏｒｌｄ", "你好，世界。"),
        convo("小明有１０個糖果，分給小紅５個，還剩幾個？", "１０－５＝５，還剩５個。"),
        convo("用for循环构建以下表达式：10 + 2n", "```python\nfor n in range(1, 6):\n    print(10 + 2 * n)\n```"),
    ]
    rows = [{"id": str(i), "source": "s", "type": "general", "messages": m, "meta": {"file": "f", "line": i}}
            for i, m in enumerate(records)]
    table = records_frame(rows)
    ctx = StageContext(seed=0, source_order=["s"])
    norm, conv = stage_module("normalize"), stage_module("convert")
    cleaned = conv.apply(norm.apply(table, norm.Options(), ctx).kept, conv.Options(), ctx).kept
    assert cleaned["messages"].to_list() != table["messages"].to_list()  # the text did change
    before = table.select(category_expr())["category"].to_list()
    assert before == ["code", "translation", "math", "code"]
    assert cleaned.select(category_expr())["category"].to_list() == before


# --- a build the test writes ------------------------------------------------------------------------

ALPACA = [
    {"instruction": "请问怎样打印斐波那契数列的前十项？", "input": "", "output": CSHARP},
    {"instruction": "写一个Python函数，返回两个数的和。", "input": "",
     "output": "作为一个AI语言模型，我很乐意帮忙：\n```python\ndef add(a, b):\n    return a + b\n```"},
    {"instruction": "将以下句子翻译成中文：I like green tea.", "input": "", "output": "我喜欢绿茶。"},
    {"instruction": "将以下句子翻译成中文：I like green tea.", "input": "", "output": "我喜欢绿茶。"},  # exact copy
    {"instruction": "小明有12本书，平均分给3个朋友，每人几本？", "input": "", "output": "12÷3=4，每人4本。"},
    {"instruction": "小红有5颗糖，又买了3颗，一共有多少颗？", "input": "", "output": "5+3=8，一共有8颗糖。"},
    {"instruction": "给我推荐一本新的科幻小说。", "input": "", "output": "我推荐阿西莫夫的《银河帝国》系列。"},
    {"instruction": "写一句关于春天的诗。", "input": "", "output": "春风又绿江南岸，万物复苏百花开。"},
    {"instruction": "总结一个有效遗嘱的重要性。", "input": "", "output": "作为一个AI语言模型，我认为遗嘱能减少家庭纠纷。"},
]
SHAREGPT = [
    {"conversations": [{"from": "human", "value": "让我们玩个游戏。"}, {"from": "gpt", "value": "好的，玩什么？"},
                       {"from": "human", "value": "猜数字，1到10。"}, {"from": "gpt", "value": "我猜是7。"},
                       {"from": "human", "value": "猜对了！"}, {"from": "gpt", "value": "太好了！"}]},
    {"conversations": [{"from": "human", "value": "如何学习Python？"}, {"from": "gpt", "value": "先学基础语法，再多写小项目。"},
                       {"from": "human", "value": "推荐一本书吧。"}, {"from": "gpt", "value": "《Python编程：从入门到实践》。"}]},
    {"conversations": [{"from": "human", "value": "这段代码能运行吗？\nprint('hi')"}, {"from": "gpt", "value": "可以，会打印 hi。"},
                       {"from": "human", "value": "谢谢"}]},  # ends on the user: rejected
]


def small_recipe(tmp_path, **changes) -> dict:
    data = tmp_path / "data"
    (data / "alpaca.json").parent.mkdir(parents=True, exist_ok=True)
    (data / "alpaca.json").write_text(json.dumps(ALPACA, ensure_ascii=False), encoding="utf-8")
    write_jsonl(data / "sharegpt.jsonl", SHAREGPT)
    (data / "broken.jsonl").write_text('{"instruction": "好", "output": "好的"}\n{not json\n', encoding="utf-8")
    recipe = {"name": "cats", "seed": 1,
              "sources": [{"name": "alpaca", "path": str(data / "alpaca.json"), "format": "alpaca", "type": "general"},
                          {"name": "chat", "path": str(data / "sharegpt.jsonl"), "format": "sharegpt", "type": "multiturn"},
                          {"name": "broken", "path": str(data / "broken.jsonl"), "format": "alpaca", "type": "general",
                           "on_error": "reject"}],
              "clean": ["normalize", {"convert": {"config": "t2s"}}, "filter", {"dedup": {"method": "exact"}}],
              "mix": {"total": 9}}
    recipe.update(changes)
    return recipe


def independent_counts(version) -> list[dict]:
    """The manifest's table recomputed row by row from the version's parquet files, in plain Python."""
    kept = pl.concat([version.split(s) for s in ("train", "test") if (version.dir / f"{s}.parquet").exists()])
    kept = kept.unique(subset=["source", "meta"]).with_columns(category_expr())
    rejected = version.rejected().with_columns(category_expr())
    stages = [s["stage"] for s in version.manifest["funnel"]]
    fate = [(t, c, len(stages)) for t, c in kept.select("type", "category").iter_rows()]
    fate += [(t, c, stages.index(s)) for t, c, s in rejected.select("type", "category", "stage").iter_rows()]
    rows = []
    for i, stage in enumerate(stages):
        n_in = Counter((t, c) for t, c, pos in fate if pos >= i)
        n_rej = Counter((t, c) for t, c, pos in fate if pos == i)
        for t, c in sorted(n_in, key=lambda tc: (tc[0], CATEGORIES.index(tc[1]))):
            rows.append({"stage": stage, "type": t, "category": c, "in": n_in[(t, c)], "rejected": n_rej[(t, c)]})
    return rows


def test_manifest_table_matches_the_output_files(tmp_path):
    res = build(write_recipe(tmp_path, small_recipe(tmp_path)), tmp_path / "out")
    v = load_version(res.dir)
    rows = res.manifest["categories"]
    assert rows == independent_counts(v)
    # every stage's rows add up to the funnel
    for step in res.manifest["funnel"]:
        mine = [r for r in rows if r["stage"] == step["stage"]]
        assert (sum(r["in"] for r in mine), sum(r["rejected"] for r in mine)) == (step["in"], step["rejected"])
    cell = {(r["stage"], r["type"], r["category"]): r for r in rows}
    assert cell[("load", "general", "code")]["in"] == 2 and cell[("load", "general", "translation")]["in"] == 2
    assert cell[("load", "general", "other")]["rejected"] == 1            # the unparsable line: no text, `other`
    assert cell[("load", "multiturn", "multi-turn")]["in"] == 3
    assert cell[("dedup:exact", "general", "translation")]["rejected"] == 1  # the exact copy
    assert cell[("filter", "general", "code")]["rejected"] >= 1            # 作为一个AI语言模型 + code
    report = (res.dir / "report.md").read_text(encoding="utf-8")
    assert "## What cleaning did to each kind of record" in report and "| general | code |" in report
    assert "removed **" in report and "of code records" in report
    assert (res.dir / "plots" / "categories.png").stat().st_size > 5000


def test_two_builds_write_identical_category_tables(tmp_path):
    recipe = write_recipe(tmp_path, small_recipe(tmp_path))
    a, b = build(recipe, tmp_path / "a"), build(recipe, tmp_path / "b")
    assert a.version == b.version
    for name in ("manifest.json", "report.md", "plots/categories.png"):
        assert (a.dir / name).read_bytes() == (b.dir / name).read_bytes(), name


def test_diff_shows_kept_records_per_type_and_category(tmp_path):
    a = load_version(build(write_recipe(tmp_path, small_recipe(tmp_path), "a.yaml"), tmp_path / "out").dir)
    no_filter = small_recipe(tmp_path, clean=["normalize", {"convert": {"config": "t2s"}}, {"dedup": {"method": "exact"}}],
                             mix={"total": 20})
    b = load_version(build(write_recipe(tmp_path, no_filter, "b.yaml"), tmp_path / "out").dir)
    d = diff_versions(a, b)

    def kept(v) -> Counter:
        df = pl.concat([v.split(s) for s in ("train", "test") if (v.dir / f"{s}.parquet").exists()])
        return Counter(df.unique(subset=["source", "meta"]).select("type", category_expr()).iter_rows())

    ka, kb = kept(a), kept(b)
    assert {(g["type"], g["category"]): (g["a"], g["b"], g["delta"]) for g in d["categories"]["kept"]} == {
        k: (ka[k], kb[k], kb[k] - ka[k]) for k in set(ka) | set(kb)}
    assert any(g["delta"] > 0 for g in d["categories"]["kept"] if g["category"] == "code")  # the filter's code reject
    assert any(r["stage"] == "filter" and r["a"] > 0 and r["b"] == 0 for r in d["categories"]["rejected"])
    text = render_text(d)
    assert "content categories (kept records, by type):" in text and "general / code" in text


def test_real_slices_every_record_has_a_category(shared_data, tmp_path):
    sources = [{"name": "belle", "path": str(shared_data / "belle_train/Belle_open_source_1k.json"), "format": "belle",
                "type": "general"},
               {"name": "alpaca_zh", "path": str(shared_data / "alpaca_style_demo/llamafactory_alpaca_zh_demo.json"),
                "format": "alpaca", "type": "general"},
               {"name": "sharegpt", "path": str(shared_data / "sharegpt_zh/sharegpt_zh_1K.json"), "type": "multiturn"},
               {"name": "belle_math", "path": str(shared_data / "belle_train/dev1K.json"), "format": "belle", "type": "math"}]
    clean = ["normalize", {"convert": {"config": "t2s", "per_source": {"sharegpt": "tw2sp"}}},
             {"language": {"keep": ["zh"], "min_score": 0.5}}, "filter", {"dedup": {"method": "exact"}},
             {"dedup": {"method": "minhash"}}]
    res = build(write_recipe(tmp_path, {"name": "real", "sources": sources, "clean": clean}), tmp_path / "out")
    raw = build(write_recipe(tmp_path, {"name": "raw", "sources": sources, "clean": []}, "raw.yaml"), tmp_path / "out")
    rows = res.manifest["categories"]
    assert {r["category"] for r in rows} == set(CATEGORIES)
    for step in res.manifest["funnel"]:
        mine = [r for r in rows if r["stage"] == step["stage"]]
        assert (sum(r["in"] for r in mine), sum(r["rejected"] for r in mine)) == (step["in"], step["rejected"])
    assert sum(r["in"] for r in rows if r["stage"] == "load") == 4000
    # the category of a kept or rejected record is the one it had as loaded, before the text stages
    def everything(v) -> pl.DataFrame:  # kept and rejected records (the raw build's validate step rejects 8)
        return pl.concat([v.split("train").select("source", "meta", "messages", "rejected"),
                          v.rejected().select("source", "meta", "messages", "rejected")])

    loaded, after = everything(load_version(raw.dir)), everything(load_version(res.dir))
    joined = loaded.select("source", "meta", category_expr().alias("loaded")).join(
        after.select("source", "meta", category_expr().alias("after")), on=["source", "meta"])
    assert joined.height == 4000
    assert joined.filter(pl.col("loaded") != pl.col("after")).height == 0
    share = dict(joined.group_by("loaded").len().iter_rows())
    assert share["multi-turn"] > 600 and share["math"] > 900 and share["code"] > 100 and share["translation"] > 40
