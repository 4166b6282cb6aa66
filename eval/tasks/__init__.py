"""Task loading: a built-in name (``ceval_val``) or a path to a task YAML -> a validated task.

The YAML files next to this module are the built-in tasks (package data). The task file's
sha256 goes into every result, so a number always points back at the exact prompt and scoring.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from curate.core.errors import UserError
from curate.core.hashing import sha256_text
from curate.core.schema import deep_merge, format_validation_error
from eval.tasks.schema import MC_METHODS, MultipleChoiceTask, OpenGenerationTask, TaskConfig

TASKS_DIR = Path(__file__).parent
_ADAPTER = TypeAdapter(TaskConfig)
KINDS = ("multiple_choice", "open_generation")  # the union's tags lead pydantic's error locations

__all__ = [
    "MC_METHODS",
    "LoadedTask",
    "MultipleChoiceTask",
    "OpenGenerationTask",
    "builtin_tasks",
    "load_task",
    "validate_task",
]


@dataclass(frozen=True)
class LoadedTask:
    config: MultipleChoiceTask | OpenGenerationTask
    path: Path
    sha256: str  # of the YAML text as read (before overrides)
    overrides: dict[str, Any]


def builtin_tasks() -> list[str]:
    return sorted(p.stem for p in TASKS_DIR.glob("*.yaml"))


def validate_task(raw: Any, where: str) -> MultipleChoiceTask | OpenGenerationTask:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: a task must be a mapping, got {type(raw).__name__}")
    if "kind" not in raw:
        raise UserError(f"{where}: kind: missing", hint="kind: multiple_choice | open_generation")
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as e:
        raise UserError(format_validation_error(e, file=where, skip=KINDS)) from None


def load_task(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> LoadedTask:
    """Load a task by built-in name or path; ``overrides`` (nested dict) win over the file."""
    p = Path(name_or_path)
    if not (p.suffix in (".yaml", ".yml") and p.exists()):
        builtin = TASKS_DIR / f"{name_or_path}.yaml"
        if not builtin.exists():
            raise UserError(f"unknown task {name_or_path!r}",
                            hint=f"use a built-in task ({', '.join(builtin_tasks())}) or a path to a task YAML")
        p = builtin
    text = p.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise UserError(f"{p}: not valid YAML: {e}") from None
    overrides = overrides or {}
    merged = deep_merge(raw, overrides) if isinstance(raw, dict) else raw
    return LoadedTask(config=validate_task(merged, str(p)), path=p, sha256=sha256_text(text),
                      overrides=overrides)
