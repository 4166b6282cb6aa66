"""What readers produce: one item per question, with a ``problem`` instead of being dropped.

An item that cannot be scored (gold answer outside the options, an empty option) is kept with
its reason so that results count it as ``unscored``; nothing disappears between file and table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class MCItem:
    id: str  # "<subject>/<split>/<row>": stable across runs, used to join predictions
    subject: str
    question: str
    options: dict[str, str]  # letter -> text, in letter order
    answer: str  # gold letters, sorted ("B", "ABD"); may be invalid when problem is set
    source: str  # file:line
    problem: str | None = None


@dataclass(frozen=True)
class OpenItem:
    id: str
    cls: str  # canonical class name (see belle.normalize_class)
    question: str
    reference: str  # std_answer; "" when the set has none (brainstorming, generation)
    source: str
    raw_class: str = ""
    extra: dict = field(default_factory=dict)


def check_mc(options: dict[str, str], answer: str, multi_answer: bool) -> str | None:
    """The reason an item cannot be scored, or None. Used by every multiple-choice reader."""
    empty = [k for k, v in options.items() if not str(v).strip()]
    if empty:
        return f"empty_option: {','.join(empty)}"
    if not answer:
        return "empty_answer"
    outside = [c for c in answer if c not in options]
    if outside:
        return f"answer_outside_options: {answer!r} (options {''.join(options)})"
    if len(answer) > 1 and not multi_answer:
        return f"multiple_answers_in_single_answer_task: {answer!r}"
    return None
