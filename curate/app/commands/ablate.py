"""curate ablate ABLATION.yaml: build, train and evaluate every variant (all cached), then compare."""

from __future__ import annotations

import argparse

from train.threads import add_threads_argument, set_torch_threads

HELP = "run an ablation study: recipe variants x seeds -> effects with intervals"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ablation", help="ablation YAML (see recipes/ablations/data-types.yaml)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (variants, version ids, cached or not, estimated cost)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply mix totals and training steps (e.g. 10 on a GPU)")
    p.add_argument("--budget", metavar="DURATION",
                   help="size the study to this wall time (2h, 90m): records per variant, steps and seeds from "
                        "the measured tokens/s and the file's `budget:` block; overrides --scale's sizes")
    p.add_argument("--jobs", type=int, help="run the plan as N worker processes with --threads each "
                                            "(default: budget.jobs with --budget, else 1)")
    p.add_argument("--shard", metavar="I/N", help="run every N-th planned run starting at I (what --jobs workers do)")
    p.add_argument("--variants", metavar="A,B",
                   help="run only these variants (a separate job); a later run without it collects all from cache")
    add_threads_argument(p)


def run(args: argparse.Namespace) -> int:
    from curate.app.ablation.runner import run_ablation
    from curate.core.errors import UserError

    if args.scale <= 0:
        raise UserError("--scale must be positive")
    if args.jobs is not None and args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    shard = None
    if args.shard:
        from curate.app.ablation.parallel import parse_shard

        shard = parse_shard(args.shard)
    if not args.dry_run:
        set_torch_threads(args.threads)
    only = [v for v in (args.variants or "").split(",") if v] or None
    # the dry run's plan is its result (stdout); a real run's progress is logged (stderr)
    out = run_ablation(args.ablation, scale=args.scale, dry_run=args.dry_run, only=only, budget=args.budget,
                       jobs=args.jobs, shard=shard, threads=args.threads or 1, log=print if args.dry_run else None)
    if out is not None:
        print((out / "summary.md").read_text(encoding="utf-8"))
        print(out)
    return 0
