"""Bottleneck adapters (sadapter_h, sadapter_p, padapter): identity at init on every supported block
layout, the documented parameter count, only adapter weights train, adapter-only save/resume/reload,
DPO, generation and multiple-choice scoring through the adapter."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from train_fixtures import one_thread, tiny_config, tiny_setup

VARIANTS = ["sadapter_h", "sadapter_p", "padapter"]
PROMPT = "请介绍一下中国的四大发明。"


def _tiny(arch: str, tmp_path: Path):
    """A tiny random model of `arch` (gemma3_text is built from its config here; the rest by train.tiny)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Gemma3TextConfig

    from train.tiny import build_tiny_model

    one_thread()
    if arch == "gemma3_text":
        folder = build_tiny_model(tmp_path / "tok", "llama")
        tok = AutoTokenizer.from_pretrained(folder)
        torch.manual_seed(0)
        cfg = Gemma3TextConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                               num_attention_heads=4, num_key_value_heads=2, head_dim=16, sliding_window=32)
        return AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).eval(), tok
    folder = build_tiny_model(tmp_path / arch, arch)
    return AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


@pytest.mark.parametrize("arch", ["qwen2", "llama", "bloom", "gpt2", "gemma3_text"])
def test_identity_at_init_then_live_on_every_layout(tmp_path, arch):
    import torch

    from train import bottleneck
    from train.methods import count_parameters

    model, tok = _tiny(arch, tmp_path)
    ids = tok(PROMPT, return_tensors="pt").input_ids
    with torch.no_grad():
        base = model(ids).logits.clone()
    hidden, layers = model.config.hidden_size, model.config.num_hidden_layers
    for variant in VARIANTS:
        m = _tiny(arch, tmp_path)[0]
        cfg = bottleneck.BottleneckConfig(method=variant, bottleneck_size=8)
        bottleneck.attach(m, cfg)
        with torch.no_grad():
            assert torch.equal(m(ids).logits, base), f"{arch}/{variant}: untrained adapter changed the outputs"
        params = count_parameters(m)
        assert params["trainable"] == bottleneck.parameter_count(hidden, layers, cfg)
        assert params["trainable"] == layers * len(bottleneck.PLACEMENT[variant]) * (2 * hidden * 8 + hidden + 8)
        assert all(".bottleneck." in n for n, p in m.named_parameters() if p.requires_grad)
        with torch.no_grad():  # the hooks are live: a non-zero up-projection moves the logits
            for name, p in m.named_parameters():
                if name.endswith("bottleneck.up.weight"):
                    p.normal_(std=0.5)
            assert not torch.allclose(m(ids).logits, base, atol=1e-4), f"{arch}/{variant}: adapter not applied"


def test_bad_options_name_the_key(tiny_pair):
    from curate.core.errors import UserError
    from train.config import parse_config

    version, model = tiny_pair
    for method, message in [({"name": "sadapter_h", "r": 8}, "method.r"),
                            ({"name": "padapter", "non_linearity": "sigmoidal"}, "non_linearity"),
                            ({"name": "sadapter_p", "bottleneck_size": 0}, "bottleneck_size")]:
        with pytest.raises(UserError, match=message):
            parse_config(tiny_config(version, model, Path("unused"), method=method))


def _train(tmp_path, method: dict | str, stage: str = "sft", data_eval: bool = False, **training):
    from train.config import parse_config
    from train.runner import train

    one_thread()
    version, model = tiny_setup()
    if data_eval:  # evaluate every step and keep the best checkpoint
        training.update(load_best_model_at_end=True, eval_strategy="steps", eval_steps=1, save_steps=1,
                        metric_for_best_model="eval_loss")
    raw = tiny_config(version, model, tmp_path / "runs", method=method, stage=stage,
                      data={"eval_split": "test"} if data_eval else None,
                      training={"learning_rate": 1e-2, **training})
    folder = train(parse_config(raw), log=lambda *_: None)
    return folder, json.loads((folder / "run.json").read_text(encoding="utf-8"))


def test_only_adapter_weights_change(tiny_pair, tmp_path):
    import torch

    from train.config import parse_config
    from train.runner import _prepare, resolved_training

    version, model = tiny_pair
    cfg = parse_config(tiny_config(version, model, tmp_path / "runs", method={"name": "sadapter_h", "bottleneck_size": 4}))
    from train.data import open_version

    trainer = _prepare(cfg, resolved_training(cfg), open_version(cfg.data), tmp_path / "run", lambda *_: None)[0]
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.train()
    after = trainer.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(".bottleneck." in k for k in changed)
    assert any(k.endswith("self_attn.o_proj.bottleneck.up.weight") for k in changed)
    assert any(k.endswith("mlp.down_proj.bottleneck.up.weight") for k in changed)


