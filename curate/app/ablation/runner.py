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

from curate.app.ablation.spec import (
    AblationSpec,
    Variant,
    expand_variants,
    load_spec,
    merge_train,
    rebase_paths,
)
from curate.core.errors import UserError
from curate.core.schema import deep_merge
from curate.core.yamlio import read_yaml

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
    heldout: object | None = None  # the held-out pool's recipe, built before the variant's eval


def _scaled(value: int | None, scale: float) -> int | None:
    return None if value is None else max(1, int(math.ceil(value * scale)))


HELDOUT = "{heldout}"  # an eval task's data_dir placeholder: the held-out pool version


def heldout_recipe(spec: AblationSpec, base_recipe: dict, here: Path, recipe_dir: Path) -> dict:
    """Every source the study uses (base + extra), all records kept, split like the base: the pool
    whose test side no variant trains on (a record's side depends only on its id and the seed)."""
    r = copy.deepcopy(base_recipe)
    r["name"] = f"{r.get('name', spec.name)}-heldout"
    r["sources"] = r["sources"] + [rebase_paths(s, here, recipe_dir) for s in spec.extra_sources]
    r.pop("mix", None)
    if not (r.get("split") or {}).get("test"):
        raise UserError(f"ablation {spec.name}: an eval task reads {HELDOUT} but the base recipe has no test split",
                        hint="add recipe_overrides: {split: {test: 0.1}} to the ablation file")
    return r


def _uses_heldout(spec: AblationSpec) -> bool:
    return any(isinstance(t, dict) and t.get("data_dir") == HELDOUT for t in spec.eval.get("tasks") or [])


def _eval_config(spec: AblationSpec, variant: Variant, here: Path, heldout_dir: Path | None) -> dict:
    """The base eval config with the variant's changes; `task_overrides` (task name -> overrides) are
    merged into those tasks' own overrides."""
    extra = dict(variant.eval)
    per_task = extra.pop("task_overrides", {}) or {}
    e = deep_merge(spec.eval, extra)
    e["output_dir"] = spec.evals_dir
    for task in e.get("tasks") or []:
        if not isinstance(task, dict):
            continue
        if task.get("task") in per_task:
            task["overrides"] = deep_merge(task.get("overrides") or {}, per_task[task["task"]])
        if task.get("data_dir") == HELDOUT:
            task["data_dir"] = str(heldout_dir)
        elif task.get("data_dir") and not Path(task["data_dir"]).is_absolute():  # relative to the ablation file
            task["data_dir"] = str((here / task["data_dir"]).resolve())
    return e


def plan(spec: AblationSpec, here: Path, scale: float = 1.0, sizing=None) -> list[PlannedRun]:
    """Every (variant, seed) run; `sizing` (budget.Sizing) sets records, steps and seeds instead of `scale`."""
    from curate.build import version_id
    from curate.recipe import parse_recipe

    recipe_path = (here / spec.recipe).resolve()
    base_recipe = deep_merge(read_yaml(recipe_path, "ablation recipe") or {}, spec.recipe_overrides)
    if sizing is not None:
        base_recipe.setdefault("mix", {})["total"] = sizing.records
    train_base = read_yaml(here / spec.train, "ablation train config") or {} if isinstance(spec.train, str) else spec.train
    variants = expand_variants(spec, base_recipe, here, recipe_path.parent)
    heldout_dir = None
    if _uses_heldout(spec):
        pool = parse_recipe(heldout_recipe(spec, base_recipe, here, recipe_path.parent), recipe_path.parent,
                            origin=f"{spec.name} held-out pool")
        heldout_dir = Path(spec.builds_dir) / pool.name / version_id(pool)[0]
    seeds = spec.seeds[:sizing.seeds] if sizing is not None else spec.seeds
    out = []
    for v in variants:
        raw = copy.deepcopy(v.recipe)
        if scale != 1.0 and (raw.get("mix") or {}).get("total"):
            raw["mix"]["total"] = _scaled(raw["mix"]["total"], scale)
        recipe = parse_recipe(raw, recipe_path.parent, origin=f"{spec.name} variant `{v.name}`")
        vid, _ = version_id(recipe)
        vdir = Path(spec.builds_dir) / recipe.name / vid
        for seed in seeds:
            t = merge_train(train_base, v.train)
            t.setdefault("data", {})["version"] = str(vdir)
            training = t.setdefault("training", {})
            training["seed"] = seed
            if sizing is not None:
                training["max_steps"] = sizing.steps
            elif scale != 1.0 and training.get("max_steps"):
                training["max_steps"] = _scaled(training["max_steps"], scale)
            t["name"] = f"{spec.name}"
            t["output_root"] = spec.runs_dir
            e = _eval_config(spec, v, here, heldout_dir)
            out.append(PlannedRun(v, seed, recipe, vid, vdir, t, e, built=(vdir / "manifest.json").exists(),
                                  heldout=pool if heldout_dir else None))
    return out


def estimate_seconds(runs: list[PlannedRun], speed: float | None = None) -> float:
    """Training time from tokens per step and the measured CPU speed (evaluation not included);
    `speed` (tokens/s, e.g. the ablation file's budget.tokens_per_second) wins over the table."""
    from curate.core.hashing import stable_json

    total, pretrained = 0.0, set()
    for r in runs:
        model = r.train_raw.get("model")
        path = model if isinstance(model, str) else (model or {}).get("path", "")
        tps = speed or TOKENS_PER_SECOND.get(str(path), TOKENS_PER_SECOND_DEFAULT)
        training = r.train_raw["training"]
        tokens = int(training.get("max_steps") or 50) * int(training.get("per_device_train_batch_size", 8)) * \
            int(training.get("max_length", 1024))
        pretrain = (r.train_raw.get("vocab") or {}).get("pretrain") or {}  # voc-pre: pre-training once per base
        key = stable_json([r.version_id, path, r.train_raw.get("vocab")])
        if pretrain and key not in pretrained:
            pretrained.add(key)
            tokens += int(pretrain.get("max_steps", 0)) * int(pretrain.get("per_device_train_batch_size", 4)) * \
                int(pretrain.get("max_length", 256))
        total += tokens / tps
    return total


