"""Belle-eval reader: eval_set.json and eval_prompt.json are JSON lines despite the extension.

Class names differ between the two files ("open qa" vs "open QA", U+00A0 inside "closed qa"),
so both sides go through ``normalize_class`` before they are joined; a class of the eval set
without a judge prompt is an error, never a silent drop.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from curate.core.errors import UserError
from curate.core.files import read_json_file
from curate.core.readers.items import OpenItem


def normalize_class(name: str, aliases: dict[str, str] | None = None) -> str:
    """NFKC (U+00A0 -> space), collapse spaces, lower-case, then the task's aliases."""
    key = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", name)).strip().lower()
    return (aliases or {}).get(key, key)


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """(line, object) per non-blank line, parsed by the loaders' JSON reader (`curate.core.files`)."""
    if not path.exists():
        raise UserError(f"missing file {path}", hint="data_dir must hold Belle's eval_set.json and eval_prompt.json")
    out = []
    for row in read_json_file(path, str(path)):
        if row.error:
            raise UserError(f"{row.where}: not a JSON line: {row.error}")
        if not isinstance(row.value, dict):
            raise UserError(f"{row.where}: expected a JSON object")
        out.append((row.line, row.value))
    return out


def read_belle_set(data_dir: Path, aliases: dict[str, str]) -> list[OpenItem]:
    path = data_dir / "eval_set.json"
    items = []
    for i, rec in read_jsonl(path):
        missing = [k for k in ("question", "class") if not isinstance(rec.get(k), str)]
        if missing:
            raise UserError(f"{path}:{i}: missing or non-string {', '.join(missing)}")
        items.append(OpenItem(id=f"belle/{i}", cls=normalize_class(rec["class"], aliases),
                              question=rec["question"], reference=str(rec.get("std_answer") or ""),
                              source=f"{path.name}:{i}", raw_class=rec["class"]))
    if not items:
        raise UserError(f"{path}: no items")
    return items


def read_belle_prompts(path: Path, aliases: dict[str, str]) -> dict[str, str]:
    prompts: dict[str, str] = {}
    for i, rec in read_jsonl(path):
        if not isinstance(rec.get("class"), str) or not isinstance(rec.get("prompt"), str):
            raise UserError(f"{path}:{i}: a judge prompt needs string keys class and prompt")
        cls = normalize_class(rec["class"], aliases)
        if cls in prompts:
            raise UserError(f"{path}:{i}: second prompt for class {cls!r}")
        prompts[cls] = rec["prompt"]
    return prompts
