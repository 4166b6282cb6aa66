"""MMCU reader: JSON (a list, or JSON lines) of {类别, 题目, 选项, 答案}; answers may be several letters.

选项 comes as one string "A:…\\nB:…" (the published format), a list, or a letter->text mapping.
An option line that does not start with a letter is a continuation of the previous option.
"""

from __future__ import annotations

import re
from pathlib import Path

from curate.core.errors import UserError
from curate.core.files import read_json_file
from curate.core.readers.items import LETTERS, MCItem, check_mc

_OPTION_LINE = re.compile(r"^\s*([A-J])\s*[:：.．、)]\s*(.*)$")
KEYS = ("类别", "题目", "选项", "答案")


def parse_options(raw, where: str) -> dict[str, str]:
    if isinstance(raw, dict):
        return {str(k).strip().upper(): str(v).strip() for k, v in raw.items()}
    if isinstance(raw, list):
        return {LETTERS[i]: _OPTION_LINE.sub(r"\2", str(v)).strip() for i, v in enumerate(raw)}
    if not isinstance(raw, str):
        raise UserError(f"{where}: 选项 must be a string, list or mapping, got {type(raw).__name__}")
    options: dict[str, str] = {}
    last = None
    for line in raw.splitlines():
        m = _OPTION_LINE.match(line)
        if m:
            last = m.group(1)
            options[last] = m.group(2).strip()
        elif last is not None and line.strip():
            options[last] += "\n" + line.strip()
    return options


def _load_records(path: Path) -> list[tuple[int, object]]:
    """(index or line, record) of a JSON list or JSON lines, parsed by the loaders' reader (`curate.core.files`)."""
    out = []
    for row in read_json_file(path, str(path)):
        if row.error:
            raise UserError(f"{row.where}: neither a JSON list nor JSON lines: {row.error}")
        out.append((row.line, row.value))
    return out


def read_mmcu(data_dir: Path, split: str | None, *, layout: str,
              multi_answer: bool = True) -> dict[str, list[MCItem]]:
    """subject (类别) -> items. ``split=None``: every *.json except under dev/; else data_dir/split."""
    root = data_dir / split if split else data_dir
    files = sorted(p for p in root.rglob("*.json") if split or "dev" not in p.relative_to(root).parts[:1])
    if not files:
        raise UserError(f"no *.json files under {root}", hint=f"data_dir must hold {layout}")
    out: dict[str, list[MCItem]] = {}
    for path in files:
        for n, rec in _load_records(path):
            where = f"{path.name}:{n}"
            if not isinstance(rec, dict) or any(k not in rec for k in KEYS):
                raise UserError(f"{where}: an MMCU item needs keys {', '.join(KEYS)}",
                                hint=f"got {sorted(rec) if isinstance(rec, dict) else type(rec).__name__}")
            subject = str(rec["类别"]).strip()
            options = parse_options(rec["选项"], where)
            answer = "".join(sorted(set(re.sub(r"[^A-Za-z]", "", str(rec["答案"])).upper())))
            problem = check_mc(options, answer, multi_answer) if options else "no_options_parsed"
            rel = path.relative_to(data_dir).as_posix()
            out.setdefault(subject, []).append(MCItem(
                id=f"{subject}/{rel}/{n}", subject=subject, question=str(rec["题目"]).strip(),
                options=options, answer=answer, source=where, problem=problem))
    return out
