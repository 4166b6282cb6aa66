"""Plan and run an ablation: build (cached by version id), train (cached by run id), evaluate (cached).

Re-running after a crash continues where it stopped: every step is a cache hit once finished, and an
interrupted training run resumes from its last checkpoint. No scheduler: steps run in order; to run
variants in parallel, hand `curate train` / `curate eval` of the printed plan to a job runner.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import polars as pl

from curate.ablation.spec import AblationSpec, Variant, deep_merge, expand_variants, load_spec, merge_train
from curate.errors import UserError
from curate.yamlio import read_yaml

# seconds per optimizer step measured on this 2-core CPU (batch 4 x 256 tokens), for --dry-run estimates
# Training tokens per second measured on this project's CPU with one thread (docs/train.md, Benchmark).
TOKENS_PER_SECOND = {"smollm2-135m": 60.0, "gemma3-270m": 32.0}
TOKENS_PER_SECOND_DEFAULT = 5000.0  # tiny test models and unknown models


_LOG = logging.getLogger(__name__)

@dataclass
class PlannedRun:
    variant: Variant
    seed: int
    recipe: object  # curate.recipe.Recipe
    version_id: str
    version_dir: Path
    train_raw: dict
    eval_raw: dict
    built: bool = False
    run_dir: Path | None = None
    scores: list[dict] = field(default_factory=list)


def _scaled(value: int | None, scale: float) -> int | None:
    return None if value is None else max(1, int(math.ceil(value * scale)))


def plan(spec: AblationSpec, here: Path, scale: float = 1.0) -> list[PlannedRun]:
    from curate.build import version_id
    from curate.recipe import parse_recipe

    recipe_path = (here / spec.recipe).resolve()
    base_recipe = read_yaml(recipe_path, "ablation recipe") or {}
    train_base = read_yaml(here / spec.train, "ablation train config") or {} if isinstance(spec.train, str) else spec.train
    variants = expand_variants(spec, base_recipe, here, recipe_path.parent)
    out = []
    for v in variants:
        raw = copy.deepcopy(v.recipe)
        if scale != 1.0 and (raw.get("mix") or {}).get("total"):
            raw["mix"]["total"] = _scaled(raw["mix"]["total"], scale)
        recipe = parse_recipe(raw, recipe_path.parent, origin=f"{spec.name} variant `{v.name}`")
        vid, _ = version_id(recipe)
        vdir = Path(spec.builds_dir) / recipe.name / vid
        for seed in spec.seeds:
            t = merge_train(train_base, v.train)
            t.setdefault("data", {})["version"] = str(vdir)
            training = t.setdefault("training", {})
            training["seed"] = seed
            if scale != 1.0 and training.get("max_steps"):
                training["max_steps"] = _scaled(training["max_steps"], scale)
            t["name"] = f"{spec.name}"
            t["output_root"] = spec.runs_dir
            e = deep_merge(spec.eval, v.eval)
            e["output_dir"] = spec.evals_dir
            for task in e.get("tasks") or []:  # data folders are written relative to the ablation file
                if isinstance(task, dict) and task.get("data_dir") and not Path(task["data_dir"]).is_absolute():
                    task["data_dir"] = str((here / task["data_dir"]).resolve())
            out.append(PlannedRun(v, seed, recipe, vid, vdir, t, e, built=(vdir / "manifest.json").exists()))
    return out


def estimate_seconds(runs: list[PlannedRun]) -> float:
    """Training time from tokens per step and the measured CPU speed (evaluation not included)."""
    from curate.hashing import stable_json

    total, pretrained = 0.0, set()
    for r in runs:
        model = r.train_raw.get("model")
        path = model if isinstance(model, str) else (model or {}).get("path", "")
        speed = TOKENS_PER_SECOND.get(str(path), TOKENS_PER_SECOND_DEFAULT)
        training = r.train_raw["training"]
        tokens = int(training.get("max_steps") or 50) * int(training.get("per_device_train_batch_size", 8)) * \
            int(training.get("max_length", 1024))
        pretrain = (r.train_raw.get("vocab") or {}).get("pretrain") or {}  # voc-pre: pre-training once per base
        key = stable_json([r.version_id, path, r.train_raw.get("vocab")])
        if pretrain and key not in pretrained:
            pretrained.add(key)
            tokens += int(pretrain.get("max_steps", 0)) * int(pretrain.get("per_device_train_batch_size", 4)) * \
                int(pretrain.get("max_length", 256))
        total += tokens / speed
    return total


def describe(runs: list[PlannedRun]) -> str:
    lines = [f"{'variant':<18} {'seed':>5}  {'version':<14} {'built':<6} change"]
    for r in runs:
        lines.append(f"{r.variant.name:<18} {r.seed:>5}  {r.version_id:<14} {'yes' if r.built else 'no':<6} {r.variant.change}")
    versions = {r.version_id for r in runs}
    lines.append(f"{len(runs)} training runs over {len(versions)} distinct data versions "
                 f"({sum(1 for v in versions if any(r.built and r.version_id == v for r in runs))} already built); "
                 f"estimated training time on this CPU ≈ {estimate_seconds(runs) / 60:.0f} min plus evaluation")
    return "\n".join(lines)


def item_scores(folder: Path, results: dict) -> list[dict]:
    """Per-item scores of one eval result: MC correctness (0/1) or Belle offline ROUGE-L (chars)."""
    task = results["task"]["name"]
    method = results["settings"].get("method") or results["settings"].get("scorer") or results["task"]["kind"]
    subjects = (results["task"].get("config") or {}).get("subjects") or {}
    out = []
    with open(folder / "predictions.jsonl", encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            if "correct" in p:
                score = 1.0 if p.get("correct") else 0.0
                sub = subjects.get(p.get("subject"), {})
                group = sub.get("category", p.get("subject")) if isinstance(sub, dict) else p.get("subject")
            else:
                offline = p.get("offline") or {}
                if not offline:
                    continue  # unscored (no reference): counted in the eval's own results, not comparable here
                score = float(offline["rougeL_char_f"])
                group = p.get("class")
            out.append({"task": f"{task}:{method}", "group": str(group), "item": str(p["id"]), "score": score})
    return out


def execute(spec: AblationSpec, runs: list[PlannedRun], log: Callable[[str], None] | None = None) -> pl.DataFrame:
    """Build, train and evaluate every planned run (each step cached); return per-item scores."""
    log = log or _LOG.info
    from curate.build import build
    from eval.config import parse_config as parse_eval
    from eval.runner import evaluate
    from train.config import parse_config as parse_train
    from train.runner import train

    rows = []
    for i, r in enumerate(runs, start=1):
        t0 = time.perf_counter()
        log(f"[{i}/{len(runs)}] {r.variant.name} seed {r.seed}: version {r.version_id}")
        res = build(r.recipe, spec.builds_dir, quiet=True)
        r.built = True
        r.run_dir = train(parse_train(r.train_raw, source=f"{spec.name}/{r.variant.name}"), log=log)
        e = dict(r.eval_raw, model=str(r.run_dir))
        for folder, results in evaluate(parse_eval(e, f"{spec.name}/{r.variant.name} eval"), log=log):
            for s in item_scores(Path(folder), results):
                rows.append({"variant": r.variant.name, "seed": r.seed, "version": res.version, **s})
        log(f"[{i}/{len(runs)}] done in {time.perf_counter() - t0:.0f}s")
    return pl.DataFrame(rows, schema={"variant": pl.String, "seed": pl.Int64, "version": pl.String, "task": pl.String,
                                      "group": pl.String, "item": pl.String, "score": pl.Float64})


def run_ablation(path: str | Path, *, scale: float = 1.0, dry_run: bool = False, only: list[str] | None = None,
                 log: Callable[[str], None] | None = None) -> Path | None:
    """Plan, run and report. With `only`, run just those variants (one job of several) and report nothing."""
    log = log or _LOG.info
    spec, here = load_spec(path)
    runs = plan(spec, here, scale)
    if only:
        unknown = sorted(set(only) - {r.variant.name for r in runs})
        if unknown:
            raise UserError(f"ablation --variants: unknown {', '.join(unknown)}",
                            hint=f"variants: {', '.join(dict.fromkeys(r.variant.name for r in runs))}")
        runs = [r for r in runs if r.variant.name in only]
    log(describe(runs))
    if dry_run:
        return None
    if only:
        execute(spec, runs, log)
        log("partial run done; `curate ablate` without --variants collects every variant from cache")
        return None
    out = Path(spec.output_dir) / spec.name
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    scores = execute(spec, runs, log)
    from curate.ablation.report import write_ablation_report

    write_ablation_report(out, spec, runs, scores, seconds=time.perf_counter() - t0)
    return out
