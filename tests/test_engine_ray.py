"""`--engine ray` gives the local engine's version id and bytes (Ray started here, by the tests)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'zhtune[ray]')")

from conftest import write_recipe  # noqa: E402
from curate.build import build  # noqa: E402
from curate.core.parquet import ROW_GROUP  # noqa: E402
from curate.recipe import load_recipe  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "recipes" / "demo.yaml"
COMPARED = ("train.parquet", "test.parquet", "rejected.parquet", "manifest.json")
MARKER_ENV = "ZHTUNE_TEST_KILL_MARKER"


def kill_once_hook():
    """Ray worker set-up: the first worker to run the quality filter dies mid-stage (os._exit), once."""
    marker = os.environ.get(MARKER_ENV)
    if not marker:
        return
    import curate.stages.quality_filter as qf

    original = qf.apply

    def apply(table, opts, ctx):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return original(table, opts, ctx)
        os.close(fd)
        os._exit(1)

    qf.apply = apply


def runtime_env(**env):
    return {"env_vars": {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}", **env},
            "worker_process_setup_hook": kill_once_hook}


def same_build(recipe, tmp_path: Path) -> None:
    local = build(recipe, tmp_path / "local", force=True)
    distributed = build(recipe, tmp_path / "ray", force=True, engine="ray")
    assert distributed.version == local.version and not distributed.cached
    for name in COMPARED:
        a, b = local.dir / name, distributed.dir / name
        assert a.exists() == b.exists(), name
        if a.exists():
            assert a.read_bytes() == b.read_bytes(), f"{name} differs between engines"
    acc = distributed.manifest["accounting"]
    assert acc and all(r["balanced"] and r["read"] == r["kept"] + r["rejected"] for r in acc.values())
    return distributed


@pytest.fixture
def local_ray(tmp_path):
    marker = tmp_path / "killed-once"
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env=runtime_env(**{MARKER_ENV: str(marker)}))
    yield marker
    ray.shutdown()


def test_demo_same_version_and_bytes_with_a_worker_killed_mid_stage(local_ray, tmp_path):
    from curate.engines import ray_finish

    res = same_build(load_recipe(DEMO), tmp_path)
    assert local_ray.exists(), "the quality filter never ran on a worker: nothing was killed"
    assert ray_finish.LAST["records"] == sum(res.manifest["counts"].values())  # the end ran block by block
    steps = {s["stage"]: s for s in res.manifest["funnel"]}
    assert steps["dedup:minhash"]["rejected"] > 0 and steps["decontaminate"]["rejected"] > 0  # the demo's planted twins


def test_no_near_candidates_and_a_limited_source(local_ray, tmp_path):
    """One record per source (`limit:` reads a source in one task): MinHash finds no pair at all."""
    samples = ROOT / "recipes" / "samples"
    recipe = {"name": "tiny", "sources": [
        {"name": "a", "path": str(samples / "alpaca_zh.json"), "format": "alpaca", "limit": 1},
        {"name": "s", "path": str(samples / "sharegpt_zh.jsonl"), "limit": 1}],
        "clean": ["normalize", {"dedup": {"method": "minhash"}}]}
    res = same_build(load_recipe(write_recipe(tmp_path, recipe)), tmp_path)
    step = next(s for s in res.manifest["funnel"] if s["stage"] == "dedup:minhash")
    assert step["stats"]["candidate_pairs"] == 0 and step["in"] == 2


@pytest.mark.slow
def test_two_node_cluster_same_bytes(tmp_path):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    try:
        ray.init(address=cluster.address, runtime_env=runtime_env(), log_to_driver=False)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        same_build(load_recipe(DEMO), tmp_path)
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.mark.slow
def test_real_slices_same_bytes(shared_data, tmp_path):
    from test_real_slices import real_recipe

    clean = ["normalize", {"convert": {"config": "t2s"}}, {"language": {"keep": ["zh"]}}, "filter",
             {"dedup": {"method": "exact"}}, {"dedup": {"method": "minhash"}},
             {"decontaminate": {"against": [str(shared_data / "belle_eval")]}}]
    recipe = real_recipe(shared_data, clean) | {"mix": {"total": 3000}, "split": {"test": 0.05}}
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=runtime_env())
    try:
        same_build(write_recipe(tmp_path, recipe), tmp_path)
    finally:
        ray.shutdown()


def test_unreachable_cluster_is_one_line(tmp_path, capsys):
    from curate.core.errors import UserError

    with pytest.raises(UserError, match="cannot reach the Ray cluster at ray://127.0.0.1:1"):
        build(DEMO, tmp_path / "out", engine="ray", address="ray://127.0.0.1:1")


def test_run_options_are_not_part_of_the_version(tmp_path):
    from curate.build import version_id

    recipe = {"name": "r", "sources": [{"name": "a", "path": str(ROOT / "recipes/samples/alpaca_zh.json"), "format": "alpaca"}],
              "clean": ["normalize"]}
    plain = load_recipe(write_recipe(tmp_path, recipe, "plain.yaml"))
    on_ray = load_recipe(write_recipe(tmp_path, recipe | {"run": {"engine": "ray", "address": "auto", "workers": 4}}, "ray.yaml"))
    assert on_ray.run.engine == "ray" and plain.run.engine == "local"
    assert version_id(on_ray)[0] == version_id(plain)[0]


def _many_files(folder: Path) -> list[dict]:
    """Two sources in 5 files (one block each): varied lengths, exact duplicates, too-short records."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    sources = []
    for name, kind, files, per in (("a", "general", 3, 30), ("b", "multiturn", 2, 25)):
        for f in range(files):
            with open(folder / f"{name}{f}.jsonl", "w", encoding="utf-8") as out:
                for i in range(per):
                    n = (i * 7 + f) % 13
                    text = "短" if i % 17 == 5 else f"{name}问题{i % 20}：" + "内容" * (n * n + 1)
                    turns = [{"from": "human", "value": text}, {"from": "gpt", "value": "回答" * (n + 2) + str(i % 20)}]
                    out.write(json.dumps({"conversations": turns}, ensure_ascii=False) + "\n")
        sources.append({"name": name, "path": str(folder / f"{name}*.jsonl"), "type": kind})
    return sources


