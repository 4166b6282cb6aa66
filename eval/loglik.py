"""Log-likelihood of a continuation given a context, batched with left padding.

Tokenization follows lm-evaluation-harness (trailing spaces of the context move into the
continuation; the continuation's tokens are those of ``context + continuation`` past the
context's own encoding), so that scores agree with it token for token. Left padding puts every
continuation at the right edge, so one ``logits_to_keep`` slice serves the whole batch, and
explicit ``position_ids`` keep padded rows numerically equal to unpadded ones. Identical model
inputs (all single-token answer letters after one prompt) are run once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Scored:
    logprob: float
    is_greedy: bool  # every continuation token is the argmax (lm-eval's is_greedy)
    n_tokens: int
    truncated: bool  # the context was cut on the left to fit max_length


def special_prefix(tokenizer) -> list[int]:
    """The ids the tokenizer puts before any text (BOS for Llama/Gemma, nothing for Qwen/SmolLM2)."""
    with_sp = tokenizer("a", add_special_tokens=True)["input_ids"]
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    n = len(with_sp) - len(plain)
    return list(with_sp[:n]) if n > 0 and with_sp[n:] == plain else []


def encode_pair(tokenizer, context: str, continuation: str,
                prefix: list[int] | None = None) -> tuple[list[int], list[int]]:
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    ctx = tokenizer(context, add_special_tokens=False)["input_ids"]
    cont = whole[len(ctx):]
    if not cont:
        raise ValueError(f"continuation {continuation!r} encodes to no tokens after its context")
    prefix = list(prefix or [])
    if not prefix and not ctx:
        prefix = [tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id]
    return prefix + list(ctx), list(cont)


def model_device(model) -> torch.device:
    return next(model.parameters()).device


def _forward_last(model, ids, mask, keep: int):
    """Logits of the last ``keep`` positions (0: every position, for right padding)."""
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    try:
        logits = model(input_ids=ids, attention_mask=mask, position_ids=pos, logits_to_keep=keep).logits
    except TypeError:  # a model without logits_to_keep
        logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits
    return logits[:, -keep:] if keep else logits


@torch.inference_mode()
def continuation_logprobs(model, pairs: list[tuple[list[int], list[int]]], *, batch_size: int = 8,
                          pad_id: int = 0, max_length: int | None = None, padding_side: str = "left",
                          on_batch=None) -> list[Scored]:
    """Sum of log P(continuation token | everything before it) for each (context_ids, cont_ids).

    ``padding_side="right"`` keeps every position's logits (slower); it exists so that tests can
    show that the numbers do not depend on where the padding goes.
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be left or right, not {padding_side!r}")
    right = padding_side == "right"
    device = model_device(model)
    by_input: dict[tuple[int, ...], list[int]] = {}
    truncated = [False] * len(pairs)
    for i, (ctx, cont) in enumerate(pairs):
        seq = list(ctx) + list(cont)
        if max_length and len(seq) > max_length + 1:
            seq, truncated[i] = seq[-(max_length + 1):], True
        by_input.setdefault(tuple(seq[:-1]), []).append(i)
    order = sorted(by_input, key=len, reverse=True)  # long first: similar lengths share a batch
    out: list[Scored | None] = [None] * len(pairs)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        width = len(batch[0])
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for b, seq in enumerate(batch):
            cols = slice(0, len(seq)) if right else slice(width - len(seq), width)
            ids[b, cols] = torch.tensor(seq, dtype=torch.long)
            mask[b, cols] = 1
        keep = 0 if right else max(len(pairs[i][1]) for seq in batch for i in by_input[seq])
        logp = torch.log_softmax(_forward_last(model, ids.to(device), mask.to(device), keep).float(), dim=-1)
        for b, seq in enumerate(batch):
            for i in by_input[seq]:
                cont = torch.tensor(pairs[i][1], dtype=torch.long, device=logp.device)
                end = len(seq) if right else keep
                rows = logp[b, end - len(cont):end]
                lp = rows.gather(-1, cont[:, None]).squeeze(-1)
                out[i] = Scored(float(lp.sum()), bool((rows.argmax(-1) == cont).all()), len(cont), truncated[i])
        if on_batch:
            on_batch(len(batch))
    return out  # type: ignore[return-value]
