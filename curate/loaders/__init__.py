"""Readers: a recipe source -> unified records, parse/schema rejects, and the inputs it hashed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import polars as pl

from curate.core.errors import UserError
from curate.core.hashing import sha256_file
from curate.core.files import EmptyFileError, RawRow, Tally, resolve_paths
from curate.loaders.columnar import file_pieces
from curate.loaders.formats import CONVERTERS, FORMATS_HELP, SchemaError, apply_columns, check_roles, detect_format
from curate.core.records import REJECT_SCHEMA, records_frame, with_ids
from curate.recipe import Source


@dataclass
class LoadResult:
    records: pl.DataFrame
    rejects: pl.DataFrame
    inputs: list[dict]  # {"path"|"hub", "sha256"|"revision", "records"}
    format: str
    warnings: list[str] = field(default_factory=list)


def _iter_hub(src: Source) -> tuple[Iterator[RawRow], dict]:
    """A Hub dataset (or a local dataset folder given as `hub:`) through `datasets.load_dataset`."""
    import datasets  # heavy; only for Hub sources

    try:
        ds = datasets.load_dataset(src.hub, name=src.subset, split=src.split, revision=src.revision)
    except Exception as e:  # noqa: BLE001 - offline / missing dataset / bad revision are user-facing
        raise UserError(f"source `{src.name}`: cannot load Hub dataset `{src.hub}` (revision {src.revision or 'unpinned'}): "
                        f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                        hint="check the id and revision, or download it and point `path:` at the files") from None
    shown = f"hub:{src.hub}@{src.revision or 'unpinned'}/{src.split}"
    info = {"hub": src.hub, "revision": src.revision, "subset": src.subset, "split": src.split,
            "fingerprint": getattr(ds, "_fingerprint", None), "reproducible": src.revision is not None}
    return (RawRow(shown, i, row) for i, row in enumerate(ds, start=1)), info


def _rows(src: Source, base_dir: Path, fmt_holder: list) -> tuple[list[tuple[Iterable[RawRow], dict, Tally]], list[str]]:
    if src.hub:
        it, info = _iter_hub(src)
        return [(it, info, Tally())], []
    out = []
    for path, shown in resolve_paths(src.paths, base_dir, src.name):
        tally = Tally()
        out.append((file_pieces(path, shown, src, fmt_holder, tally), {"path": shown, "sha256": sha256_file(path)}, tally))
    return out, []


def load_source(src: Source, base_dir: Path, progress=None) -> LoadResult:
    """Read every record of a source. on_error=fail: first bad record -> UserError with file:line."""
    fmt_holder = [src.format]
    kept: list[dict] = []  # records of the exact path not yet in `parts`
    parts: list[pl.DataFrame] = []
    rejected: list[dict] = []
    inputs: list[dict] = []
    streams, warnings = _rows(src, base_dir, fmt_holder)
    for stream, info, tally in streams:
        count, cut = 0, False
        try:
            for row in stream:
                if isinstance(row, pl.DataFrame):  # a block the fast path converted (never with `limit`)
                    parts += [records_frame(kept), row] if kept else [row]
                    kept = []
                    count += row.height
                    if progress:
                        progress(row.height)
                    continue
                if src.limit and len(kept) + len(rejected) >= src.limit:
                    cut = True
                    break
                count += 1
                if progress:
                    progress(1)
                _convert_row(row, src, fmt_holder, kept, rejected)
        except EmptyFileError as e:
            if not src.allow_empty:
                raise
            warnings.append(str(e).splitlines()[0])
        if not cut and tally.expected is not None and tally.expected != count:
            raise UserError(f"{info.get('path')}: read {count} records but the file holds {tally.expected} "
                            f"({tally.unit}); refusing to lose records silently",
                            hint="an unbalanced quote or a stray record separator; fix the file")
        inputs.append({**info, "records": count})
    rejects = pl.DataFrame(rejected, schema=REJECT_SCHEMA) if rejected else pl.DataFrame(schema=REJECT_SCHEMA)
    records = pl.concat([*parts, records_frame(kept)]) if parts else records_frame(kept)
    return LoadResult(with_ids(records), rejects, inputs, fmt_holder[0] or "unknown", warnings)


def printable(value) -> str:
    """A value as text that can always be written and printed (lone surrogates escaped)."""
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _convert_row(row: RawRow, src: Source, fmt_holder: list, kept: list, rejected: list) -> None:
    def reject(reason: str, detail: str) -> None:
        detail = printable(detail)
        if src.on_error == "fail":
            raise UserError(f"{row.where}: {detail} (source `{src.name}`)",
                            hint="fix the record, or set `on_error: reject` on the source to send such records to the rejects")
        raw = row.raw if row.raw is not None else (None if row.value is None else printable(row.value))
        rejected.append({"id": None, "source": src.name, "type": src.type, "messages": [], "rejected": None,
                         "lang": None, "lang_score": None, "meta": {"file": row.file, "line": row.line},
                         "stage": "load", "reason": reason, "detail": detail, "twin_id": None, "raw": raw})

    if row.error:
        return reject("parse_error", row.error)
    if not isinstance(row.value, dict):
        return reject("schema_error", f"expected a JSON object, got {type(row.value).__name__}")
    value = apply_columns(row.value, src.columns)
    if fmt_holder[0] is None:
        fmt_holder[0] = detect_format(value)
        if fmt_holder[0] is None:
            raise UserError(f"{row.where}: cannot tell the format of source `{src.name}` from its keys "
                            f"{printable(str(sorted(map(str, value))))}",
                            hint=f"set `format:` ({FORMATS_HELP}) or map fields with `columns:`")
    try:
        messages, rejected_reply = CONVERTERS[fmt_holder[0]](value)
        check_roles(messages, "messages")
    except SchemaError as e:
        return reject("schema_error", f"{e} (format {fmt_holder[0]})")
    kept.append({"id": None, "source": src.name, "type": src.type,
                 "messages": messages, "rejected": rejected_reply, "lang": None, "lang_score": None,
                 "meta": {"file": row.file, "line": row.line}})
