"""Trainer benchmark (prints numbers; not a test): SFT + LoRA tokens/s, s/step, peak RSS and pad share,
packed vs unpacked, for the tiny model and SmolLM2-135M (and Gemma-3-270M) on this machine.

    python bench/train_bench.py                                   # tiny + smollm2-135m, CPU, 1 thread
    python bench/train_bench.py --models tiny smollm2-135m gemma3-270m --steps 6 --threads 2
    python bench/train_bench.py --data builds/demo/<id>           # a given version (default: build the demo)

Each configuration runs in its own process so that peak RSS is its own. On a CUDA machine the same
script measures bf16 training and reports peak GPU memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def pad_share(trainer, batches: int) -> dict:
    """Share of pad positions in the first `batches` batches (padding-free packed batches have none)."""
    real = total = seen = 0
    for i, batch in enumerate(trainer.get_train_dataloader()):
        if i >= batches:
            break
        seen += 1
        ids = batch["input_ids"]
        total += ids.numel()
        real += int(batch["attention_mask"].sum()) if "attention_mask" in batch else ids.numel()
    return {"pad_share": round(1 - real / max(total, 1), 4), "tokens_per_batch": round(real / max(seen, 1), 1)}


def run_one(args) -> dict:
    """One configuration, in this process: build the trainer, measure the batches, train, report."""
    import torch

    torch.set_num_threads(args.threads)
    from train.config import parse_config
    from train.data import build_datasets, open_version
    from train.models import load_model_and_tokenizer
    from train.runner import make_trainer, resolved_training

    model_path = args.model
    if model_path == "tiny":
        from train.tiny import build_tiny_model, version_texts

        model_path = str(build_tiny_model(Path(args.workdir) / "tiny", texts=version_texts(args.data),
                                          vocab_size=2000))
    raw = {"data": {"version": args.data}, "model": {"path": model_path}, "method": {"name": "lora", "r": 8},
           "output_root": args.workdir,
           "training": {"max_steps": args.steps, "per_device_train_batch_size": args.batch, "max_length":
                        args.max_length, "packing": args.packing, "learning_rate": 2e-4, "save_strategy": "no"}}
    cfg = parse_config(raw)
    training = resolved_training(cfg)
    folder = Path(args.workdir) / f"{args.model}-{'packed' if args.packing else 'padded'}"
    folder.mkdir(parents=True, exist_ok=True)
    version = open_version(cfg.data)
    train_ds, _, counts = build_datasets(version, cfg.data, None)
    model, tokenizer = load_model_and_tokenizer(cfg.model_spec())
    trainer = make_trainer(cfg, training, model, tokenizer, train_ds, None, folder)
    pads = pad_share(trainer, args.steps)
    start = time.time()
    trainer.train()
    elapsed = time.time() - start
    rows = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "loss" in r]
    tokens = steps[-1].get("num_tokens") if steps else None
    steady = (steps[-1]["time_s"] - steps[0]["time_s"]) / (len(steps) - 1) if len(steps) > 1 else None
    import resource

    return {"model": args.model, "packing": args.packing, "records": counts["train_records"], "steps": len(steps),
            "batch": args.batch, "max_length": args.max_length, "threads": args.threads,
            "device": "cuda" if torch.cuda.is_available() else "cpu", "bf16": training["bf16"],
            "s_per_step": round(elapsed / max(len(steps), 1), 3), "s_per_step_steady": round(steady, 3) if steady else None,
            "tokens_per_s": round(tokens / elapsed, 1) if tokens else None, **pads,
            "first_loss": steps[0]["loss"] if steps else None, "last_loss": steps[-1]["loss"] if steps else None,
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if torch.cuda.is_available() else None}


def default_version(workdir: Path) -> str:
    from curate.build import build

    result = build(REPO / "recipes" / "demo.yaml", workdir / "builds")
    return str(getattr(result, "dir", result))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["tiny", "smollm2-135m"])
    p.add_argument("--data", help="version folder (default: build recipes/demo.yaml into a temp folder)")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--packing", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.one:
        print("RESULT " + json.dumps(run_one(args)), flush=True)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="zhtune-train-bench-"))
    data = args.data or default_version(workdir)
    results = []
    for model in args.models:
        for packing in (False, True):
            cmd = [sys.executable, __file__, "--one", "--model", model, "--data", data, "--steps", str(args.steps),
                   "--batch", str(args.batch), "--max-length", str(args.max_length), "--threads", str(args.threads),
                   "--workdir", str(workdir)] + (["--packing"] if packing else [])
            out = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=REPO,
                                 env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
            line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(f"{model} packing={packing} failed:\n{out.stderr[-3000:]}", file=sys.stderr)
                continue
            results.append(json.loads(line[7:]))
            r = results[-1]
            print(f"{r['model']:14s} packing={r['packing']!s:5s} {r['s_per_step']:7.2f} s/step "
                  f"(steady {r['s_per_step_steady']}) {r['tokens_per_s']} tok/s  pad {100 * r['pad_share']:.1f} %  "
                  f"{r['tokens_per_batch']} tok/batch  RSS {r['peak_rss_mib']:.0f} MiB  "
                  f"loss {r['first_loss']:.3f}->{r['last_loss']:.3f}", flush=True)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
