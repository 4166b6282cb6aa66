"""Greedy chat generation through a (possibly adapted) model: used by tests, demos and smoke checks."""

from __future__ import annotations


def chat(model, tokenizer, messages: list[dict], max_new_tokens: int = 32) -> str:
    """The model's reply to `messages` (greedy; stops on eos or the template's end-of-turn token)."""
    import torch

    from train.models import stop_token_ids

    enc = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)
    enc = {k: v.to(model.device) for k, v in enc.items()}
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                             eos_token_id=stop_token_ids(tokenizer), pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
