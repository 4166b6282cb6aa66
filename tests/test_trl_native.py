"""The published dry-run folder and the `jsonl` export are read by TRL the same way in every process.

TRL's `is_conversational` pops one key of a set of the row's special keys, so its answer on a row
with `messages` *and* a string/null `rejected` depends on PYTHONHASHSEED (the old schema failed
with `KeyError: 'text'` in about half of all processes). What is covered here:

- detection: TRL's own `is_conversational` (its source taken from the installed trl, because
  importing trl costs ~8 s a process) runs in one fresh process per hash seed, ten seeds, on every
  row of the dry-run configs and the jsonl export; the old schema is shown to vary over the same seeds;
- training: real `SFTTrainer` / `DPOTrainer` load those files and run one step on the tiny model, in
  this test process only (one hash seed; the detection above is what differs between seeds).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from curate.build import build
from curate.app.cli import main
from curate.export import export_version
from curate.core.version import load_version

REPO = Path(__file__).resolve().parents[1]
SEEDS = range(10)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """(dry-run folder, jsonl export folder, a jsonl file in the old messages+rejected schema)."""
    root = tmp_path_factory.mktemp("trl")
    version = load_version(build(REPO / "recipes" / "demo.yaml", root / "builds").dir)
    dry = root / "dry"
    assert main(["publish", str(version.dir), "--repo", "someone/zh-mix", "--dry-run", "--out", str(dry)]) == 0
    jsonl, _ = export_version(version, "jsonl", root / "jsonl")
    old = root / "old.jsonl"
    rows = version.split("train").select("messages", "rejected").to_dicts()
    old.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return dry, jsonl, old


def trl_is_conversational_source() -> str:
    import importlib.util

    path = Path(importlib.util.find_spec("trl").origin).parent / "data_utils.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "is_conversational")
    return "from typing import Any\n" + ast.get_source_segment(path.read_text(encoding="utf-8"), fn)


DETECT = """
import json, sys
import pyarrow.parquet as pq
exec(sys.argv[1])
out = {}
for path in sys.argv[2:]:
    rows = ([json.loads(l) for l in open(path, encoding="utf-8")] if path.endswith(".jsonl")
            else pq.read_table(path).to_pylist())
    out[path] = sorted({is_conversational(r) for r in rows})
print(json.dumps(out))
"""


def detect(seed: int, paths: list[Path]) -> dict[str, list[bool]]:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    res = subprocess.run([sys.executable, "-c", DETECT, trl_is_conversational_source(), *map(str, paths)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def test_trl_detects_every_published_and_exported_row_as_conversational_under_ten_hash_seeds(files):
    dry, jsonl, old = files
    paths = sorted(dry.rglob("*.parquet")) + sorted(jsonl.glob("*.jsonl"))
    assert {p.parent.name for p in paths} >= {"demo-sft", "demo-dpo"} and len(list(jsonl.glob("dpo_*"))) >= 1
    old_answers = set()
    for seed in SEEDS:
        got = detect(seed, paths + [old])
        assert all(got[str(p)] == [True] for p in paths), (seed, got)
        old_answers.add(tuple(got[str(old)]))
    assert len(old_answers) > 1  # the old schema's answer did depend on the seed: the check can fail


def test_trl_trainers_load_the_files_and_run_one_step(tiny_pair, files, tmp_path):
    import datasets
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    dry, jsonl, _ = files
    _, model = tiny_pair
    common = {"max_steps": 1, "per_device_train_batch_size": 2, "max_length": 64, "report_to": "none",
              "save_strategy": "no", "use_cpu": True, "dataloader_pin_memory": False}
    cache = str(tmp_path / "cache")
    sft_sets = [datasets.load_dataset(str(dry), "demo-sft", cache_dir=cache)["train"],
                datasets.load_dataset("json", data_files=str(jsonl / "sft_train.jsonl"), cache_dir=cache)["train"]]
    dpo_sets = [datasets.load_dataset(str(dry), "demo-dpo", cache_dir=cache)["train"],
                datasets.load_dataset("json", data_files=str(jsonl / "dpo_train.jsonl"), cache_dir=cache)["train"]]
    for i, ds in enumerate(sft_sets):
        out = SFTTrainer(model=str(model), args=SFTConfig(output_dir=str(tmp_path / f"sft{i}"), **common),
                         train_dataset=ds).train()
        assert out.global_step == 1 and out.training_loss > 0
    for i, ds in enumerate(dpo_sets):
        out = DPOTrainer(model=str(model), args=DPOConfig(output_dir=str(tmp_path / f"dpo{i}"), **common),
                         train_dataset=ds).train()
        assert out.global_step == 1 and out.training_loss > 0
