"""`curate ablate --jobs N`: run the planned runs as N worker processes, one torch thread each.

Every data version (and the held-out pool) is built first, in this process, so no two workers ever
write the same version. Worker i runs every N-th run of the plan (`--shard i/N`: balanced when variants
have the same size); training runs and evaluations have their own cached folders, so workers never
share an output. The parent then collects every score from cache and writes the report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from curate.core.errors import UserError


def parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise UserError(f"--shard {text!r}: expected I/N, e.g. 0/2") from None
    if not 0 <= i < n:
        raise UserError(f"--shard {text!r}: I must be in 0..N-1")
    return i, n


def build_all(spec, runs, log: Callable[[str], None]) -> None:
    from curate.build import build

    seen = set()
    for r in runs:
        for recipe in (r.heldout, r.recipe):
            if recipe is not None and id(recipe) not in seen:
                seen.add(id(recipe))
                build(recipe, spec.builds_dir, quiet=True)
    log(f"built {len({r.version_id for r in runs})} data versions" + (" and the held-out pool" if runs and runs[0].heldout else ""))


def run_workers(ablation: str | Path, spec, runs, jobs: int, worker_args: list[str], *, threads: int = 1,
                log: Callable[[str], None] = print) -> None:
    """Start `jobs` workers on shards of the plan, wait for all; a failed worker is one clear error."""
    build_all(spec, runs, log)
    logs = Path(spec.output_dir) / spec.name / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    procs = []
    t0 = time.perf_counter()
    try:
        for i in range(jobs):
            path = logs / f"shard-{i}-of-{jobs}.log"
            cmd = [sys.executable, "-m", "curate.app.cli", "ablate", str(ablation), "--shard", f"{i}/{jobs}",
                   "--threads", str(threads), *worker_args]
            f = open(path, "w", encoding="utf-8")
            procs.append((i, subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env), f, path))
            log(f"worker {i}: {len(runs[i::jobs])} runs, log {path}")
        failed = []
        for i, p, f, path in procs:
            rc = p.wait()
            f.close()
            log(f"worker {i} finished (exit {rc}) after {(time.perf_counter() - t0) / 60:.1f} min")
            if rc != 0:
                failed.append((i, rc, path))
    finally:
        for _, p, f, _ in procs:
            if p.poll() is None:
                p.terminate()
                p.wait()
            f.close()
    if failed:
        i, rc, path = failed[0]
        tail = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or [""]
        raise UserError(f"ablation worker {i} failed (exit {rc}): {tail[0]}",
                        hint=f"full log: {path}; re-running continues from cache")
