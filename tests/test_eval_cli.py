"""`curate eval` end to end on a tiny model: exams with both methods, Belle with offline and judge
scores, a LoRA run folder, the result cache, and bad input ending as one clear error (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from train_fixtures import tiny_config

from curate.app.cli import main

HDR = "id,question,A,B,C,D,answer"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ceval_dir(tmp_path_factory) -> Path:
    """C-Eval layout, two subjects, one item whose gold answer is outside A–D."""
    d = tmp_path_factory.mktemp("ceval")
    rows = ["0,北京是哪个国家的首都？,中国,日本,美国,法国,A", "1,光合作用释放什么气体？,氮气,氧气,氢气,氦气,B",
            "2,坏题,甲,乙,丙,丁,E"]
    write(d / "val" / "law_val.csv", "\n".join([HDR, *rows]) + "\n")
    write(d / "val" / "logic_val.csv", f"{HDR}\n0,一加一等于几？,一,二,三,四,B\n")
    for s in ("law", "logic"):
        write(d / "dev" / f"{s}_dev.csv", HDR + ",explanation\n0,示例问题,对,错,不知道,都不是,A,因为\n")
    return d


@pytest.fixture(scope="module")
def belle_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("belle")
    rows = [{"question": "北京是哪个国家的首都？", "std_answer": "北京是中华人民共和国的首都。", "class": "open qa"},
            {"question": "根据上文回答：天气如何？", "std_answer": "天气很好。", "class": "closed\u00a0qa"},
            {"question": "给我三个提高学习效率的建议。", "std_answer": "", "class": "brainstorming"}]
    write(d / "eval_set.json", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    prompts = [{"class": "open QA", "prompt": "请评分。"}, {"class": "closed\u00a0QA", "prompt": "请评分。"},
               {"class": "brainstorming", "prompt": "请评分。"}, {"class": "translation", "prompt": "x"}]
    write(d / "eval_prompt.json", "\n".join(json.dumps(r, ensure_ascii=False) for r in prompts) + "\n")
    return d


@pytest.fixture(scope="module")
def tiny_model(tiny_pair) -> Path:
    return tiny_pair[1]


def results_in(out: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(out.rglob("results.json"))]


def test_exam_both_methods_then_cached(tiny_model, ceval_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "evals"
    argv = ["eval", "--model", str(tiny_model), "--task", "ceval_val", "--data-dir", str(ceval_dir),
            "--subjects", "law,logic", "--shots", "1", "--method", "loglik_letter", "--method", "generate",
            "--batch-size", "2", "--output-dir", str(out)]
    assert main(argv) == 0
    results = {r["settings"]["method"]: r for r in results_in(out)}
    assert set(results) == {"loglik_letter", "generate"}
    for method, r in results.items():
        s = r["scores"]
        assert s["n_items"] == 4 and s["n_scored"] == 3 and s["unscored_reasons"] == {"answer_outside_options": 1}
        assert set(s["categories"]) == {"Humanities"} and r["settings"]["shots"] == 1
        assert r["task"]["sha256"] and r["model"]["weights_sha256"] and r["packages"]["transformers"]
        assert r["prompt"]["example"].count("答案：") == 2  # one shot + the question
        folder = out / r["model"]["slug"] / "ceval_val" / r["eval_id"]
        preds = [json.loads(x) for x in (folder / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
        assert len(preds) == 4 and "| **all** |" in (folder / "table.md").read_text(encoding="utf-8")
        scored = [p for p in preds if p["unscored"] is None]
        if method == "loglik_letter":
            assert all(p["pred"] == max(p["scores"], key=p["scores"].get) for p in scored)
        else:
            assert all("generation" in p for p in scored)
    capsys.readouterr()

    def no_load(cfg):
        raise AssertionError("a cached result must not load the model")

    monkeypatch.setattr("eval.runner.load_model", no_load)
    assert main(argv) == 0
    assert capsys.readouterr().err.count("cached") == 2  # a log line (stderr); results stay on stdout


@pytest.mark.parametrize("breakage,message", [
    ("header", "header is"),
    ("missing", "no CSV files"),
    ("all_subjects", "no data for 50 subjects"),
])
def test_bad_exam_input_is_one_clear_error(tiny_model, ceval_dir, tmp_path, capsys, breakage, message):
    d, extra = ceval_dir, ["--subjects", "law"]
    if breakage == "header":
        d = tmp_path / "bad"
        write(d / "val" / "law_val.csv", "id,question,A,B,C,D,label\n0,q,a,b,c,d,A\n")
    elif breakage == "missing":
        d = tmp_path / "empty"
        d.mkdir()
    else:
        extra = []
    rc = main(["eval", "--model", str(tiny_model), "--task", "ceval_val", "--data-dir", str(d),
               "--output-dir", str(tmp_path / "o"), *extra])
    assert rc == 2 and message in capsys.readouterr().err


def test_belle_offline_and_judge(tiny_model, belle_dir, tmp_path, monkeypatch):
    from test_eval_judge import FakeJudge

    fake = FakeJudge()
    monkeypatch.setenv("ZHTUNE_TEST_JUDGE_KEY", "sk-test")
    try:
        cfg = {"model": str(tiny_model), "output_dir": str(tmp_path / "evals"), "batch_size": 2,
               "tasks": [{"task": "belle_eval", "data_dir": str(belle_dir), "scorers": ["offline", "judge"],
                          "overrides": {"generate": {"max_new_tokens": 8}}}],
               "judge": {"base_url": fake.url, "model": "fake-judge", "api_key_env": "ZHTUNE_TEST_JUDGE_KEY",
                         "requests_per_minute": 0, "cache_dir": str(tmp_path / "judge-cache")}}
        path = write(tmp_path / "eval.yaml", yaml.safe_dump(cfg, allow_unicode=True))
        assert main(["eval", str(path)]) == 0
    finally:
        fake.close()
    (r,) = results_in(tmp_path / "evals")
    s = r["scores"]
    assert s["classes"] == ["brainstorming", "closed qa", "open qa"]  # U+00A0 and case joined, none dropped
    assert s["offline"]["n_scored"] == 2 and s["offline"]["unscored_reasons"] == {"no_reference": 1}
    assert s["judge"]["n_scored"] == 3 and s["judge"]["score_macro"] == 0.8
    assert len(fake.requests) == 3 and r["timings"]["judge_requests"] == 3
    assert r["judge"]["model"] == "fake-judge" and "api_key" not in json.dumps(r["judge"]).replace("api_key_env", "")


def test_lora_run_folder_is_evaluated_with_its_adapter(tiny_pair, tiny_model, ceval_dir, tmp_path):
    from train.config import parse_config
    from train.runner import train

    version, model = tiny_pair
    run = train(parse_config(tiny_config(version, model, tmp_path / "runs", method="lora")), log=lambda *_: None)
    record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    out = tmp_path / "evals"
    argv = ["eval", "--model", str(run), "--task", "ceval_val", "--data-dir", str(ceval_dir), "--subjects", "logic",
            "--output-dir", str(out)]
    assert main(argv) == 0
    (r,) = results_in(out)
    assert r["model"]["kind"] == "run" and r["model"]["adapter_sha256"] == record["adapter_sha256"]
    assert r["model"]["version_id"] == "v0test" and r["model"]["slug"].endswith(record["run_id"])
    assert main(["eval", "--model", str(model), "--task", "ceval_val", "--data-dir", str(ceval_dir),
                 "--subjects", "logic", "--output-dir", str(out)]) == 0
    ids = {x["eval_id"] for x in results_in(out)}
    assert len(ids) == 2  # same items, different weights: two results, never one cache entry


def test_mmcu_multi_answer_domains(tiny_model, tmp_path):
    items = [
        {"类别": "法律", "题目": "下列哪些属于民事权利？", "选项": "A:物权\nB:债权\nC:刑罚权\nD:人格权", "答案": "ABD"},
        {"类别": "心理", "题目": "＿不是社会化的载体。", "选项": "A:家庭\nB:大学\nC:杂志\nD:意识", "答案": "D"},
        {"类别": "教育_数学", "题目": "一加一等于几？", "选项": "A:一\nB:二\nC:三\nD:四", "答案": "B"},
        {"类别": "护理学", "题目": "正常成人体温约为？", "选项": "A:35℃\nB:37℃\nC:39℃\nD:", "答案": "B"},
    ]
    write(tmp_path / "mmcu" / "test.json", json.dumps(items, ensure_ascii=False))
    out = tmp_path / "evals"
    assert main(["eval", "--model", str(tiny_model), "--task", "mmcu", "--data-dir", str(tmp_path / "mmcu"),
                 "--method", "loglik_letter", "--method", "generate", "--output-dir", str(out)]) == 0
    for r in results_in(out):
        s = r["scores"]
        assert set(s["categories"]) == {"法律", "心理", "教育", "医疗"}
        assert s["categories"]["医疗"]["n"] == 0  # its only item has an empty option: listed, unscored, not dropped
        assert s["unscored_reasons"] == {"empty_option": 1} and s["n_scored"] == 3
        folder = out / r["model"]["slug"] / "mmcu" / r["eval_id"]
        preds = {p["subject"]: p for p in map(json.loads, (folder / "predictions.jsonl").read_text().splitlines())}
        if r["settings"]["method"] == "loglik_letter":
            assert len(preds["法律"]["scores"]) == 15  # every non-empty letter set of A–D
        assert preds["法律"]["correct"] == (preds["法律"]["pred"] == "ABD")


def test_cmmlu_real_dev_subject(tiny_model, tmp_path):
    from conftest import SHARED_DATA

    if not (SHARED_DATA / "cmmlu").is_dir():
        pytest.skip("real CMMLU slice absent")
    out = tmp_path / "evals"
    cfg = {"model": str(tiny_model), "output_dir": str(out),
           "tasks": [{"task": "cmmlu", "data_dir": str(SHARED_DATA / "cmmlu"), "subjects": ["agronomy", "anatomy"],
                      "overrides": {"data": {"eval_split": "dev"}}}]}  # CMMLU test is not in the slice
    assert main(["eval", str(write(tmp_path / "c.yaml", yaml.safe_dump(cfg)))]) == 0
    (r,) = results_in(out)
    assert r["scores"]["n_scored"] == 10 and set(r["scores"]["categories"]) == {"Other", "STEM"}
    assert r["task"]["overrides"] == {"data": {"eval_split": "dev"}}


@pytest.mark.parametrize("extra,message", [
    (["--method", "loglik_letter", "--cot"], "cot needs method generate"),
    (["--shots", "3"], "fewer than 3 valid shot items"),
    (["--subjects", "law,astrology"], "subjects ['astrology'] have no data"),
])
def test_bad_options_fail_before_loading_the_model(ceval_dir, tmp_path, capsys, monkeypatch, extra, message):
    monkeypatch.setattr("eval.runner.load_model", lambda cfg: (_ for _ in ()).throw(AssertionError("loaded")))
    argv = ["eval", "--model", str(tmp_path), "--task", "ceval_val", "--data-dir", str(ceval_dir),
            "--output-dir", str(tmp_path / "o"), *(["--subjects", "law"] if "--subjects" not in extra else []), *extra]
    assert main(argv) == 2 and message in capsys.readouterr().err


def test_judge_scorer_needs_a_judge_block(belle_dir, tmp_path, capsys):
    argv = ["eval", "--model", str(tmp_path), "--task", "belle_eval", "--data-dir", str(belle_dir),
            "--scorers", "offline,judge", "--output-dir", str(tmp_path / "o")]
    assert main(argv) == 2 and "needs a `judge:` block" in capsys.readouterr().err


def test_method_choices_are_the_scoring_methods_and_help_stays_light():
    """`curate eval --method` offers exactly the methods the task schema and eval config accept, and
    `curate eval --help` lists them without importing pydantic or torch."""
    import subprocess
    import sys
    import typing

    from eval.config import TaskRun
    from eval.method_names import MC_METHODS
    from eval.tasks.schema import MultipleChoiceTask

    code = ("import argparse, sys; from curate.app.commands import eval as e; p = argparse.ArgumentParser(); "
            "e.add_arguments(p); a = next(x for x in p._actions if x.dest == 'method'); "
            "print(list(a.choices), sorted(m for m in ('pydantic', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout
    assert out.strip() == f"{list(MC_METHODS)} []"
    assert typing.get_args(MultipleChoiceTask.model_fields["method"].annotation) == MC_METHODS
    run_methods = typing.get_args(TaskRun.model_fields["methods"].annotation)[0]  # list[Literal[...]] | None
    assert typing.get_args(typing.get_args(run_methods)[0]) == MC_METHODS
