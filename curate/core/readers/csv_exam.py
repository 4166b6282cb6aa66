"""C-Eval and CMMLU CSV readers: one CSV per subject, a fixed header, gold letter in a column.

The header is checked exactly (a reordered or renamed column would silently score the wrong
field); a bad header or a missing folder is a UserError naming the file.
"""

from __future__ import annotations

import csv
from pathlib import Path

from curate.core.errors import UserError
from curate.core.readers.items import MCItem, check_mc

CEVAL_HEADER = ["id", "question", "A", "B", "C", "D", "answer"]
CMMLU_HEADER = ["", "Question", "A", "B", "C", "D", "Answer"]


def _split_dir(data_dir: Path, split: str, layout: str) -> Path:
    d = data_dir / split
    if not d.is_dir() or not any(d.glob("*.csv")):
        raise UserError(f"no CSV files in {d}", hint=f"data_dir must hold {layout}")
    return d


def _read_rows(path: Path, header: list[str], optional_tail: list[str]) -> list[tuple[int, list[str]]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        got = next(reader, None)
        if got is None or got[: len(header)] != header or got[len(header):] not in ([], optional_tail[: len(got) - len(header)]):
            raise UserError(f"{path}: header is {got!r}, expected {header + optional_tail!r}",
                            hint="the file must be an unmodified C-Eval/CMMLU CSV")
        rows = []
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) < len(header):
                raise UserError(f"{path}:{reader.line_num}: {len(row)} columns, expected {len(header)}")
            rows.append((reader.line_num, row))
        return rows


def _subject_files(d: Path, suffix: str) -> dict[str, Path]:
    out = {}
    for p in sorted(d.glob("*.csv")):
        stem = p.stem
        out[stem[: -len(suffix)] if suffix and stem.endswith(suffix) else stem] = p
    return out


def read_csv_exam(data_dir: Path, split: str, *, flavor: str, layout: str,
                  multi_answer: bool = False) -> dict[str, list[MCItem]]:
    """subject -> items, for one split of C-Eval (``flavor="ceval"``) or CMMLU (``"cmmlu"``)."""
    d = _split_dir(data_dir, split, layout)
    header, tail, suffix = ((CEVAL_HEADER, ["explanation"], f"_{split}") if flavor == "ceval"
                            else (CMMLU_HEADER, [], ""))
    out: dict[str, list[MCItem]] = {}
    for subject, path in _subject_files(d, suffix).items():
        items = []
        for line, row in _read_rows(path, header, tail):
            options = dict(zip("ABCD", row[2:6]))
            answer = row[6].strip().upper()
            items.append(MCItem(
                id=f"{subject}/{split}/{row[0].strip() or line}", subject=subject,
                question=row[1].strip(), options=options, answer=answer,
                source=f"{path.name}:{line}", problem=check_mc(options, answer, multi_answer)))
        out[subject] = items
    return out
