"""Run lm-evaluation-harness's C-Eval (ceval-valid prompt) on local CSVs; print per-item log-likelihoods as JSON.

Run with an interpreter that has ``lm_eval`` (it pins packages zhtune does not, so it lives in its own
venv); called by ``bench/eval_bench.py --lm-eval-python``. The task YAML below is lm-eval's
``_default_ceval_yaml`` with the Hub dataset replaced by the local files (converted to JSON lines so
every field stays a string, as in the Hub copy).
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

TASK = """task: zhbench_ceval_{subject}
dataset_path: json
dataset_kwargs:
  data_files:
    val: {val}
    dev: {dev}
validation_split: val
fewshot_split: dev
fewshot_config:
  sampler: first_n
output_type: multiple_choice
doc_to_text: "{{{{question.strip()}}}}\\nA. {{{{A}}}}\\nB. {{{{B}}}}\\nC. {{{{C}}}}\\nD. {{{{D}}}}\\n答案："
doc_to_choice: ["A", "B", "C", "D"]
doc_to_target: "{{{{['A', 'B', 'C', 'D'].index(answer)}}}}"
description: {description}
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""


COLUMNS = ("id", "question", "A", "B", "C", "D", "answer")  # dev's extra `explanation` would break the schema


def to_jsonl(src: Path, dst: Path) -> None:
    with open(src, encoding="utf-8-sig", newline="") as f:
        rows = [{k: r[k] for k in COLUMNS} for r in csv.DictReader(f)]
    dst.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--ceval-dir", required=True)
    ap.add_argument("--subjects", required=True, help="JSON object subject -> Chinese name")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--shots", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    import lm_eval
    from lm_eval.tasks import TaskManager

    subjects = json.loads(args.subjects)
    tmp = Path(tempfile.mkdtemp(prefix="lmeval-ceval-"))
    names = []
    for s, zh in subjects.items():
        val, dev = tmp / f"{s}_val.jsonl", tmp / f"{s}_dev.jsonl"
        to_jsonl(Path(args.ceval_dir) / "val" / f"{s}_val.csv", val)
        to_jsonl(Path(args.ceval_dir) / "dev" / f"{s}_dev.csv", dev)
        desc = json.dumps(f"以下是中国关于{zh}的单项选择题，请选出其中的正确答案。\n\n", ensure_ascii=False)
        (tmp / f"zhbench_ceval_{s}.yaml").write_text(TASK.format(subject=s, val=val, dev=dev, description=desc),
                                                    encoding="utf-8")
        names.append(f"zhbench_ceval_{s}")
    t0 = time.perf_counter()
    res = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={args.model_dir},dtype=float32",
                                  tasks=names, num_fewshot=args.shots, batch_size=args.batch_size, limit=args.limit,
                                  log_samples=True, task_manager=TaskManager(include_path=str(tmp)), device="cpu")
    elapsed = time.perf_counter() - t0
    items = {}
    for name in names:
        s = name.removeprefix("zhbench_ceval_")
        for smp in res["samples"][name]:
            lls = [float(r[0]) for r in smp["filtered_resps"]]
            items[f"{s}/{smp['doc_id']}"] = {"lls": lls, "target": smp["target"], "acc": smp["acc"]}
    Path(args.out).write_text(json.dumps({"seconds": elapsed, "items": items,
                                          "lm_eval_version": lm_eval.__version__}), encoding="utf-8")


if __name__ == "__main__":
    main()
