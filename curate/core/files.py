"""Read local files into raw rows, one per record, each knowing its file and line.

JSON lists, JSONL (also under a `.json` name), Parquet, CSV/TSV. Bytes that are not UTF-8 and
lines that are not JSON become `RawRow`s with an error instead of a value, so the caller can fail
with file+line or reject just that record.
"""

from __future__ import annotations

import csv
import glob
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from curate.core.errors import UserError

DATA_SUFFIXES = (".json", ".jsonl", ".parquet", ".csv", ".tsv")


class EmptyFileError(UserError):
    """An input file with no records (an error unless the source says `on_error: reject`)."""


@dataclass(frozen=True)
class RawRow:
    file: str  # as shown to the user and stored in meta.file (relative to the recipe)
    line: int  # 1-based line (JSONL, CSV) or 1-based record index (JSON list, Parquet)
    value: Any = None
    error: str | None = None  # set for rows that could not be parsed
    raw: str | None = None  # original text when it could not be parsed

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def shown_path(f: Path, base_dir: Path) -> str:
    """How a file is named in meta.file, manifests and reports: relative to the recipe when possible."""
    try:
        return str(f.resolve().relative_to(base_dir.resolve()))
    except ValueError:
        return str(f)


def files_under(p: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """A file itself, or the data files of a folder (recursively, sorted)."""
    return sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes) if p.is_dir() else [p]


def resolve_paths(patterns: list[str], base_dir: Path, source: str, *, what: str | None = None,
                  suffixes: tuple[str, ...] = DATA_SUFFIXES) -> list[tuple[Path, str]]:
    """Expand globs and folders relative to `base_dir` (the recipe's folder); return (absolute path, display
    path) sorted. Errors name `what` (default: the recipe source)."""
    what = what or f"source `{source}`"
    found: dict[Path, str] = {}
    for pattern in patterns:
        absolute = pattern if Path(pattern).is_absolute() else str(base_dir / pattern)
        matches = sorted(glob.glob(absolute, recursive=True))
        if not matches:
            raise UserError(f"{what}: no file matches `{pattern}` (looked in {base_dir})")
        for m in matches:
            p = Path(m)
            files = files_under(p, suffixes)
            if p.is_dir() and not files:
                raise UserError(f"{what}: folder `{m}` holds no {'/'.join(suffixes)} files")
            for f in files:
                found[f.resolve()] = shown_path(f, base_dir)
    return sorted(found.items(), key=lambda kv: kv[1])


def _decode_error(data: bytes, e: UnicodeDecodeError) -> tuple[int, str]:
    line = data.count(b"\n", 0, e.start) + 1
    return line, f"not UTF-8: byte 0x{data[e.start]:02x} at offset {e.start}"


def read_json_file(path: Path, shown: str) -> Iterator[RawRow]:
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise EmptyFileError(f"{shown}: file is empty", hint="remove the file from the recipe or fill it")
    head = data.lstrip()[:1]
    if head == b"[":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            line, msg = _decode_error(data, e)
            raise UserError(f"{shown}:{line}: {msg}", hint="re-encode the file as UTF-8 (e.g. iconv -f GB18030 -t UTF-8)") from None
        try:
            items = json.loads(text)
        except json.JSONDecodeError as e:
            raise UserError(f"{shown}:{e.lineno}: malformed JSON list (column {e.colno}): {e.msg}") from None
        for i, item in enumerate(items, start=1):
            yield RawRow(shown, i, item)
        return
    yield from _read_jsonl(data, shown)


def _read_jsonl(data: bytes, shown: str) -> Iterator[RawRow]:
    for lineno, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            yield RawRow(shown, lineno, error=f"not UTF-8: byte 0x{line[e.start]:02x} at column {e.start + 1}",
                         raw=line.decode("utf-8", errors="replace"))
            continue
        try:
            yield RawRow(shown, lineno, json.loads(text))
        except json.JSONDecodeError as e:
            yield RawRow(shown, lineno, error=f"malformed JSON (column {e.colno}): {e.msg}", raw=text)


def read_csv_file(path: Path, shown: str, fieldnames: list[str] | None) -> Iterator[RawRow]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line, msg = _decode_error(data, e)
        raise UserError(f"{shown}:{line}: {msg}", hint="re-encode the file as UTF-8") from None
    if not text.strip():
        raise EmptyFileError(f"{shown}: file is empty")
    delimiter = "\t" if path.suffix == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), fieldnames=fieldnames, delimiter=delimiter)
    for row in reader:
        extra = row.pop(None, None)
        if extra:
            yield RawRow(shown, reader.line_num, error=f"{len(extra)} more cells than header columns",
                         raw=delimiter.join(str(v) for v in (*row.values(), *extra)))
            continue
        yield RawRow(shown, reader.line_num, dict(row))


def read_parquet_file(path: Path, shown: str) -> Iterator[RawRow]:
    import polars as pl

    try:
        table = pl.read_parquet(path)
    except Exception as e:  # noqa: BLE001 - any reader failure is a user-facing bad file
        raise UserError(f"{shown}: cannot read Parquet: {e}") from None
    for i, row in enumerate(table.iter_rows(named=True), start=1):
        yield RawRow(shown, i, row)


def read_file(path: Path, shown: str, fieldnames: list[str] | None = None) -> Iterator[RawRow]:
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        return read_json_file(path, shown)
    if suffix in (".csv", ".tsv"):
        return read_csv_file(path, shown, fieldnames)
    if suffix == ".parquet":
        return read_parquet_file(path, shown)
    raise UserError(f"{shown}: unknown file type `{suffix}`", hint=f"supported: {', '.join(DATA_SUFFIXES)}")
