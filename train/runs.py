"""Run folders `runs/<name>/<run id>/`: the id rule, the record files, caching and resume.

Same resolved config + data version + seed => same run id. A finished run (run.json with
status "finished") is a cache hit; an unfinished one resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

from curate.core.errors import UserError
from curate.core.hashing import sha256_file, short_id
from curate.core.version import write_json  # noqa: F401 - runs.write_json is the run record writer

RUN_JSON = "run.json"
METRICS = "metrics.jsonl"
CONFIG = "config.yaml"
CHECKPOINTS = "checkpoints"
PACKAGES = ("zhtune", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "gguf", "bitsandbytes")


def compute_run_id(identity: dict) -> str:
    """Content address of what determines the result (config, data version, seed, package versions)."""
    return short_id(identity)


def is_main_process() -> bool:
    """Rank 0 under `accelerate launch` / torchrun (the only process that writes the run record)."""
    return int(os.environ.get("RANK", "0")) == 0


def run_dir(output_root: str | Path, name: str, run_id: str) -> Path:
    return Path(output_root) / name / run_id


def environment() -> dict[str, str | None]:
    """Python and package versions, as a run or eval record lists them."""
    from curate.core.version import package_versions

    return {"python": platform.python_version(), **package_versions(PACKAGES)}


def git_commit(cwd: Path | None = None) -> str | None:
    """The commit of the code that trained (with `-dirty` if the tree has changes); None outside git."""
    cwd = cwd or Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], check=False, cwd=cwd, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], check=False, cwd=cwd,
                               capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def dir_digest(path: Path) -> str:
    """sha256 over the files of a saved adapter/model folder (names and contents), order-independent."""
    files = sorted(p for p in Path(path).rglob("*") if p.is_file())
    return short_id({str(p.relative_to(path)): sha256_file(p) for p in files}, length=64)


def read_run(path: str | Path) -> dict | None:
    """The run.json of a run folder (with `dir` added), or None when `path` is not a run folder."""
    p = Path(path)
    if not (p / RUN_JSON).exists():
        subs = [d for d in p.glob("*/") if (d / RUN_JSON).exists()] if p.is_dir() else []
        if len(subs) != 1:
            return None
        p = subs[0]
    try:
        run = json.loads((p / RUN_JSON).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{p / RUN_JSON} is not valid JSON: {e}") from None
    run["dir"] = str(p)
    if run.get("status") != "finished":
        raise UserError(f"run {p} has not finished (status {run.get('status')!r})",
                        hint="re-run `curate train` with the same config to resume it")
    return run


def last_checkpoint(path: Path) -> Path | None:
    """The newest `checkpoint-<step>` folder under the run's checkpoints (None when there is none)."""
    ckpts = [d for d in (path / CHECKPOINTS).glob("checkpoint-*") if d.is_dir() and d.name.split("-")[-1].isdigit()]
    return max(ckpts, key=lambda d: int(d.name.split("-")[-1])) if ckpts else None


def read_metrics(path: Path) -> list[dict]:
    f = path / METRICS
    if not f.exists():
        return []
    return [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]


def plot_loss(metrics: list[dict], out: Path, title: str) -> Path | None:
    """loss.png: training loss (and eval loss when present) against step."""
    train = [(m["step"], m["loss"]) for m in metrics if "loss" in m]
    if not train:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(*zip(*train), marker=".", alpha=0.5, label="train loss")
    if len(train) >= 8:  # per-batch losses are noisy: add a moving mean
        w = max(2, len(train) // 8)
        ys = [y for _, y in train]
        smooth = [sum(ys[max(0, i - w + 1):i + 1]) / len(ys[max(0, i - w + 1):i + 1]) for i in range(len(ys))]
        ax.plot([x for x, _ in train], smooth, label=f"moving mean ({w} steps)")
    evals = [(m["step"], m["eval_loss"]) for m in metrics if "eval_loss" in m]
    if evals:
        ax.plot(*zip(*evals), marker="o", label="eval loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=9)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{path} is not valid JSON: {e}") from None
