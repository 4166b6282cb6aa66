"""`curate ablate --budget 2h`: size a study (records per variant, optimizer steps, seeds) to a wall-clock budget.

The time model is the dry run's: a run costs its training tokens over the measured training speed of
one job (one torch thread), plus a fixed overhead and the measured evaluation time (the `budget:`
block of the ablation file, filled in from a pilot). Jobs run in parallel (`budget.jobs`). Seeds come
first from the file's list, and are dropped (down to `budget.min_seeds`) only when the steps a run
would get fall below `budget.min_steps`; records per variant follow from the steps (each record seen
`budget.epochs` times, `tokens_per_record` tokens each), capped at what the sources give.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from curate.core.errors import UserError

UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """'2h', '90m', '1h30m', '5400' (seconds) -> seconds."""
    t = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(h|min|m|s)", t)
    if not parts or "".join(n + u for n, u in parts) != t.replace(" ", ""):
        raise UserError(f"--budget {text!r} is not a duration", hint="e.g. 2h, 90m, 1h30m or seconds")
    return sum(float(n) * UNITS[u] for n, u in parts)


@dataclass(frozen=True)
class Sizing:
    records: int  # mix.total of every variant
    steps: int  # max_steps of every run
    seeds: int  # the first N seeds of the file
    seconds_per_run: float
    total_seconds: float  # wall clock with `jobs` in parallel
    tokens_per_step: int
    tokens_per_second: float
    jobs: int
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        lines = [f"budget sizing: {self.records} records per variant, {self.steps} steps "
                 f"({self.tokens_per_step} tokens/step at {self.tokens_per_second:g} tokens/s per job), "
                 f"{self.seeds} seed(s); ≈ {self.seconds_per_run / 60:.1f} min per run, "
                 f"≈ {self.total_seconds / 60:.0f} min wall with {self.jobs} parallel job(s)"]
        return "\n".join(lines + [f"  note: {n}" for n in self.notes])


def tokens_per_step(training: dict) -> int:
    return int(training.get("per_device_train_batch_size", 8)) * int(training.get("gradient_accumulation_steps", 1)) \
        * int(training.get("max_length", 1024))


def size_study(budget_s: float, *, variants: int, seeds_available: int, training: dict, speed: float,
               opts, split_test: float = 0.0) -> Sizing:
    """The largest study that fits: as many seeds as the file lists while each run gets min_steps."""
    if budget_s <= 0:
        raise UserError("--budget must be positive")
    jobs, per_step = opts.jobs, tokens_per_step(training)
    fixed = opts.eval_seconds_per_run + opts.overhead_seconds_per_run
    notes = []

    def steps_for(seeds: int) -> int:
        runs = variants * seeds
        waves = math.ceil(runs / jobs)  # runs of one job, one after another
        return int((budget_s / waves - fixed) * speed // per_step)

    seeds = max(1, min(seeds_available, max(opts.min_seeds, 1)))
    for n in range(seeds_available, max(opts.min_seeds, 1) - 1, -1):
        if steps_for(n) >= opts.min_steps:
            seeds = n
            break
    steps = steps_for(seeds)
    if steps < opts.min_steps:
        notes.append(f"the budget gives {max(steps, 0)} steps per run, below budget.min_steps={opts.min_steps}: "
                     f"effects may not show; raise the budget, the jobs, or lower the evaluation cost")
    steps = max(steps, 1)
    wanted = math.ceil(steps * per_step * opts.epochs / opts.tokens_per_record / (1 - split_test))
    records = wanted
    if opts.max_records and wanted > opts.max_records:
        records = opts.max_records
        notes.append(f"{wanted} records wanted for {opts.epochs:g} epoch(s), the sources give {opts.max_records}: "
                     f"each record is seen ≈ {opts.epochs * wanted / records:.1f} times")
    per_run = steps * per_step / speed + fixed
    total = math.ceil(variants * seeds / jobs) * per_run
    return Sizing(records, steps, seeds, per_run, total, per_step, speed, jobs, tuple(notes))
