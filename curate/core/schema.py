"""The pydantic base every config and recipe model uses, and how its validation errors read.

Unknown keys are errors everywhere (a typo never passes silently); an error names the key path
(`clean[3].dedup.threshold`) and, for an unknown key, the closest known one.
"""

from __future__ import annotations

import copy
import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class Strict(BaseModel):
    """A config model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class StrictFrozen(BaseModel):
    """A recipe model: unknown keys are errors, and values are immutable (hashable options)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def deep_merge(base: dict, override: dict) -> dict:
    """`override` laid over `base`, mapping by mapping; neither input is changed."""
    out = copy.deepcopy(base)
    for k, v in override.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def error_path(loc: tuple | list) -> str:
    """pydantic's error location as a key path: ("clean", 3, "dedup") -> `clean[3].dedup`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the (nested) model at a location, for 'did you mean' hints."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        current = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _hint(err: dict, model: type[BaseModel] | None) -> str:
    if err["type"] == "extra_forbidden" and model is not None:
        key = str(err["loc"][-1])
        fields = list(_fields_at(model, err["loc"][:-1]))
        close = difflib.get_close_matches(key, fields, n=1)
        known = ", ".join(fields)
        return f"unknown key `{key}`" + (f"; did you mean `{close[0]}`?" if close else "") + f" (known: {known})"
    return err["msg"]


def format_validation_error(e: ValidationError, prefix: str = "", model: type[BaseModel] | None = None, *,
                            file: str | None = None, skip: tuple[str, ...] = ()) -> str:
    """One line per problem naming its key path (under `prefix`); `model` adds 'did you mean' hints.

    With `file` each line reads `file: path: message`; `skip` drops leading location parts that are
    not keys of the file (a discriminated union's tag).
    """
    lines = []
    for err in e.errors():
        loc = list(err["loc"])
        if loc and loc[0] in skip:
            loc = loc[1:]
        path = error_path(loc)
        where = f"{prefix}.{path}" if prefix and path else (prefix or path or "(top level)")
        lines.append(f"{file}: {where}: {_hint(err, model)}" if file else f"  {where}: {_hint(err, model)}")
    return "\n".join(lines)
