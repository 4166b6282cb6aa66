"""The recipe a card prints for rebuilding a version, and the check that it gives the same id.

The manifest holds the *resolved* recipe (every default filled in). Printed as is, it is long, and
some stages reject explicitly-set options that only apply to another mode. So the card prints the
minimal recipe: options equal to their default are dropped, but only where re-validating gives back
exactly the resolved form. Then the version id is recomputed from that recipe plus the manifest's
input digests, code digest and package versions: the card claims a rebuild only when they match.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import BaseModel


def _default(model: type[BaseModel], key: str) -> Any:
    field = model.model_fields.get(key)
    if field is None or field.is_required():
        return object()  # never equal: keep the key
    value = field.get_default(call_default_factory=True)
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def minimal(model: type[BaseModel], data: dict, keep: tuple[str, ...] = ()) -> dict:
    """`data` without keys equal to `model`'s defaults, if that validates back to the same dump."""
    small = {k: v for k, v in data.items() if k in keep or v != _default(model, k)}
    try:
        if model.model_validate(small).model_dump(mode="json") == model.model_validate(data).model_dump(mode="json"):
            return small
    except Exception:  # noqa: BLE001 - the full form fails to validate: the minimal one may still be right
        try:
            return small if model.model_validate(small).model_dump(mode="json") == data else data
        except Exception:  # noqa: BLE001
            return data
    return data


def _stage(entry: Any) -> Any:
    from curate.stages import STAGES, stage_module

    if isinstance(entry, str):
        return entry
    name, opts = next(iter(entry.items()))
    if name not in STAGES or not isinstance(opts, dict):
        return entry
    opts = dict(opts)
    sources = opts.pop("sources", None)
    model = stage_module(name).Options
    if hasattr(model, "model_for"):  # a union on `method` (dedup): the chosen model's defaults; keep a non-default method
        branch = model.model_for(opts)
        small = minimal(branch, opts, keep=("method",) if branch is not model.model_for({}) else ())
    else:
        small = minimal(model, opts)
    if sources:
        small["sources"] = sources
    return name if not small else {name: small}


def rebuild_recipe(resolved: dict) -> dict:
    """A recipe a user can save and `curate build`: the resolved one, minus defaults."""
    from curate.recipe import Mix, Source, Split

    r = copy.deepcopy(resolved)
    out: dict = {k: r[k] for k in ("name", "seed", "description") if r.get(k) is not None}
    out["sources"] = [minimal(Source, s, keep=("name", "license")) for s in r.get("sources", [])]
    if r.get("clean"):
        out["clean"] = [_stage(e) for e in r["clean"]]
    for key, model in (("mix", Mix), ("split", Split)):
        if r.get(key):
            small = minimal(model, r[key])
            if small:
                out[key] = small
    return out


def _fingerprint(manifest: dict) -> list[dict]:
    out = []
    for inp in manifest["inputs"]:
        for f in inp["files"]:
            if f.get("hub"):
                out.append({"source": inp["source"], "hub": f["hub"], "revision": f.get("revision")})
                break  # one entry per Hub source
            out.append({"source": inp["source"], "path": f["path"], "sha256": f["sha256"]})
    return out


def reproduces(manifest: dict, recipe: dict) -> bool:
    """Does building `recipe` over the manifest's inputs (same code, same packages) give its id?"""
    from curate.build import version_key
    from curate.core.errors import UserError
    from curate.core.hashing import short_id
    from curate.recipe import parse_recipe

    try:
        parsed = parse_recipe(copy.deepcopy(recipe), Path("."), origin="card recipe")
    except UserError:
        return False
    inputs = manifest.get("fingerprint") or _fingerprint(manifest)  # older manifests lack `fingerprint`
    return short_id(version_key(parsed, inputs, manifest.get("code"), manifest.get("packages"))) == manifest["version"]
