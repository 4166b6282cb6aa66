"""Task YAML schema: a task is data (where, how prompted, how scored), validated once at load.

Two kinds, like lm-evaluation-harness's output types: ``multiple_choice`` exams (C-Eval, CMMLU,
MMCU) scored by log-likelihood or by generate-and-parse, and ``open_generation`` (Belle-eval, a
version's held-out split) scored by a judge, an offline reference scorer and/or ``ref_loglik``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from curate.core.schema import Strict as _Strict
from eval.method_names import MC_METHODS
from eval.readers import FORMATS


class DataSpec(_Strict):
    """Which reader, which split is scored, which split gives the shots."""

    format: Literal[FORMATS]  # a reader of eval.readers (MC_READERS, OPEN_READERS)
    eval_split: str | None = None
    shot_split: str | None = None
    layout: str = ""  # human hint shown when files are missing
    group_by: Literal["type", "source"] = "type"  # version_parquet: the column that names an item's class


class GenerateSpec(_Strict):
    max_new_tokens: int = Field(32, ge=1, le=8192)
    until: list[str] = Field(default_factory=list)


class McPromptSpec(_Strict):
    """Prompt pieces; ``{subject_zh}`` etc. are filled per item (str.format)."""

    description: str = ""  # prepended once, before the shots
    question: str = "{question}\n{options}\n答案："
    option: str = "{letter}. {text}"
    option_separator: str = "\n"
    target_delimiter: str = " "  # between the question prompt and the answer (shots, continuations)
    shot_separator: str = "\n\n"
    cot_suffix: str = "先思考，再决定。"  # the study's CoT cue, inserted before the answer cue
    answer_cue: str = "答案："  # where cot_suffix goes (just before this cue)


class SubjectInfo(_Strict):
    name_zh: str | None = None
    category: str


class AggregateSpec(_Strict):
    group_by: Literal["category", "subject"] = "category"
    weight_by_size: bool = True  # the headline average; the other one is reported too


class _Task(_Strict):
    """What every task has: a name, a description, and where its data is read from."""

    name: str
    description: str = ""
    data: DataSpec


class MultipleChoiceTask(_Task):
    kind: Literal["multiple_choice"]
    prompt: McPromptSpec = Field(default_factory=McPromptSpec)
    shots: int = Field(0, ge=0, le=20)
    method: Literal[MC_METHODS] = "loglik_letter"
    generate: GenerateSpec = Field(default_factory=lambda: GenerateSpec(max_new_tokens=16, until=["\n\n"]))
    cot_generate: GenerateSpec = Field(default_factory=lambda: GenerateSpec(max_new_tokens=256, until=["\n\n\n"]))
    multi_answer: bool = False  # MMCU: gold may be several letters ("ABD"), exact set match
    subjects: dict[str, SubjectInfo] = Field(default_factory=dict)
    # glob pattern -> category, for data whose subject names are open-ended (MMCU 类别)
    category_patterns: dict[str, str] = Field(default_factory=dict)
    aggregate: AggregateSpec = Field(default_factory=AggregateSpec)


class ChatSpec(_Strict):
    """How a question is given to the model: its chat template, else a plain template."""

    prompt_language: Literal["zh", "en"] = "zh"
    use_chat_template: bool = True
    system_prompt: bool = False  # add the language's system prompt
    system: dict[str, str] = Field(
        default_factory=lambda: {"zh": "你是一个乐于助人的助手。", "en": "You are a helpful assistant."})
    plain_template: dict[str, str] = Field(
        default_factory=lambda: {"zh": "用户：{question}\n助手：", "en": "Human: {question}\n\nAssistant: "})

    @field_validator("plain_template")
    @classmethod
    def _has_question(cls, v: dict[str, str]) -> dict[str, str]:
        for lang, tpl in v.items():
            if "{question}" not in tpl:
                raise ValueError(f"plain_template.{lang} must contain {{question}}")
        return v


class JudgeSpec(_Strict):
    prompts_file: str = "eval_prompt.json"  # per-class judge prompts, in data_dir
    template: str = "{class_prompt}问题:{question} 标准回答:{std_answer} 模型回答:{answer}"
    score_pattern: str = r"得分\s*[:：]\s*([0-9]+(?:\.[0-9]+)?)"
    score_range: tuple[float, float] = (0.0, 1.0)


class ReferenceSpec(_Strict):
    """ref_loglik: references longer than this are scored on their first max_tokens tokens (counted)."""

    max_tokens: int = Field(256, ge=1, le=32768)


class OpenGenerationTask(_Task):
    kind: Literal["open_generation"]
    chat: ChatSpec = Field(default_factory=ChatSpec)
    generate: GenerateSpec = Field(default_factory=lambda: GenerateSpec(max_new_tokens=256))
    scorers: list[Literal["offline", "judge", "ref_loglik"]] = Field(default_factory=lambda: ["offline"])
    judge: JudgeSpec = Field(default_factory=JudgeSpec)
    reference: ReferenceSpec = Field(default_factory=ReferenceSpec)
    # eval-set class spellings -> canonical class (after lower-casing and space normalization)
    class_aliases: dict[str, str] = Field(default_factory=dict)


TaskConfig = Annotated[MultipleChoiceTask | OpenGenerationTask, Field(discriminator="kind")]
