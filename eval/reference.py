"""``ref_loglik``: how likely the model finds the reference answer, given the prompt.

For every item with a reference, the prompt (chat template, the task's system prompt, the item's
earlier turns) is the context and the reference is the continuation, scored like an lm-eval
``loglikelihood`` request (prompt tokens masked: only the reference's own tokens count). Two
per-item numbers, lower is better:

- ``nll_token``: −log P(reference | prompt) / reference tokens (nats per token; depends on the tokenizer),
- ``nll_char``: −log P(reference | prompt) / reference characters (nats per character; comparable
  across tokenizers, e.g. a base and its vocabulary-expanded copy).

A reference longer than ``reference.max_tokens`` is cut to its first tokens (counted as
``truncated_references``; characters are those of the kept tokens). Items without a reference are
``unscored: no_reference``, counted per class, never dropped silently.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from eval.loglik import continuation_logprobs
from eval.prompts import chat_messages_prompt
from curate.core.readers.items import OpenItem
from train.models import pad_id

METRICS = ("nll_token", "nll_char")


def item_messages(item: OpenItem) -> list[dict]:
    """The turns before the reference: the item's own history (held-out slices) or its one question."""
    return list(item.extra.get("messages") or [{"role": "user", "content": item.question}])


def encode_reference(tokenizer, prompt: str, add_special_tokens: bool, reference: str,
                     max_tokens: int) -> tuple[list[int], list[int], int, bool]:
    """(context ids, reference ids, reference characters scored, cut). Tokens of prompt + reference
    past the prompt's own encoding, as lm-eval does, so a merge across the seam is not lost."""
    ctx = tokenizer(prompt, add_special_tokens=add_special_tokens)["input_ids"]
    whole = tokenizer(prompt + reference, add_special_tokens=add_special_tokens)["input_ids"]
    if whole[:len(ctx)] != ctx:  # the seam merged: encode the reference on its own
        cont = tokenizer(reference, add_special_tokens=False)["input_ids"]
    else:
        cont = whole[len(ctx):]
    cut = len(cont) > max_tokens
    n_chars = len(reference)
    if cut:
        cont = cont[:max_tokens]
        n_chars = len(tokenizer.decode(cont, skip_special_tokens=False).rstrip("\ufffd"))
    if not ctx:
        ctx = [tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id]
    return list(ctx), list(cont), max(n_chars, 1), cut


def score_references(model, tokenizer, task, items: list[OpenItem], *, batch_size: int,
                     max_length: int | None = None, padding_side: str = "left", on_batch=None) -> list[dict]:
    """One record per item, in item order; items without a reference are unscored."""
    spec = task.reference
    pad = pad_id(tokenizer)
    records: list[dict] = []
    pairs, owners = [], []
    for item in items:
        rec = {"id": item.id, "class": item.cls, "source": item.source, "reference_chars": len(item.reference)}
        records.append(rec)
        if not item.reference.strip():
            rec.update(unscored="no_reference")
            continue
        prompt, add_special = chat_messages_prompt(tokenizer, item_messages(item), task.chat)
        limit = spec.max_tokens if not max_length else min(spec.max_tokens, max_length - 1)
        ctx, cont, n_chars, cut = encode_reference(tokenizer, prompt, add_special, item.reference, limit)
        if not cont:
            rec.update(unscored="reference_encodes_to_no_tokens")
            continue
        rec.update(unscored=None, n_tokens=len(cont), n_chars=n_chars, reference_truncated=cut)
        if not owners:
            rec["prompt_example"] = prompt
        pairs.append((ctx, cont))
        owners.append(rec)
    scored = continuation_logprobs(model, pairs, batch_size=batch_size, pad_id=pad, max_length=max_length,
                                   padding_side=padding_side, on_batch=on_batch)
    for rec, s in zip(owners, scored):
        rec.update(logprob=round(s.logprob, 6), nll_token=round(-s.logprob / s.n_tokens, 6),
                   nll_char=round(-s.logprob / rec["n_chars"], 6), truncated=s.truncated)
    return records


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 6) if xs else None


def aggregate_reference(records: list[dict]) -> dict:
    """Per class and overall (macro over classes, weighted over items), like the other open scorers."""
    by_class: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_class[r["class"]].append(r)
    block: dict = {"metrics": list(METRICS), "lower_is_better": True, "per_class": {}}
    for c, rs in sorted(by_class.items()):
        ok = [r for r in rs if r.get("unscored") is None]
        block["per_class"][c] = {"n": len(ok), "n_unscored": len(rs) - len(ok),
                                 **{m: _mean([r[m] for r in ok]) for m in METRICS}}
    scored = [r for r in records if r.get("unscored") is None]
    for m in METRICS:
        block[f"{m}_macro"] = _mean([v[m] for v in block["per_class"].values() if v[m] is not None])
        block[f"{m}_weighted"] = _mean([r[m] for r in scored])
    block.update(n_scored=len(scored),
                 unscored_reasons=dict(Counter(r["unscored"] for r in records if r.get("unscored"))),
                 truncated_references=sum(1 for r in scored if r.get("reference_truncated")),
                 truncated_prompts=sum(1 for r in scored if r.get("truncated")),
                 reference_tokens=sum(r["n_tokens"] for r in scored))
    return {"n_items": len(records), "classes": sorted(by_class), "ref_loglik": block}
