"""The sized data-type study: --budget picks records/steps/seeds, the held-out pool is never trained on,
--jobs runs workers whose results the report collects from cache, and each effect states its sign."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest
import yaml
from test_ablation import write_setup

from curate.app.ablation.budget import parse_duration, size_study
from curate.app.ablation.report import sentence
from curate.app.ablation.runner import plan, run_ablation
from curate.app.ablation.spec import BudgetSpec, load_spec
from curate.core.errors import UserError

TRAINING = {"per_device_train_batch_size": 4, "max_length": 256}


def test_parse_duration():
    assert parse_duration("2h") == 7200 and parse_duration("90m") == 5400 and parse_duration("1h30m") == 5400
    assert parse_duration("45") == 45
    with pytest.raises(UserError, match="not a duration"):
        parse_duration("two hours")


def test_budget_keeps_seeds_while_runs_get_min_steps_and_fits():
    opts = BudgetSpec(jobs=2, eval_seconds_per_run=300, overhead_seconds_per_run=30, tokens_per_record=250,
                      min_steps=150, max_records=1800)
    s = size_study(7200, variants=7, seeds_available=3, training=TRAINING, speed=400.0, opts=opts, split_test=0.1)
    assert s.total_seconds <= 7200 and s.steps >= 150
    # 3 seeds x 7 variants on 2 jobs = 11 waves: 654 s per run -> (654 - 330) * 400 / 1024 = 126 steps < 150
    assert s.seeds == 2 and s.steps == int((7200 / 7 - 330) * 400 // 1024)
    assert s.records == min(1800, math.ceil(s.steps * 1024 / 250 / 0.9))
    slow = size_study(7200, variants=7, seeds_available=3, training=TRAINING, speed=30.0, opts=opts)
    assert slow.seeds == 1 and slow.steps < 150 and any("below budget.min_steps" in n for n in slow.notes)


def test_budget_caps_records_at_what_the_sources_give():
    opts = BudgetSpec(jobs=1, eval_seconds_per_run=0, overhead_seconds_per_run=0, tokens_per_record=100,
                      max_records=500, min_steps=1)
    s = size_study(3600, variants=1, seeds_available=1, training=TRAINING, speed=1024.0, opts=opts)
    assert s.steps == 3600 and s.records == 500 and "seen" in s.notes[0]


def _study(tmp_path, tiny_model_dir=None, seeds=(1,), **extra):
    path = write_setup(tmp_path, tiny_model_dir, seeds=seeds,
                       variants=[{"name": "+cot", "add": [{"source": "cot", "weight": 1}],
                                  "expect": [{"task": "heldout_ref:ref_loglik", "group": "cot", "sign": "better",
                                              "source": "the study"}]}])
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec["recipe_overrides"] = {"split": {"test": 0.3}}
    spec["eval"]["tasks"].append({"task": "heldout_ref", "data_dir": "{heldout}", "limit": 4})
    spec.update(extra)
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def test_heldout_pool_is_never_trained_on(tmp_path):
    from curate.build import build

    spec, here = load_spec(_study(tmp_path))
    runs = plan(spec, here)
    pool_dir = runs[0].eval_raw["tasks"][-1]["data_dir"]
    assert pool_dir.startswith(str(tmp_path / "builds")) and "-heldout" in pool_dir
    build(runs[0].heldout, spec.builds_dir, quiet=True)
    test = pl.read_parquet(f"{pool_dir}/test.parquet")
    assert {"cot", "general", "multiturn"} <= set(test["type"])  # every data type has a held-out slice
    for r in runs:
        res = build(r.recipe, spec.builds_dir, quiet=True)
        train_ids = set(pl.read_parquet(f"{res.dir}/train.parquet")["id"])
        assert train_ids and not train_ids & set(test["id"]), r.variant.name


def test_budget_sizes_the_plan(tmp_path, capsys):
    from curate.app.cli import main

    path = _study(tmp_path, seeds=(1, 2, 3), budget={"jobs": 2, "eval_seconds_per_run": 10, "tokens_per_second": 50,
                                                     "tokens_per_record": 64, "min_steps": 5})
    assert main(["ablate", str(path), "--dry-run", "--budget", "2m"]) == 0
    out = capsys.readouterr().out
    assert "budget sizing:" in out
    spec, here = load_spec(path)
    from curate.app.ablation.runner import budget_sizing

    sizing = budget_sizing(spec, here, 120)
    runs = plan(spec, here, sizing=sizing)
    assert {r.train_raw["training"]["max_steps"] for r in runs} == {sizing.steps}
    assert {r.recipe.mix.total for r in runs} == {sizing.records}
    assert len({r.seed for r in runs}) == sizing.seeds
    assert f"{len(runs)} training runs" in out


def test_sentence_states_direction_and_the_study_sign():
    d = {"variant": "+cot", "task": "belle_eval:ref_loglik", "group": "math", "delta": -0.05, "lo": -0.08,
         "hi": -0.02, "shown": True, "n_items": 75}
    line = sentence(d, {"sign": "better", "source": "Math 36.8→41.7"})
    assert "shown, **better**" in line and "lower is better" in line and "Sign matches" in line
    assert "Sign is opposite" in sentence(d, {"sign": "worse", "source": ""})
    acc = {**d, "task": "ceval_val:loglik_letter", "delta": 0.01, "lo": -0.01, "hi": 0.03, "shown": False}
    assert "**not shown**" in sentence(acc, {"sign": "better"}) and "+1.0 points" in sentence(acc)


def test_two_workers_then_report_from_cache(tmp_path):
    import torch

    from train.tiny import build_tiny_model

    torch.set_num_threads(1)
    model_dir = build_tiny_model(tmp_path / "tiny", texts=["以下哪个数最大？第题", "你好，世界。", "长城很长。"] * 5)
    path = _study(tmp_path, model_dir, seeds=(1, 2))
    logs = []
    out = run_ablation(path, jobs=2, log=logs.append)
    assert sum(line.startswith("worker ") and "finished (exit 0)" in line for line in logs) == 2
    assert sum("cache hit" in line for line in logs) == 4  # the parent trains nothing itself
    worker_logs = sorted((tmp_path / "ablations" / "tiny-study" / "logs").glob("shard-*.log"))
    assert len(worker_logs) == 2 and all("2 training runs" in p.read_text(encoding="utf-8") for p in worker_logs)
    scores = pl.read_parquet(out / "scores.parquet")
    assert {"ceval_val:loglik_letter", "heldout_ref:ref_loglik", "heldout_ref:ref_loglik_token"} <= set(scores["task"])
    assert scores.filter(pl.col("task") == "heldout_ref:ref_loglik")["score"].min() > 0
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "The study's findings, checked" in summary and "heldout_ref:ref_loglik / cot" in summary
    assert "Which metric shows what" in summary and "nats/char" in (out / "results.md").read_text(encoding="utf-8")
    plan_json = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert len(plan_json) == 4 and all(p["run"] for p in plan_json)
    # the loss table: every variant's seeds, and the first quarter's mean equals the runs' own logs
    assert (out / "loss.png").stat().st_size > 0 and "Training loss" in summary
    first = {}
    for p in plan_json:
        losses = [json.loads(line)["loss"] for line in open(f"{p['run']}/metrics.jsonl", encoding="utf-8")
                  if '"loss"' in line]
        first.setdefault(p["variant"], []).append(sum(losses[:max(1, len(losses) // 4)]) / max(1, len(losses) // 4))
    for variant, values in first.items():
        row = next(line for line in summary.splitlines() if line.startswith(f"| {variant} | 2 |"))
        assert f"{sum(values) / len(values):.3f}" in row


def test_committed_data_types_study_is_valid(shared_data, tmp_path):
    """The committed study file plans, and every run's train and eval config (with task overrides) validates."""
    from conftest import REPO
    from curate.app.ablation.runner import budget_sizing
    from eval.config import parse_config as parse_eval
    from eval.tasks import load_task
    from train.config import parse_config as parse_train

    for name in ("data-types.yaml", "data-types-base.yaml"):
        text = (REPO / "recipes" / "ablations" / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("../../../shared/data", str(shared_data)), encoding="utf-8")
    spec, here = load_spec(tmp_path / "data-types.yaml")
    sizing = budget_sizing(spec, here, 7200)
    assert sizing.total_seconds <= 7200 and sizing.seeds >= 2 and sizing.steps >= spec.budget.min_steps
    runs = plan(spec, here, sizing=sizing)
    names = list(dict.fromkeys(r.variant.name for r in runs))
    assert names == ["base", "+cot", "+alignment", "+multiturn", "-belle", "-alpaca_zh", "en-prompt"]
    for r in runs:
        parse_train(r.train_raw, source=r.variant.name)
        cfg = parse_eval(dict(r.eval_raw, model="smollm2-135m"), r.variant.name)
        for t in cfg.tasks:
            task = load_task(t.task, t.overrides).config
            if r.variant.name == "en-prompt" and t.task in ("belle_eval", "heldout_ref"):
                assert task.chat.prompt_language == "en"
    heldout = {t["data_dir"] for r in runs for t in r.eval_raw["tasks"] if t["task"] == "heldout_ref"}
    assert len(heldout) == 1 and "-heldout" in heldout.pop()  # one pool for every variant
