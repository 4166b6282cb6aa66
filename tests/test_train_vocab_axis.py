"""`vocab:` in a train config: the run trains on the expanded (optionally pre-trained) base, records it,
and evaluation reloads that base; `voc` and `voc-pre` are two ablation variants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from train_fixtures import demo_rows, one_thread, tiny_config, tiny_setup, write_version


def _version(tmp_path: Path) -> Path:
    return write_version(tmp_path / "builds", demo_rows(repeat=3), version_id="v0vocab", test_rows=demo_rows()[:4])


def _run(tmp_path: Path, vocab: dict, method: str = "lora"):
    from train.config import parse_config
    from train.runner import train

    one_thread()
    _, model = tiny_setup()
    raw = tiny_config(_version(tmp_path), model, tmp_path / "runs", method=method, vocab=vocab)
    logs: list[str] = []
    folder = train(parse_config(raw), log=logs.append)
    return folder, json.loads((folder / "run.json").read_text(encoding="utf-8")), logs


def test_run_trains_on_the_expanded_base_and_reloads_it(tiny_pair, tmp_path):
    from train.generate import probe_logits
    from train.models import load_for_inference

    folder, record, _ = _run(tmp_path, {"add": 12, "min_count": 2})
    v = record["vocab"]
    expanded = Path(record["model"]["path"])
    assert expanded.parent.parent == tmp_path / "runs" / "_vocab" and v["model_dir"] == str(expanded)
    assert v["n_added"] > 0 and v["base_model"]["path"] == str(tiny_pair[1])
    assert v["tokens_per_char"]["after"]["train"] < v["tokens_per_char"]["before"]["train"]
    assert record["status"] == "finished" and record["final"]["steps"] == 3
    report = json.loads((expanded / "vocab_report.json").read_text(encoding="utf-8"))
    words = [w["word"] for w in report["words"]]
    model, tok, info = load_for_inference(folder)
    assert info["base_model"]["path"] == str(expanded)
    assert all(len(tok(w, add_special_tokens=False).input_ids) == 1 for w in words)
    assert model.get_input_embeddings().weight.shape[0] >= len(tok)
    assert probe_logits(model, tok) == pytest.approx(record["probe_logits"], abs=1e-4)
    # a second run with another method reuses the expanded base (cache hit), never rebuilds it
    _, record2, logs2 = _run(tmp_path, {"add": 12, "min_count": 2}, method="sadapter_p")
    assert record2["model"]["path"] == str(expanded) and any("cache hit" in line for line in logs2)


def test_voc_and_voc_pre_are_distinct_bases(tmp_path):
    _, voc, _ = _run(tmp_path, {"add": 12, "min_count": 2})
    _, pre, _ = _run(tmp_path, {"add": 12, "min_count": 2, "pretrain": {"max_steps": 2, "mode": "embeddings",
                                                                        "learning_rate": 0.05, "max_length": 64}})
    assert voc["model"]["path"] != pre["model"]["path"] and voc["run_id"] != pre["run_id"]
    assert pre["vocab"]["pretraining"]["steps"] == 2 and voc["vocab"]["pretraining"] is None
    assert "-pre2" in Path(pre["model"]["path"]).parent.name


def test_cli_vocab_add_flag(tiny_pair, tmp_path, capsys):
    from curate.app.cli import main

    version, model = _version(tmp_path), tiny_pair[1]
    argv = ["train", "--data", str(version), "--model", str(model), "--vocab-add", "8", "--set", "vocab.min_count=2",
            "--max-steps", "1", "--batch-size", "2", "--max-length", "64", "--output-root", str(tmp_path / "runs"),
            "--threads", "1"]
    assert main(argv) == 0
    (record,) = [json.loads(p.read_text(encoding="utf-8")) for p in (tmp_path / "runs").rglob("run.json")]
    assert 0 < record["vocab"]["n_added"] <= 8
    assert main([*argv[:6], "0", *argv[7:]]) == 2  # --vocab-add 0: one clear error naming the key
    assert "vocab.add" in capsys.readouterr().err


def test_trainable_token_indices_is_refused_at_config_time(tiny_pair, tmp_path):
    from curate.core.errors import UserError
    from train.config import parse_config

    version, model = tiny_pair
    raw = tiny_config(version, model, tmp_path, method={"name": "lora", "trainable_token_indices": [5, 6]})
    with pytest.raises(UserError, match="trainable_token_indices"):  # it would crash inside TRL (measured)
        parse_config(raw)
