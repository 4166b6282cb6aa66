"""The train config: validated once (pydantic), errors name the key path; TRL's own option names.

```yaml
name: demo-lora                 # run name: runs/<name>/<run id>/
data: {version: builds/demo/<id>, stage: sft, types: [general], sources: null}
model: {path: smollm2-135m}     # folder | .gguf | org/name + revision | shorthand
method: {name: lora, r: 8}      # train.methods.METHODS; other keys are the peft config's
template: null                  # chatml | gemma | file.jinja; null = the model's own
prompt_language: null           # zh | en: add a default system prompt in that language
training: {max_steps: 20, learning_rate: 2.0e-4, per_device_train_batch_size: 4, max_length: 256}
vocab: null                     # {add: 2000, pretrain: {max_steps: 100}}: expand the base first (docs/vocab.md)
```
`training` is handed to `trl.SFTConfig` / `trl.DPOConfig` unchanged (unknown keys are an error).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from curate.core.errors import UserError
from curate.core.schema import Strict, format_validation_error
from train.models import ModelSpec

# Keys zhtune sets itself in SFTConfig/DPOConfig (the run folder decides where things go).
MANAGED_KEYS = {"output_dir", "logging_dir", "report_to", "run_name", "resume_from_checkpoint"}


class PretrainOptions(Strict):
    """Continued pre-training on the mined split's raw text after the expansion ("voc-pre")."""

    mode: Literal["embeddings", "embeddings_lora", "full"] = "embeddings_lora"
    max_steps: int = Field(gt=0)
    learning_rate: float = Field(2e-4, gt=0)
    per_device_train_batch_size: int = Field(4, gt=0)
    max_length: int = Field(256, gt=1)
    lora_r: int = Field(8, gt=0)
    seed: int = 42
    corpus: list[str] | None = None  # raw-text files/folders/globs to pre-train on; None: the mined split


class VocabOptions(Strict):
    """How many words to add, how to initialise them, which split to mine (and pre-train on)."""

    add: int = Field(gt=0)
    init: Literal["mean", "random"] = "mean"
    min_count: int = Field(3, ge=1)
    split: str = "train"
    seed: int = 0
    pretrain: PretrainOptions | None = None


class DataSpec(Strict):
    """Which records of which version: by folder, or by recipe name + version id under `builds_root`."""

    version: str | None = None
    recipe: str | None = None
    version_id: str | None = None
    builds_root: str = "builds"
    split: str = "train"
    eval_split: str | None = None  # e.g. "test": eval loss on the version's test split
    stage: Literal["sft", "dpo"] = "sft"
    types: list[str] | None = None
    sources: list[str] | None = None
    preference_as_sft: bool = False  # SFT stage: also train on the chosen reply of preference pairs
    max_records: int | None = Field(default=None, gt=0)

    def folder(self) -> Path:
        if self.version:
            return Path(self.version)
        if self.recipe and self.version_id:
            return Path(self.builds_root) / self.recipe / self.version_id
        raise UserError("data: give `version` (a version folder) or `recipe` + `version_id`",
                        hint="e.g. data: {version: builds/demo/<version id>}")


class MethodSpec(BaseModel):
    """A PEFT method name plus its peft config options (checked against the peft config class)."""

    model_config = ConfigDict(extra="allow")

    name: str = "lora"

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class TrainConfig(Strict):
    name: str | None = None
    output_root: str = "runs"
    data: DataSpec
    model: ModelSpec
    method: MethodSpec = MethodSpec()
    template: str | None = None
    prompt_language: Literal["zh", "en"] | None = None
    training: dict[str, Any] = {}
    vocab: VocabOptions | None = None  # expand the base's vocabulary from the version first (`curate vocab`)

    @field_validator("method", mode="before")
    @classmethod
    def _method_shorthand(cls, v):
        return {"name": v} if isinstance(v, str) else v

    @field_validator("model", mode="before")
    @classmethod
    def _model_shorthand(cls, v):
        return {"path": v} if isinstance(v, str) else v

    def run_name(self) -> str:
        return self.name or f"{self.model.short_name()}-{self.method.name}-{self.data.stage}"

    def model_spec(self) -> ModelSpec:
        """The model with the top-level `template` folded in (it wins over model.chat_template)."""
        return self.model.model_copy(update={"chat_template": self.template}) if self.template else self.model


def check_training_keys(training: dict, stage: str) -> None:
    """Every `training` key must be a field of TRL's config for the stage (checked without importing TRL)."""
    from train.option_names import TRL_CLASSES, trl_options

    names = trl_options(stage)
    for key in training:
        if key in MANAGED_KEYS:
            raise UserError(f"training.{key} is set by zhtune (the run folder decides it)",
                            hint="remove it; use output_root / name to place runs")
        if key not in names:
            close = difflib.get_close_matches(key, sorted(names), n=2, cutoff=0.75)
            raise UserError(f"unknown option training.{key} for {TRL_CLASSES[stage]}",
                            hint=(f"did you mean {' or '.join(close)}? " if close else "")
                            + "TRL's own option names are used (docs/train.md)")


def parse_config(raw: dict, *, source: str = "config") -> TrainConfig:
    """Validate a raw mapping into a TrainConfig; the first error names its key path."""
    try:
        cfg = TrainConfig.model_validate(raw)
    except ValidationError as e:
        raise UserError(format_validation_error(e, file=source).splitlines()[0],
                        hint="see docs/train.md for the config keys") from None
    from train.methods import bottleneck_config, check_options

    check_options(cfg.method.name, cfg.method.options())
    bottleneck_config(cfg.method.name, cfg.method.options())  # checks the adapter options' values too
    check_training_keys(cfg.training, cfg.data.stage)
    return cfg


def set_dotted(raw: dict, dotted: str, value: Any) -> None:
    """`training.max_steps=5` style override of a nested mapping."""
    parts = dotted.split(".")
    node = raw
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise UserError(f"cannot set {dotted}: {p} is not a mapping")
    node[parts[-1]] = value


def parse_value(text: str) -> Any:
    """Flag values are YAML scalars: 5 -> int, 2e-4 -> float, true -> bool, [a, b] -> list."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and any(c.isdigit() for c in text):  # YAML 1.1 reads 2e-4 as a string
        try:
            return float(text)
        except ValueError:
            return value
    return value


def load_config(path: str | Path | None, overrides: list[tuple[str, Any]] = ()) -> TrainConfig:
    """Read CONFIG.yaml (optional), apply dotted overrides from flags, validate once."""
    raw: dict = {}
    source = "flags"
    if path is not None:
        from curate.core.yamlio import read_yaml

        p = Path(path)
        raw = read_yaml(p, "config file") or {}
        if not isinstance(raw, dict):
            raise UserError(f"{p} must hold a mapping at the top level")
        source = str(p)
    for dotted, value in overrides:
        set_dotted(raw, dotted, value)
    return parse_config(raw, source=source)
