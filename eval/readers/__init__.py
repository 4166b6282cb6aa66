"""Readers per data format: files -> items. Each format is one module; the task names the format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from curate.core.errors import UserError
from curate.core.readers.belle_jsonl import normalize_class, read_belle_prompts, read_belle_set
from curate.core.readers.csv_exam import read_csv_exam
from curate.core.readers.items import LETTERS, MCItem, OpenItem, check_mc
from curate.core.readers.mmcu_json import read_mmcu
from eval.readers.version_parquet import read_version_split

__all__ = ["FORMATS", "LETTERS", "MCItem", "OpenItem", "check_mc", "normalize_class", "read_belle_prompts",
           "read_belle_set", "read_mc_split", "read_open_items", "read_version_split"]


def _csv_exam(flavor: str) -> Callable[..., dict[str, list[MCItem]]]:
    def read(data_dir: Path, split: str | None, *, layout: str, multi_answer: bool) -> dict[str, list[MCItem]]:
        if split is None:
            raise UserError(f"format {flavor}_csv needs data.eval_split / data.shot_split")
        return read_csv_exam(data_dir, split, flavor=flavor, layout=layout, multi_answer=multi_answer)

    return read


# format -> reader; a task's `data.format` names one (the task schema's choices come from here)
MC_READERS: dict[str, Callable[..., dict[str, list[MCItem]]]] = {  # (data_dir, split, layout=, multi_answer=)
    "ceval_csv": _csv_exam("ceval"),
    "cmmlu_csv": _csv_exam("cmmlu"),
    "mmcu_json": read_mmcu,
}
OPEN_READERS: dict[str, Callable[..., list[OpenItem]]] = {  # (data_dir, task data spec, class aliases)
    "belle_jsonl": lambda data_dir, data, aliases: read_belle_set(data_dir, aliases),
    "version_parquet": lambda data_dir, data, aliases: read_version_split(data_dir, data.eval_split, data.group_by),
}
FORMATS = (*MC_READERS, *OPEN_READERS)


def read_mc_split(fmt: str, data_dir: Path, split: str | None, *, layout: str,
                  multi_answer: bool) -> dict[str, list[MCItem]]:
    """subject -> items of one split, for any multiple-choice format."""
    if not data_dir.is_dir():
        raise UserError(f"data_dir {data_dir} is not a folder", hint=f"expected {layout}")
    if fmt not in MC_READERS:
        raise UserError(f"format {fmt} is not a multiple-choice format")
    return MC_READERS[fmt](data_dir, split, layout=layout, multi_answer=multi_answer)


def read_open_items(data, data_dir: Path, aliases: dict[str, str]) -> list[OpenItem]:
    """The items of an open-generation task (`data`: the task's data spec)."""
    if data.format not in OPEN_READERS:
        raise UserError(f"format {data.format} is not an open-generation format")
    return OPEN_READERS[data.format](data_dir, data, aliases)
