"""Near-dedup side by side: zhtune's minhash (old and new defaults) and datatrove's default MinHash.

    python3 -m venv /tmp/dtvenv && /tmp/dtvenv/bin/pip install datatrove nltk spacy jieba xxhash
    .venv/bin/python bench/datatrove_dedup.py [--dtpython /tmp/dtvenv/bin/python] [--seed 0]

datatrove is never a zhtune dependency: it runs in its own venv, through a subprocess. Both
tools get the same documents: the planted corpus of tests/audit/planted.py (every turn of a
record joined by newlines = one document), once as generated (`raw`) and once after zhtune's
normalize + convert t2s (`normalized`, what the minhash stage sees in the default clean list).
datatrove runs its four MinHash steps with `MinhashConfig()` (5-gram word shingles after
`simplify_text`, 14 buckets x 8 hashes, 64-bit xxhash, seed 1), first with its default
`language=en` word tokenizer, then with `language=cmn` (Mandarin: spaCy + jieba; in datatrove 0.10.1
`language=zh` splits only at whitespace, as `en` does on Chinese). Printed per
configuration: share of planted copies removed, groups left with one member, and removed
distinct records / template negatives (should be 0).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from audit import outcomes, planted  # noqa: E402
from bench.clean_audit import shared_data  # noqa: E402
from curate.pipeline import apply_stage  # noqa: E402
from curate.recipe import parse_stage_entry  # noqa: E402
from curate.stages import StageContext, dedup  # noqa: E402
from curate.text import text_expr  # noqa: E402

DATATROVE = r"""
import sys, json
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                              MinhashDedupFilter, MinhashDedupSignature)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

work, language = sys.argv[1], sys.argv[2]
cfg = MinhashConfig()
def run(step, pipeline, tasks=1):  # one logging folder per step: its completion marks must not skip the next
    LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1, logging_dir=f"{work}/logs/{step}").run()
run(1, [JsonlReader(f"{work}/in"), MinhashDedupSignature(f"{work}/sigs", config=cfg, language=language)])
run(2, [MinhashDedupBuckets(f"{work}/sigs", f"{work}/buckets", config=cfg)], tasks=cfg.num_buckets)
run(3, [MinhashDedupCluster(f"{work}/buckets", f"{work}/remove", config=cfg)])
run(4, [JsonlReader(f"{work}/in"), MinhashDedupFilter(f"{work}/remove", exclusion_writer=JsonlWriter(f"{work}/removed"))])
print(json.dumps(str(cfg)))
"""


def documents(table: pl.DataFrame) -> list[str]:
    return table.select(text_expr("conversation").alias("t"))["t"].to_list()


def datatrove_removed(dtpython: str, keys: list[str], texts: list[str], language: str) -> tuple[set[str], str, float]:
    import gzip

    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "in").mkdir()
        (Path(work) / "in" / "docs.jsonl").write_text(
            "".join(json.dumps({"id": k, "text": t}, ensure_ascii=False) + "\n" for k, t in zip(keys, texts)), encoding="utf-8")
        start = time.perf_counter()
        out = subprocess.run([dtpython, "-c", DATATROVE, work, language], capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if out.returncode:
            sys.exit(f"datatrove failed ({language}):\n{out.stderr[-3000:]}")
        removed = set()
        for f in (Path(work) / "removed").glob("*"):
            opener = gzip.open if f.suffix == ".gz" else open
            with opener(f, "rt", encoding="utf-8") as fh:
                removed |= {json.loads(line)["id"] for line in fh}
        return removed, json.loads(out.stdout.strip().splitlines()[-1]), seconds


def score(truth: pl.DataFrame, removed: set[str]) -> dict:
    t = truth.with_columns(pl.col("key").is_in(list(removed)).alias("gone"))
    out = {}
    for kind in outcomes.GROUP_KINDS:
        g = t.filter(pl.col("kind") == kind).group_by("group").agg(pl.len().alias("n"), pl.col("gone").sum())
        out[f"{kind} copies removed"] = round(float(g["gone"].sum() / (g["n"] - 1).sum()), 3)
        out[f"{kind} groups with one"] = round(float(((g["n"] - g["gone"]) == 1).mean()), 3)
    for kind in ("distinct", "template_negative"):
        out[f"{kind} removed"] = int(t.filter(pl.col("kind") == kind)["gone"].sum())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtpython", default="/tmp/dtvenv/bin/python")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    corpus = planted.build(shared_data(), seed=args.seed)
    normalized = corpus.table
    for i, entry in enumerate(outcomes.DEFAULT_CLEAN[:2]):  # normalize, convert t2s: they reject nothing
        normalized = apply_stage(parse_stage_entry(entry, i), normalized, StageContext()).kept
    keys = corpus.truth["key"].to_list()
    rows = []
    for name, table in (("raw", corpus.table), ("normalized", normalized)):
        assert table.select(outcomes.KEY).to_series().to_list() == keys
        ctx = StageContext(source_order=["audit"])
        for label, opts in (("zhtune old (prompt, 5-gram, 0.8)", dict(scope="prompt", ngram=5, threshold=0.8)),
                            ("zhtune new (conversation, 3-gram, 0.7)", {})):
            start = time.perf_counter()
            res = dedup.apply(table, dedup.Options(method="minhash", **opts), ctx)
            gone = set(res.rejected.select(outcomes.KEY).to_series().to_list())
            rows.append({"input": name, "tool": label, "seconds": round(time.perf_counter() - start, 2), **score(corpus.truth, gone)})
        for language in ("en", "cmn"):
            gone, cfg, seconds = datatrove_removed(args.dtpython, keys, documents(table), language)
            rows.append({"input": name, "tool": f"datatrove MinhashConfig() language={language}", "seconds": round(seconds, 1),
                         **score(corpus.truth, gone)})
            print(f"datatrove config: {cfg}", file=sys.stderr)
    df = pl.DataFrame(rows)
    with pl.Config(tbl_rows=50, tbl_cols=20, tbl_hide_dataframe_shape=True, tbl_formatting="MARKDOWN", tbl_width_chars=400,
                   fmt_str_lengths=60):
        print(f"planted corpus: {corpus.table.height} records, seed {args.seed}")
        print(df.transpose(include_header=True, column_names=[f"{r['input']}: {r['tool']}" for r in rows]))


if __name__ == "__main__":
    main()
