"""decontaminate stage: eval-set readers, match rules, generic stems, real Belle-eval/C-Eval items, build accounting."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from conftest import write_jsonl, write_recipe
from curate.build import build
from curate.core.errors import UserError
from curate.recipe import load_recipe
from curate.core.records import records_frame, with_ids
from curate.stages import StageContext, decontaminate as dc
from curate.stages.eval_sets import read_eval_items


def rec(prompt: str, line: int, source: str = "train") -> dict:
    return {"source": source, "type": "general", "meta": {"file": f"{source}.json", "line": line},
            "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": "好的。"}]}


def run(rows: list[dict], base: Path, **opts):
    return dc.apply(with_ids(records_frame(rows)), dc.Options(**opts), StageContext(base_dir=base))


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


# ---- readers -------------------------------------------------------------------------------------

def test_reads_every_eval_format(tmp_path):
    write_jsonl(tmp_path / "belle/eval_set.json", [{"question": "第一题是什么", "std_answer": "", "class": "open qa"},
                                                    {"question": "第二题", "std_answer": "x", "class": "math"}])
    write_csv(tmp_path / "ceval/val/law_val.csv", ["id", "question", "A", "B", "C", "D", "answer"],
              [[0, "下列说法正确的是____。", "甲", "乙", "丙", "丁", "A"]])
    write_csv(tmp_path / "cmmlu/dev/arts.csv", ["", "Question", "A", "B", "C", "D", "Answer"], [[0, "哪一个是画家", "齐白石", "鲁迅", "老舍", "巴金", "A"]])
    (tmp_path / "mmcu.json").write_text(json.dumps([{"类别": "心理", "题目": "＿不是社会化的载体。", "选项": "A:家庭\nB:大学", "答案": "B"}],
                                                   ensure_ascii=False), encoding="utf-8")
    (tmp_path / "alpaca.json").write_text(json.dumps([{"instruction": "翻译成英文", "input": "你好世界", "output": "Hello"}],
                                                     ensure_ascii=False), encoding="utf-8")
    (tmp_path / "q.txt").write_text("第一行问题\n\n第三行问题\n", encoding="utf-8")
    items = read_eval_items(["belle/eval_set.json", "ceval/val", "cmmlu", "mmcu.json", "alpaca.json", "q.txt"], tmp_path)
    got = {(i.where, i.group): i.text for i in items}
    assert got == {
        ("belle/eval_set.json:1", "belle/eval_set.json"): "第一题是什么",
        ("belle/eval_set.json:2", "belle/eval_set.json"): "第二题",
        ("ceval/val/law_val.csv:2", "ceval/val"): "下列说法正确的是____。\nA. 甲\nB. 乙\nC. 丙\nD. 丁",
        ("cmmlu/dev/arts.csv:2", "cmmlu"): "哪一个是画家\nA. 齐白石\nB. 鲁迅\nC. 老舍\nD. 巴金",
        ("mmcu.json:1", "mmcu.json"): "＿不是社会化的载体。\nA:家庭\nB:大学",
        ("alpaca.json:1", "alpaca.json"): "翻译成英文\n你好世界",
        ("q.txt:1", "q.txt"): "第一行问题",
        ("q.txt:3", "q.txt"): "第三行问题",
    }


def test_missing_eval_set_names_the_path(tmp_path):
    with pytest.raises(UserError, match="eval set `nowhere/eval.json` not found"):
        run([rec("你好", 1)], tmp_path, against=["nowhere/eval.json"])


def test_row_without_question_field_names_file_and_line(tmp_path):
    write_jsonl(tmp_path / "e.jsonl", [{"question": "好问题在这里"}, {"answer": "没有问题字段"}])
    with pytest.raises(UserError, match=r"e\.jsonl:2: no question field"):
        run([rec("你好", 1)], tmp_path, against=["e.jsonl"])


@pytest.mark.parametrize("bad", [{"against": []}, {"against": [""]}, {}, {"against": ["x"], "ngram": 2},
                                 {"against": ["x"], "min_coverage": 0}, {"against": ["x"], "near_threshold": 1.2},
                                 {"against": ["x"], "agaisnt": ["y"]}])
def test_bad_options_are_refused(bad):
    with pytest.raises(ValidationError):
        dc.Options(**bad)


def test_recipe_error_names_key_path(tmp_path):
    path = write_recipe(tmp_path, {"name": "r", "sources": [{"name": "a", "path": "a.jsonl"}],
                                   "clean": [{"dedup": {"method": "exact"}}, {"dedup": {"method": "minhash", "threshold": 2}}]})
    with pytest.raises(UserError, match=r"clean\[1\]\.dedup\.threshold"):
        load_recipe(path)


# ---- rules ---------------------------------------------------------------------------------------

EVAL = ["请写一篇关于人工智能如何改变医疗行业的短文，要求不少于三百字。",
        "解释一下为什么天空是蓝色的，并用小学生能听懂的语言说明。",
        "把下面这句话翻译成英文：今天的会议推迟到下午三点举行。",
        "你好吗"]


def test_exact_ngram_and_near_rules(tmp_path):
    write_jsonl(tmp_path / "eval.jsonl", [{"question": q} for q in EVAL])
    rows = [rec(EVAL[0].replace("，", ", "), 1),  # exact after normalisation
            rec("下面是我的问题。" + EVAL[1] + "谢谢！", 2),  # contained: n-gram coverage
            rec(EVAL[2].replace("推迟", "推后"), 3),  # light edit: jaccard
            rec("你好吗", 4),  # eval item shorter than min_chars: never used
            rec("请写一篇关于人工智能如何改变教育行业的文章", 5),  # related topic, not a copy
            rec("解释一下为什么海水是咸的", 6)]
    res = run(rows, tmp_path, against=["eval.jsonl"])
    details = dict(zip(res.rejected["meta"].struct.field("line").to_list(), res.rejected["detail"].to_list()))
    assert set(details) == {1, 2, 3}
    assert details[1] == "eval.jsonl:1 exact"
    assert details[2].startswith("eval.jsonl:2 ngram13 ")
    assert details[3].startswith("eval.jsonl:3 jaccard0.")
    assert set(res.rejected["reason"]) == {"contaminated"}
    s = res.stats
    assert (s["contaminated"], s["matched_exact"], s["matched_ngram"], s["matched_near"]) == (3, 1, 1, 1)
    assert (s["eval_items"], s["eval_items_too_short"], s["matched_eval_items"]) == (3, 1, 3)
    assert s["eval_sets"] == {"eval.jsonl": {"items": 3, "matched_items": 3, "records": 3}}
    # without the near rule the light edit survives
    res = run(rows, tmp_path, against=["eval.jsonl"], near=False)
    assert sorted(res.rejected["meta"].struct.field("line").to_list()) == [1, 2]


def test_generic_stems_do_not_wipe_out_training_data(tmp_path):
    stems = ["下列说法正确的是", "下列关于我国古代文化常识的表述，不正确的一项是"]
    opts = [["甲", "乙", "丙", "丁"], ["地球是圆的", "月亮会发光", "太阳绕地球转", "水往低处流"], ["春", "夏", "秋", "冬"],
            ["东", "南", "西", "北"], ["金", "木", "水", "火"], ["一", "二", "三", "四"]]
    write_csv(tmp_path / "mc/dev.csv", ["", "Question", "A", "B", "C", "D", "Answer"],
              [[i, stems[i % 2], *o, "A"] for i, o in enumerate(opts)])
    training = [rec(stems[0], 1), rec(stems[1], 2),
                rec(stems[1] + "\nA. 科举制度始于隋朝\nB. 六艺指礼乐射御书数\nC. 干支纪年\nD. 谥号", 3),
                rec(stems[0] + "：\nA. 鲸是鱼类\nB. 蝙蝠是鸟类\nC. 企鹅会飞\nD. 海豚是哺乳动物", 4),
                rec(stems[1] + "\nA. 地球是圆的\nB. 月亮会发光\nC. 太阳绕地球转\nD. 水往低处流", 5)]  # item 2 verbatim
    res = run(training, tmp_path, against=["mc"])
    assert res.rejected["meta"].struct.field("line").to_list() == [5]
    assert res.rejected["detail"][0].startswith("mc/dev.csv:3 ")


def test_generic_ngrams_across_many_items_are_ignored(tmp_path):
    template = "请阅读以下材料并回答后面的问题，注意答案要简洁："
    write_jsonl(tmp_path / "e.jsonl", [{"question": template + t} for t in ("甲乙丙丁", "春夏秋冬", "东南西北", "金木水火", "赵钱孙李")])
    training = [rec(template + "张三李四王五", 1), rec(template + "春夏秋冬", 2)]
    res = run(training, tmp_path, against=["e.jsonl"], near=False)
    assert res.rejected["meta"].struct.field("line").to_list() == [2]  # exact copy only
    assert res.stats["generic_ngrams"] > 0


# ---- real data -----------------------------------------------------------------------------------

def light_edit(text: str, rng: random.Random) -> str:
    """One character substituted in the middle, or a polite prefix, or punctuation changed."""
    kind = rng.randrange(3)
    if kind == 0:
        i = len(text) // 2
        return text[:i] + ("的" if text[i] != "的" else "了") + text[i + 1:]
    if kind == 1:
        return "请帮我完成下面的任务：" + text
    return text.replace("，", ",").replace("。", "！")


def test_real_belle_eval_and_ceval_items_are_caught(shared_data):
    rng = random.Random(5)
    belle = [json.loads(x) for x in (shared_data / "belle_train/Belle_open_source_1k.json").read_text(encoding="utf-8").splitlines()]
    rows = [rec(r["instruction"], i) for i, r in enumerate(belle)]
    evals = [json.loads(x)["question"] for x in (shared_data / "belle_eval/eval_set.json").read_text(encoding="utf-8").splitlines()]
    picks = [q for q in rng.sample(evals, 60) if len(q) >= 20][:12]
    planted = [rec(light_edit(q, rng), i, source="planted") for i, q in enumerate(picks)]
    with (shared_data / "ceval/val/law_val.csv").open(encoding="utf-8") as f:
        law = list(csv.DictReader(f))[:6]
    for i, r in enumerate(law):  # a C-Eval item as a training prompt, options formatted differently
        planted.append(rec(f"单选题：{r['question']}\n(A) {r['A']}\n(B) {r['B']}\n(C) {r['C']}\n(D) {r['D']}", 100 + i, "planted"))
    mixed = rows[:500] + planted + rows[500:]
    res = run(mixed, shared_data, against=["belle_eval/eval_set.json", "ceval/val", "cmmlu/dev"])
    caught = res.rejected.filter(pl.col("source") == "planted")
    assert caught.height == len(planted), res.rejected.select("meta", "detail")
    assert res.rejected.filter(pl.col("source") == "train").height == 0  # no known overlap with Belle_open_source_1k
    ceval = caught.filter(pl.col("meta").struct.field("line") >= 100)["detail"].to_list()
    assert all(d.startswith("ceval/val/law_val.csv:") for d in ceval)
    assert res.stats["eval_sets"]["ceval/val"]["records"] == 6


def test_real_belle_seed_task_shared_with_belle_eval(shared_data):
    seed = [json.loads(x) for x in (shared_data / "belle_train/zh_seed_tasks.json").read_text(encoding="utf-8").splitlines()]
    rows = [rec(r["instruction"] + ("\n" + r["instances"][0]["input"] if r["instances"][0]["input"] else ""), i)
            for i, r in enumerate(seed)]
    res = run(rows, shared_data, against=["belle_eval/eval_set.json"])
    # SOURCES.md: 1 shared question, and 1 near duplicate from the same template (刻板印象 医生/律师)
    got = dict(zip([m[0]["content"] for m in res.rejected["messages"].to_list()], res.rejected["detail"]))
    assert len(got) == 2
    assert got["写一个工作场所不道德行为的例子，并解释为什么不道德。"] == "belle_eval/eval_set.json:411 exact"
    assert got["解释以下职业的社会刻板印象。\n律师"].startswith("belle_eval/eval_set.json:303 jaccard0.")


def test_real_cmmlu_repeated_stems_keep_training_rows(shared_data):
    """Training rows that reuse CMMLU/C-Eval stems with other options are not contamination."""
    stems = []
    for f in sorted((shared_data / "cmmlu/dev").glob("*.csv")) + sorted((shared_data / "ceval/val").glob("*.csv")):
        with f.open(encoding="utf-8") as fh:
            stems += [r.get("Question") or r.get("question") for r in csv.DictReader(fh)]
    generic = [s for s in dict.fromkeys(stems) if stems.count(s) >= 2]
    assert generic  # the slices do repeat stems
    rows = [rec(f"{s}\nA. 选项一号\nB. 选项二号\nC. 选项三号\nD. 选项四号", i) for i, s in enumerate(generic)]
    res = run(rows, shared_data, against=["cmmlu/dev", "ceval/val"])
    assert res.rejected.height == 0, res.rejected.select("detail")


# ---- through the build ---------------------------------------------------------------------------

def test_build_accounts_for_every_record(tmp_path):
    write_jsonl(tmp_path / "eval.jsonl", [{"question": q} for q in EVAL])
    a = [{"instruction": f"第{i}个问题：请介绍一下编号为{i * 7919}的城市规划方案", "input": "", "output": "好的。"} for i in range(40)]
    a += [a[3], {"instruction": EVAL[1], "input": "", "output": "因为散射。"}]
    b = [{"instruction": f"第{i}个问题：请介绍一下编号为{i * 7919}的城市规划方案。", "input": "", "output": "可以。"} for i in range(0, 40, 4)]
    b += [{"instruction": "第5个问题：请介绍一下编号为39595的城市规划方案吧", "input": "", "output": "行。"}]
    write_jsonl(tmp_path / "a.jsonl", a)
    write_jsonl(tmp_path / "b.jsonl", b)
    recipe = write_recipe(tmp_path, {
        "name": "t", "sources": [{"name": "a", "path": "a.jsonl", "format": "alpaca"}, {"name": "b", "path": "b.jsonl", "format": "alpaca"}],
        "clean": [{"dedup": {"method": "exact"}}, {"dedup": {"method": "minhash", "threshold": 0.8}},
                  {"decontaminate": {"against": ["eval.jsonl"]}}]})
    res = build(recipe, tmp_path / "out")
    steps = {s["stage"]: s for s in res.manifest["funnel"]}
    for s in res.manifest["funnel"]:
        assert s["in"] == s["kept"] + s["rejected"], s["stage"]
    assert steps["dedup:exact"]["rejected"] == 11  # a[3] repeated + all 10 of b's punctuation variants
    assert steps["dedup:minhash"]["rejected"] == 1  # b's "...方案吧" is a near copy of a[5]
    assert steps["decontaminate"]["rejected"] == 1
    assert steps["dedup:minhash"]["stats"]["cluster_sizes"] == {"2": 1}
    assert all(r["balanced"] for r in res.manifest["accounting"].values())
    assert set(res.seconds) >= {"dedup:exact", "dedup:minhash", "decontaminate"}


def test_empty_table_passes_through_every_stage(shared_data):
    from curate.core.records import empty_records
    from curate.stages import dedup

    ctx = StageContext(base_dir=shared_data)
    for res in (dedup.apply(empty_records(), dedup.Options(method="exact"), ctx),
                dedup.apply(empty_records(), dedup.Options(method="minhash"), ctx),
                dc.apply(empty_records(), dc.Options(against=["belle_eval/eval_set.json"]), ctx)):
        assert res.kept.height == 0 and res.rejected.height == 0


def test_changed_eval_set_changes_the_version_id(tmp_path):
    """The eval files a recipe decontaminates against are inputs: their bytes are in the version id."""
    import yaml

    from curate.build import version_id
    from curate.recipe import load_recipe

    (tmp_path / "train.jsonl").write_text('{"instruction": "问题", "output": "回答"}\n', encoding="utf-8")
    (tmp_path / "eval.jsonl").write_text('{"question": "为什么天空是蓝色的？"}\n', encoding="utf-8")
    recipe = {"name": "d", "sources": [{"name": "t", "path": "train.jsonl"}],
              "clean": [{"decontaminate": {"against": ["eval.jsonl"]}}]}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    before, key = version_id(load_recipe(tmp_path / "r.yaml"))
    assert [i["path"] for i in key["inputs"] if "stage" in i] == ["eval.jsonl"]
    (tmp_path / "eval.jsonl").write_text('{"question": "为什么海水是咸的？"}\n', encoding="utf-8")
    assert version_id(load_recipe(tmp_path / "r.yaml"))[0] != before
