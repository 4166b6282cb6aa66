"""Belle-eval scoring: a judge through an OpenAI-compatible endpoint, and an offline reference scorer.

The two never mix: ``judge`` holds the judge's 0–1 scores parsed from "得分: x", ``offline`` holds
ROUGE-L F1 over characters and over jieba words against ``std_answer``. Items the offline scorer
cannot score (369 items have no std_answer) and items the judge gave no score for are counted as
``unscored`` with a reason, per class.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

from curate.core.errors import UserError
from eval.judge_client import JudgeClient, JudgeError
from curate.core.readers.items import OpenItem
from eval.tasks.schema import JudgeSpec

OFFLINE_METRICS = ("rougeL_char_f", "rougeL_word_f")


def lcs_length(a: list | str, b: list | str) -> int:
    """Longest common subsequence length, bit-parallel (Hyyrö 2004): fast enough for long answers."""
    if not a or not b:
        return 0
    masks: dict = {}
    for i, x in enumerate(a):
        masks[x] = masks.get(x, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for y in b:
        u = v & masks.get(y, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def rouge_l_f(pred: list | str, ref: list | str) -> float:
    lcs = lcs_length(pred, ref)
    if lcs == 0:
        return 0.0
    p, r = lcs / len(pred), lcs / len(ref)
    return 2 * p * r / (p + r)


def _chars(text: str) -> list[str]:
    return [c for c in text if not c.isspace()]


def _words(text: str) -> list[str]:
    from curate.core.logs import jieba_module

    jieba = jieba_module()

    return [w for w in jieba.lcut(text) if w.strip()]


def offline_scores(answer: str, reference: str) -> tuple[dict | None, str | None]:
    """({metric: value}, None) or (None, unscored reason)."""
    if not reference.strip():
        return None, "no_reference"
    return {"rougeL_char_f": round(rouge_l_f(_chars(answer), _chars(reference)), 6),
            "rougeL_word_f": round(rouge_l_f(_words(answer), _words(reference)), 6)}, None


def check_class_join(items: list[OpenItem], prompts: dict[str, str]) -> None:
    """Every eval-set class must have a judge prompt after normalization; say which do not."""
    missing = sorted({i.cls for i in items} - set(prompts))
    if missing:
        raw = sorted({repr(i.raw_class) for i in items if i.cls in missing})
        raise UserError(f"judge prompts missing for classes {missing} (eval set spells them {', '.join(raw)})",
                        hint=f"prompt classes are {sorted(prompts)}; add class_aliases to the task")


def parse_score(text: str, spec: JudgeSpec) -> tuple[float | None, str | None]:
    m = re.search(spec.score_pattern, text or "")
    if not m:
        return None, "judge_no_score"
    value = float(m.group(1))
    lo, hi = spec.score_range
    if not lo <= value <= hi:
        return None, f"judge_score_out_of_range: {value}"
    return value, None


def judge_all(client: JudgeClient, items: list[OpenItem], answers: list[str], prompts: dict[str, str],
              spec: JudgeSpec, *, concurrency: int = 4) -> list[dict]:
    """One judge call per item (cached by the client); a failure is an unscored item with its reason."""

    def one(pair: tuple[OpenItem, str]) -> dict:
        item, answer = pair
        content = spec.template.format(class_prompt=prompts[item.cls], question=item.question,
                                       std_answer=item.reference, answer=answer)
        try:
            raw = client.complete([{"role": "user", "content": content}])
        except JudgeError as e:
            return {"judge_score": None, "judge_unscored": str(e), "judge_raw": None}
        score, reason = parse_score(raw, spec)
        return {"judge_score": score, "judge_unscored": reason, "judge_raw": raw}

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return list(pool.map(one, zip(items, answers)))


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 6) if xs else None


def aggregate_open(records: list[dict], scorers: list[str]) -> dict:
    """Per class and averaged (macro over classes and weighted over items), one block per scorer."""
    by_class: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_class[r["class"]].append(r)
    out: dict = {"n_items": len(records), "classes": sorted(by_class),
                 "n_truncated_prompts": sum(1 for r in records if r.get("truncated"))}
    if "offline" in scorers:
        block: dict = {"metrics": list(OFFLINE_METRICS), "per_class": {}}
        for c, rs in sorted(by_class.items()):
            ok = [r for r in rs if r.get("offline")]
            block["per_class"][c] = {"n": len(ok), "n_unscored": len(rs) - len(ok),
                                     **{m: _mean([r["offline"][m] for r in ok]) for m in OFFLINE_METRICS}}
        scored = [r for r in records if r.get("offline")]
        for m in OFFLINE_METRICS:
            per = [v[m] for v in block["per_class"].values() if v[m] is not None]
            block[f"{m}_macro"] = _mean(per)
            block[f"{m}_weighted"] = _mean([r["offline"][m] for r in scored])
        block["n_scored"] = len(scored)
        block["unscored_reasons"] = dict(Counter(r["offline_unscored"] for r in records if r.get("offline_unscored")))
        out["offline"] = block
    if "judge" in scorers:
        block = {"per_class": {}}
        for c, rs in sorted(by_class.items()):
            ok = [r["judge_score"] for r in rs if r.get("judge_score") is not None]
            block["per_class"][c] = {"n": len(ok), "n_unscored": len(rs) - len(ok), "score": _mean(ok)}
        scored = [r["judge_score"] for r in records if r.get("judge_score") is not None]
        block["score_macro"] = _mean([v["score"] for v in block["per_class"].values() if v["score"] is not None])
        block["score_weighted"] = _mean(scored)
        block["n_scored"] = len(scored)
        block["unscored_reasons"] = dict(Counter(r["judge_unscored"].split(":", 1)[0] for r in records
                                                 if r.get("judge_unscored")))
        out["judge"] = block
    return out
