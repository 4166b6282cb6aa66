"""Ablations: statistics, the planner (variants -> version ids, caching) and a tiny end-to-end run with a crash."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import polars as pl
import pytest
import yaml

from conftest import REPO
from curate.app.ablation.runner import plan, run_ablation
from curate.app.ablation.spec import load_spec
from curate.app.ablation.stats import bootstrap_delta, mean_interval, shown
from curate.core.errors import UserError


def test_bootstrap_interval_covers_a_known_difference():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.2, 0.8, size=600)  # item difficulty shared by both arms
    base = (rng.random((3, 600)) < p).astype(float)
    variant = (rng.random((3, 600)) < np.clip(p + 0.15, 0, 1)).astype(float)
    d, lo, hi = bootstrap_delta(variant, base, reps=1000)
    assert lo < 0.15 < hi and shown(lo, hi)


def test_zero_effect_interval_contains_zero():
    rng = np.random.default_rng(2)
    p = rng.uniform(0.2, 0.8, size=300)
    a, b = ((rng.random((3, 300)) < p).astype(float) for _ in range(2))
    d, lo, hi = bootstrap_delta(a, b, reps=1000)
    assert lo < 0 < hi and not shown(lo, hi)


def test_mean_interval_over_seeds():
    m, lo, hi = mean_interval([0.5, 0.6, 0.7])
    assert m == pytest.approx(0.6) and lo < 0.6 < hi
    assert mean_interval([0.4]) == (0.4, None, None)


def write_setup(tmp_path, tiny_model_dir=None, variants=None, seeds=(1, 2)):
    shutil.copytree(REPO / "recipes", tmp_path / "recipes")
    recipe = yaml.safe_load((tmp_path / "recipes" / "demo.yaml").read_text(encoding="utf-8"))
    recipe["sources"] = [s for s in recipe["sources"] if s["name"] in ("alpaca_zh", "belle_zh", "sharegpt_zh")]
    recipe["clean"] = ["normalize"]
    recipe["mix"] = {"total": 24, "weights": {"alpaca_zh": 2, "belle_zh": 1, "sharegpt_zh": 1}}
    recipe["split"] = {"test": 0.0}
    (tmp_path / "recipes" / "base.yaml").write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    ceval = tmp_path / "ceval"
    for split in ("val", "dev"):
        (ceval / split).mkdir(parents=True)
        with open(ceval / split / f"logic_{split}.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "question", "A", "B", "C", "D", "answer"])
            for i in range(6):
                w.writerow([i, f"第{i}题：以下哪个数最大？", str(i), str(i + 1), str(i + 2), str(i + 3), "D"])
    spec = {
        "name": "tiny-study",
        "recipe": "recipes/base.yaml",
        "train": {"model": {"path": str(tiny_model_dir or "unused")}, "method": {"name": "lora", "r": 2},
                  "data": {"stage": "sft"},
                  "training": {"max_steps": 2, "per_device_train_batch_size": 2, "max_length": 64, "learning_rate": 1e-3}},
        "eval": {"tasks": [{"task": "ceval_val", "data_dir": str(ceval), "subjects": ["logic"]}], "batch_size": 4},
        "seeds": list(seeds),
        "extra_sources": [{"name": "cot", "path": "recipes/samples/cot_zh.json", "format": "cot", "type": "cot"}],
        "variants": variants if variants is not None else [
            {"leave_one_out": ["belle_zh"]},
            {"name": "+cot", "add": [{"source": "cot", "weight": 1}]},
            {"name": "rank4", "train": {"method": {"name": "lora", "r": 4}}},
        ],
        "output_dir": str(tmp_path / "ablations"), "builds_dir": str(tmp_path / "builds"),
        "runs_dir": str(tmp_path / "runs"), "evals_dir": str(tmp_path / "evals"),
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def test_planner_variants_resolve_to_distinct_or_shared_versions(tmp_path):
    spec, here = load_spec(write_setup(tmp_path))
    runs = plan(spec, here)
    by_variant = {}
    for r in runs:
        by_variant.setdefault(r.variant.name, set()).add(r.version_id)
    assert list(by_variant) == ["base", "-belle_zh", "+cot", "rank4"]
    assert all(len(ids) == 1 for ids in by_variant.values())  # seeds share the data
    assert by_variant["rank4"] == by_variant["base"]  # a training-only axis builds no new data
    assert len({next(iter(v)) for v in by_variant.values()}) == 3
    # hold_total: every variant keeps the base's 24 records
    assert {r.recipe.mix.total for r in runs} == {24}
    plus = next(r for r in runs if r.variant.name == "+cot").recipe
    assert [s.name for s in plus.sources][-1] == "cot" and plus.mix.weights["cot"] == 1
    assert "belle_zh" not in {s.name for s in next(r for r in runs if r.variant.name == "-belle_zh").recipe.sources}
    scaled = plan(spec, here, scale=2.0)
    assert {r.recipe.mix.total for r in scaled} == {48} and scaled[0].train_raw["training"]["max_steps"] == 4


def test_method_axes_replace_the_base_method(tmp_path):
    from train.config import parse_config

    variants = [{"name": "houlsby", "train": {"method": "sadapter_h"}},
                {"name": "parallel", "train": {"method": {"name": "padapter", "bottleneck_size": 8}}},
                {"name": "rank4", "train": {"method": {"r": 4}}},
                {"name": "voc", "train": {"vocab": {"add": 100}}},
                {"name": "voc-pre", "train": {"vocab": {"add": 100, "pretrain": {"max_steps": 5}}}}]
    spec, here = load_spec(write_setup(tmp_path, variants=variants, seeds=(1,)))
    runs = {r.variant.name: r.train_raw for r in plan(spec, here)}
    assert runs["houlsby"]["method"] == "sadapter_h"
    assert runs["parallel"]["method"] == {"name": "padapter", "bottleneck_size": 8}  # no LoRA `r` carried over
    assert runs["rank4"]["method"] == {"name": "lora", "r": 4}  # same method: merged
    configs = {name: parse_config(raw) for name, raw in runs.items()}  # every variant's train config is valid
    assert configs["voc"].vocab.add == 100 and configs["voc"].vocab.pretrain is None
    assert configs["voc-pre"].vocab.pretrain.max_steps == 5 and configs["base"].vocab is None


def test_bad_variants_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no source or type named `nope`"):
        spec, here = load_spec(write_setup(tmp_path / "a", variants=[{"leave_one_out": ["nope"]}]))
        plan(spec, here)
    with pytest.raises(UserError, match="not in extra_sources"):
        spec, here = load_spec(write_setup(tmp_path / "b", variants=[{"name": "x", "add": ["missing"]}]))
        plan(spec, here)


def test_dry_run_prints_the_plan(tmp_path, capsys):
    from curate.app.cli import main

    assert main(["ablate", str(write_setup(tmp_path)), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "8 training runs over 3 distinct data versions (0 already built)" in out


def test_tiny_study_end_to_end_resumes_after_a_crash(tmp_path, monkeypatch):
    import torch

    import eval.runner
    from train.tiny import build_tiny_model

    torch.set_num_threads(1)
    model_dir = build_tiny_model(tmp_path / "tiny", texts=["以下哪个数最大？第题", "你好，世界。", "长城很长。"] * 5)
    study = write_setup(tmp_path, model_dir, variants=[{"leave_one_out": ["belle_zh"]}], seeds=(1, 2))
    real_evaluate, calls = eval.runner.evaluate, []

    def crash_on_third(cfg, log=print):
        calls.append(cfg.model)
        if len(calls) == 3:
            raise RuntimeError("simulated crash")
        return real_evaluate(cfg, log=log)

    monkeypatch.setattr(eval.runner, "evaluate", crash_on_third)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_ablation(study, log=lambda s: None)
    monkeypatch.setattr(eval.runner, "evaluate", real_evaluate)
    logs = []
    out = run_ablation(study, log=logs.append)
    assert sum("cache hit" in line for line in logs) == 3  # trainings finished before the crash are reused
    assert sum(line.startswith("cached") for line in logs) == 2  # the two evals that had finished
    scores = pl.read_parquet(out / "scores.parquet")
    assert scores.group_by("variant", "seed").len().height == 4 and set(scores["score"]) <= {0.0, 1.0}
    for name in ("results.csv", "results.md", "deltas.csv", "summary.md", "deltas.png", "heatmap.png"):
        assert (out / name).exists(), name
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "`-belle_zh`" in summary and "CI" in summary
