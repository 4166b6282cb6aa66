"""Aggregation: accuracy per subject, per category (C-Eval's STEM/…; MMCU's four domains), overall.

Both averages are always reported: ``weighted`` (every item counts once, lm-eval's
``weight_by_size: true``) and ``macro`` (every subject counts once, C-Eval's leaderboard style);
the task's ``aggregate.weight_by_size`` only picks which one is the headline. Unscored items are
counted by reason and excluded from accuracies; unparsable generations count as wrong.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from fnmatch import fnmatchcase

from eval.tasks.schema import MultipleChoiceTask


def category_of(task: MultipleChoiceTask, subject: str) -> str:
    if subject in task.subjects:
        return task.subjects[subject].category
    for pattern, cat in task.category_patterns.items():
        if fnmatchcase(subject, pattern):
            return cat
    return "unmapped"


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 6) if xs else None


def reason_kind(reason: str) -> str:
    return reason.split(":", 1)[0]


def aggregate_mc(records: list[dict], task: MultipleChoiceTask) -> dict:
    by_subject: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_subject[r["subject"]].append(r)
    subjects = {}
    for s, rs in sorted(by_subject.items()):
        scored = [r for r in rs if r["unscored"] is None]
        subjects[s] = {"category": category_of(task, s), "n": len(scored), "n_unscored": len(rs) - len(scored),
                       "acc": _mean([float(r["correct"]) for r in scored])}
    by_cat: dict[str, list[str]] = defaultdict(list)
    for s, info in subjects.items():
        by_cat[info["category"]].append(s)
    all_scored = [r for r in records if r["unscored"] is None]
    categories = {}
    for c, ss in sorted(by_cat.items()):
        items = [r for s in ss for r in by_subject[s] if r["unscored"] is None]
        categories[c] = {"n_subjects": len(ss), "n": len(items),
                         "acc_weighted": _mean([float(r["correct"]) for r in items]),
                         "acc_macro": _mean([subjects[s]["acc"] for s in ss if subjects[s]["acc"] is not None])}
    weighted = _mean([float(r["correct"]) for r in all_scored])
    macro = _mean([v["acc"] for v in subjects.values() if v["acc"] is not None])
    unparsed = sum(1 for r in all_scored if r.get("parsed") is False)
    return {
        "n_items": len(records), "n_scored": len(all_scored), "n_unscored": len(records) - len(all_scored),
        "unscored_reasons": dict(Counter(reason_kind(r["unscored"]) for r in records if r["unscored"])),
        "n_unparsed_generations": unparsed,
        "n_truncated_prompts": sum(1 for r in all_scored if r.get("truncated")),
        "acc": weighted if task.aggregate.weight_by_size else macro,
        "acc_weighted": weighted, "acc_macro": macro,
        "categories": categories, "subjects": subjects,
    }
