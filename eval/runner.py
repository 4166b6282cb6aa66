"""One ``curate eval`` run: plan every (task, method), reuse finished results, load the model once.

Data are read and checked before the model is loaded, so a wrong path or header fails in a
second, not after minutes of loading; a plan whose results all exist never loads the model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from curate.core.errors import UserError
from curate.core.hashing import sha256_obj
from eval.config import EvalConfig, TaskRun
from eval.metrics import aggregate_mc
from eval.readers import (
    normalize_class,
    read_belle_prompts,
    read_mc_split,
    read_open_items,
)
from eval.results import (
    compute_eval_id,
    load_cached,
    model_identity,
    result_dir,
    write_result,
)
from eval.tasks import LoadedTask, MultipleChoiceTask, load_task


_LOG = logging.getLogger(__name__)

@dataclass
class Job:
    run: TaskRun
    task: LoadedTask
    method: str  # an exam method, or "open" for Belle
    settings: dict
    items: list
    shot_pools: dict = field(default_factory=dict)
    prompts: dict = field(default_factory=dict)  # Belle judge prompts by class
    items_sha256: str = ""  # content of the items (and shots) scored
    eval_id: str = ""
    out_dir: Path | None = None


def _limit(groups: dict[str, list], limit: int | None) -> list:
    return [x for _, xs in sorted(groups.items()) for x in (xs[:limit] if limit else xs)]


def _plan_mc(run: TaskRun, lt: LoadedTask) -> list[Job]:
    task: MultipleChoiceTask = lt.config  # type: ignore[assignment]
    data_dir = Path(run.data_dir)
    by_subject = read_mc_split(task.data.format, data_dir, task.data.eval_split, layout=task.data.layout,
                               multi_answer=task.multi_answer)
    if run.subjects:
        unknown = sorted(set(run.subjects) - set(by_subject))
        if unknown:
            raise UserError(f"task {task.name}: subjects {unknown} have no data in {data_dir}",
                            hint=f"available: {', '.join(sorted(by_subject))}")
        by_subject = {s: by_subject[s] for s in run.subjects}
    elif task.subjects:
        missing = sorted(set(task.subjects) - set(by_subject))
        if missing:
            raise UserError(f"task {task.name}: no data for {len(missing)} subjects of the task ({', '.join(missing[:5])}…)",
                            hint=f"restore the files in {data_dir} ({task.data.layout}) or list `subjects:` to run")
    shots = task.shots if run.shots is None else run.shots
    pools: dict = {}
    if shots:
        if not task.data.shot_split:
            raise UserError(f"task {task.name} has no shot split; use shots: 0")
        pools = read_mc_split(task.data.format, data_dir, task.data.shot_split, layout=task.data.layout,
                              multi_answer=task.multi_answer)
        lacking = sorted(s for s in by_subject if len([i for i in pools.get(s, []) if i.problem is None]) < shots)
        if lacking:
            raise UserError(f"task {task.name}: fewer than {shots} valid shot items for {lacking[:5]}",
                            hint=f"check {data_dir / task.data.shot_split} or lower shots")
    items = _limit(by_subject, run.limit)
    shot_items = {s: [asdict(i) for i in pools.get(s, []) if i.problem is None][:shots] for s in by_subject}
    items_sha = sha256_obj([[asdict(i) for i in items], shot_items])
    jobs = []
    from eval.multiple_choice import check_method

    for method in run.methods or [task.method]:
        check_method(task, items, method, run.cot)
        gen = (task.cot_generate if run.cot else task.generate).model_dump() if method == "generate" else None
        settings = {"method": method, "shots": shots, "cot": run.cot, "limit_per_subject": run.limit,
                    "subjects": run.subjects, "generate": gen}
        jobs.append(Job(run, lt, method, settings, items, pools, items_sha256=items_sha))
    return jobs


def _plan_open(run: TaskRun, lt: LoadedTask, cfg: EvalConfig) -> list[Job]:
    """One job for the generation scorers (offline, judge: one generation serves both) and one for
    ref_loglik (no generation), so that each is cached by its own eval id."""
    task = lt.config
    data_dir = Path(run.data_dir)
    aliases = {normalize_class(k): normalize_class(v) for k, v in task.class_aliases.items()}
    items = read_open_items(task.data, data_dir, aliases)
    scorers = run.scorers or task.scorers
    gen_scorers = [s for s in scorers if s != "ref_loglik"]
    prompts: dict = {}
    if "judge" in scorers:
        if cfg.judge is None:
            raise UserError(f"task {task.name}: scorer judge needs a `judge:` block (base_url, model, api_key_env)")
        from eval.belle import check_class_join

        prompts = read_belle_prompts(data_dir / task.judge.prompts_file, aliases)
        check_class_join(items, prompts)
    by_class: dict[str, list] = {}
    for i in items:
        by_class.setdefault(i.cls, []).append(i)
    items = _limit(by_class, run.limit)
    jobs = []
    if gen_scorers:
        judge = _stored_judge(cfg.judge.model_dump(exclude={"cache_dir", "concurrency", "timeout_s"})) \
            if "judge" in scorers else None
        settings = {"method": "generate", "scorers": gen_scorers, "limit_per_class": run.limit,
                    "chat": task.chat.model_dump(), "generate": task.generate.model_dump(), "judge": judge}
        jobs.append(Job(run, lt, "open", settings, items, prompts=prompts,
                        items_sha256=sha256_obj([asdict(i) for i in items] + [prompts])))
    if "ref_loglik" in scorers:
        settings = {"method": "ref_loglik", "limit_per_class": run.limit, "chat": task.chat.model_dump(),
                    "reference": task.reference.model_dump()}
        jobs.append(Job(run, lt, "ref_loglik", settings, items, items_sha256=sha256_obj([asdict(i) for i in items])))
    return jobs


def _stored_judge(judge: dict) -> dict:
    """The judge settings as results keep them: a key inside base_url never lands in a result file."""
    from eval.judge_client import redact_url

    return {**judge, "base_url": redact_url(judge["base_url"])}


def plan(cfg: EvalConfig, identity: dict) -> list[Job]:
    jobs: list[Job] = []
    for n, run in enumerate(cfg.tasks):
        lt = load_task(run.task, run.overrides)
        if isinstance(lt.config, MultipleChoiceTask):
            if run.scorers:
                raise UserError(f"tasks[{n}].scorers: only open-generation tasks have scorers")
            new = _plan_mc(run, lt)
        else:
            if run.methods or run.cot or run.shots:
                raise UserError(f"tasks[{n}]: methods/shots/cot apply to multiple-choice tasks, not {lt.config.name}")
            new = _plan_open(run, lt, cfg)
        for job in new:
            job.eval_id = compute_eval_id(identity, lt.sha256, {**job.settings, "overrides": lt.overrides,
                                                                 "max_length": cfg.max_length}, job.items_sha256)
            job.out_dir = result_dir(cfg.output_dir, identity["slug"], lt.config.name, job.eval_id)
        jobs += new
    return jobs


def _progress(total: int | None, desc: str, unit: str = "item"):
    """A bar on a terminal; without one (CI), a log line every 30 s, updated per batch scored."""
    from curate.core.logs import Progress

    return Progress(total, desc, unit=unit, logger="eval")


def run_job(job: Job, model, tokenizer, cfg: EvalConfig) -> tuple[dict, list[dict], dict]:
    """(scores, prediction records, timings) of one job."""
    task = job.task.config
    t0 = time.perf_counter()
    if isinstance(task, MultipleChoiceTask):
        from eval.multiple_choice import run_multiple_choice

        scorable = sum(1 for i in job.items if i.problem is None)  # log-likelihood reports requests, not items
        total, unit = (scorable, "item") if job.method == "generate" else (None, "request")
        with _progress(total, f"{task.name} {job.method}", unit) as bar:
            records, stats = run_multiple_choice(model, tokenizer, task, job.items, job.shot_pools,
                                                 method=job.method, shots=job.settings["shots"],
                                                 cot=job.settings["cot"], batch_size=cfg.batch_size,
                                                 max_length=job.settings["model_max_length"], on_batch=bar.update)
        from eval.metrics import category_of

        for r in records:
            r["category"] = category_of(task, r["subject"])
        scores = aggregate_mc(records, task)
        new_tokens = stats["new_tokens"]
        timings = {}
    elif job.method == "ref_loglik":
        from eval.reference import aggregate_reference, score_references

        with _progress(len(job.items), f"{task.name} ref_loglik") as bar:
            records = score_references(model, tokenizer, task, job.items, batch_size=cfg.batch_size,
                                       max_length=job.settings["model_max_length"], on_batch=bar.update)
        scores = aggregate_reference(records)
        new_tokens, timings = 0, {}
    else:
        from eval.open_generation import run_open

        records, new_tokens, timings = run_open(job, model, tokenizer, cfg)
        from eval.belle import aggregate_open

        scores = aggregate_open(records, job.settings["scorers"])
    elapsed = time.perf_counter() - t0
    gen_s = timings.get("generate_s", elapsed)
    timings.update({"score_s": round(elapsed, 3), "items_per_s": round(len(job.items) / elapsed, 3) if elapsed else None,
                    "new_tokens": new_tokens, "tokens_per_s": round(new_tokens / gen_s, 2) if new_tokens and gen_s else None})
    return scores, records, timings


def load_model(cfg: EvalConfig):
    from train.models import ModelSpec, load_for_inference

    return load_for_inference(cfg.model if isinstance(cfg.model, str) else ModelSpec(**cfg.model))


def evaluate(cfg: EvalConfig, log: Callable[[str], None] | None = None) -> list[tuple[Path, dict]]:
    """Run every planned job (or reuse its finished folder); returns [(folder, results)]."""
    log = log or _LOG.info
    from curate.core.logs import quiet_known_warnings, quiet_library_bars

    quiet_known_warnings()
    quiet_library_bars()
    from train.runs import environment

    identity = model_identity(cfg.model)
    jobs = plan(cfg, identity)
    done: list[tuple[Path, dict]] = []
    pending = []
    for job in jobs:
        cached = None if cfg.force else load_cached(job.out_dir)
        if cached is not None:
            log(f"cached  {job.out_dir}")
            done.append((job.out_dir, cached))
        else:
            pending.append(job)
    if not pending:
        return done
    from train.threads import set_torch_threads

    set_torch_threads(cfg.threads)
    t0 = time.perf_counter()
    model, tokenizer, info = load_model(cfg)
    load_s = round(time.perf_counter() - t0, 3)
    max_length = cfg.max_length or getattr(getattr(model, "config", None), "max_position_embeddings", None)
    for job in pending:
        started = datetime.now(UTC).isoformat(timespec="seconds")
        job.settings["model_max_length"] = max_length  # recorded, not part of the eval id
        scores, records, timings = run_job(job, model, tokenizer, cfg)
        task = job.task.config
        first_prompt = next((r.get("prompt") or r.get("prompt_example") for r in records
                             if r.get("prompt") or r.get("prompt_example")), None)
        results = {
            "eval_id": job.eval_id,
            "task": {"name": task.name, "kind": task.kind, "file": str(job.task.path), "sha256": job.task.sha256,
                     "overrides": job.task.overrides, "config": task.model_dump()},
            "model": {**identity, "loaded": info},
            "settings": job.settings,
            "data": {"data_dir": str(Path(job.run.data_dir).resolve()), "items_sha256": job.items_sha256,
                     "n_items": len(job.items)},
            "prompt": {"example": first_prompt},
            "scores": scores,
            "batch_size": cfg.batch_size, "max_length": cfg.max_length, "threads": cfg.threads,
            "judge": (_stored_judge(cfg.judge.model_dump(exclude={"cache_dir"})) if job.settings.get("judge") else None),
            "packages": environment(),
            "timings": {"started_at": started, "load_model_s": load_s, **timings},
        }
        write_result(job.out_dir, results, records)
        log(f"wrote   {job.out_dir}")
        done.append((job.out_dir, results))
    return done
