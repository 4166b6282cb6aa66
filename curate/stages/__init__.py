"""Cleaning stages. Each module: ``Options`` (pydantic) and ``apply(table, opts, ctx) -> StageResult``.

The recipe's `clean:` lists stage names in order; this registry maps a name to its module.
Modules are imported on first use so a recipe pays only for the stages it runs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import polars as pl

STAGES: dict[str, str] = {
    "normalize": "curate.stages.normalize",
    "convert": "curate.stages.convert",
    "language": "curate.stages.language",
    "filter": "curate.stages.quality_filter",
    "dedup": "curate.stages.dedup",
    "decontaminate": "curate.stages.decontaminate",
}
# stages the runner adds itself (a recipe cannot list them)
ALWAYS_LAST: dict[str, str] = {"validate": "curate.stages.validate"}


def stage_module(name: str) -> ModuleType:
    return importlib.import_module(STAGES.get(name) or ALWAYS_LAST[name])


@dataclass
class StageContext:
    """What a stage may know besides its options: never the recipe itself."""

    seed: int = 42
    source_order: list[str] = field(default_factory=list)  # recipe order = priority for dedup twins
    base_dir: Path = Path(".")
    progress: Any = None  # callable(n) advancing the current stage's bar, or None


class StageResult(NamedTuple):
    kept: pl.DataFrame
    rejected: pl.DataFrame  # record columns + reason (+ detail, twin_id); the runner sets `stage`
    stats: dict = {}
