"""Training defaults that fit the machine, and a peak-memory estimate shown before training.

The estimate is an upper bound in the spirit of Korthikanti et al. (2022), "Reducing Activation
Recomputation in Large Transformer Models": per layer and token `h * (34 + 5 * heads * length / h)`
bytes of 16-bit activations (doubled for fp32; only the layer inputs with gradient checkpointing),
plus the logits over the vocabulary (three fp32 copies: logits, log-softmax, gradient), the weights,
gradients and AdamW states of the trainable parameters, and a fixed ~1 GiB for torch, Python and
the data. Every sequence is counted at full `max_length` (true with packing; padding-to-longest
uses less). DPO counts two sequences (chosen and rejected) per pair.

Defaults are chosen from the machine's *total* memory (GPU, else RAM), not from what is free at
that moment, so the same config on the same machine keeps the same run id; what is free is
compared with the estimate right before training.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

GIB = 2**30
BASE_BYTES = 1.5 * GIB  # torch + python + tokenizer + data + allocator slack (calibrated: docs/train.md)
BUDGET_SHARE = 0.6  # defaults must fit in this share of total memory
# (batch, max_length) tried in order; gradient accumulation keeps TRL's effective batch of 8.
CANDIDATES = ((8, 1024), (4, 1024), (4, 512), (2, 512), (1, 512), (1, 256))
TRL_BATCH, TRL_LENGTH = 8, 1024


@dataclass(frozen=True)
class ModelShape:
    hidden: int
    layers: int
    heads: int
    vocab: int
    params: int

    @classmethod
    def from_config(cls, c: dict) -> "ModelShape":
        c = c.get("text_config", c)
        h = c.get("hidden_size") or c.get("n_embd")
        layers = c.get("num_hidden_layers") or c.get("n_layer")
        heads = c.get("num_attention_heads") or c.get("n_head")
        vocab = c["vocab_size"]
        inter = c.get("intermediate_size") or c.get("n_inner") or 4 * h
        hd = c.get("head_dim") or h // heads
        kv = c.get("num_key_value_heads") or heads
        per_layer = h * heads * hd * 2 + 2 * h * kv * hd + 3 * h * inter + 2 * h
        emb = vocab * h * (1 if c.get("tie_word_embeddings", True) else 2)
        return cls(h, layers, heads, vocab, emb + layers * per_layer)


def model_shape(where: str, kwargs: dict) -> ModelShape | None:
    """The shape from the model's config.json (local folder, or the Hub cache); None if unknown."""
    path = Path(where) / "config.json"
    try:
        if not path.exists():
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(where, "config.json", revision=kwargs.get("revision")))
        return ModelShape.from_config(json.loads(path.read_text(encoding="utf-8")))
    except Exception:  # noqa: BLE001 - no estimate is better than no training
        return None


def estimate_peak_bytes(shape: ModelShape, batch: int, length: int, *, stage: str = "sft", full: bool = False,
                        half: bool = False, checkpointing: bool = False) -> int:
    act_bytes = 2 if half else 4
    seqs = batch * (2 if stage == "dpo" else 1)
    tokens = seqs * length
    per_layer = tokens * shape.hidden * (34 + 5 * shape.heads * length / shape.hidden) * act_bytes / 2
    acts = (shape.layers * tokens * shape.hidden * act_bytes + per_layer) if checkpointing else shape.layers * per_layer
    logits = 3 * tokens * shape.vocab * 4
    weights = shape.params * act_bytes
    trainable = shape.params if full else shape.params // 50  # PEFT: a few % at most
    optimizer = trainable * 4 * 3  # fp32 gradient + two AdamW moments
    return int(BASE_BYTES + weights + optimizer + acts + logits)


def total_bytes(cuda: bool) -> int:
    if cuda:
        import torch

        return torch.cuda.get_device_properties(0).total_memory
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def free_bytes(cuda: bool) -> int:
    if cuda:
        import torch

        return torch.cuda.mem_get_info()[0]
    import psutil

    return psutil.virtual_memory().available


def fit_defaults(training: dict, shape: ModelShape, total: int, **kw) -> dict:
    """Batch, length and accumulation for what the user left unset: the first candidate that fits."""
    if "per_device_train_batch_size" in training and "max_length" in training:
        return {}
    user_batch, user_length = training.get("per_device_train_batch_size"), training.get("max_length")
    budget = BUDGET_SHARE * total
    chosen = None
    for batch, length in CANDIDATES:
        batch, length = user_batch or batch, user_length or length
        if estimate_peak_bytes(shape, batch, length, **kw) <= budget:
            chosen = (batch, length)
            break
    batch, length = chosen or (user_batch or 1, user_length or CANDIDATES[-1][1])
    out = {}
    if user_batch is None:
        out["per_device_train_batch_size"] = batch
        if "gradient_accumulation_steps" not in training and batch < TRL_BATCH:
            out["gradient_accumulation_steps"] = TRL_BATCH // batch
    if user_length is None:
        out["max_length"] = length
    return out


def gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"
