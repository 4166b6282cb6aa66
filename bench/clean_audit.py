"""Audit the default clean list on the planted corpus (and on the hand-labelled records, when present).

    .venv/bin/python bench/clean_audit.py                     # default clean list, today's code
    .venv/bin/python bench/clean_audit.py --minhash scope=prompt ngram=5 threshold=0.8   # other near-dedup options
    .venv/bin/python bench/clean_audit.py --grid              # near-dedup scope x ngram x threshold

Builds tests/audit/planted.py's corpus from the real slices (ZHTUNE_SHARED_DATA, else
../shared/data), runs normalize, convert t2s, language, filter, dedup exact, dedup minhash and
prints per stage and per kind: records in, removed, right, wrong (records that should have
stayed), and for copy groups the share of groups left with exactly one member. Then the
done-when numbers (tests/test_dedup_audit.py asserts them). With tests/audit/labels.jsonl
(or --labels FILE): per label kind, how often the clean list's keep/reject matches the label.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import polars as pl
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from audit import outcomes, planted  # noqa: E402


def shared_data() -> Path:
    path = Path(os.environ.get("ZHTUNE_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        sys.exit(f"real data slices not found at {path} (set ZHTUNE_SHARED_DATA)")
    return path


def clean_list(minhash: dict) -> list:
    return [*outcomes.DEFAULT_CLEAN[:-1], {"dedup": {"method": "minhash", **minhash}}]


def audit_planted(shared: Path, minhash: dict, seed: int, scale: float) -> dict:
    corpus = planted.build(shared, seed=seed, scale=scale)
    start = time.perf_counter()
    kept, rejected, stages = outcomes.clean(corpus.table, clean_list(minhash))
    seconds = time.perf_counter() - start
    everything = pl.concat([kept.select("id", "meta"), rejected.select("id", "meta")])
    removed = outcomes.removals(corpus.truth, everything, rejected)
    with pl.Config(tbl_rows=200, tbl_hide_dataframe_shape=True, tbl_formatting="MARKDOWN"):
        print(f"planted corpus: {corpus.table.height} records, seed {seed}; clean list {seconds:.1f}s; minhash {minhash or 'defaults'}")
        print(outcomes.stage_table(corpus.truth, removed, stages).filter(pl.col("in") > 0))
    scores = outcomes.dedup_scores(corpus.truth, removed)
    print(yaml.safe_dump(scores, sort_keys=False))
    return scores


def audit_labels(shared: Path, path: Path) -> None:
    labels = outcomes.load_labels(path)
    records = outcomes.labelled_records(shared, labels)
    _, rejected, _ = outcomes.clean(records, outcomes.DEFAULT_CLEAN)
    with pl.Config(tbl_rows=100, tbl_hide_dataframe_shape=True, tbl_formatting="MARKDOWN"):
        print(f"hand-labelled records: {labels.height} ({path})")
        print(outcomes.label_accuracy(labels, rejected))


def grid(shared: Path, seed: int) -> None:
    """Near-dedup alone (after normalize, convert t2s, dedup exact) for each scope x ngram x threshold."""
    corpus = planted.build(shared, seed=seed)
    pre = [*outcomes.DEFAULT_CLEAN[:2], {"dedup": {"method": "exact"}}]
    rows = []
    for scope in ("prompt", "conversation"):
        for n in (2, 3, 4, 5):
            for th in (0.6, 0.7, 0.8):
                kept, rejected, _ = outcomes.clean(corpus.table, [*pre, {"dedup": {"method": "minhash", "scope": scope,
                                                                                   "ngram": n, "threshold": th}}])
                removed = outcomes.removals(corpus.truth, pl.concat([kept.select("id", "meta"), rejected.select("id", "meta")]), rejected)
                s = outcomes.dedup_scores(corpus.truth, removed)
                rows.append({"scope": scope, "ngram": n, "threshold": th,
                             **{k: v for k, v in s.items() if not k.startswith(("english", "japanese"))}})
    with pl.Config(tbl_rows=100, tbl_cols=20, tbl_hide_dataframe_shape=True, tbl_formatting="MARKDOWN", tbl_width_chars=300):
        print(pl.DataFrame(rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minhash", nargs="*", default=[], metavar="KEY=VALUE", help="near-dedup options (YAML values)")
    ap.add_argument("--labels", type=Path, default=REPO / "tests" / "audit" / "labels.jsonl")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=float, default=1.0, help="grow or shrink every planted kind")
    ap.add_argument("--grid", action="store_true", help="near-dedup scope x ngram x threshold instead")
    args = ap.parse_args()
    shared = shared_data()
    if args.grid:
        return grid(shared, args.seed)
    minhash = {k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in args.minhash)}
    audit_planted(shared, minhash, args.seed, args.scale)
    if args.labels.is_file():
        audit_labels(shared, args.labels)
    else:
        print(f"no hand-labelled set at {args.labels}")


if __name__ == "__main__":
    main()
