"""curate diff on real builds: the demo and a variant with other weights/total and a changed source."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from curate.build import build
from curate.app.cli import main
from curate.diff import diff_versions, flatten, recipe_changes
from curate.core.version import Version, load_version

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Version, Version]:
    root = tmp_path_factory.mktemp("diff")
    out = root / "builds"
    a = load_version(build(REPO / "recipes" / "demo.yaml", out).dir)
    shutil.copytree(REPO / "recipes" / "samples", root / "samples")
    recipe = yaml.safe_load((REPO / "recipes" / "demo.yaml").read_text(encoding="utf-8"))
    recipe["mix"]["total"] = 40
    recipe["mix"]["weights"] = {"alpaca_zh": 0.5, "belle_zh": 0.25, "sharegpt_zh": 0.25}
    recipe["sources"] = [s for s in recipe["sources"] if s["name"] not in ("cot_zh", "preference_zh")]
    recipe["sources"][0]["license"] = "cc-by-nc-4.0"
    text = (root / "samples" / "alpaca_zh.json").read_text(encoding="utf-8")
    (root / "samples" / "alpaca_zh.json").write_text(text + "\n", encoding="utf-8")  # same records, new digest
    (root / "variant.yaml").write_text(yaml.safe_dump(recipe, allow_unicode=True, sort_keys=False), encoding="utf-8")
    b = load_version(build(root / "variant.yaml", out).dir)
    return a, b


def ids(v: Version) -> set[tuple[str, str]]:
    out = set()
    for split in ("train", "test"):
        if (v.dir / f"{split}.parquet").exists():
            out |= set(v.split(split).select("id", "source").iter_rows())
    return out


def test_diff_records_by_id(pair):
    a, b = pair
    d = diff_versions(a, b)
    ia, ib = ids(a), ids(b)
    r = d["records"]
    assert (r["a"], r["b"]) == (len(ia), len(ib))
    assert r["added"] == len(ib - ia) and r["removed"] == len(ia - ib) and r["kept"] == len(ia & ib)
    added = {(i, g["source"]) for g in r["added_by"] for i in g["ids"]}
    removed = {(i, g["source"]) for g in r["removed_by"] for i in g["ids"]}
    assert added == ib - ia and removed == ia - ib
    # the dropped sources are entirely removed, by type
    gone = {(g["source"], g["type"]): g["n"] for g in r["removed_by"]}
    assert gone[("cot_zh", "cot")] == a.manifest["mix"]["realized"]["cot_zh"]
    assert gone[("preference_zh", "alignment")] == sum(1 for _, s in ia if s == "preference_zh")


def test_diff_recipe_inputs_mix_funnel(pair):
    a, b = pair
    d = diff_versions(a, b)
    keys = {c["key"]: c for c in d["recipe"]}
    assert keys["mix.total"]["a"] == 60 and keys["mix.total"]["b"] == 40
    assert keys["mix.weights.alpaca_zh"]["b"] == 0.5
    assert keys["sources[cot_zh]"]["change"] == "removed"
    assert keys["sources[alpaca_zh].license"] == {"key": "sources[alpaca_zh].license", "change": "changed",
                                                  "a": "apache-2.0", "b": "cc-by-nc-4.0"}
    inputs = {c["source"]: c for c in d["inputs"]}
    assert inputs["cot_zh"]["change"] == "removed" and inputs["preference_zh"]["change"] == "removed"
    assert set(inputs["alpaca_zh"]["fields"]) == {"license", "files"}  # new bytes, new digest
    mix = {g["group"]: g for g in d["mix"]["groups"]}
    assert mix["cot_zh"]["b"] == 0 and mix["cot_zh"]["delta"] == -mix["cot_zh"]["a"]
    assert sum(g["b"] for g in mix.values()) == b.manifest["counts"]["train"] + b.manifest["counts"]["test"]
    funnel = {s["stage"]: s for s in d["funnel"]}
    assert funnel["load"]["in"] == {"a": a.manifest["funnel"][0]["in"], "b": b.manifest["funnel"][0]["in"]}
    assert funnel["mix"]["changed"]


def test_diff_cli_text_and_json(pair, capsys):
    a, b = pair
    assert main(["diff", str(a.dir), str(b.dir)]) == 0
    text = capsys.readouterr().out
    assert "~ mix.total: 60 -> 40" in text
    assert "- sources[cot_zh]" in text and "- cot_zh (" in text
    assert "~ sources[alpaca_zh].license: apache-2.0 -> cc-by-nc-4.0" in text
    assert "funnel (in / kept / rejected):" in text and "mix (realized):" in text
    assert main(["diff", str(a.dir), str(b.dir), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["a"]["version"] == a.id and d["b"]["version"] == b.id and not d["same"]


def test_diff_same_version(pair, capsys):
    a, _ = pair
    assert main(["diff", str(a.dir), str(a.dir)]) == 0
    assert "same version id" in capsys.readouterr().out


def test_diff_not_a_version(tmp_path, capsys):
    assert main(["diff", str(tmp_path), str(tmp_path)]) == 2
    assert "not a version folder" in capsys.readouterr().err


def test_flatten_keys_stages_by_name():
    a = {"name": "x", "sources": [{"name": "s", "license": "mit"}], "clean": ["normalize", {"dedup": {"t": 0.8}}]}
    b = {"name": "x", "sources": [{"name": "s", "license": "mit"}],
         "clean": ["normalize", {"filter": {}}, {"dedup": {"t": 0.9}}]}
    assert flatten(a) == {"name": "x", "sources[s].license": "mit", "clean[normalize]": {}, "clean[dedup].t": 0.8}
    changes = {c["key"]: c["change"] for c in recipe_changes(a, b)}
    assert changes == {"clean[filter]": "added", "clean[dedup].t": "changed"}  # no renumbering noise
