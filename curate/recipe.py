"""The recipe: YAML validated once by pydantic; every bad key is reported with its path and a hint."""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from curate.core.errors import UserError
from curate.core.schema import StrictFrozen as Strict
from curate.core.schema import format_validation_error

# a recipe name is the folder under --out and a source name appears in paths and Hub configs: one safe
# path component (no `.`/`..`, no separators), short enough for every file system
SAFE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$"
# far above any mix one machine curates; a typo like `total: 1e12` with `replace: true` would exhaust memory
MAX_RECORDS = 10_000_000


class Source(Strict):
    """One raw input set: local files (globs allowed) or a Hub dataset at a pinned revision."""

    name: str = Field(pattern=SAFE_NAME)
    path: str | list[str] | None = None
    hub: str | None = None
    revision: str | None = None
    split: str = "train"
    subset: str | None = None
    format: Literal["alpaca", "belle", "sharegpt", "messages", "preference", "cot", "qa"] | None = None
    type: str = "general"
    license: str | None = None
    columns: dict[str, str | int] = Field(default_factory=dict)
    fieldnames: list[str] | None = None  # for CSV/TSV files without a header row
    on_error: Literal["fail", "reject"] = "fail"
    allow_empty: bool = False  # an input with no records is an error unless this is set
    limit: int | None = Field(default=None, ge=1)  # read only the first N records (quick trials)

    @model_validator(mode="after")
    def _one_location(self) -> "Source":
        if (self.path is None) == (self.hub is None):
            raise ValueError("give exactly one of `path` (local files) or `hub` (a Hub dataset id)")
        if self.path is not None and (not self.paths or any(not str(x).strip() for x in self.paths)):
            raise ValueError("`path` is empty: name a file, a folder or a glob (\"\" is not the recipe folder)")
        if self.revision and not self.hub:
            raise ValueError("`revision` only applies to `hub` sources")
        return self

    @property
    def paths(self) -> list[str]:
        return [self.path] if isinstance(self.path, str) else list(self.path or [])


class Mix(Strict):
    """How cleaned records become the final mix; omitted entirely = keep everything."""

    total: int | None = Field(default=None, ge=1, le=MAX_RECORDS)
    weights: dict[str, float] | None = None
    counts: dict[str, int] | None = None
    by_type: dict[str, float] | None = None
    replace: bool = False

    @model_validator(mode="after")
    def _one_rule(self) -> "Mix":
        rules = [r for r in ("weights", "counts", "by_type") if getattr(self, r) is not None]
        if len(rules) > 1:
            raise ValueError(f"give at most one of weights / counts / by_type (got {', '.join(rules)})")
        if self.counts is not None and self.total is not None:
            raise ValueError("`counts` fixes the size itself; drop `total`")
        for rule in rules:
            values = list(getattr(self, rule).values())
            if any(not math.isfinite(v) for v in values):
                raise ValueError(f"{rule} must be finite numbers (got {', '.join(str(v) for v in values)})")
            if any(v < 0 for v in values):
                raise ValueError(f"{rule} must be non-negative")
            if values and sum(values) <= 0:
                raise ValueError(f"{rule} are all zero: the mix would be empty")
            if rule == "counts" and sum(values) > MAX_RECORDS:
                raise ValueError(f"counts add up to {sum(values):,}, over the limit of {MAX_RECORDS:,} records")
        return self


class Split(Strict):
    test: float = Field(default=0.0, ge=0.0, lt=1.0)


class Run(Strict):
    """Where a build runs: never part of the version id (docs/scale.md)."""

    engine: Literal["local", "ray"] = "local"
    address: str | None = None  # ray: `auto`, `ray://host:port`; none = start a local Ray
    workers: int | None = Field(default=None, ge=1)  # ray: CPUs to use (a local Ray) / parallel tasks


class StageSpec(Strict):
    """A validated entry of `clean:`: the stage name and its typed options."""

    name: str
    options: Any  # the stage module's Options instance
    sources: list[str] | None = None  # run only on these sources; the others pass through untouched

    def resolved(self) -> dict:
        opts = self.options.model_dump(mode="json")
        return {self.name: {**opts, "sources": self.sources} if self.sources else opts}


