"""Read evaluation sets into questions for decontamination: one (file, line, text) per eval item.

Accepted, as files or folders (searched recursively), relative to the recipe folder:
- JSON list / JSONL rows with a question field: `question`, `Question`, `题目` (MMCU), `instruction`
  (+ `input`), `prompt`, `query`; Belle-eval's `eval_set.json` is JSONL with `question`.
- CSV/TSV with such a column (C-Eval `id,question,A,B,C,D,answer`; CMMLU `,Question,A,B,C,D,Answer`).
- Parquet with such a column.
- `.txt`: one question per line.
Multiple-choice items keep their options (columns A-F, `选项`, `options`/`choices`) after the
stem, so a generic stem (下列说法正确的是) alone is never the whole item.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from curate.core.errors import UserError
from curate.core.files import files_under, read_file, shown_path

EVAL_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".parquet", ".txt")
QUESTION_FIELDS = ("question", "Question", "题目", "instruction", "prompt", "query", "problem", "text")
OPTION_KEYS = ("A", "B", "C", "D", "E", "F")
OPTION_LISTS = ("选项", "options", "choices")


@dataclass(frozen=True)
class EvalItem:
    file: str  # as shown to the user (relative to the recipe folder when inside it)
    line: int  # 1-based line (JSONL, CSV, txt) or index (JSON list, Parquet)
    text: str
    group: str = ""  # the `against:` entry it came from (a file or a folder)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def eval_files(paths: list[str], base_dir: Path) -> list[tuple[Path, str, str]]:
    """Resolve `against:` entries to (absolute file, shown name, entry); a missing path is a UserError."""
    out: dict[Path, tuple[str, str]] = {}
    for p in paths:
        full = Path(p) if Path(p).is_absolute() else base_dir / p
        if not full.exists():
            raise UserError(f"decontaminate: eval set `{p}` not found (looked in {base_dir})",
                            hint="fix the path under `against:`; relative paths start at the recipe's folder")
        files = files_under(full, EVAL_SUFFIXES)
        if not files:
            raise UserError(f"decontaminate: folder `{p}` holds no {'/'.join(EVAL_SUFFIXES)} files")
        for f in files:
            out.setdefault(f.resolve(), (shown_path(f, base_dir), p))
    return sorted(((f, shown, p) for f, (shown, p) in out.items()), key=lambda x: x[1])


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


def _read_txt(path: Path, shown: str, group: str) -> Iterator[EvalItem]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{shown}: not UTF-8 ({e.reason})") from None
    for i, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield EvalItem(shown, i, line.strip(), group)


def read_eval_items(paths: list[str], base_dir: Path) -> list[EvalItem]:
    items: list[EvalItem] = []
    for path, shown, group in eval_files(paths, base_dir):
        if path.suffix.lower() == ".txt":
            items.extend(_read_txt(path, shown, group))
            continue
        for row in read_file(path, shown):
            if row.error:
                raise UserError(f"{row.where}: {row.error}")
            text = question_text(row.value, row.where)
            if text.strip():
                items.append(EvalItem(shown, row.line, text, group))
    return items
