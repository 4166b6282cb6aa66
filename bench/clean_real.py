"""What the README's default cleaning does to code replies and translation tasks in real records.

    python bench/clean_real.py                 # the 4,000 real records of issue 18 + the English demo set
    python bench/clean_real.py --json out.json
    python bench/clean_real.py --labels tests/audit/labels.jsonl   # also: the hand-labelled records, per kind

Builds the four real Chinese slices of ../shared/data (Belle_open_source_1k, LLaMA-Factory
alpaca_zh demo, ShareGPT-zh 1K, Belle school-math dev1K; ZHTUNE_SHARED_DATA honoured) plus the
LLaMA-Factory English demo set, with the README's default `clean:` list (decontaminate left out:
it needs an eval set and is judged elsewhere), and prints per kind of record how many each
stage/reason rejected. Kinds (a record may have several; rules kept simple on purpose):

- `code_reply`: an assistant turn holds a ``` code fence (235 records; the issue counted 238).
- `translation_en`: a Chinese task about another language: the first user turn holds hanzi and
  names 翻译/译成/译为/英文/英语/English/translat (99 records; the issue counted 103).
- `english_only`: any record of the English demo set (should be removed).
- `all_zh`: every record of the four Chinese slices.

"language or text-shape" rejects are those of the language stage and of every filter rule except
the refusal / self-identification / vendor pattern sections (judged on their own).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHARED = Path(os.environ.get("ZHTUNE_SHARED_DATA", REPO.parent / "shared" / "data"))
SOURCES = [  # name, path under shared/data, format
    ("belle", "belle_train/Belle_open_source_1k.json", "belle"),
    ("alpaca", "alpaca_style_demo/llamafactory_alpaca_zh_demo.json", "alpaca"),
    ("sharegpt", "sharegpt_zh/sharegpt_zh_1K.json", "sharegpt"),
    ("school_math", "belle_train/dev1K.json", "belle"),
    ("english", "alpaca_style_demo/llamafactory_alpaca_en_demo.json", "alpaca"),
]
DEFAULT_CLEAN = ["normalize", {"convert": {"config": "t2s"}}, {"language": {"keep": ["zh"], "min_score": 0.5}}, {"filter": {}},
                 {"dedup": {"method": "exact"}}, {"dedup": {"method": "minhash"}}]
JUDGED_ON_THEIR_OWN = {"refusal", "ai_self_reference", "vendor_mention", "self_identification"}

FENCE = re.compile(r"```")
TRANSLATION = re.compile(r"翻译|译成|译为|英文|英语|english|translat", re.I)
HANZI = re.compile(r"[\u4e00-\u9fff]")


def kinds_of(source: str, messages: list[dict]) -> set[str]:
    """The documented kinds of a record (see the module docstring)."""
    if source == "english":
        return {"english_only"}
    kinds = {"all_zh"}
    replies = [m["content"] for m in messages if m["role"] == "assistant"]
    first_user = next((m["content"] for m in messages if m["role"] == "user"), "")
    if any(FENCE.search(r) for r in replies):
        kinds.add("code_reply")
    if HANZI.search(first_user) and TRANSLATION.search(first_user):
        kinds.add("translation_en")
    return kinds


def recipe(shared: Path, clean: list) -> dict:
    return {"name": "clean-real", "seed": 1, "clean": clean,
            "sources": [{"name": n, "path": str(shared / p), "format": f, "on_error": "reject"} for n, p, f in SOURCES]}


def measure(shared: Path, out: Path) -> dict:
    """Build once; for every kind: records, rejected per stage/reason, and the language/shape share."""
    import polars as pl
    import yaml

    from curate.build import build
    from curate.core.version import load_version

    path = out / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe(shared, DEFAULT_CLEAN), allow_unicode=True, sort_keys=False), encoding="utf-8")
    start = time.perf_counter()
    res = build(path, out / "builds", force=True)
    seconds = time.perf_counter() - start
    v = load_version(res.dir)
    kept = v.split("train")
    rejected = v.rejected()
    totals: Counter = Counter()
    by_reason: dict[str, Counter] = defaultdict(Counter)
    shape: Counter = Counter()
    for frame, is_rejected in ((kept, False), (rejected, True)):
        cols = ["source", "messages"] + (["stage", "reason"] if is_rejected else [])
        for row in frame.select(cols).iter_rows(named=True):
            for kind in kinds_of(row["source"], row["messages"]):
                totals[kind] += 1
                if is_rejected:
                    stage = row["stage"].split(":")[0]
                    by_reason[kind][f"{row['stage']}/{row['reason']}"] += 1
                    if stage == "language" or (stage == "filter" and row["reason"] not in JUDGED_ON_THEIR_OWN):
                        shape[kind] += 1
    outcome = {}  # (file relative to shared/data, line) -> (stage, reason) or None when kept
    for row in rejected.select("meta", "stage", "reason").iter_rows(named=True):
        outcome[(relative(row["meta"]["file"], shared), row["meta"]["line"])] = (row["stage"], row["reason"])
    for row in kept.select("meta").iter_rows(named=True):
        outcome[(relative(row["meta"]["file"], shared), row["meta"]["line"])] = None
    vendor = rejected.filter(pl.col("reason") == "vendor_mention").select("source", "meta", "detail").to_dicts()
    return {"outcome": outcome, "version": res.version, "seconds": round(seconds, 1), "totals": dict(totals), "shape_rejected": dict(shape),
            "by_reason": {k: dict(c.most_common()) for k, c in by_reason.items()},
            "vendor_mention": [{"source": r["source"], "line": r["meta"]["line"], "detail": r["detail"]} for r in vendor]}


def relative(path: str, shared: Path) -> str:
    p = Path(path)
    return str(p.relative_to(shared)) if p.is_absolute() and p.is_relative_to(shared) else path


def judge_labels(labels: list[dict], outcome: dict) -> dict:
    """Per kind: records, expected rejects caught (with the expected reason), expected keeps removed.

    Only the language and filter stages judge; a record removed by dedup is left out.
    """
    table: dict[str, Counter] = defaultdict(Counter)
    for lab in labels:
        got = outcome.get((lab["file"], lab["line"]), "missing")
        if got == "missing" or (got is not None and got[0].split(":")[0] not in ("language", "filter")):
            table[lab["kind"]]["not_judged"] += 1
            continue
        c = table[lab["kind"]]
        c["records"] += 1
        if lab["expect"] == "reject":
            c["should_reject"] += 1
            c["caught"] += got is not None
            c["caught_with_reason"] += got is not None and got[1] == lab["reason"]
        else:
            c["should_keep"] += 1
            c["wrongly_removed"] += got is not None
    total = Counter()
    for c in table.values():
        total.update(c)
    table["all"] = total
    return {k: dict(v) for k, v in table.items()}


def show_labels(result: dict) -> None:
    print(f"{'labelled kind':<22}{'records':>8}{'reject: caught':>16}{'same reason':>12}{'keep: removed':>15}")
    for kind, c in sorted(result.items(), key=lambda kv: (kv[0] == "all", kv[0])):
        rej, keep = c.get("should_reject", 0), c.get("should_keep", 0)
        caught = f"{c.get('caught', 0)}/{rej}" if rej else "-"
        reason = f"{c.get('caught_with_reason', 0)}/{rej}" if rej else "-"
        removed = f"{c.get('wrongly_removed', 0)}/{keep}" if keep else "-"
        print(f"{kind:<22}{c.get('records', 0):>8}{caught:>16}{reason:>12}{removed:>15}")
    if rej := result["all"].get("should_reject"):
        predicted = result["all"].get("caught", 0) + result["all"].get("wrongly_removed", 0)
        print(f"reject precision {result['all'].get('caught', 0) / max(predicted, 1):.3f}, "
              f"recall {result['all'].get('caught', 0) / rej:.3f}")


def show(m: dict) -> None:
    print(f"version {m['version']} built in {m['seconds']} s")
    print(f"{'kind':<16}{'records':>8}{'rejected':>9}{'lang/shape':>11}  rejected by stage/reason")
    for kind in ("all_zh", "code_reply", "translation_en", "english_only"):
        n = m["totals"].get(kind, 0)
        reasons = m["by_reason"].get(kind, {})
        rej = sum(reasons.values())
        sh = m["shape_rejected"].get(kind, 0)
        pct = f"{sh} ({100 * sh / n:.0f}%)" if n else "-"
        top = ", ".join(f"{r} {c}" for r, c in reasons.items())
        print(f"{kind:<16}{n:>8}{rej:>9}{pct:>11}  {top}")
    print(f"vendor_mention rejects: {len(m['vendor_mention'])}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="also write the measurement (with every vendor_mention reject) here")
    ap.add_argument("--labels", type=Path, help="hand-labelled records (tests/audit/labels.jsonl): per-kind outcome")
    ap.add_argument("--dir", type=Path, help="build folder (default: a temporary one)")
    args = ap.parse_args()
    if not SHARED.is_dir():
        print(f"real data slices not found at {SHARED}; set ZHTUNE_SHARED_DATA")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        out = args.dir or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        m = measure(SHARED, out)
    outcome = m.pop("outcome")
    show(m)
    if args.labels:
        labels = [json.loads(line) for line in args.labels.read_text(encoding="utf-8").splitlines() if line.strip()]
        m["labels"] = judge_labels(labels, outcome)
        show_labels(m["labels"])
    if args.json:
        args.json.write_text(json.dumps(m, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