def describe(runs: list[PlannedRun], speed: float | None = None, jobs: int = 1) -> str:
    lines = [f"{'variant':<18} {'seed':>5}  {'version':<14} {'built':<6} change"]
    for r in runs:
        lines.append(f"{r.variant.name:<18} {r.seed:>5}  {r.version_id:<14} {'yes' if r.built else 'no':<6} {r.variant.change}")
    versions = {r.version_id for r in runs}
    lines.append(f"{len(runs)} training runs over {len(versions)} distinct data versions "
                 f"({sum(1 for v in versions if any(r.built and r.version_id == v for r in runs))} already built); "
                 f"estimated training time on this CPU ≈ {estimate_seconds(runs, speed) / 60:.0f} min"
                 + (f" ({estimate_seconds(runs, speed) / 60 / jobs:.0f} min wall on {jobs} jobs)" if jobs > 1 else "")
                 + " plus evaluation")
    return "\n".join(lines)


def item_scores(folder: Path, results: dict) -> list[dict]:
    """Per-item scores of one eval result: MC correctness (0/1), Belle offline ROUGE-L (chars), or
    ref_loglik (two labels: `<task>:ref_loglik` nats per character, `<task>:ref_loglik_token` per token)."""
    task = results["task"]["name"]
    method = results["settings"].get("method") or results["settings"].get("scorer") or results["task"]["kind"]
    subjects = (results["task"].get("config") or {}).get("subjects") or {}
    out = []
    with open(folder / "predictions.jsonl", encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            if method == "ref_loglik":
                if p.get("unscored") is None:  # no reference: counted in the eval's own results
                    out += [{"task": f"{task}:ref_loglik", "group": str(p["class"]), "item": str(p["id"]),
                             "score": float(p["nll_char"])},
                            {"task": f"{task}:ref_loglik_token", "group": str(p["class"]), "item": str(p["id"]),
                             "score": float(p["nll_token"])}]
                continue
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
        if r.heldout is not None:
            build(r.heldout, spec.builds_dir, quiet=True)  # cached after the first run
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


def budget_sizing(spec: AblationSpec, here: Path, budget_s: float, jobs: int | None = None):
    """budget.Sizing for this study: variants from the file, speed from the budget block or the table."""
    from curate.app.ablation.budget import size_study

    recipe_path = (here / spec.recipe).resolve()
    base_recipe = deep_merge(read_yaml(recipe_path, "ablation recipe") or {}, spec.recipe_overrides)
    train_base = read_yaml(here / spec.train, "ablation train config") or {} if isinstance(spec.train, str) else spec.train
    n_variants = len(expand_variants(spec, base_recipe, here, recipe_path.parent))
    model = train_base.get("model")
    path = model if isinstance(model, str) else (model or {}).get("path", "")
    speed = spec.budget.tokens_per_second or TOKENS_PER_SECOND.get(str(path), TOKENS_PER_SECOND_DEFAULT)
    opts = spec.budget if jobs is None else spec.budget.model_copy(update={"jobs": jobs})
    return size_study(budget_s, variants=n_variants, seeds_available=len(spec.seeds),
                      training=train_base.get("training") or {}, speed=speed, opts=opts,
                      split_test=float((base_recipe.get("split") or {}).get("test") or 0.0))


def run_ablation(path: str | Path, *, scale: float = 1.0, dry_run: bool = False, only: list[str] | None = None,
                 budget: str | None = None, jobs: int | None = None, shard: tuple[int, int] | None = None,
                 threads: int = 1, log: Callable[[str], None] | None = None) -> Path | None:
    """Plan, run and report. With `only` or `shard`, run just those runs (one job of several) and report
    nothing; with `jobs` > 1, run the plan as that many worker processes, then report."""
    from curate.app.ablation.budget import parse_duration

    log = log or _LOG.info
    spec, here = load_spec(path)
    sizing = None
    if budget is not None:
        sizing = budget_sizing(spec, here, parse_duration(budget), jobs)
        jobs = sizing.jobs
        if shard is None:
            log(sizing.describe())
    runs = plan(spec, here, scale, sizing)
    if only:
        unknown = sorted(set(only) - {r.variant.name for r in runs})
        if unknown:
            raise UserError(f"ablation --variants: unknown {', '.join(unknown)}",
                            hint=f"variants: {', '.join(dict.fromkeys(r.variant.name for r in runs))}")
        runs = [r for r in runs if r.variant.name in only]
    if shard is not None:
        runs = runs[shard[0]::shard[1]]
    log(describe(runs, spec.budget.tokens_per_second if budget else None, jobs or 1))
    if dry_run:
        return None
    if only or shard:
        execute(spec, runs, log)
        log("partial run done; `curate ablate` without --variants/--shard collects every variant from cache")
        return None
    out = Path(spec.output_dir) / spec.name
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if jobs and jobs > 1:
        from curate.app.ablation.parallel import run_workers

        worker_args = (["--budget", budget, "--jobs", str(jobs)] if budget else []) + \
            (["--scale", repr(scale)] if scale != 1.0 else [])
        run_workers(path, spec, runs, jobs, worker_args, threads=threads, log=log)
    scores = execute(spec, runs, log)
    from curate.app.ablation.report import write_ablation_report

    write_ablation_report(out, spec, runs, scores, seconds=time.perf_counter() - t0, sizing=sizing)
    return out
