"""curate build: accounting, determinism, caching, atomicity, bad recipes, no torch at import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from conftest import REPO, write_jsonl, write_recipe
from curate.build import build
from curate.core.errors import UserError
from curate.recipe import load_recipe
from curate.core.version import load_version

DEMO = REPO / "recipes" / "demo.yaml"


def files_digest(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_demo_accounts_for_every_record(tmp_path):
    res = build(DEMO, tmp_path)
    m = res.manifest
    for source, row in m["accounting"].items():
        assert row["read"] == row["kept"] + row["rejected"], source
    v = load_version(res.dir)
    train, test, rejected = v.split("train"), v.split("test"), v.rejected()
    assert train.height + test.height == sum(m["mix"]["realized"].values()) <= m["mix"]["total"] == 60
    # every input record appears exactly once: kept or rejected
    read = sum(i["records_read"] for i in m["inputs"])
    kept = pl.concat([train, test]).unique(subset=["source", "meta"]).height
    assert kept + rejected.height == read
    assert set(rejected["stage"]) >= {"load", "mix"}
    assert {"parse_error", "schema_error"} <= set(rejected["reason"])
    for name in ("train.parquet", "test.parquet", "rejected.parquet", "manifest.json", "report.md", "plots/funnel.png"):
        assert (res.dir / name).exists(), name


def test_records_follow_the_unified_schema(tmp_path):
    train = load_version(build(DEMO, tmp_path).dir).split("train")
    for msgs, rej in zip(train["messages"].to_list(), train["rejected"].to_list()):
        roles = [m["role"] for m in msgs if m["role"] != "system"]
        assert roles[-1] == "assistant" and roles[::2] == ["user"] * len(roles[::2]) and roles[1::2] == ["assistant"] * len(roles[1::2])
        assert all(m["content"].strip() for m in msgs)
    assert train.filter(pl.col("rejected").is_not_null())["type"].unique().to_list() == ["alignment"]
    assert train["id"].str.len_chars().unique().to_list() == [16]


def test_same_inputs_same_id_and_bytes(tmp_path):
    a = build(DEMO, tmp_path / "a")
    b = build(DEMO, tmp_path / "b")
    assert a.version == b.version
    assert files_digest(a.dir) == files_digest(b.dir)


def test_inputs_outside_the_recipe_folder_give_the_same_id_wherever_the_checkout_lies(tmp_path):
    """A recipe naming `../data/x.jsonl` (as the study files name ../shared/data) must not hash the
    checkout's location: two copies of project + data in different folders give one id and the same bytes."""
    rows = [{"instruction": f"第{i}个问题：长城有多长？", "input": "", "output": f"长城很长，这是第{i}个回答。"} for i in range(8)]
    dirs = []
    for where in ("a/deep/checkout", "b"):
        root = tmp_path / where
        write_jsonl(root / "data" / "x.jsonl", rows)
        recipe = write_recipe(root / "project" / "recipes", {
            "name": "outside", "sources": [{"name": "x", "path": "../../data/x.jsonl", "format": "alpaca", "type": "general"}],
            "clean": ["normalize"], "mix": {"total": 8}})
        res = build(recipe, root / "builds")
        dirs.append(res)
        files = [f["path"] for i in res.manifest["inputs"] for f in i["files"]]
        assert files == ["../../data/x.jsonl"], files
    assert dirs[0].version == dirs[1].version
    assert files_digest(dirs[0].dir) == files_digest(dirs[1].dir)


def test_rebuild_is_a_cache_hit_that_rewrites_nothing(tmp_path):
    first = build(DEMO, tmp_path)
    mtimes = {p: p.stat().st_mtime_ns for p in first.dir.rglob("*")}
    second = build(DEMO, tmp_path)
    assert second.cached and second.dir == first.dir
    assert {p: p.stat().st_mtime_ns for p in first.dir.rglob("*")} == mtimes


def test_changed_input_changes_the_id(tmp_path):
    shutil.copytree(REPO / "recipes", tmp_path / "recipes")
    a = build(tmp_path / "recipes" / "demo.yaml", tmp_path / "out")
    with open(tmp_path / "recipes" / "samples" / "cot_zh.json", "a", encoding="utf-8") as f:
        f.write(" ")
    b = build(tmp_path / "recipes" / "demo.yaml", tmp_path / "out")
    assert a.version != b.version


def test_killed_build_leaves_no_version_and_next_build_succeeds(tmp_path, monkeypatch):
    import curate.report

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(curate.report, "write_report", crash)
    with pytest.raises(KeyboardInterrupt):
        build(DEMO, tmp_path)
    assert not any(p.name[0] != "." for p in (tmp_path / "demo").iterdir())
    monkeypatch.undo()
    # a hard kill leaves a temp folder behind: it is ignored and cleaned by the next build
    (tmp_path / "demo" / ".tmp-leftover").mkdir()
    res = build(DEMO, tmp_path)
    assert not res.cached and (res.dir / "manifest.json").exists()


