"""The ablation file: a base recipe + train + eval config, and variants that each change one thing.

```yaml
name: data-types
recipe: ../demo.yaml                 # base recipe (paths relative to this file)
train: ../train/smollm2_lora.yaml    # base train config; data.version is set per variant
eval: {tasks: [...], batch_size: 8}  # base eval config; model is set per run
seeds: [1, 2, 3]                     # training seeds
hold_total: true                     # every variant keeps the base mix.total (effects are not "more data")
extra_sources: [{name: cot, path: ..., type: cot}]   # what `add:` variants bring in
variants:
  - leave_one_out: [belle, multiturn]               # one variant per source or type
  - {name: +cot, add: [{source: cot, weight: 0.2}]}
  - {name: no-dedup, recipe: {clean: [normalize]}}  # recipe overrides (deep merge; lists replaced)
  - {name: dora, train: {method: {name: dora}}}     # training / eval axes (another method name
  - {name: sadapter_h, train: {method: sadapter_h}} #   replaces the base's whole method mapping)
  - {name: voc+2k, train: {vocab: {add: 2000}}}      # vocabulary expansion (docs/vocab.md)
  - name: en-prompt                                 # eval axes per task: task_overrides (task name -> overrides)
    train: {prompt_language: en}
    eval: {task_overrides: {heldout_ref: {chat: {prompt_language: en}}}}
    expect: [{task: "belle_eval:ref_loglik", group: math, sign: worse, source: "the study: zh prompts help"}]
recipe_overrides: {mix: {total: 1200}, split: {test: 0.1}}  # merged into the base recipe first
budget: {jobs: 2, eval_seconds_per_run: 300}       # `--budget 2h` sizes records, steps, seeds (budget.py)
```
An eval task whose `data_dir` is `{heldout}` reads the held-out pool: the base recipe plus every extra
source, all records kept, split by the base's seed (a record's side depends only on its id, so no
variant trains on a held-out record).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from curate.core.errors import UserError
from curate.core.schema import Strict, deep_merge, format_validation_error


class Addition(Strict):
    source: str
    weight: float | None = Field(default=None, ge=0)  # mix weight when the base mixes by weights


class Expectation(Strict):
    """The sign a published study found, checked against the measured delta in the summary."""

    task: str  # a task label of results.csv, e.g. "belle_eval:ref_loglik"
    group: str = "(all)"
    sign: Literal["better", "worse"]
    source: str = ""  # where the expectation comes from


class VariantSpec(Strict):
    name: str | None = None
    leave_one_out: list[str] | None = None
    add: list[Addition | str] | None = None
    recipe: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    eval: dict[str, Any] = Field(default_factory=dict)
    expect: list[Expectation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _named(self) -> "VariantSpec":
        if self.leave_one_out is None and not self.name:
            raise ValueError("a variant needs a `name` (only `leave_one_out` entries name themselves)")
        if self.leave_one_out is not None and (self.add or self.recipe or self.train or self.eval or self.expect):
            raise ValueError("`leave_one_out` expands into one variant per entry; give other changes as separate variants")
        return self


class BudgetSpec(Strict):
    """What `--budget` needs besides the measured training speed (curate/app/ablation/budget.py)."""

    jobs: int = Field(2, ge=1)  # parallel jobs, one torch thread each
    eval_seconds_per_run: float = Field(120.0, ge=0)  # measured: evaluation of one run, model load included
    overhead_seconds_per_run: float = Field(30.0, ge=0)  # model load and data preparation for training
    tokens_per_second: float | None = Field(None, gt=0)  # training speed per job; default: the measured table
    tokens_per_record: float = Field(200.0, gt=0)  # mean tokenized record length (packing fills a step with several)
    epochs: float = Field(1.0, gt=0)  # passes over each variant's records
    max_records: int | None = Field(None, ge=1)  # what the base sources can give after cleaning
    min_steps: int = Field(100, ge=1)
    min_seeds: int = Field(1, ge=1)


class AblationSpec(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    recipe: str
    recipe_overrides: dict[str, Any] = Field(default_factory=dict)  # merged into the base recipe first
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    train: str | dict[str, Any]
    eval: dict[str, Any]
    seeds: list[int] = Field(default_factory=lambda: [42], min_length=1)
    hold_total: bool = True
    extra_sources: list[dict[str, Any]] = Field(default_factory=list)
    variants: list[VariantSpec] = Field(default_factory=list)
    output_dir: str = "ablations"
    builds_dir: str = "builds"
    runs_dir: str = "runs"
    evals_dir: str = "evals"


@dataclass
class Variant:
    """One resolved variant: a full recipe dict and the train/eval overrides."""

    name: str
    recipe: dict
    train: dict = field(default_factory=dict)
    eval: dict = field(default_factory=dict)
    change: str = "base"


def _method_name(method: dict | str) -> str:
    return method.get("name", "lora") if isinstance(method, dict) else method


def merge_train(base: dict, override: dict) -> dict:
    """A variant's train overrides: deep merge, except that naming another method replaces the whole
    `method:` mapping (LoRA's `r` means nothing to a bottleneck adapter)."""
    out = deep_merge(base, override)
    method, base_method = override.get("method"), base.get("method")
    if isinstance(method, dict) and base_method is not None and _method_name(method) != _method_name(base_method):
        out["method"] = copy.deepcopy(method)
    return out


def _drop_sources(recipe: dict, names: set[str]) -> dict:
    r = copy.deepcopy(recipe)
    r["sources"] = [s for s in r["sources"] if s["name"] not in names]
    mix = r.get("mix") or {}
    for rule in ("weights", "counts"):
        if mix.get(rule):
            mix[rule] = {k: v for k, v in mix[rule].items() if k not in names}
    for stage in r.get("clean") or []:
        if isinstance(stage, dict):
            opts = next(iter(stage.values())) or {}
            if isinstance(opts, dict) and opts.get("sources"):
                opts["sources"] = [s for s in opts["sources"] if s not in names]
    return r


def leave_one_out(recipe: dict, item: str) -> dict:
    """Remove a source, or every source of a type."""
    names = {s["name"] for s in recipe["sources"] if s["name"] == item or s.get("type", "general") == item}
    if not names:
        known = sorted({s["name"] for s in recipe["sources"]} | {s.get("type", "general") for s in recipe["sources"]})
        raise UserError(f"ablation leave_one_out: no source or type named `{item}`", hint=f"known: {', '.join(known)}")
    if len(names) == len(recipe["sources"]):
        raise UserError(f"ablation leave_one_out: removing `{item}` leaves no source")
    return _drop_sources(recipe, names)


def add_sources(recipe: dict, additions: list[Addition], extra: dict[str, dict]) -> dict:
    r = copy.deepcopy(recipe)
    mix = r.setdefault("mix", {}) or {}
    weights = mix.get("weights")
    for add in additions:
        if add.source not in extra:
            raise UserError(f"ablation add: `{add.source}` is not in extra_sources", hint=f"known: {', '.join(extra) or 'none'}")
        r["sources"].append(copy.deepcopy(extra[add.source]))
        if weights is not None:
            weights[add.source] = add.weight if add.weight is not None else sum(weights.values()) / max(len(weights), 1)
        elif mix.get("counts") is not None:
            raise UserError(f"ablation add `{add.source}`: the base mixes by `counts`; give the variant a recipe override")
    return r


def rebase_paths(source: dict, from_dir: Path, to_dir: Path) -> dict:
    """Extra sources are written relative to the ablation file; recipes resolve against the base recipe."""
    s = dict(source)
    paths = s.get("path")
    if paths is not None:
        rebase = lambda p: p if os.path.isabs(p) else os.path.relpath(from_dir / p, to_dir)  # noqa: E731
        s["path"] = [rebase(p) for p in paths] if isinstance(paths, list) else rebase(paths)
    return s


def expand_variants(spec: AblationSpec, base_recipe: dict, here: Path, recipe_dir: Path) -> list[Variant]:
    """The base plus every variant, with leave_one_out entries expanded; names must be unique."""
    extra = {s["name"]: rebase_paths(s, here, recipe_dir) for s in spec.extra_sources}
    out = [Variant("base", copy.deepcopy(base_recipe))]
    for i, v in enumerate(spec.variants):
        if v.leave_one_out is not None:
            out += [Variant(f"-{item}", leave_one_out(base_recipe, item), change=f"leave out {item}") for item in v.leave_one_out]
            continue
        recipe = base_recipe
        changes = []
        if v.add:
            additions = [a if isinstance(a, Addition) else Addition(source=a) for a in v.add]
            recipe = add_sources(recipe, additions, extra)
            changes.append("add " + ", ".join(a.source for a in additions))
        if v.recipe:
            recipe = deep_merge(recipe, v.recipe)
            changes.append("recipe " + ", ".join(sorted(v.recipe)))
        changes += [f"train {k}" for k in sorted(v.train)] + [f"eval {k}" for k in sorted(v.eval)]
        out.append(Variant(v.name, copy.deepcopy(recipe), v.train, v.eval, "; ".join(changes) or "none"))
    names = [v.name for v in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UserError(f"ablation variants must have unique names; repeated: {', '.join(dupes)}")
    if spec.hold_total:
        total = (base_recipe.get("mix") or {}).get("total")
        if total is None:
            raise UserError("ablation hold_total: the base recipe needs mix.total",
                            hint="set mix.total in the base recipe, or hold_total: false to let sizes change")
        explicit = {v.name for v in spec.variants if "total" in (v.recipe.get("mix") or {})}
        for v in out:
            mix = v.recipe.setdefault("mix", {})
            if v.name not in explicit and mix.get("counts") is None:
                mix["total"] = total
    return out


def load_spec(path: str | Path) -> tuple[AblationSpec, Path]:
    from curate.core.yamlio import read_yaml

    p = Path(path)
    raw = read_yaml(p, "ablation file")
    try:
        return AblationSpec.model_validate(raw), p.resolve().parent
    except ValidationError as e:
        raise UserError(f"{p} is invalid:\n{format_validation_error(e, '', AblationSpec)}") from None
