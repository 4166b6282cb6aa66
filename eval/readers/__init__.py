"""Readers per data format: files -> items. Each format is one module; the task names the format."""

from __future__ import annotations

from pathlib import Path

from curate.errors import UserError
from eval.readers.belle_jsonl import normalize_class, read_belle_prompts, read_belle_set
from eval.readers.csv_exam import read_csv_exam
from eval.readers.items import LETTERS, MCItem, OpenItem, check_mc
from eval.readers.mmcu_json import read_mmcu
from eval.readers.version_parquet import read_version_split

__all__ = ["LETTERS", "MCItem", "OpenItem", "check_mc", "normalize_class", "read_belle_prompts",
           "read_belle_set", "read_mc_split", "read_version_split"]


def read_mc_split(fmt: str, data_dir: Path, split: str | None, *, layout: str,
                  multi_answer: bool) -> dict[str, list[MCItem]]:
    """subject -> items of one split, for any multiple-choice format."""
    if not data_dir.is_dir():
        raise UserError(f"data_dir {data_dir} is not a folder", hint=f"expected {layout}")
    if fmt in ("ceval_csv", "cmmlu_csv"):
        if split is None:
            raise UserError(f"format {fmt} needs data.eval_split / data.shot_split")
        return read_csv_exam(data_dir, split, flavor=fmt.split("_")[0], layout=layout,
                             multi_answer=multi_answer)
    if fmt == "mmcu_json":
        return read_mmcu(data_dir, split, layout=layout, multi_answer=multi_answer)
    raise UserError(f"format {fmt} is not a multiple-choice format")