def test_mix_weights_counts_and_types(tmp_path):
    rows = lambda tag, n: [{"instruction": f"{tag}问题{i}", "output": f"{tag}回答{i}"} for i in range(n)]  # noqa: E731
    write_jsonl(tmp_path / "a.jsonl", rows("甲", 40))
    write_jsonl(tmp_path / "b.jsonl", rows("乙", 10))
    base = {"name": "m", "sources": [{"name": "a", "path": "a.jsonl", "type": "general"},
                                     {"name": "b", "path": "b.jsonl", "type": "cot"}]}
    weights = build(write_recipe(tmp_path, {**base, "mix": {"total": 20, "weights": {"a": 3, "b": 1}}}), tmp_path / "o")
    assert weights.manifest["mix"]["realized"] == {"a": 15, "b": 5}
    short = build(write_recipe(tmp_path, {**base, "mix": {"total": 40, "weights": {"a": 1, "b": 1}}}), tmp_path / "o")
    assert short.manifest["mix"]["realized"] == {"a": 20, "b": 10} and short.manifest["mix"]["shortfall"] == {"b": 10}
    upsampled = build(write_recipe(tmp_path, {**base, "mix": {"total": 40, "weights": {"a": 1, "b": 1}, "replace": True}}), tmp_path / "o")
    assert upsampled.manifest["mix"]["realized"] == {"a": 20, "b": 20}
    counts = build(write_recipe(tmp_path, {**base, "mix": {"counts": {"a": 7, "b": 3}}}), tmp_path / "o")
    assert counts.manifest["mix"]["realized"] == {"a": 7, "b": 3}
    by_type = build(write_recipe(tmp_path, {**base, "mix": {"total": 10, "by_type": {"cot": 1}}}), tmp_path / "o")
    assert by_type.manifest["mix"]["realized"] == {"cot": 10, "general": 0}
    for res in (weights, short, upsampled, counts, by_type):
        assert all(r["read"] == r["kept"] + r["rejected"] for r in res.manifest["accounting"].values())


def test_split_is_seeded_and_stable(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"instruction": f"问题{i}", "output": f"回答{i}"} for i in range(400)])
    recipe = {"name": "s", "sources": [{"name": "a", "path": "a.jsonl"}], "split": {"test": 0.25}}
    res = build(write_recipe(tmp_path, recipe), tmp_path / "o")
    n_test = res.manifest["counts"]["test"]
    assert 60 < n_test < 140
    other_seed = build(write_recipe(tmp_path, {**recipe, "seed": 7}), tmp_path / "o")
    assert set(load_version(other_seed.dir).split("test")["id"]) != set(load_version(res.dir).split("test")["id"])


@pytest.mark.parametrize("recipe, message", [
    ({"name": "x", "sources": [{"name": "a", "path": "a.jsonl", "fromat": "alpaca"}]}, r"sources\[0\]\.fromat: unknown key `fromat`; did you mean `format`"),
    ({"name": "x", "sources": [{"name": "a", "path": "a.jsonl"}], "clean": [{"language": {"min_score": 2}}]}, r"clean\[0\]\.language\.min_score"),
    ({"name": "x", "sources": [{"name": "a", "path": "a.jsonl"}], "clean": ["dedupe"]}, r"clean\[0\]: unknown stage `dedupe`"),
    ({"name": "x", "sources": [{"name": "a", "path": "a.jsonl"}], "mix": {"weights": {"b": 1}}}, r"mix\.weights\.b: no source named `b`"),
    ({"name": "x", "sources": [{"name": "a", "path": "a.jsonl", "hub": "x/y"}]}, r"exactly one of `path`"),
    ({"name": "x", "sources": []}, r"sources"),
])
def test_bad_recipes_name_the_key(tmp_path, recipe, message):
    write_jsonl(tmp_path / "a.jsonl", [{"instruction": "问", "output": "答"}])
    with pytest.raises(UserError, match=message):
        load_recipe(write_recipe(tmp_path, recipe))


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's code, not an installed copy's
    return subprocess.run([sys.executable, "-m", "curate.app.cli", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_cli_user_errors_are_one_line_not_tracebacks(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"instruction": "a", "output": "b"}\n{oops\n', encoding="utf-8")
    write_recipe(tmp_path, {"name": "x", "sources": [{"name": "a", "path": "bad.jsonl"}]})
    out = run_cli("build", "recipe.yaml", "--quiet", cwd=tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "error: bad.jsonl:2: malformed JSON" in out.stderr
    missing = run_cli("build", "nope.yaml", cwd=tmp_path)
    assert missing.returncode == 2 and "recipe not found" in missing.stderr


def test_cli_prints_funnel_and_ends_with_version_dir_without_importing_torch(tmp_path):
    code = ("import sys; from curate.app.cli import main; rc = main(['build', %r, '--out', %r]); "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'curation imported torch'; sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code % (str(DEMO), str(tmp_path))], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert (Path(lines[-1]) / "manifest.json").exists()
    assert any(line.startswith("accounting:") for line in lines)


def test_unpinned_hub_source_marks_the_version_not_reproducible(tmp_path):
    write_jsonl(tmp_path / "ds" / "train.jsonl", [{"instruction": f"问题{i}", "output": f"回答{i}"} for i in range(3)])
    res = build(write_recipe(tmp_path, {"name": "h", "sources": [{"name": "h", "hub": str(tmp_path / "ds")}]}), tmp_path / "o")
    assert res.manifest["reproducible"] is False
    assert "Not reproducible" in (res.dir / "report.md").read_text(encoding="utf-8")
    assert res.manifest["counts"]["train"] == 3


def test_manifest_recipe_loads_back_to_the_same_version(tmp_path):
    """The resolved recipe in the manifest is a recipe: building it again gives the same id."""
    from curate.build import version_id
    from curate.recipe import parse_recipe

    res = build(DEMO, tmp_path)
    again = parse_recipe(res.manifest["recipe"], DEMO.parent, origin="manifest")
    assert version_id(again)[0] == res.version


def test_force_rewrites_an_existing_version(tmp_path):
    first = build(DEMO, tmp_path)
    (first.dir / "report.md").write_text("tampered", encoding="utf-8")
    again = build(DEMO, tmp_path, force=True)
    assert not again.cached and again.dir == first.dir
    assert (again.dir / "report.md").read_text(encoding="utf-8").startswith("# demo")
