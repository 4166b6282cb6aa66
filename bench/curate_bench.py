"""Curation benchmark: records/s per stage, total wall time and peak RSS of `curate build`.

    .venv/bin/python bench/curate_bench.py --n 100000            # with and without near-dedup
    .venv/bin/python bench/curate_bench.py --n 1000000 --only near
    .venv/bin/python bench/curate_bench.py --n 100000 --only near --compare-datatrove --repeat 2
    .venv/bin/python bench/curate_bench.py --n 5000 --check-against main   # same kept/rejected sets as `main`

Writes a synthetic Chinese corpus of N records (three sources: alpaca JSONL, belle JSONL,
sharegpt multi-turn JSONL) with planted exact duplicates, near duplicates, Traditional-script
records, English records and rows copied from a synthetic eval set, plus a recipe that runs
every stage present in `curate.stages.STAGES`. Each configuration builds in a fresh child
process, so its peak RSS is its own. Rows: each stage, `write` (parquet, report and plots, manifest)
and `other` (the runner's casts and counts between stages, version id, accounting). Numbers on a
shared machine are noisy: run it twice (`--repeat`). `--compare-datatrove` runs datatrove's
language-ID + exact + MinHash pipeline (bench/datatrove_pipeline.py, in its own venv under --cache)
on the same records after each zhtune run and prints the ratio. `--check-against REV` builds with
the code of a git revision and with this checkout and compares every record's fate.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the code measured: this checkout (a script's sys.path[0] is bench/, which would leave the installed copy),
# or the tree named by ZHTUNE_BENCH_CODE (--check-against builds an older revision that way)
sys.path.insert(0, os.environ.get("ZHTUNE_BENCH_CODE", str(ROOT)))

WORDS = ("我们 今天 学习 历史 文化 城市 北京 上海 经济 发展 科技 创新 人工 智能 数据 分析 健康 饮食 运动 睡眠 旅行 计划 "
         "预算 学生 老师 考试 复习 方法 环境 保护 能源 汽车 手机 电脑 软件 程序 设计 音乐 电影 小说 诗歌 写作 翻译 英语 "
         "数学 物理 化学 生物 地理 政治 法律 公司 管理 市场 营销 产品 用户 服务 质量 时间 效率 团队 合作 沟通 问题 解决 "
         "建议 总结 介绍 解释 比较 描述 列出 说明 为什么 如何 什么 哪些 请 一下 详细 农业 工业 医疗 教育 交通 体育 艺术 "
         "历史 朋友 家庭 孩子 父母 工作 生活 社会 国家 世界 自然 动物 植物 天气 季节 春天 夏天 秋天 冬天 山水 河流").split()
EN = "the of and to in is that for it as was with be by on not he this are or his from at which but have an they".split()
PLANTS = {"exact": 0.04, "near": 0.04, "traditional": 0.02, "english": 0.02, "contaminated": 0.002}


def sentence(rng: random.Random, lo: int, hi: int) -> str:
    return "".join(rng.choices(WORDS, k=rng.randint(lo, hi))) + rng.choice("。？！")


def generate(folder: Path, n: int, seed: int = 0) -> dict:
    """Write the corpus, the eval set and return what was planted (counts)."""
    import opencc

    rng = random.Random(seed)
    t2 = opencc.OpenCC("s2t")
    folder.mkdir(parents=True, exist_ok=True)
    evals = [sentence(rng, 8, 20) for _ in range(2000)]
    (folder / "eval_set.jsonl").write_text("".join(json.dumps({"question": q}, ensure_ascii=False) + "\n" for q in evals),
                                           encoding="utf-8")
    prompts: list[str] = []
    replies: list[str] = []  # the reply of each prompt (near copies copy both)
    planted = dict.fromkeys(PLANTS, 0)
    files = {s: (folder / f"{s}.jsonl").open("w", encoding="utf-8") for s in ("alpaca", "belle", "sharegpt")}
    cuts = [(kind, p) for kind, p in PLANTS.items()]
    for i in range(n):
        r, kind, acc = rng.random(), None, 0.0
        for k, p in cuts:
            acc += p
            if r < acc:
                kind = k
                break
        reply = sentence(rng, 15, 45)
        if kind == "exact" and prompts:
            prompt = rng.choice(prompts).replace("。", "！", 1) + rng.choice(["", " ", "\u3000"])
        elif kind == "near" and prompts:  # a small edit: a word added at either end, or (long prompts) one changed
            k = rng.randrange(len(prompts))
            base, reply = prompts[k], replies[k][:-1] + rng.choice("。！")  # near-dedup compares the whole record
            edit = rng.randrange(3) if len(base) >= 40 else rng.randrange(2)
            if edit == 0:
                prompt = rng.choice(["请", "麻烦", "能否"]) + base
            elif edit == 1:
                prompt = base[:-1] + rng.choice(["吗", "呢", "一下"]) + base[-1]
            else:
                pos = rng.randrange(len(base) - 1)
                prompt = base[:pos] + rng.choice("的了是在和有") + base[pos + 1:]
        elif kind == "traditional":
            prompt, reply = t2.convert(sentence(rng, 6, 20)), t2.convert(reply)
        elif kind == "english":
            prompt = " ".join(rng.choices(EN, k=rng.randint(6, 20))).capitalize() + "?"
            reply = " ".join(rng.choices(EN, k=rng.randint(20, 50))) + "."
        elif kind == "contaminated":
            prompt = rng.choice(evals)
            if rng.random() < 0.5:
                prompt = "请回答：" + prompt
        else:
            prompt, kind = sentence(rng, 6, 20), None
        if kind:
            planted[kind] += 1
        if kind is None and len(prompts) < 200_000:
            prompts.append(prompt)
            replies.append(reply)
        source = ("alpaca", "belle", "sharegpt")[i % 10 // 5 if i % 10 < 8 else 2]
        if source == "sharegpt":
            turns = [{"from": "human", "value": prompt}, {"from": "gpt", "value": reply}]
            for _ in range(0 if kind == "near" else rng.randint(0, 2)):
                turns += [{"from": "human", "value": sentence(rng, 4, 12)}, {"from": "gpt", "value": sentence(rng, 15, 40)}]
            row = {"conversations": turns}
        else:
            row = {"instruction": prompt, "input": "", "output": reply}
        files[source].write(json.dumps(row, ensure_ascii=False) + "\n")
    for f in files.values():
        f.close()
    (folder / "planted.json").write_text(json.dumps({"n": n, **planted}), encoding="utf-8")
    return planted


def present_stages() -> list[str]:
    from curate.stages import STAGES

    return [name for name, mod in STAGES.items() if importlib.util.find_spec(mod) is not None]


def write_recipe(folder: Path, near: bool, clean: bool = True) -> Path:
    """The bench recipe: every present stage (near-dedup optional), or (clean=False) loading only."""
    import yaml

    have = present_stages() if clean else []
    clean: list = [s for s in ("normalize", "convert", "language", "filter") if s in have]
    if "dedup" in have:
        clean.append({"dedup": {"method": "exact"}})
        if near:
            clean.append({"dedup": {"method": "minhash"}})  # the defaults (conversation, 3-grams, 0.7)
    if "decontaminate" in have:
        clean.append({"decontaminate": {"against": ["eval_set.jsonl"]}})
    label = ("near" if near else "exact") if have else "load"
    recipe = {"name": f"bench-{label}", "seed": 1,
              "sources": [{"name": "alpaca", "path": "alpaca.jsonl", "format": "alpaca"},
                          {"name": "belle", "path": "belle.jsonl", "format": "belle"},
                          {"name": "sharegpt", "path": "sharegpt.jsonl", "format": "sharegpt", "type": "multiturn"}],
              "clean": clean}
    path = folder / f"recipe_{label}.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run_one(folder: Path, near: bool) -> dict:
    """In this (child) process: one build, then per-stage records/s, total and peak RSS."""
    from curate.build import build

    recipe = write_recipe(folder, near)
    start = time.perf_counter()
    res = build(recipe, folder / "builds", quiet=True, force=True)
    total = time.perf_counter() - start
    steps = {s["stage"]: s for s in res.manifest["funnel"]}
    stages = []
    read = sum(i["records_read"] for i in res.manifest["inputs"])
    for label, sec in res.seconds.items():
        n_in = steps.get(label, {}).get("in", read if label == "write" else 0)
        stages.append({"stage": label, "in": n_in, "rejected": steps.get(label, {}).get("rejected", 0), "seconds": round(sec, 2),
                       "records_per_s": round(n_in / sec) if sec > 0 else None})
    stages.append({"stage": "other", "in": read, "rejected": 0,
                   "seconds": round(total - sum(res.seconds.values()), 2), "records_per_s": None})
    return {"near": near, "records": read, "total_s": round(total, 1), "records_per_s": round(read / total),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2, 2), "stages": stages,
            "dedup_stats": {k: steps[k]["stats"] for k in steps if k.startswith(("dedup", "decontaminate"))}}


# xxhash 3.5: datatrove 0.10.1 hashes str shingles, which later xxhash releases refuse
DATATROVE = ("datatrove==0.10.1", "fasttext-numpy2-wheel", "fasteners", "regex", "tokenizers", "xxhash==3.5.0", "orjson", "zstandard", "spacy", "jieba")


def datatrove_python(cache: Path) -> Path:
    """datatrove in its own venv under the cache dir (created on first use): never a zhtune dependency."""
    venv = cache / "datatrove-venv"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if not stamp.exists() or stamp.read_text() != " ".join(DATATROVE):
        print(f"installing {', '.join(DATATROVE)} into {venv} (once)", flush=True)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *DATATROVE], check=True)
        stamp.write_text(" ".join(DATATROVE))
    return python


def datatrove_docs(folder: Path, work: Path) -> None:
    """The corpus as datatrove documents: one per loaded record, all its turns (what zhtune's near-dedup compares)."""
    import polars as pl

    from curate.build import build

    res = build(write_recipe(folder, near=False, clean=False), folder / "builds", quiet=True, force=True)
    table = pl.concat([pl.read_parquet(res.dir / "train.parquet"), pl.read_parquet(res.dir / "test.parquet")]
                      if (res.dir / "test.parquet").exists() else [pl.read_parquet(res.dir / "train.parquet")])
    from curate.text import text_expr

    (work / "in").mkdir(parents=True, exist_ok=True)
    table.select(pl.col("id"), text_expr().alias("text")).write_ndjson(work / "in" / "docs.jsonl")


def run_datatrove(python: Path, folder: Path, run: int) -> dict:
    import shutil

    from curate.stages.language import default_model_path

    work = folder / "datatrove"
    if not (work / "in" / "docs.jsonl").exists():
        datatrove_docs(folder, work)
    for sub in work.iterdir():
        if sub.name != "in":
            shutil.rmtree(sub)
    start = time.perf_counter()
    out = subprocess.run([str(python), str(ROOT / "bench" / "datatrove_pipeline.py"), str(work), str(default_model_path())],
                         capture_output=True, text=True)
    wall = time.perf_counter() - start
    lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    if out.returncode or not lines:
        raise RuntimeError(f"datatrove run failed: {out.stderr[-3000:]}")
    res = json.loads(lines[-1][len("RESULT "):])
    n = sum(1 for _ in (work / "in" / "docs.jsonl").open())
    res.update(run=run, records=n, wall_s=round(wall, 1), records_per_s=round(n / wall))
    print(f"\n== datatrove run {run}: {n:,} records, {wall:.1f} s wall ({res['records_per_s']:,} records/s), "
          f"kept {res['kept']:,}; " + ", ".join(f"{k} {v:.1f} s" for k, v in res["seconds"].items()))
    return res


def show(r: dict) -> None:
    print(f"\n== N={r['records']:,}  near-dedup={'on' if r['near'] else 'off'}: total {r['total_s']} s "
          f"({r['records_per_s']:,} records/s), peak RSS {r['peak_rss_gb']} GB")
    print(f"{'stage':<18}{'in':>10}{'rejected':>10}{'seconds':>9}{'records/s':>12}")
    for s in r["stages"]:
        rate = f"{s['records_per_s']:,}" if s["records_per_s"] else "-"
        print(f"{s['stage']:<18}{s['in']:>10,}{s['rejected']:>10,}{s['seconds']:>9}{rate:>12}")
    for label, st in r["dedup_stats"].items():
        flat = {k: v for k, v in st.items() if not isinstance(v, dict)}
        print(f"  {label}: {flat}")


def outcome(folder: Path, out: Path, recipe: Path | None = None) -> None:
    """In a child process: build the near recipe (or `recipe`) and write each input record's fate (id, stage, reason...)."""
    import polars as pl

    import curate
    from curate.build import build

    print(f"building {folder} with the code in {Path(curate.__file__).parent}", flush=True)
    recipe = recipe or write_recipe(folder, near=True)
    res = build(recipe, out, quiet=True, force=True)
    parts = [pl.read_parquet(p).with_columns(pl.lit("kept").alias("stage"), pl.lit(None, dtype=pl.String).alias("reason"),
                                             pl.lit(None, dtype=pl.String).alias("detail"), pl.lit(None, dtype=pl.String).alias("twin_id"))
             for p in (res.dir / "train.parquet", res.dir / "test.parquet") if p.exists()]
    cols = ["source", "meta", "id", "stage", "reason", "detail", "twin_id"]
    fate = pl.concat([p.select(cols) for p in parts] + [pl.read_parquet(res.dir / "rejected.parquet").select(cols)])
    # a record's file as the file it is (normalised, absolute), not as the code of the day displays it
    here = str(Path(recipe).resolve().parent)
    where = pl.col("file").map_elements(lambda f: os.path.normpath(os.path.join(here, f)), return_dtype=pl.String)
    fate.unnest("meta").with_columns(where).sort(["source", "file", "line"]).write_ndjson(out / "fate.jsonl")
    funnel = res.manifest["funnel"]  # counts, reasons and stats of every stage
    with (out / "fate.jsonl").open("a", encoding="utf-8") as f:
        f.writelines(json.dumps(step, ensure_ascii=False, sort_keys=True) + "\n" for step in funnel)


def check_against(rev: str, folder: Path, recipe: Path | None = None) -> int:
    """Build the corpus (or `recipe`) with revision `rev` (git archive) and with this checkout; compare every record's fate."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "code"
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        fates = []
        for code in (old, ROOT):
            out = Path(tmp) / ("old" if code == old else "new")
            env = {**os.environ, "ZHTUNE_BENCH_CODE": str(code)}
            subprocess.run([sys.executable, __file__, "--n", str(folder.name[1:]), "--dir", str(folder.parent),
                            "--child-outcome", str(out), *(["--recipe", str(recipe.resolve())] if recipe else [])],
                           env=env, check=True)
            fates.append((out / "fate.jsonl").read_text(encoding="utf-8").splitlines())
    old_f, new_f = fates
    differ = [(a, b) for a, b in zip(old_f, new_f) if a != b]
    print(f"check against {rev}: {len(old_f):,} records ({rev}) vs {len(new_f):,} (this checkout); "
          f"{len(differ)} lines differ (a record's file, line, id, stage, reason, detail or twin; a funnel step's counts or stats)")
    for a, b in differ[:5]:
        print(f"  {rev}: {a}\n  now: {b}")
    return 0 if not differ and len(old_f) == len(new_f) else 1


def run_child(args: argparse.Namespace, mode: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--n", str(args.n), "--dir", str(args.dir), "--child", mode],
                         capture_output=True, text=True)
    lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    if out.returncode or not lines:
        print(out.stdout[-2000:], out.stderr[-4000:], file=sys.stderr)
        raise SystemExit(1)
    return json.loads(lines[-1][len("RESULT "):])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="records to generate (default 1M)")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/zhtune_bench"), help="where corpus and builds go")
    ap.add_argument("--only", choices=["near", "exact"], help="run one configuration (default: both)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each configuration (alternating with datatrove)")
    ap.add_argument("--compare-datatrove", action="store_true",
                    help="also run datatrove's language-ID + exact + MinHash pipeline on the same corpus, alternating")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "zhtune-bench",
                    help="where the datatrove venv goes")
    ap.add_argument("--check-against", metavar="REV", help="compare every record's fate with the code of git revision REV")
    ap.add_argument("--recipe", type=Path, help="with --check-against: build this recipe instead of the generated corpus")
    ap.add_argument("--child", choices=["near", "exact"], help=argparse.SUPPRESS)
    ap.add_argument("--child-outcome", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help="print results as JSON lines too")
    args = ap.parse_args()
    folder = args.dir / f"n{args.n}"
    if args.child:
        print("RESULT " + json.dumps(run_one(folder, args.child == "near")))
        return 0
    if args.child_outcome:
        outcome(folder, args.child_outcome, args.recipe)
        return 0
    if not (folder / "planted.json").exists():
        t0 = time.perf_counter()
        planted = generate(folder, args.n)
        print(f"generated {args.n:,} records in {time.perf_counter() - t0:.1f} s into {folder}: planted {planted}")
    else:
        print(f"corpus {folder}: planted {json.loads((folder / 'planted.json').read_text())}")
    if args.check_against:
        return check_against(args.check_against, folder, args.recipe)
    print(f"stages present: {', '.join(present_stages())}")
    python = datatrove_python(args.cache) if args.compare_datatrove else None
    ours, theirs = [], []
    for run in range(1, args.repeat + 1):
        for mode in [args.only] if args.only else ["exact", "near"]:
            result = run_child(args, mode)
            show(result)
            ours.append(result)
            if args.json:
                print(json.dumps(result))
        if python:
            theirs.append(run_datatrove(python, folder, run))
    if theirs:
        near = [r["total_s"] for r in ours if r["near"]] or [r["total_s"] for r in ours]
        ratios = sorted(t["wall_s"] / z for t, z in zip(theirs, near))
        print(f"\nzhtune (whole build, near-dedup on) vs datatrove (language ID + exact + MinHash), alternating runs: "
              f"zhtune {min(near)}-{max(near)} s, datatrove {min(t['wall_s'] for t in theirs)}-{max(t['wall_s'] for t in theirs)} s; "
              f"zhtune is {ratios[0]:.1f}-{ratios[-1]:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
