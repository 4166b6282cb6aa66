"""The ``curate eval`` config: which model, which tasks (each with its data_dir), how to score.

Written as a YAML file or built from flags; validated once, errors name the key path.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError

from curate.core.errors import UserError
from curate.core.schema import Strict as _Strict
from curate.core.schema import format_validation_error
from eval.method_names import MC_METHODS


class JudgeConfig(_Strict):
    """An OpenAI-compatible endpoint; the key is read from ``api_key_env`` only."""

    base_url: str
    model: str
    api_key_env: str | None = "OPENAI_API_KEY"
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(3, ge=0, le=10)
    backoff_s: float = Field(1.0, ge=0)
    requests_per_minute: float = Field(60.0, ge=0)  # 0 = no limit
    concurrency: int = Field(4, ge=1, le=64)
    max_consecutive_failures: int = Field(5, ge=1)
    temperature: float = 0.0
    max_tokens: int = Field(256, ge=1)
    cache_dir: str = ".cache/judge"


class TaskRun(_Strict):
    task: str  # a built-in task name or a path to a task YAML
    data_dir: str
    methods: list[Literal[MC_METHODS]] | None = None  # default: the task's
    shots: int | None = Field(None, ge=0, le=20)
    cot: bool = False
    limit: int | None = Field(None, ge=1)  # first N items per subject (exams) or per class (Belle)
    subjects: list[str] | None = None
    scorers: list[Literal["offline", "judge", "ref_loglik"]] | None = None  # open tasks; default: the task's
    overrides: dict[str, Any] = Field(default_factory=dict)  # merged into the task YAML


class EvalConfig(_Strict):
    model: str | dict[str, Any]  # a run folder, a model folder / .gguf / Hub id / shorthand, or a ModelSpec
    tasks: list[TaskRun] = Field(min_length=1)
    batch_size: int = Field(8, ge=1)
    max_length: int | None = Field(None, ge=16)  # cut prompts on the left beyond this (counted)
    output_dir: str = "evals"
    threads: int | None = Field(None, ge=1)  # torch CPU threads; 1 avoids oversubscription on a shared CPU
    judge: JudgeConfig | None = None
    force: bool = False  # recompute even when a finished result exists


def parse_config(raw: Any, where: str) -> EvalConfig:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a mapping with model: and tasks:")
    try:
        return EvalConfig.model_validate(raw)
    except ValidationError as e:
        raise UserError(format_validation_error(e, file=where)) from None
