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


PROBE = [{"role": "user", "content": "请用一句话介绍你自己。"}]


def probe_logits(model, tokenizer, k: int = 8) -> list[float]:
    """The first `k` next-token logits after a fixed prompt: recorded at the end of training so that a
    reloaded adapter can be checked against the model that was trained."""
    import torch

    enc = tokenizer.apply_chat_template(PROBE, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    enc = {key: v.to(model.device) for key, v in enc.items()}
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(**enc).logits[0, -1, :k].float().cpu().tolist()
    model.train(was_training)
    return [round(x, 5) for x in logits]
