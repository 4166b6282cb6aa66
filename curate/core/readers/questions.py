"""The question text of any eval row (JSON/JSONL/CSV/Parquet row or a question-list line), for decontamination.

A row's question field is one of QUESTION_FIELDS (`question`, C-Eval; `Question`, CMMLU; `题目`, MMCU;
`instruction` + `input` ...). Multiple-choice items keep their options (columns A-F, `选项`, `options`/`choices`)
after the stem, so a generic stem (下列说法正确的是) alone is never the whole item.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from curate.core.errors import UserError
from curate.core.readers.items import LETTERS

QUESTION_FIELDS = ("question", "Question", "题目", "instruction", "prompt", "query", "problem", "text")
OPTION_KEYS = tuple(LETTERS[:6])
OPTION_LISTS = ("选项", "options", "choices")


def _options(row: dict) -> list[str]:
    for key in OPTION_LISTS:
        v = row.get(key)
        if isinstance(v, str) and v.strip():
            return [v]
        if isinstance(v, (list, tuple)):
            return [str(x) for x in v]
        if isinstance(v, dict):
            return [f"{k}. {x}" for k, x in v.items()]
    return [f"{k}. {row[k]}" for k in OPTION_KEYS if isinstance(row.get(k), str) and row[k].strip()]


def question_text(row: Any, where: str) -> str:
    """The text of one eval row: its question (+ input) and, for multiple choice, its options."""
    if isinstance(row, str):
        return row
    if not isinstance(row, dict):
        raise UserError(f"{where}: eval row is a {type(row).__name__}, expected an object with a question field")
    for field in QUESTION_FIELDS:
        v = row.get(field)
        if isinstance(v, str):
            parts = [v]
            if field == "instruction" and isinstance(row.get("input"), str) and row["input"].strip():
                parts.append(row["input"])
            return "\n".join(parts + _options(row))
    raise UserError(f"{where}: no question field in eval row (fields: {', '.join(map(str, row))})",
                    hint=f"eval sets need one of: {', '.join(QUESTION_FIELDS)}")


def read_question_list(path: Path, shown: str) -> Iterator[tuple[int, str]]:
    """(1-based line, question) of a `.txt` question list: one question per non-blank line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{shown}: not UTF-8 ({e.reason})") from None
    for i, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield i, line.strip()