def test_every_mix_rule_same_bytes_block_by_block(local_ray, tmp_path):
    """keep-all, by_type, counts with a shortfall, nothing kept, and replace (the one-task fallback)."""
    from curate.engines import ray_finish

    sources = _many_files(tmp_path / "data")
    clean = ["normalize", {"filter": {"min_record_chars": 6}}, {"dedup": {"method": "exact"}}]
    cases = {"all": {"split": {"test": 0.2}},
             "by_type": {"mix": {"by_type": {"general": 1, "multiturn": 2}, "total": 40}, "split": {"test": 0.1}},
             "counts": {"mix": {"counts": {"a": 12, "b": 1000}}},
             "none": {"clean": [{"filter": {"min_record_chars": 100000}}], "mix": {"total": 5}, "split": {"test": 0.5}},
             "replace": {"mix": {"counts": {"a": 5, "b": 90}, "replace": True}}}
    for name, extra in cases.items():
        recipe = {"name": name, "seed": 3, "sources": sources, "clean": clean} | extra
        ray_finish.LAST.clear()
        res = same_build(load_recipe(write_recipe(tmp_path, recipe, f"{name}.yaml")), tmp_path / name)
        if name == "replace":
            assert not ray_finish.LAST  # drawn copies: the single-task ending
            continue
        total = sum(res.manifest["counts"].values())
        assert ray_finish.LAST["records"] == total, name
        if name != "none":  # no task held more than a block (encoders: one row group), nor the driver any record
            assert ray_finish.LAST["blocks"] > 1 and ray_finish.LAST["largest_block"] < total / 2, (name, ray_finish.LAST)
            assert ray_finish.LAST["largest_row_group"] <= ROW_GROUP
    assert res.manifest["mix"]["realized"]["b"] == 90


@pytest.mark.slow
def test_row_groups_encoded_by_workers_give_the_local_file(local_ray, tmp_path):
    """150k records: train spans 3 row groups, each encoded by its own task from slices of sorted blocks."""
    import json

    import pyarrow.parquet as pq

    from curate.engines import ray_finish

    data = tmp_path / "data"
    data.mkdir()
    for f in range(3):
        with open(data / f"part{f}.jsonl", "w", encoding="utf-8") as out:
            for i in range(50_000):
                turns = [{"from": "human", "value": f"第{f}组问题{i}"}, {"from": "gpt", "value": f"回答{i * 7 % 1000}号"}]
                out.write(json.dumps({"conversations": turns}, ensure_ascii=False) + "\n")
    recipe = {"name": "big", "sources": [{"name": "s", "path": str(data / "*.jsonl")}], "clean": ["normalize"],
              "split": {"test": 0.05}}
    res = same_build(load_recipe(write_recipe(tmp_path, recipe)), tmp_path)
    assert pq.ParquetFile(res.dir / "train.parquet").metadata.num_row_groups == 3
    assert ray_finish.LAST["largest_row_group"] == ROW_GROUP and ray_finish.LAST["largest_block"] < 150_000 / 2
