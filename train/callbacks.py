"""Trainer callbacks: per-step metrics to JSONL, and AdaLoRA's rank re-allocation (TRL does not call it)."""

from __future__ import annotations

import json
import math
import resource
import time
from pathlib import Path

from transformers import TrainerCallback


def peak_rss_mib() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class MetricsLogger(TrainerCallback):
    """Append every log event (loss, lr, grad norm, tokens, eval loss) to metrics.jsonl with step and time."""

    def __init__(self, path: Path):
        self.path = path
        self.start = time.time()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        row = {"step": state.global_step, "epoch": state.epoch, "time_s": round(time.time() - self.start, 3)}
        for key, value in logs.items():
            if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
                row[key] = value
        row["peak_rss_mib"] = round(peak_rss_mib(), 1)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")


class AdaLoraAllocator(TrainerCallback):
    """AdaLoRA must re-allocate ranks after each optimizer step, before gradients are zeroed."""

    def on_optimizer_step(self, args, state, control, model=None, **kwargs):
        base = getattr(model, "base_model", None)
        if base is not None and hasattr(base, "update_and_allocate"):
            base.update_and_allocate(state.global_step)


def truncate_metrics(path: Path, up_to_step: int) -> None:
    """On resume, drop log rows written after the checkpoint we restart from."""
    if not path.exists():
        return
    rows = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= up_to_step]
    path.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
