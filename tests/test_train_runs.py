"""The run folder: complete record, same inputs => same run id and a cache hit, resume after an
interruption, and data selection by stage / type / prompt language."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from train_fixtures import demo_rows, one_thread, tiny_config, write_version

from curate.core.errors import UserError


def _train(raw: dict, logs: list | None = None, force: bool = False):
    from train.config import parse_config
    from train.runner import train

    one_thread()
    return train(parse_config(raw), force=force, log=(logs.append if logs is not None else lambda *_: None))


def test_run_folder_is_complete(tiny_pair, tmp_path):
    version, model = tiny_pair
    folder = _train(tiny_config(version, model, tmp_path, name="rec", prompt_language="zh"))
    assert folder.parent.name == "rec" and folder.parent.parent == tmp_path
    for f in ("run.json", "config.yaml", "metrics.jsonl", "loss.png", "adapter/adapter_model.safetensors",
              "adapter/tokenizer_config.json", "checkpoints/checkpoint-2"):
        assert (folder / f).exists(), f
    assert (folder / "loss.png").read_bytes()[:4] == b"\x89PNG"
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert run["run_id"] == folder.name and run["status"] == "finished"
    assert run["data"]["version_id"] == "v0test" and len(run["data"]["manifest_sha256"]) == 64
    assert run["seed"] == 42 and run["training"]["bf16"] is False and run["training"]["assistant_only_loss"]
    assert run["packages"]["trl"] and run["packages"]["peft"] and run["packages"]["torch"]
    assert "git_commit" in run and run["prompt_language"] == "zh"
    assert run["parameters"]["trainable"] > 0 and 0 < run["parameters"]["trainable_percent"] < 100
    assert run["final"]["steps"] == 3 and run["final"]["tokens_per_s"] > 0 and run["final"]["peak_rss_mib"] > 0
    steps = [m["step"] for m in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines()) if "loss" in m]
    assert steps == [1, 2, 3]
    config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    assert config["training"]["max_steps"] == 3 and config["method"]["name"] == "lora"


def test_same_inputs_same_id_and_cache_hit(tiny_pair, tmp_path):
    version, model = tiny_pair
    raw = tiny_config(version, model, tmp_path)
    first = _train(raw)
    stamp = (first / "run.json").stat().st_mtime_ns
    logs: list[str] = []
    again = _train(raw, logs)
    assert again == first and (first / "run.json").stat().st_mtime_ns == stamp
    assert any("cache hit" in line for line in logs)
    other_seed = _train({**raw, "training": {**raw["training"], "seed": 7}})
    assert other_seed.name != first.name
    forced = _train(raw, force=True)
    assert forced == first and (first / "run.json").stat().st_mtime_ns != stamp


def test_run_id_follows_the_data_version_not_its_path(tiny_pair, tmp_path):
    from train.config import parse_config
    from train.data import manifest_sha256, open_version
    from train.runner import resolved_training, run_identity
    from train.runs import compute_run_id

    version, model = tiny_pair
    other = write_version(tmp_path / "b", demo_rows(), version_id="v1other")
    ids = []
    for v in (version, other, version.parent):  # the parent: the recipe folder holding that one version
        cfg = parse_config(tiny_config(v, model, tmp_path))
        ver = open_version(cfg.data)
        ids.append(compute_run_id(run_identity(cfg, resolved_training(cfg), ver.id, manifest_sha256(ver))))
    assert ids[0] != ids[1] and ids[0] == ids[2]  # the version's id, not its path, names the data


def test_resume_from_last_checkpoint(tiny_pair, tmp_path):
    version, model = tiny_pair
    raw = tiny_config(version, model, tmp_path, training={"max_steps": 4})
    folder = _train(raw)
    full = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    # Simulate a kill after the step-2 checkpoint: no step-4 checkpoint, no adapter, status still running.
    shutil.rmtree(folder / "checkpoints" / "checkpoint-4")
    shutil.rmtree(folder / "adapter")
    (folder / "run.json").write_text(json.dumps({**full, "status": "running"}), encoding="utf-8")
    logs: list[str] = []
    assert _train(raw, logs) == folder
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert run["resumed_from"] == "checkpoint-2" and run["status"] == "finished" and run["final"]["steps"] == 4
    steps = [m["step"] for m in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines()) if "loss" in m]
    assert steps == [1, 2, 3, 4]
    assert any("resuming" in line for line in logs)
    # Same seed and data order: the resumed run ends where the uninterrupted one did.
    assert run["probe_logits"] == pytest.approx(full["probe_logits"], abs=1e-3)


def test_data_selection_by_stage_type_and_language(tiny_pair):
    from train.config import DataSpec
    from train.data import build_datasets, open_version

    version, _ = tiny_pair
    v = open_version(DataSpec(version=str(version)))
    by_name = DataSpec(recipe="demo", version_id="v0test", builds_root=str(version.parent.parent))
    assert open_version(by_name).dir == v.dir and v.id == "v0test"
    sft, _, counts = build_datasets(v, DataSpec(version=str(version)), None)
    assert set(counts["by_type"]) == {"general", "cot", "alignment", "multiturn"}  # preference left out
    with_pref, _, counts = build_datasets(v, DataSpec(version=str(version), preference_as_sft=True), None)
    assert counts["by_type"]["preference"] == 4 and len(with_pref) == len(sft) + 4
    cot, _, _ = build_datasets(v, DataSpec(version=str(version), types=["cot"]), "en")
    assert len(cot) == 2 and cot[0]["messages"][0]["role"] == "system"
    assert cot[0]["messages"][0]["content"].startswith("You are a helpful assistant")
    zh, _, _ = build_datasets(v, DataSpec(version=str(version), types=["alignment"]), "zh")
    assert zh[0]["messages"][0]["content"] == "你是一个负责任的助手。"  # a record's own system prompt is kept
    dpo, evals, counts = build_datasets(v, DataSpec(version=str(version), stage="dpo", eval_split="test"), None)
    assert len(dpo) == 4 and counts["eval_records"] == 2 and len(evals) == 2
    row = dpo[0]
    assert row["prompt"][-1]["role"] == "user" and row["chosen"][0]["role"] == "assistant"
    assert row["rejected"][0]["content"] == "随便看看就会了。"


def test_dpo_on_a_version_without_preferences_is_a_user_error(tiny_pair, tmp_path):
    _, model = tiny_pair
    no_pref = write_version(tmp_path / "b", [r for r in demo_rows() if r["rejected"] is None])
    with pytest.raises(UserError, match="no preference records"):
        _train(tiny_config(no_pref, model, tmp_path, stage="dpo"))
    with pytest.raises(UserError, match="data.types: poetry"):
        _train(tiny_config(no_pref, model, tmp_path, data={"types": ["poetry"]}))


def test_eval_split_logs_eval_loss(tiny_pair, tmp_path):
    version, model = tiny_pair
    folder = _train(tiny_config(version, model, tmp_path, data={"eval_split": "test"}))
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    rows = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    assert sorted({r["step"] for r in rows if "eval_loss" in r}) == [1, 2, 3]
    assert run["data_counts"]["eval_records"] == 2 and run["final"]["eval_loss"] > 0