@pytest.mark.parametrize("variant", VARIANTS)
def test_sft_trains_saves_adapter_only_and_reloads(tmp_path, variant):
    import torch

    from train import bottleneck
    from train.generate import chat, probe_logits
    from train.models import load_for_inference, load_model_and_tokenizer

    # padapter also runs with gradient checkpointing (the default on CUDA): gradients must still reach it
    folder, record = _train(tmp_path, {"name": variant, "bottleneck_size": 16},
                            gradient_checkpointing=variant == "padapter")
    losses = [m["loss"] for m in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines()) if "loss" in m]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]
    out = folder / record["output"]
    assert sorted(p.name for p in out.glob("*.safetensors")) == [bottleneck.WEIGHTS_FILE]
    assert json.loads((out / bottleneck.CONFIG_FILE).read_text())["method"] == variant
    ckpt = folder / "checkpoints" / "checkpoint-2"  # intermediate checkpoints hold the adapter only too
    assert (ckpt / bottleneck.WEIGHTS_FILE).exists() and not (ckpt / "model.safetensors").exists()
    model, tok, info = load_for_inference(folder)
    assert info["method"] == variant and info["adapter_sha256"] == record["adapter_sha256"]
    assert probe_logits(model, tok) == pytest.approx(record["probe_logits"], abs=1e-4)
    base, _ = load_model_and_tokenizer(record["model"]["path"])
    assert max(abs(a - b) for a, b in zip(probe_logits(base, tok), record["probe_logits"])) > 1e-5
    question = [{"role": "user", "content": "北京是哪个国家的首都？"}]
    enc = tok.apply_chat_template(question, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out_ids = model.generate(**enc, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert out_ids.shape[1] == enc["input_ids"].shape[1] + 4
    assert isinstance(chat(model, tok, question, max_new_tokens=4), str)


def test_resume_from_adapter_checkpoint(tiny_pair, tmp_path):
    from train.config import parse_config
    from train.runner import train

    folder, record = _train(tmp_path, "sadapter_p")
    finished = record["probe_logits"]
    import shutil

    record["status"] = "running"  # as if the process died after checkpoint-2
    shutil.rmtree(folder / "checkpoints" / "checkpoint-3")
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")
    version, model = tiny_pair
    raw = tiny_config(version, model, tmp_path / "runs", method="sadapter_p", training={"learning_rate": 1e-2})
    logs: list[str] = []
    again = train(parse_config(raw), log=logs.append)
    resumed = json.loads((again / "run.json").read_text(encoding="utf-8"))
    assert again == folder and resumed["resumed_from"] == "checkpoint-2" and resumed["final"]["steps"] == 3
    assert any("resuming from" in line for line in logs)
    assert resumed["probe_logits"] == pytest.approx(finished, abs=1e-4)  # same data order: same weights


def test_dpo_with_bottleneck_adapter(tmp_path):
    from train.generate import probe_logits
    from train.models import load_for_inference

    folder, record = _train(tmp_path, "sadapter_h", stage="dpo")
    losses = [m["loss"] for m in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines()) if "loss" in m]
    assert len(losses) == 3 and abs(losses[-1] - losses[0]) > 1e-5
    model, tok, _ = load_for_inference(folder)
    assert probe_logits(model, tok) == pytest.approx(record["probe_logits"], abs=1e-4)


def test_multiple_choice_scores_through_the_adapter(tiny_pair, tmp_path):
    from curate.app.cli import main

    folder, _ = _train(tmp_path, "padapter")
    hdr = "id,question,A,B,C,D,answer"
    data = tmp_path / "ceval"
    for split, rows in (("val", ["0,北京是哪个国家的首都？,中国,日本,美国,法国,A", "1,一加一等于几？,一,二,三,四,B"]),
                        ("dev", ["0,示例问题,对,错,不知道,都不是,A"])):
        (data / split).mkdir(parents=True)
        (data / split / f"logic_{split}.csv").write_text("\n".join([hdr, *rows]) + "\n", encoding="utf-8")
    scores = {}
    for name, model in (("run", folder), ("base", tiny_pair[1])):
        out = tmp_path / f"evals-{name}"
        assert main(["eval", "--model", str(model), "--task", "ceval_val", "--data-dir", str(data), "--subjects", "logic",
                     "--output-dir", str(out)]) == 0
        (result,) = [json.loads(p.read_text(encoding="utf-8")) for p in out.rglob("results.json")]
        assert result["model"]["kind"] == ("run" if name == "run" else "base")
        (preds,) = list(out.rglob("predictions.jsonl"))
        scores[name] = [json.loads(line)["scores"] for line in preds.read_text(encoding="utf-8").splitlines()]
    assert len(scores["run"]) == 2
    assert scores["run"] != scores["base"]  # the adapter's weights are in the scores


def test_load_best_model_at_end_reads_the_adapter_checkpoint(tmp_path):
    from safetensors.torch import load_file

    from train import bottleneck

    # "best" = the highest eval loss, i.e. the first checkpoint: the final adapter must be that one's
    folder, record = _train(tmp_path, "sadapter_p", data_eval=True, greater_is_better=True)
    assert record["status"] == "finished" and "eval_loss" in record["final"]
    state = json.loads((folder / "checkpoints" / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["best_model_checkpoint"].endswith("checkpoint-1")
    final = load_file(str(folder / "adapter" / bottleneck.WEIGHTS_FILE))
    first = load_file(str(folder / "checkpoints" / "checkpoint-1" / bottleneck.WEIGHTS_FILE))
    last = load_file(str(folder / "checkpoints" / "checkpoint-3" / bottleneck.WEIGHTS_FILE))
    assert all(final[k].equal(first[k]) for k in final) and not all(final[k].equal(last[k]) for k in final)


def test_fp32_adapter_on_a_bf16_base(tiny_pair, tmp_path):
    """Mixed dtypes (bf16 base, fp32 adapter, as under autocast or with a 4-bit base) work and stay identity."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train import bottleneck

    folder = tiny_pair[1]
    ids = AutoTokenizer.from_pretrained(folder)(PROMPT, return_tensors="pt").input_ids
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16)
    with torch.no_grad():
        base = model(ids).logits
    bottleneck.attach(model, bottleneck.BottleneckConfig(method="padapter"))
    for name, module in model.named_modules():
        if name.endswith("." + bottleneck.CHILD):
            module.float()
    with torch.no_grad():
        out = model(ids).logits
    assert out.dtype == torch.bfloat16 and torch.equal(out, base)
