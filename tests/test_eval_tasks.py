"""Task YAMLs, readers and prompts: validation with key paths, bad input, class joins, lm-eval prompt shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SHARED_DATA as SHARED

from curate.core.errors import UserError
from eval.prompts import mc_context
from eval.readers import (
    normalize_class,
    read_belle_prompts,
    read_belle_set,
    read_mc_split,
)
from curate.core.readers.mmcu_json import parse_options
from eval.tasks import builtin_tasks, load_task


def shared(sub: str) -> Path:
    p = SHARED / sub
    if not p.exists():
        pytest.skip(f"{p} not present")
    return p


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_builtin_tasks_validate():
    assert set(builtin_tasks()) >= {"ceval_val", "cmmlu", "mmcu", "belle_eval"}
    ceval = load_task("ceval_val").config
    assert len(ceval.subjects) == 52
    assert {s.category for s in ceval.subjects.values()} == {"STEM", "Social Science", "Humanities", "Other"}
    assert len(load_task("cmmlu").config.subjects) == 67
    assert load_task("mmcu").config.multi_answer is True


def test_task_errors_name_the_key_path(tmp_path):
    with pytest.raises(UserError, match=r"shots: Input should be greater than or equal to 0"):
        load_task("ceval_val", {"shots": -1})
    bad = tmp_path / "t.yaml"
    bad.write_text("kind: multiple_choice\nname: x\ndata: {format: ceval_csv}\nprompt: {questoin: '{question}'}\n")
    with pytest.raises(UserError, match=r"t.yaml: prompt.questoin: Extra inputs are not permitted"):
        load_task(bad)
    bad.write_text("kind: multiple_choice\nname: x\ndata: {format: parquet}\n")
    with pytest.raises(UserError, match=r"data.format"):
        load_task(bad)
    with pytest.raises(UserError, match="unknown task"):
        load_task("no_such_task")


def test_real_ceval_and_cmmlu_read():
    val = read_mc_split("ceval_csv", shared("ceval"), "val", layout="", multi_answer=False)
    assert len(val) == 52 and sum(map(len, val.values())) == 1346
    assert all(i.problem is None for items in val.values() for i in items)
    dev = read_mc_split("cmmlu_csv", shared("cmmlu"), "dev", layout="", multi_answer=False)
    assert len(dev) == 67 and sum(map(len, dev.values())) == 335


def test_csv_bad_input(tmp_path):
    hdr = "id,question,A,B,C,D,answer"
    write_csv(tmp_path / "val" / "law_val.csv", hdr, ["0,问题一,甲,乙,丙,丁,B", "1,问题二,甲,乙,丙,丁,E",
                                                     "2,问题三,甲,,丙,丁,A", "3,问题四,甲,乙,丙,丁,b"])
    items = read_mc_split("ceval_csv", tmp_path, "val", layout="", multi_answer=False)["law"]
    assert items[0].problem is None and items[3].answer == "B" and items[3].problem is None
    assert items[1].problem.startswith("answer_outside_options")
    assert items[2].problem == "empty_option: B"
    write_csv(tmp_path / "val" / "law_val.csv", "id,question,A,B,C,D,label", ["0,q,a,b,c,d,A"])
    with pytest.raises(UserError, match=r"law_val.csv: header is .*expected"):
        read_mc_split("ceval_csv", tmp_path, "val", layout="", multi_answer=False)
    with pytest.raises(UserError, match="no CSV files"):
        read_mc_split("ceval_csv", tmp_path, "dev", layout="", multi_answer=False)
    with pytest.raises(UserError, match="not a folder"):
        read_mc_split("ceval_csv", tmp_path / "nope", "val", layout="", multi_answer=False)


def test_mmcu_reader_multi_letter_answers(tmp_path):
    items = [
        {"类别": "心理", "题目": "＿不是社会化的载体。", "选项": "A:家庭\nB:大学\nC:杂志\nD:意识", "答案": "D"},
        {"类别": "法律", "题目": "下列哪些属于民事权利？", "选项": "A:物权\nB:债权\n（含合同之债）\nC:刑罚权\nD:人格权",
         "答案": "ABD"},
        {"类别": "教育_数学", "题目": "1+1=?", "选项": ["A:1", "B:2", "C:3", "D:4"], "答案": "B"},
        {"类别": "药理学", "题目": "坏答案", "选项": "A:x\nB:y", "答案": "AC"},
    ]
    (tmp_path / "part.json").write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    by_subject = read_mc_split("mmcu_json", tmp_path, None, layout="", multi_answer=True)
    law = by_subject["法律"][0]
    assert law.answer == "ABD" and law.options["B"] == "债权\n（含合同之债）" and law.problem is None
    assert by_subject["教育_数学"][0].options == {"A": "1", "B": "2", "C": "3", "D": "4"}
    assert by_subject["药理学"][0].problem.startswith("answer_outside_options")
    assert parse_options("A：甲\nB．乙", "x") == {"A": "甲", "B": "乙"}
    (tmp_path / "broken.json").write_text(json.dumps([{"题目": "x"}]), encoding="utf-8")
    with pytest.raises(UserError, match="broken.json:1: an MMCU item needs keys"):
        read_mc_split("mmcu_json", tmp_path, None, layout="", multi_answer=True)


def test_real_mmcu_example_reads():
    items = read_mc_split("mmcu_json", shared("mmcu"), None, layout="", multi_answer=True)
    assert items["心理"][0].answer == "D" and len(items["心理"][0].options) == 4


def test_belle_class_join_keeps_every_class():
    d = shared("belle_eval")
    aliases = load_task("belle_eval").config.class_aliases
    items = read_belle_set(d, aliases)
    prompts = read_belle_prompts(d / "eval_prompt.json", aliases)
    classes = {i.cls for i in items}
    assert len(items) == 1000 and len(classes) == 10
    assert classes <= set(prompts)  # open qa / closed qa (U+00A0, case) join
    assert normalize_class("closed\u00a0QA") == normalize_class("closed qa") == "closed qa"


def test_belle_missing_prompt_is_an_error(tmp_path):
    from eval.belle import check_class_join

    (tmp_path / "eval_set.json").write_text(
        json.dumps({"question": "q", "std_answer": "a", "class": "open\u00a0qa"}) + "\n"
        + json.dumps({"question": "q2", "std_answer": "", "class": "poetry"}), encoding="utf-8")
    (tmp_path / "eval_prompt.json").write_text(json.dumps({"class": "open QA", "prompt": "p"}) + "\n")
    items = read_belle_set(tmp_path, {})
    prompts = read_belle_prompts(tmp_path / "eval_prompt.json", {})
    with pytest.raises(UserError, match=r"judge prompts missing for classes \['poetry'\]"):
        check_class_join(items, prompts)


def test_mc_prompt_matches_lm_eval_shape(tmp_path):
    hdr = "id,question,A,B,C,D,answer"
    write_csv(tmp_path / "val" / "law_val.csv", hdr, ["0, 问题 ,甲,乙,丙,丁,B"])
    write_csv(tmp_path / "dev" / "law_dev.csv", hdr + ",explanation", ["0,示例,一,二,三,四,C,因为"])
    task = load_task("ceval_val").config
    item = read_mc_split("ceval_csv", tmp_path, "val", layout="", multi_answer=False)["law"][0]
    shot = read_mc_split("ceval_csv", tmp_path, "dev", layout="", multi_answer=False)["law"][0]
    # lm-eval ceval-valid: description + doc_to_text + " " + target, shots joined by "\n\n"
    assert mc_context(task, item, [shot]) == (
        "以下是中国关于法学的单项选择题，请选出其中的正确答案。\n\n"
        "示例\nA. 一\nB. 二\nC. 三\nD. 四\n答案： C\n\n"
        "问题\nA. 甲\nB. 乙\nC. 丙\nD. 丁\n答案：")
    assert mc_context(task, item, [], cot=True).endswith("D. 丁\n先思考，再决定。\n")


def test_cli_import_stays_light():
    import subprocess
    import sys

    code = "import sys, curate.app.cli; curate.app.cli.build_parser(); print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"
