"""Read evaluation sets into questions for decontamination: one (file, line, text) per eval item.

Accepted, as files or folders (searched recursively), relative to the recipe folder:
- JSON list / JSONL rows with a question field: `question`, `Question`, `题目` (MMCU), `instruction`
  (+ `input`), `prompt`, `query`; Belle-eval's `eval_set.json` is JSONL with `question`.
- CSV/TSV with such a column (C-Eval `id,question,A,B,C,D,answer`; CMMLU `,Question,A,B,C,D,Answer`).
- Parquet with such a column.
- `.txt`: one question per line.
The question text of a row (question field, options) comes from `curate.core.readers.questions`, the
parser the evaluator's readers share; this module resolves `against:` entries and keeps file:line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curate.core.errors import UserError
from curate.core.files import files_under, read_file, shown_path
from curate.core.readers.questions import question_text, read_question_list

EVAL_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".parquet", ".txt")


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


def read_eval_items(paths: list[str], base_dir: Path) -> list[EvalItem]:
    items: list[EvalItem] = []
    for path, shown, group in eval_files(paths, base_dir):
        if path.suffix.lower() == ".txt":
            items.extend(EvalItem(shown, line, text, group) for line, text in read_question_list(path, shown))
            continue
        for row in read_file(path, shown):
            if row.error:
                raise UserError(f"{row.where}: {row.error}")
            text = question_text(row.value, row.where)
            if text.strip():
                items.append(EvalItem(shown, row.line, text, group))
    return items
