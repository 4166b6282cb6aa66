"""Evaluator speed and agreement: MC items/s, generation tokens/s, and lm-evaluation-harness agreement.

    python bench/eval_bench.py --ceval-dir ../shared/data/ceval --limit 2 \
        --belle-dir ../shared/data/belle_eval --gen-items 16 \
        [--lm-eval-python /path/to/venv-with-lm_eval/bin/python]

Scores C-Eval val (first --limit items per subject) with SmolLM2-135M by log-likelihood of the
answer letter and by generate-and-parse, generates Belle-eval answers through the chat template,
and (with --lm-eval-python) runs lm-eval's ceval-valid prompt on the same items and model folder,
comparing per-item log-likelihoods and predictions. Prints numbers; writes --json when given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--ceval-dir", required=True)
    ap.add_argument("--limit", type=int, default=2, help="items per subject (52 subjects)")
    ap.add_argument("--shots", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--belle-dir")
    ap.add_argument("--gen-items", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--skip-generate-mc", action="store_true", help="skip the generate-and-parse MC timing")
    ap.add_argument("--lm-eval-python", help="python of a venv with lm_eval installed")
    ap.add_argument("--threads", type=int, help="torch threads (on a shared CPU, 1 avoids oversubscription)")
    ap.add_argument("--json")
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from eval.metrics import aggregate_mc
    from eval.multiple_choice import run_multiple_choice
    from eval.readers import read_mc_split
    from eval.tasks import load_task
    from train.models import ModelSpec, load_for_inference, resolve_model_dir

    device = "cuda" if torch.cuda.is_available() else "cpu"
    report: dict = {"machine": {"device": torch.cuda.get_device_name() if device == "cuda" else platform.processor()
                                or platform.machine(), "torch_threads": torch.get_num_threads(),
                                "cpu_count": os.cpu_count()},
                    "model": args.model, "limit_per_subject": args.limit, "shots": args.shots,
                    "batch_size": args.batch_size}
    t0 = time.perf_counter()
    spec = ModelSpec(path=args.model)
    model, tok, _ = load_for_inference(spec)
    report["load_s"] = round(time.perf_counter() - t0, 2)

    task = load_task("ceval_val").config
    data = Path(args.ceval_dir)
    by_subject = read_mc_split("ceval_csv", data, "val", layout="", multi_answer=False)
    pools = read_mc_split("ceval_csv", data, "dev", layout="", multi_answer=False) if args.shots else {}
    items = [i for s in sorted(by_subject) for i in by_subject[s][: args.limit]]
    methods = ["loglik_letter"] + ([] if args.skip_generate_mc else ["generate"])
    ours: dict = {}
    for method in methods:
        t = time.perf_counter()
        records, stats = run_multiple_choice(model, tok, task, items, pools, method=method, shots=args.shots,
                                             cot=False, batch_size=args.batch_size)
        dt = time.perf_counter() - t
        agg = aggregate_mc(records, task)
        report[method] = {"items": len(items), "seconds": round(dt, 2), "items_per_s": round(len(items) / dt, 2),
                          "acc_weighted": agg["acc_weighted"], "acc_macro": agg["acc_macro"]}
        if method == "generate":
            report[method]["unparsed"] = agg["n_unparsed_generations"]
            report[method]["tokens_per_s"] = round(stats["new_tokens"] / dt, 1)
        ours[method] = records
        print(method, json.dumps(report[method], ensure_ascii=False), flush=True)

    if args.belle_dir:
        from eval.generation import generate_greedy
        from eval.prompts import chat_prompt
        from eval.readers import read_belle_set

        belle = load_task("belle_eval").config
        qs = read_belle_set(Path(args.belle_dir), belle.class_aliases)[: args.gen_items]
        built = [chat_prompt(tok, q.question, belle.chat) for q in qs]
        t = time.perf_counter()
        gens = generate_greedy(model, tok, [p for p, _ in built], add_special_tokens=built[0][1],
                               max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
        dt = time.perf_counter() - t
        n = sum(g.n_new_tokens for g in gens)
        report["belle_generate"] = {"items": len(qs), "new_tokens": n, "seconds": round(dt, 2),
                                    "tokens_per_s": round(n / dt, 1), "max_new_tokens": args.max_new_tokens}
        print("belle_generate", json.dumps(report["belle_generate"]), flush=True)

    if args.lm_eval_python:
        model_dir, _ = resolve_model_dir(spec)
        subjects = {s: task.subjects[s].name_zh for s in sorted(by_subject)}
        out = Path(tempfile.mkdtemp()) / "lm_eval.json"
        cmd = [args.lm_eval_python, str(Path(__file__).with_name("lm_eval_ceval.py")), "--model-dir", model_dir,
               "--ceval-dir", str(data), "--subjects", json.dumps(subjects, ensure_ascii=False),
               "--limit", str(args.limit), "--shots", str(args.shots), "--batch-size", str(args.batch_size),
               "--out", str(out)]
        del model  # free memory for the other process
        env = {**os.environ, **({"OMP_NUM_THREADS": str(args.threads)} if args.threads else {})}
        subprocess.run(cmd, check=True, env=env)
        theirs = json.loads(out.read_text(encoding="utf-8"))
        mine = {}
        for s in sorted(by_subject):
            for n, rec in enumerate(r for r in ours["loglik_letter"] if r["subject"] == s):
                mine[f"{s}/{n}"] = rec
        common = sorted(set(mine) & set(theirs["items"]))
        same_pred, max_diff = 0, 0.0
        for k in common:
            lls = theirs["items"][k]["lls"]
            pred = "ABCD"[max(range(4), key=lls.__getitem__)]
            same_pred += pred == mine[k]["pred"]
            max_diff = max(max_diff, *(abs(lls[i] - mine[k]["scores"]["ABCD"[i]]) for i in range(4)))
        lm_acc = sum(theirs["items"][k]["acc"] for k in common) / len(common)
        report["lm_eval"] = {"version": theirs["lm_eval_version"], "items": len(common),
                             "acc": round(lm_acc, 6), "ours_acc": report["loglik_letter"]["acc_weighted"],
                             "same_prediction": same_pred, "max_abs_loglik_diff": max_diff,
                             "seconds": round(theirs["seconds"], 2),
                             "items_per_s": round(len(common) / theirs["seconds"], 2)}
        print("lm_eval", json.dumps(report["lm_eval"]), flush=True)

    print(json.dumps(report, ensure_ascii=False, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
