"""Records/s of the language stage, this checkout against an older revision, side by side.

    python bench/language_bench.py --n 100000                  # synthetic corpus of bench/curate_bench.py
    python bench/language_bench.py --corpus real --n 100000    # the 4,000 real records of issue 18, repeated
    python bench/language_bench.py --base 33844fd --rounds 3   # the revision to compare with (default: main)

The old stage is `curate/stages/language.py` read from `git show BASE:...` and imported as its own
module (its process pool included); both run on the same loaded table, alternating, `--rounds`
times. A shared machine is noisy: compare the ratio, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def old_stage(base: str, folder: Path):
    """The language stage module as it was at `base` (a git revision)."""
    code = subprocess.run(["git", "-C", str(REPO), "show", f"{base}:curate/stages/language.py"],
                          check=True, capture_output=True, text=True).stdout
    path = folder / "language_old.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("language_old", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["language_old"] = module  # the process pool's workers import it by name
    spec.loader.exec_module(module)
    return module


def load_table(corpus: str, n: int, folder: Path):
    import polars as pl

    from curate.loaders import load_source
    from curate.recipe import Source

    if corpus == "synthetic":
        from curate_bench import generate

        generate(folder, n)
        sources = [Source(name=s, path=str(folder / f"{s}.jsonl"), format=f)
                   for s, f in (("alpaca", "alpaca"), ("belle", "belle"), ("sharegpt", "sharegpt"))]
    else:
        from clean_real import SHARED, SOURCES

        sources = [Source(name=name, path=str(SHARED / p), format=f, on_error="reject") for name, p, f in SOURCES[:4]]
    table = pl.concat([load_source(s, folder).records for s in sources])
    if table.height < n:
        table = pl.concat([table] * (n // table.height + 1))
    return table.head(n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--corpus", choices=["synthetic", "real"], default="synthetic")
    ap.add_argument("--base", default="main", help="git revision of the old stage (default: main)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("PYTHONPATH", str(REPO))  # the old stage's spawned workers import curate
    from curate.stages import StageContext
    from curate.stages import language as new

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        old = old_stage(args.base, folder)
        table = load_table(args.corpus, args.n, folder)
        sys.path.insert(0, str(folder))
        print(f"{args.corpus} corpus: {table.height:,} records, "
              f"{table['messages'].list.len().sum():,} turns; old = {args.base}, new = this checkout")
        best: dict[str, float] = {}
        for r in range(args.rounds):
            for name, mod in (("old", old), ("new", new)):
                start = time.perf_counter()
                out = mod.apply(table, mod.Options(), StageContext())
                sec = time.perf_counter() - start
                best[name] = min(best.get(name, sec), sec)
                fasttext = out.stats.get("fasttext_turns", "all judged turns")
                print(f"round {r + 1} {name}: {sec:7.2f} s  {table.height / sec:>9,.0f} records/s  "
                      f"kept {out.kept.height:,} rejected {out.rejected.height:,}  fastText calls: {fasttext}")
        print(f"best of {args.rounds}: old {table.height / best['old']:,.0f} records/s, new {table.height / best['new']:,.0f} "
              f"records/s: {best['old'] / best['new']:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
