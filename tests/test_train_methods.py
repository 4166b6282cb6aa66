"""Every PEFT method of the registry trains a tiny model with SFT and DPO: loss finite and changing,
the adapter saved, reloaded to the same logits, and generation through it works."""

from __future__ import annotations

import json
import math

import pytest
from train_fixtures import one_thread, tiny_config, tiny_setup

METHODS = ["lora", "dora", "rslora", "adalora", "ia3", "loha", "lokr", "prefix", "prompt", "ptuning", "full"]
# Prompt-learning methods and IA3 move few parameters: a larger step makes their change visible in 3 steps.
LR = {"ia3": 0.1, "prefix": 0.05, "prompt": 0.1, "ptuning": 0.02, "full": 3e-3}


def _train(tmp_path, method: str, stage: str):
    from train.config import parse_config
    from train.runner import train

    one_thread()
    version, model = tiny_setup()
    raw = tiny_config(version, model, tmp_path / "runs", method=method, stage=stage,
                      training={"learning_rate": LR.get(method, 1e-2)})
    folder = train(parse_config(raw), log=lambda *_: None)
    return folder, json.loads((folder / "run.json").read_text(encoding="utf-8"))


def _check_reload(folder, record):
    import torch

    from train.generate import chat, probe_logits
    from train.models import load_for_inference

    model, tokenizer, info = load_for_inference(folder)
    assert info["run_id"] == record["run_id"] and info["version_id"] == "v0test"
    assert info["adapter_sha256"] == record["adapter_sha256"]
    reloaded = probe_logits(model, tokenizer)
    assert torch.allclose(torch.tensor(reloaded), torch.tensor(record["probe_logits"]), atol=1e-4)
    question = [{"role": "user", "content": "北京是哪个国家的首都？"}]
    enc = tokenizer.apply_chat_template(question, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**enc, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert out.shape[1] == enc["input_ids"].shape[1] + 4  # generation runs through the adapter
    assert isinstance(chat(model, tokenizer, question, max_new_tokens=4), str)
    return model, tokenizer


@pytest.mark.parametrize("method", METHODS)
def test_sft_each_method(tmp_path, method):
    folder, record = _train(tmp_path, method, "sft")
    assert record["status"] == "finished" and record["final"]["steps"] == 3
    losses = [m["loss"] for m in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines()) if "loss" in m]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0] - 1e-4, f"{method}: loss did not fall: {losses}"
    params = record["parameters"]
    assert 0 < params["trainable"] <= params["total"]
    assert (params["trainable_percent"] == 100.0) == (method == "full")
    out = folder / record["output"]
    assert (out / ("model.safetensors" if method == "full" else "adapter_model.safetensors")).exists()
    model, tokenizer = _check_reload(folder, record)
    if method != "full":  # the adapter changes the outputs: with it disabled the logits differ
        from train.generate import probe_logits

        with model.disable_adapter():
            base = probe_logits(model, tokenizer)
        assert max(abs(a - b) for a, b in zip(base, record["probe_logits"])) > 1e-5


@pytest.mark.parametrize("method", METHODS)
def test_dpo_each_method(tmp_path, method):
    folder, record = _train(tmp_path, method, "dpo")
    assert record["stage"] == "dpo" and record["data_counts"]["train_records"] == 4
    assert set(record["data_counts"]["by_type"]) == {"preference"}
    losses = [m["loss"] for m in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines()) if "loss" in m]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert abs(losses[-1] - losses[0]) > 1e-5, f"{method}: DPO loss did not change: {losses}"
    _check_reload(folder, record)
