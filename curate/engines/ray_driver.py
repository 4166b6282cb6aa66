"""`curate build --engine ray`: the recipe's stages on Ray Data, same version and bytes as local.

Passes: load (a task per file) -> runs of per-record stages fused into one `map_batches` ->
dedup as hash shuffles (`ray_dedup.py`) -> the final validate. Each pass tags every record kept
or rejected (with its stage position) and emits funnel payloads that the driver sums. The end
(mix, split, accounting, Parquet, report) runs block by block (`ray_finish.py`); only a mix with
`replace: true` still runs the local `finish_build` in one task. The driver holds counts only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from curate.engines.batches import KEPT_SCHEMA, run_steps
from curate.engines.funnel_parts import add_steps, merge_stats
from curate.core.errors import UserError
from curate.mix import keeps_all
from curate.pipeline import VALIDATE, Funnel, stage_label
from curate.core.records import RECORD_SCHEMA, REJECT_SCHEMA
from curate.stages import StageContext

INSTALL_HINT = "pip install 'zhtune[ray]'  (or: pip install 'ray[data]>=2.60,<3')"


def require_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise UserError("--engine ray needs Ray Data, which is not installed", hint=INSTALL_HINT) from None
    return ray


def connect(address: str | None, workers: int | None):
    """Join `address` (auto, ray://host:port) or start a local Ray; reuse one already started."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    import curate

    pkg = Path(curate.__file__).parent
    env = {"py_modules": [str(pkg)]} if address else {"env_vars": {"PYTHONPATH": str(pkg.parent)}}
    try:
        if address:
            ray.init(address=address, runtime_env=env, log_to_driver=False)
        else:
            ray.init(address="local", num_cpus=workers, include_dashboard=False, runtime_env=env, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise UserError(f"cannot reach the Ray cluster at {address or 'a new local Ray'}: {str(e).splitlines()[0]}",
                        hint="start one with `ray start --head` (docs/scale.md) or drop --address to run a local Ray") from None
    return ray


def _get(ray, refs):
    """ray.get, turning a task's UserError (bad input file) back into the one-line error."""
    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as e:
        if isinstance(e.cause, UserError):
            raise e.cause from None
        raise


def _load(ray, recipe, funnel: Funnel):
    from curate.engines.ray_load import load_one, load_tasks

    task = ray.remote(num_returns=3)(load_one)
    jobs = load_tasks(recipe)
    first = {}  # a source's later files use the format its first file was detected as (local rule)
    refs = []
    for si, src, path, fi in jobs:
        fmt = None
        if fi > 0 and src.format is None:
            if si not in first:
                first[si] = _get(ray, refs[[j[0] for j in jobs].index(si)][2])["format"]
            fmt = first[si]
        refs.append(task.remote(src, path, recipe.base_dir, si, fi, fmt))
    infos = _get(ray, [r[2] for r in refs])
    inputs, n_in, n_rej, reasons = [], Counter(), Counter(), Counter()
    for si, src in enumerate(recipe.sources):
        mine = [i for (s, *_), i in zip(jobs, infos) if s == si]
        inputs.append({"source": src.name, "format": mine[0]["format"], "type": src.type, "license": src.license,
                       "files": [f for i in mine for f in i["files"]],
                       "records_read": sum(f["records"] for i in mine for f in i["files"]),
                       "warnings": [w for i in mine for w in i["warnings"]]})
        n_in[src.name] = sum(i["read"] for i in mine)
        n_rej[src.name] = sum(sum(i["rejected"].values()) for i in mine)
        reasons += sum((Counter(i["rejected"]) for i in mine), Counter())
    funnel.add_counts("load", n_in, n_in - n_rej, n_rej, reasons)
    kept = ray.data.from_arrow_refs([r[0] for r in refs])
    rejected = ray.data.from_arrow_refs([r[1] for r in refs])
    return kept, rejected, inputs


def _passes(recipe) -> list[tuple[str, list[tuple]]]:
    """Stages grouped into passes: runs of per-record stages fuse; each dedup is its own pass."""
    taken = {"load", "mix"}
    out: list[tuple[str, list[tuple]]] = []
    for i, spec in enumerate(recipe.stages):
        step = (spec, stage_label(spec, taken), i + 1)
        kind = f"dedup:{spec.options.method}" if spec.name == "dedup" else "records"
        if kind == "records" and out and out[-1][0] == "records":
            out[-1][1].append(step)
        else:
            out.append((kind, [step]))
    final = (VALIDATE, stage_label(VALIDATE, taken), len(recipe.stages) + 1)  # always last, as locally
    if out and out[-1][0] == "records":
        out[-1][1].append(final)
    else:
        out.append(("records", [final]))
    return out


def _split(tagged):
    """A materialised tagged pass -> (kept, rejected, payload strings)."""
    kept = tagged.map_batches(lambda b: pl.from_arrow(b).filter(pl.col("_spos").is_null() & pl.col("_payload").is_null())
                              .select(list(KEPT_SCHEMA)).to_arrow(), batch_format="pyarrow")
    rejected = tagged.map_batches(lambda b: pl.from_arrow(b).filter(pl.col("_spos").is_not_null()).to_arrow(),
                                  batch_format="pyarrow")
    payloads = tagged.map_batches(lambda b: pl.from_arrow(b).filter(pl.col("_payload").is_not_null())
                                  .select("_payload").to_arrow(), batch_format="pyarrow").take_all()
    return kept, rejected, [p["_payload"] for p in payloads]


def _run_pass(ray, ds, kind: str, steps: list[tuple], ctx: StageContext, buckets: int, funnel: Funnel):
    from curate.engines import ray_dedup

    t0 = time.perf_counter()
    extras, near_stats = {}, None
    if kind == "records":
        for spec, label, _ in steps:
            if spec.name == "decontaminate":
                from curate.stages.decontaminate import eval_index

                extras[label] = eval_index(spec.options, ctx.base_dir)  # small: the eval sets, built once
        refs = {label: ray.put(ix) for label, ix in extras.items()}

        def fn(batch):
            from curate.engines import batches  # the worker's module (a closure would carry a copy)

            for label, ref in refs.items():
                if label not in batches.EVAL_INDEX:
                    batches.EVAL_INDEX[label] = ray.get(ref)  # the broadcast index, fetched once per worker
            return run_steps(pl.from_arrow(batch), steps, ctx).to_arrow()

        tagged = ds.map_batches(fn, batch_format="pyarrow")
    elif kind == "dedup:exact":
        tagged = ray_dedup.exact(ds, steps[0], ctx, buckets)
    else:
        if steps[0][0].sources:
            raise UserError(f"recipe clean[{steps[0][2] - 1}].dedup: `sources:` with method minhash is not supported "
                            "by --engine ray yet", hint="run it with the local engine")
        tagged, near_stats = ray_dedup.near(ds, steps[0], ctx, buckets)
    kept, rejected, payloads = _split(tagged.materialize())
    names = {label: spec.name for spec, label, _ in steps}
    stats = None
    if near_stats is not None:
        label = steps[0][1]
        c = merge_stats("dedup", [(d["n"], d["stats"]) for d in map(json.loads, payloads)])
        c = c or {"duplicates": 0, "cross_source": 0, "clusters": 0, "largest_cluster": 0, "cluster_sizes": {}}
        stats = {label: {"duplicates": c["duplicates"], "cross_source": c["cross_source"], **near_stats,
                         **{k: c[k] for k in ("clusters", "largest_cluster", "cluster_sizes")}}}
    seconds = (time.perf_counter() - t0) / len(steps)
    add_steps(funnel, payloads, names, extras, {label: seconds for _, label, _ in steps}, stats)
    return kept, rejected


def _finish(recipe, vid, key, writer, replace, funnel, inputs, kept_refs, reject_refs):
    """On the driver's node: the records back in load order, then the local engine's ending. Only for
    `mix.replace` (its extra copies are drawn by one numpy generator over the groups in turn)."""
    import ray

    from curate.finish import finish_build

    def frame(refs, sort, schema):
        parts = [pl.from_arrow(t) for t in ray.get(list(refs))]
        parts = [p for p in parts if p.height]
        df = pl.concat(parts).sort(sort) if parts else pl.DataFrame(schema={**schema, **{c: pl.Int64 for c in sort}})
        return df.select(list(schema)).cast(schema)

    table = frame(kept_refs, ["_ord"], RECORD_SCHEMA)
    rejects = frame(reject_refs, ["_spos", "_ord"], REJECT_SCHEMA)
    return finish_build(recipe, vid, key, writer, replace, funnel, inputs, table, [rejects])


class StagedWriter:
    """What `finish_build` writes through on a worker: a staging folder beside the version. The driver,
    which holds the version's lock, then moves the files in through the usual atomic write."""

    def __init__(self, final: Path):
        self.final = final
        self.stage = Path(tempfile.mkdtemp(prefix=f".ray-stage-{final.name}-", dir=final.parent))

    @contextmanager
    def open(self, replace: bool = False):
        yield self.stage

    def publish(self, writer, replace: bool) -> None:
        with writer.open(replace=replace) as tmp:
            for f in sorted(self.stage.iterdir()):
                os.replace(f, tmp / f.name)
        shutil.rmtree(self.stage, ignore_errors=True)


def build_on_ray(recipe, vid: str, key: dict, writer, quiet: bool, replace: bool, address: str | None = None,
                 workers: int | None = None):
    from curate.finish import BuildResult

    ray = connect(address, workers)
    from ray.data import DataContext
    from ray.data.context import ShuffleStrategy
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    data = DataContext.get_current()
    data.enable_progress_bars = not quiet
    data.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED  # tasks, no actor pools: cheaper per shuffle
    buckets = max(2, 2 * int(ray.cluster_resources().get("CPU", 2)))
    funnel = Funnel()
    t0 = time.perf_counter()
    ds, rejected, inputs = _load(ray, recipe, funnel)
    funnel.seconds["load"] = time.perf_counter() - t0
    ctx = StageContext(seed=recipe.seed, source_order=[s.name for s in recipe.sources], base_dir=recipe.base_dir)
    all_rejected = [rejected]
    for kind, steps in _passes(recipe):
        ds, rej = _run_pass(ray, ds, kind, steps, ctx, buckets, funnel)
        ds = ds.materialize()
        all_rejected.append(rej)
    rejects = all_rejected[0].union(*all_rejected[1:])
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    staged = StagedWriter(writer.final)
    try:
        if recipe.mix.replace and not keeps_all(recipe.mix):
            finish = ray.remote(_finish).options(scheduling_strategy=here)
            manifest = _get(ray, finish.remote(recipe, vid, key, staged, replace, funnel, inputs,
                                               ds.to_arrow_refs(), rejects.to_arrow_refs()))
        else:
            from curate.engines.ray_finish import finish_on_ray

            manifest = finish_on_ray(ray, recipe, vid, key, staged, funnel, inputs, ds, rejects, here)
        staged.publish(writer, replace)
    finally:
        shutil.rmtree(staged.stage, ignore_errors=True)
    return BuildResult(writer.final, vid, False, manifest, funnel.seconds)
