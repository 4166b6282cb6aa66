"""Local engine vs `--engine ray` (1 and 2 workers) on bench/curate_bench.py's generated corpus.

Prints records/s and peak memory: the driver's RSS, the largest Ray worker's RSS and the peak sum
over Ray's processes (sampled every 0.2 s). Each configuration runs in a fresh child process; the
versions must agree (same id, same train bytes) or the bench fails.

    python bench/scale_bench.py --n 100000            # generate, then local, ray x1, ray x2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def ray_memory(stop: threading.Event, peak: dict) -> None:
    import psutil

    while not stop.is_set():
        total, biggest = 0, 0
        for p in psutil.process_iter(["cmdline", "memory_info"]):
            cmd = " ".join(p.info["cmdline"] or [])
            if cmd.startswith("ray::") and p.info["memory_info"]:
                rss = p.info["memory_info"].rss
                total, biggest = total + rss, max(biggest, rss)
        peak["sum"], peak["worker"] = max(peak.get("sum", 0), total), max(peak.get("worker", 0), biggest)
        time.sleep(0.2)


def run_one(folder: Path, engine: str, workers: int | None, near: bool) -> dict:
    from curate_bench import write_recipe

    from curate.build import build

    recipe = write_recipe(folder, near)
    peak: dict = {}
    stop = threading.Event()
    if engine == "ray":
        import ray

        root = str(Path(__file__).resolve().parents[1])
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": root, "ZHTUNE_CACHE": os.environ.get("ZHTUNE_CACHE", "")}})
        threading.Thread(target=ray_memory, args=(stop, peak), daemon=True).start()
    start = time.perf_counter()
    res = build(recipe, folder / f"builds-{engine}{workers or ''}", quiet=True, force=True, engine=engine)
    total = time.perf_counter() - start
    stop.set()
    read = sum(i["records_read"] for i in res.manifest["inputs"])
    return {"engine": engine, "workers": workers, "records": read, "total_s": round(total, 1),
            "records_per_s": round(read / total), "version": res.version,
            "train_sha": hashlib.sha256((res.dir / "train.parquet").read_bytes()).hexdigest()[:12],
            "driver_peak_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2, 2),
            "worker_peak_gb": round(peak.get("worker", 0) / 1024 ** 3, 2), "ray_sum_peak_gb": round(peak.get("sum", 0) / 1024 ** 3, 2),
            "stages": {k: round(v, 1) for k, v in res.seconds.items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="records to generate (default 100k)")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/zhtune_scale_bench"))
    ap.add_argument("--exact-only", action="store_true", help="skip the MinHash stage")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    folder = args.dir / str(args.n)
    if args.child:
        engine, _, w = args.child.partition(":")
        print(json.dumps(run_one(folder, engine, int(w) if w else None, not args.exact_only)))
        return 0
    from curate_bench import generate

    if not (folder / "planted.json").exists():
        folder.mkdir(parents=True, exist_ok=True)
        generate(folder, args.n)
    rows = []
    for child in ("local", "ray:1", "ray:2"):
        cmd = [sys.executable, __file__, "--n", str(args.n), "--dir", str(args.dir), "--child", child]
        cmd += ["--exact-only"] if args.exact_only else []
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-3000:], file=sys.stderr)
            return 1
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"{child:<6} {r['records']:>9,} rec  {r['total_s']:>7} s  {r['records_per_s']:>7,} rec/s  driver {r['driver_peak_gb']} GB"
              f"  worker max {r['worker_peak_gb']} GB  ray sum {r['ray_sum_peak_gb']} GB  {r['stages']}", flush=True)
    same = {(r["version"], r["train_sha"]) for r in rows}
    print("same version and train bytes on every engine:", len(same) == 1)
    return 0 if len(same) == 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
