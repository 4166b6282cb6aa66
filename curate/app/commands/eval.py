"""`curate eval`: score a base model, a training run (base + adapter) or any HF/GGUF model on tasks.

Light at import time (the CLI contract): torch and transformers load inside ``run`` only.
"""

from __future__ import annotations

import argparse

from eval.method_names import MC_METHODS

HELP = "evaluate a model or a run on exam tasks (C-Eval, CMMLU, MMCU) and Belle-eval; results in evals/"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", help="eval config YAML (model:, tasks:, ...); or use the flags below")
    p.add_argument("--model", help="run folder (runs/<name>/<id>), model folder, .gguf, Hub id or shorthand (smollm2-135m)")
    p.add_argument("--task", action="append", default=[], help="built-in task name or task YAML path (repeatable)")
    p.add_argument("--data-dir", action="append", default=[],
                   help="data folder for the tasks; repeat as TASK=DIR for several tasks")
    p.add_argument("--method", action="append", choices=MC_METHODS,
                   help="multiple-choice scoring method (repeatable; default: the task's)")
    p.add_argument("--shots", type=int, help="number of shots (default: the task's)")
    p.add_argument("--cot", action="store_true", help="add the task's CoT cue (先思考，再决定); needs --method generate")
    p.add_argument("--limit", type=int, help="first N items per subject (exams) or per class (Belle)")
    p.add_argument("--subjects", help="comma-separated subjects to run (exams)")
    p.add_argument("--scorers", help="comma-separated open-task scorers: offline,judge,ref_loglik")
    p.add_argument("--judge-base-url", help="OpenAI-compatible endpoint, e.g. https://api.openai.com/v1")
    p.add_argument("--judge-model", help="judge model name")
    p.add_argument("--judge-key-env", default="OPENAI_API_KEY", help="environment variable holding the judge API key")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--max-length", type=int, help="cut longer prompts on the left (counted in the results)")
    p.add_argument("--threads", type=int, help="torch CPU threads (1 avoids oversubscription on a shared CPU)")
    p.add_argument("--output-dir", help="where result folders go (default evals/)")
    p.add_argument("--force", action="store_true", help="recompute even when a finished result exists")


def _config_from_flags(args) -> dict:
    from curate.core.errors import UserError

    if not args.model or not args.task:
        raise UserError("give a config YAML, or --model and at least one --task (with --data-dir)")
    dirs = {}
    plain = [d for d in args.data_dir if "=" not in d]
    for d in args.data_dir:
        if "=" in d:
            name, path = d.split("=", 1)
            dirs[name] = path
    tasks = []
    for t in args.task:
        data_dir = dirs.get(t) or (plain[0] if len(plain) == 1 else None)
        if data_dir is None:
            raise UserError(f"no --data-dir for task {t}", hint="pass --data-dir DIR (one task) or --data-dir TASK=DIR")
        run = {"task": t, "data_dir": data_dir}
        for key, value in (("methods", args.method), ("shots", args.shots), ("limit", args.limit),
                           ("subjects", args.subjects and args.subjects.split(",")),
                           ("scorers", args.scorers and args.scorers.split(","))):
            if value is not None:
                run[key] = value
        if args.cot:
            run["cot"] = True
        tasks.append(run)
    cfg = {"model": args.model, "tasks": tasks}
    if args.judge_base_url or args.judge_model:
        cfg["judge"] = {"base_url": args.judge_base_url, "model": args.judge_model, "api_key_env": args.judge_key_env}
    return cfg


def run(args) -> int:

    from eval.config import parse_config
    from eval.results import TABLE
    from eval.runner import evaluate

    if args.config:
        from curate.core.yamlio import read_yaml

        raw = read_yaml(args.config, "config")
        where = args.config
        if isinstance(raw, dict) and args.model:
            raw["model"] = args.model
    else:
        raw, where = _config_from_flags(args), "flags"
    if isinstance(raw, dict):
        for key in ("batch_size", "max_length", "output_dir", "threads"):
            if getattr(args, key) is not None:
                raw[key] = getattr(args, key)
        if args.force:
            raw["force"] = True
    cfg = parse_config(raw, where)
    for folder, _ in evaluate(cfg):
        print((folder / TABLE).read_text(encoding="utf-8"))
    return 0