class Recipe(Strict):
    name: str = Field(pattern=SAFE_NAME)
    seed: int = Field(default=42, ge=0, lt=2**63)
    description: str | None = None
    sources: list[Source] = Field(min_length=1)
    clean: list[Any] = Field(default_factory=list)
    mix: Mix = Field(default_factory=Mix)
    split: Split = Field(default_factory=Split)
    base_dir: Path = Path(".")  # where relative paths resolve; not part of the version id
    run: Run = Field(default_factory=Run)  # where it runs (engine); not part of the version id

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[Source]) -> list[Source]:
        names = [s.name for s in sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
        return sources

    @property
    def stages(self) -> list[StageSpec]:
        return self.clean

    def resolved(self) -> dict:
        """The recipe as it takes effect (defaults filled in), without machine-specific paths."""
        d = self.model_dump(mode="json", exclude={"base_dir", "clean", "run"})
        d["clean"] = [s.resolved() for s in self.clean]
        return d


def parse_stage_entry(entry: Any, index: int) -> StageSpec:
    """`normalize` or `{dedup: {method: exact}}` -> StageSpec with validated options."""
    from curate.stages import STAGES, stage_module

    where = f"clean[{index}]"
    sources = None
    if isinstance(entry, str):
        name, raw = entry, {}
    elif isinstance(entry, dict) and len(entry) == 1:
        name, raw = next(iter(entry.items()))
        raw = {} if raw is None else raw
        if not isinstance(raw, dict):
            raise UserError(f"recipe {where}.{name}: options must be a mapping, got {type(raw).__name__}")
        raw = dict(raw)
        sources = raw.pop("sources", None)
    else:
        raise UserError(f"recipe {where}: a stage is a name (`- normalize`) or one `name: {{options}}` mapping")
    if name not in STAGES:
        close = difflib.get_close_matches(str(name), list(STAGES), n=1)
        raise UserError(f"recipe {where}: unknown stage `{name}`",
                        hint=(f"did you mean `{close[0]}`? " if close else "") + f"stages: {', '.join(STAGES)}")
    options_model = stage_module(name).Options
    try:
        opts = options_model.model_validate(raw)
    except ValidationError as e:
        hints = options_model.model_for(raw) if hasattr(options_model, "model_for") else options_model  # a union
        raise UserError(f"recipe has invalid options:\n{format_validation_error(e, f'{where}.{name}', hints)}") from None
    if sources is not None and not (isinstance(sources, list) and all(isinstance(x, str) for x in sources)):
        raise UserError(f"recipe {where}.{name}.sources: a list of source names")
    return StageSpec(name=name, options=opts, sources=sources)


def parse_recipe(data: Any, base_dir: Path, origin: str = "recipe") -> Recipe:
    if not isinstance(data, dict):
        raise UserError(f"{origin}: a recipe is a YAML mapping with `name`, `sources`, ...")
    raw_clean = data.get("clean") or []
    if not isinstance(raw_clean, list):
        raise UserError(f"{origin}: `clean` must be a list of stages")
    try:
        recipe = Recipe.model_validate({**data, "clean": [], "base_dir": base_dir})
    except ValidationError as e:
        raise UserError(f"{origin} is invalid:\n{format_validation_error(e, '', Recipe)}") from None
    check_mix_keys(recipe)
    stages = [parse_stage_entry(entry, i) for i, entry in enumerate(raw_clean)]
    names = {s.name for s in recipe.sources}
    for i, spec in enumerate(stages):
        for bad in sorted(set(spec.sources or []) - names):
            raise UserError(f"recipe clean[{i}].{spec.name}.sources: no source named `{bad}`", hint=f"known: {', '.join(sorted(names))}")
    return recipe.model_copy(update={"clean": stages})


def check_stage_files(spec: StageSpec, index: int, base_dir: Path) -> None:
    """Files a stage reads must exist now, and its regexes compile in polars (whose engine has no
    look-around or back-references), not only after the whole pipeline ran."""
    import polars as pl

    from curate.stages import stage_module

    module = stage_module(spec.name)
    listing = getattr(module, "referenced_files", None)
    files = listing(spec.options, base_dir) if listing else []
    read_patterns = getattr(module, "read_patterns", None)
    if read_patterns is None:
        return
    for path, shown in files:
        for section, patterns in read_patterns(path).items():
            for pattern in patterns:
                try:
                    pl.select(pl.lit("").str.contains(f"(?i)({pattern})"))
                except Exception as e:  # noqa: BLE001 - polars' regex error is the message to show
                    why = [ln[len("error: "):] for ln in str(e).splitlines() if ln.startswith("error: ")]
                    raise UserError(f"recipe clean[{index}].{spec.name}.patterns_file: {shown} [{section}]: "
                                    f"polars cannot compile `{pattern}`: {why[0] if why else type(e).__name__}",
                                    hint="polars regexes have no look-around or back-references") from None


def check_mix_keys(recipe: "Recipe") -> None:
    """Mix keys must name real sources (weights/counts) or types (by_type)."""
    names = {s.name for s in recipe.sources}
    types = {s.type for s in recipe.sources}
    for rule, known in (("weights", names), ("counts", names), ("by_type", types)):
        for k in (getattr(recipe.mix, rule) or {}):
            if k not in known:
                raise UserError(f"recipe mix.{rule}.{k}: no {'type' if rule == 'by_type' else 'source'} named `{k}`",
                                hint=f"known: {', '.join(sorted(known))}")


def load_recipe(path: str | Path) -> Recipe:
    from curate.core.yamlio import read_yaml

    p = Path(path)
    recipe = parse_recipe(read_yaml(p, "recipe"), p.resolve().parent, origin=str(p))
    for i, spec in enumerate(recipe.stages):
        check_stage_files(spec, i, recipe.base_dir)
    return recipe
