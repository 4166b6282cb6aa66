"""Belle-eval run: batched generation through the chat template, then each requested scorer."""

from __future__ import annotations

import time

from eval.belle import judge_all, offline_scores
from eval.generation import generate_greedy
from eval.prompts import chat_prompt


def run_open(job, model, tokenizer, cfg) -> tuple[list[dict], int, dict]:
    task = job.task.config
    items = job.items
    built = [chat_prompt(tokenizer, i.question, task.chat) for i in items]
    t0 = time.perf_counter()
    from curate.core.logs import Progress

    with Progress(len(items), f"{task.name} generate", unit="item", logger="eval") as bar:
        gens = generate_greedy(model, tokenizer, [p for p, _ in built], add_special_tokens=built[0][1] if built else True,
                               max_new_tokens=task.generate.max_new_tokens, until=task.generate.until,
                               batch_size=cfg.batch_size, max_length=job.settings.get("model_max_length"),
                               on_batch=bar.update)
    timings = {"generate_s": round(time.perf_counter() - t0, 3)}
    records = [{"id": i.id, "class": i.cls, "raw_class": i.raw_class, "question": i.question,
                "reference": i.reference, "answer": g.text, "new_tokens": g.n_new_tokens, "truncated": g.truncated, "source": i.source}
               for i, g in zip(items, gens)]
    if "offline" in job.settings["scorers"]:
        for r in records:
            r["offline"], r["offline_unscored"] = offline_scores(r["answer"], r["reference"])
    if "judge" in job.settings["scorers"]:
        from eval.judge_client import JudgeClient

        j = cfg.judge
        client = JudgeClient(j.base_url, j.model, api_key_env=j.api_key_env, timeout_s=j.timeout_s,
                             max_retries=j.max_retries, backoff_s=j.backoff_s,
                             requests_per_minute=j.requests_per_minute,
                             max_consecutive_failures=j.max_consecutive_failures, temperature=j.temperature,
                             max_tokens=j.max_tokens, cache_dir=j.cache_dir)
        t1 = time.perf_counter()
        judged = judge_all(client, items, [r["answer"] for r in records], job.prompts, task.judge,
                           concurrency=j.concurrency)
        for r, jr in zip(records, judged):
            r.update(jr)
        timings.update({"judge_s": round(time.perf_counter() - t1, 3), "judge_requests": client.requests_sent,
                        "judge_cache_hits": client.cache_hits})
    if built:
        records[0]["prompt_example"] = built[0][0]
    return records, sum(g.n_new_tokens for g in gens), timings
