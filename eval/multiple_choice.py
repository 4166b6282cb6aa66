"""Multiple-choice scoring, three methods, one record per item.

- ``loglik_letter``: log P(" A" | prompt) for each option letter (for multiple-answer tasks, for
  each non-empty letter set, " ABD"), argmax; lm-eval's ``acc``.
- ``loglik_text``: log P(" option text" | prompt) / len(option text), argmax; lm-eval's ``acc_norm``
  idea applied to the option text.
- ``generate``: greedy generation, then ``answer_parsing.parse_choice``; an unparsable answer is
  wrong (``pred: null``), not dropped.
Items a reader flagged (``problem``) are ``unscored`` with that reason.
"""

from __future__ import annotations

from itertools import combinations

from curate.core.errors import UserError
from eval.answer_parsing import parse_choice
from eval.generation import generate_greedy
from eval.loglik import continuation_logprobs, encode_pair, special_prefix
from eval.prompts import mc_context
from curate.core.readers.items import MCItem
from eval.tasks.schema import MultipleChoiceTask
from train.models import pad_id


def candidates(item: MCItem, method: str, multi_answer: bool) -> dict[str, str]:
    """answer key -> continuation text (without the target delimiter)."""
    if method == "loglik_text":
        return dict(item.options)
    if not multi_answer:
        return {k: k for k in item.options}
    letters = list(item.options)
    return {"".join(c): "".join(c) for n in range(1, len(letters) + 1) for c in combinations(letters, n)}


def _unscored(item: MCItem, reason: str) -> dict:
    return {"id": item.id, "subject": item.subject, "gold": item.answer, "pred": None, "correct": None,
            "unscored": reason, "source": item.source}


def score_loglik(model, tokenizer, task: MultipleChoiceTask, items: list[MCItem], contexts: list[str],
                 method: str, *, batch_size: int, max_length: int | None = None, on_batch=None) -> list[dict]:
    prefix = special_prefix(tokenizer)
    delim = task.prompt.target_delimiter
    pad = pad_id(tokenizer)
    pairs, owners = [], []
    for n, (item, ctx) in enumerate(zip(items, contexts)):
        for key, cont in candidates(item, method, task.multi_answer).items():
            pairs.append(encode_pair(tokenizer, ctx, delim + cont, prefix))
            owners.append((n, key, len(cont)))
    scored = continuation_logprobs(model, pairs, batch_size=batch_size, pad_id=pad, max_length=max_length,
                                   on_batch=on_batch)
    per_item: list[dict[str, float]] = [{} for _ in items]
    truncated = [False] * len(items)
    for (n, key, n_chars), s in zip(owners, scored):
        per_item[n][key] = s.logprob / n_chars if method == "loglik_text" else s.logprob
        truncated[n] |= s.truncated
    out = []
    for item, ctx, scores, trunc in zip(items, contexts, per_item, truncated):
        pred = max(scores, key=scores.__getitem__)  # ties: first in letter order
        out.append({"id": item.id, "subject": item.subject, "gold": item.answer, "pred": pred,
                    "correct": pred == item.answer, "unscored": None, "source": item.source,
                    "scores": {k: round(v, 6) for k, v in scores.items()}, "truncated": trunc})
    return out


def score_generate(model, tokenizer, task: MultipleChoiceTask, items: list[MCItem], contexts: list[str], *,
                   cot: bool, batch_size: int, max_length: int | None = None,
                   on_batch=None) -> tuple[list[dict], int]:
    spec = task.cot_generate if cot else task.generate
    gens = generate_greedy(model, tokenizer, contexts, add_special_tokens=True, max_new_tokens=spec.max_new_tokens,
                           until=spec.until, batch_size=batch_size, max_length=max_length, on_batch=on_batch)
    out = []
    for item, g in zip(items, gens):
        pred = parse_choice(g.text, item.options, multi_answer=task.multi_answer)
        out.append({"id": item.id, "subject": item.subject, "gold": item.answer, "pred": pred,
                    "correct": pred == item.answer, "unscored": None, "source": item.source,
                    "generation": g.text, "parsed": pred is not None, "new_tokens": g.n_new_tokens,
                    "truncated": g.truncated})
    return out, sum(g.n_new_tokens for g in gens)


def pick_shots(pool: list[MCItem], k: int, subject: str) -> list[MCItem]:
    """The first k valid items of the subject's shot split (lm-eval's ``first_n`` sampler)."""
    valid = [s for s in pool if s.problem is None]
    if len(valid) < k:
        raise UserError(f"subject {subject}: {k} shots requested, the shot split has {len(valid)} valid items",
                        hint="lower shots")
    return valid[:k]


def check_method(task: MultipleChoiceTask, items: list[MCItem], method: str, cot: bool) -> None:
    """Combinations a method cannot score, refused before any model is loaded."""
    if cot and method != "generate":
        raise UserError(f"task {task.name}: cot needs method generate (got {method})",
                        hint="CoT makes the model reason before answering; log-likelihood scoring never lets it")
    if method == "loglik_text" and any(len(i.answer) > 1 and i.problem is None for i in items):
        raise UserError(f"task {task.name}: loglik_text cannot score items with several correct options",
                        hint="use method loglik_letter (scores every letter set) or generate")


def run_multiple_choice(model, tokenizer, task: MultipleChoiceTask, items: list[MCItem],
                        shot_pools: dict[str, list[MCItem]], *, method: str, shots: int, cot: bool,
                        batch_size: int, max_length: int | None = None, on_batch=None) -> tuple[list[dict], dict]:
    """Score every item with one method; returns (prediction records in item order, stats)."""
    check_method(task, items, method, cot)
    scorable = [i for i in items if i.problem is None]
    contexts = [mc_context(task, i, pick_shots(shot_pools.get(i.subject, []), shots, i.subject) if shots else [],
                           cot=cot) for i in scorable]
    stats: dict = {"new_tokens": 0}
    if method == "generate":
        records, stats["new_tokens"] = score_generate(model, tokenizer, task, scorable, contexts, cot=cot,
                                                      batch_size=batch_size, max_length=max_length,
                                                      on_batch=on_batch)
    else:
        records = score_loglik(model, tokenizer, task, scorable, contexts, method, batch_size=batch_size,
                               max_length=max_length, on_batch=on_batch)
    for r, ctx in zip(records, contexts):
        r["prompt"] = ctx
    scored = iter(records)
    return [next(scored) if i.problem is None else _unscored(i, i.problem) for i in items], stats
