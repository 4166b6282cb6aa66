"""Batched greedy generation with left padding; cut at the task's stop strings.

Used by both generate-and-parse multiple choice and Belle-eval. Returns the number of new
tokens per prompt so that the bench can report tokens/s.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from eval.loglik import model_device
from train.models import pad_id


@dataclass(frozen=True)
class Generation:
    text: str
    n_new_tokens: int
    prompt_tokens: int
    truncated: bool = False  # the prompt was cut on the left to fit the model


def truncate_at(text: str, until: list[str]) -> str:
    cut = min((text.find(s) for s in until if s and s in text), default=-1)
    return text[:cut] if cut >= 0 else text


def _eos_ids(model, tokenizer) -> set[int]:
    ids = {tokenizer.eos_token_id}
    g = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(g if isinstance(g, list) else [g])
    return {i for i in ids if isinstance(i, int)}


@torch.inference_mode()
def generate_greedy(model, tokenizer, prompts: list[str], *, add_special_tokens: bool = True,
                    max_new_tokens: int = 32, until: list[str] | None = None, batch_size: int = 8,
                    max_length: int | None = None, on_batch=None) -> list[Generation]:
    until = [s for s in (until or []) if s]
    device = model_device(model)
    pad = pad_id(tokenizer)
    eos = _eos_ids(model, tokenizer)
    encoded = [tokenizer(p, add_special_tokens=add_special_tokens)["input_ids"] for p in prompts]
    room = max_length - max_new_tokens if max_length else None
    if room is not None and room < 1:
        raise ValueError(f"max_length {max_length} leaves no room for the prompt after {max_new_tokens} new tokens")
    cut = [bool(room and len(e) > room) for e in encoded]
    encoded = [e[-room:] if c else e for e, c in zip(encoded, cut)]
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]), reverse=True)
    out: list[Generation | None] = [None] * len(prompts)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        width = max(len(encoded[i]) for i in idx)
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for b, i in enumerate(idx):
            ids[b, width - len(encoded[i]):] = torch.tensor(encoded[i], dtype=torch.long)
            mask[b, width - len(encoded[i]):] = 1
        kwargs = {"stop_strings": until, "tokenizer": tokenizer} if until else {}
        gen = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=False,
                             max_new_tokens=max_new_tokens, pad_token_id=pad, temperature=None,
                             top_p=None, top_k=None, **kwargs)
        for b, i in enumerate(idx):
            new = gen[b, width:].tolist()
            n = next((k + 1 for k, t in enumerate(new) if t in eos), len(new))
            while n and new[n - 1] == pad and new[n - 1] not in eos:  # rows stopped early are padded
                n -= 1
            # a byte-level tokenizer cut by max_new_tokens can end inside a character
            text = tokenizer.decode(new[:n], skip_special_tokens=True).rstrip("\ufffd")
            out[i] = Generation(truncate_at(text, until), n, len(encoded[i]), cut[i])
        if on_batch:
            on_batch(len(idx))
    return out  # type: ignore[return-value]
