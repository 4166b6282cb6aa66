"""Read local files into raw rows, one per record, each knowing its file and line.

JSON lists, JSONL (also under a `.json` or `.ndjson` name), Parquet, CSV/TSV; JSON, JSONL, CSV and TSV
also gzip-compressed (`.jsonl.gz`; Parquet compresses itself). Bytes that are not UTF-8 and lines that
cannot be parsed (malformed JSON, nesting deeper than Python's parser allows, integer literals over
4,300 digits, an unclosed CSV quote, a CSV cell over 131,072 characters) become `RawRow`s with an
error instead of a value, so the caller can fail with file+line or reject just that record. Each
reader also counts the records a person would count (non-blank lines of JSONL/CSV/TSV, Parquet's
row count) independently of the parser, into a `Tally`; the loader stops on a mismatch.
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from curate.core.errors import UserError

DATA_SUFFIXES = (".json", ".jsonl", ".ndjson", ".parquet", ".csv", ".tsv",
                 ".json.gz", ".jsonl.gz", ".ndjson.gz", ".csv.gz", ".tsv.gz")
# files a dataset folder often carries besides its data: skipped (and listed) instead of an error
NOT_DATA = (".md", ".txt", ".py", ".yaml", ".yml", ".gitattributes", ".lock", ".sha256")
CSV_FIELD_LIMIT = csv.field_size_limit()


class EmptyFileError(UserError):
    """An input file with no records (an error unless the source says `allow_empty: true`)."""


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


@dataclass
class Tally:
    """Records in a file as counted without the parser (set by the reader once the file is read)."""

    expected: int | None = None
    unit: str = "records"


def data_suffix(f: Path) -> str:
    """`.jsonl` for a.jsonl, `.jsonl.gz` for a.jsonl.gz (lower case)."""
    name = f.name.lower()
    if name.endswith(".gz"):
        return Path(name[:-3]).suffix + ".gz"
    return Path(name).suffix


def shown_path(f: Path, base_dir: Path) -> str:
    """How a file is named in meta.file, manifests and reports: relative to the recipe's folder, with `..`
    where the recipe's relative path leads out of it (so neither the name nor the version id depends on
    where the checkout lies); a file the recipe names by an absolute path keeps that path."""
    try:
        return str(f.resolve().relative_to(base_dir.resolve()))
    except ValueError:
        pass
    if str(f).startswith(os.path.join(str(base_dir), "")):  # base_dir / "../x": as the recipe wrote it
        return os.path.relpath(os.path.normpath(f), os.path.normpath(base_dir))
    return str(f)


def _is_hidden(f: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in f.relative_to(root).parts)


def files_under(p: Path, suffixes: tuple[str, ...], unknown: list[Path] | None = None) -> list[Path]:
    """A file itself, or the data files of a folder (recursively, sorted; hidden files skipped).
    Other files of a folder are appended to `unknown` when given."""
    if not p.is_dir():
        return [p]
    out = []
    for f in sorted(p.rglob("*")):
        if f.is_dir() or _is_hidden(f, p):
            continue
        if f.is_file() and data_suffix(f) in suffixes:
            out.append(f)
        elif unknown is not None:
            unknown.append(f)
    return out


def check_regular(f: Path, what: str) -> None:
    """A FIFO, socket or device would hang the hasher (or never end): refuse it before reading."""
    mode = f.stat().st_mode
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else \
            "a socket" if stat.S_ISSOCK(mode) else "not a regular file"
        raise UserError(f"{what}: `{f}` is {kind}, not a data file", hint="point `path:` at regular files")


def resolve_paths(patterns: list[str], base_dir: Path, source: str, *, what: str | None = None,
                  suffixes: tuple[str, ...] = DATA_SUFFIXES) -> list[tuple[Path, str]]:
    """Expand globs and folders relative to `base_dir` (the recipe's folder); return (absolute path, display
    path) sorted. Errors name `what` (default: the recipe source). A folder of recipe inputs holding a file
    of an unsupported kind is an error (never silently skipped), except documentation files."""
    what = what or f"source `{source}`"
    found: dict[Path, str] = {}
    for pattern in patterns:
        if not str(pattern).strip():
            raise UserError(f"{what}: `path` is empty", hint="name a file, a folder or a glob")
        absolute = pattern if Path(pattern).is_absolute() else str(base_dir / pattern)
        matches = sorted(glob.glob(absolute, recursive=True))
        if not matches:
            raise UserError(f"{what}: no file matches `{pattern}` (looked in {base_dir})")
        for m in matches:
            p = Path(m)
            unknown: list[Path] = []
            files = files_under(p, suffixes, unknown)
            strange = [f for f in unknown if not f.is_file() or (data_suffix(f) not in NOT_DATA and not f.name.upper()
                       .startswith(("README", "LICENSE", "LICENCE")))]  # a FIFO inside a folder is never skipped
            if strange and not strange[0].is_file():
                check_regular(strange[0], what)
            if strange and suffixes == DATA_SUFFIXES:
                raise UserError(f"{what}: folder `{m}` holds {shown_path(strange[0], base_dir)}, a file of a kind "
                                f"zhtune does not read ({len(strange)} such files)",
                                hint=f"supported: {', '.join(DATA_SUFFIXES)}; list the data files (or a glob) in `path:`")
            if p.is_dir() and not files:
                raise UserError(f"{what}: folder `{m}` holds no {'/'.join(suffixes)} files")
            for f in files:
                check_regular(f, what)
                found[f.resolve()] = shown_path(f, base_dir)
    return sorted(found.items(), key=lambda kv: kv[1])


def _read_bytes(path: Path, shown: str) -> bytes:
    if path.name.lower().endswith(".gz"):
        try:
            with gzip.open(path, "rb") as f:
                return f.read()
        except (OSError, EOFError) as e:
            raise UserError(f"{shown}: not a readable gzip file: {e}") from None
    return path.read_bytes()


def _decode_error(data: bytes, e: UnicodeDecodeError) -> tuple[int, str]:
    line = data.count(b"\n", 0, e.start) + 1
    return line, f"not UTF-8: byte 0x{data[e.start]:02x} at offset {e.start}"


def json_error(e: Exception) -> str:
    """What went wrong parsing JSON, in words a user can act on (Python's limits included)."""
    if isinstance(e, json.JSONDecodeError):
        return f"malformed JSON (column {e.colno}): {e.msg}"
    if isinstance(e, RecursionError):
        return "JSON nested too deeply (Python's parser stops near 1,000 levels)"
    return f"unreadable JSON value: {str(e).split(';')[0]}"  # e.g. an integer literal over 4,300 digits


def parse_json(text: str) -> Any:
    """json.loads; every failure is a ValueError carrying `json_error`'s message."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ValueError(json_error(e)) from None


def _list_error_line(text: str) -> int:
    """The line where the JSON list element that fails to parse begins (for a whole-file error)."""
    dec = json.JSONDecoder()
    i = text.index("[") + 1
    while i < len(text):
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        start = i
        try:
            _, i = dec.raw_decode(text, i)
        except (ValueError, RecursionError):
            return text.count("\n", 0, start) + 1
    return text.count("\n") + 1


def json_file_bytes(path: Path, shown: str) -> bytes:
    """A JSON/JSONL file's bytes (gunzipped, BOM removed); an empty file is an EmptyFileError."""
    data = _read_bytes(path, shown)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise EmptyFileError(f"{shown}: file is empty", hint="remove the file from the recipe, fill it, or set "
                             "`allow_empty: true` on the source")
    return data


def is_json_list(data: bytes) -> bool:
    return data.lstrip()[:1] == b"["


def read_json_file(path: Path, shown: str, tally: Tally | None = None) -> Iterator[RawRow]:
    data = json_file_bytes(path, shown)
    if is_json_list(data):
        yield from read_json_list(data, shown, tally)
        return
    yield from _read_jsonl(data, shown, tally)


def read_json_list(data: bytes, shown: str, tally: Tally | None = None) -> Iterator[RawRow]:
    yield from numbered_rows(shown, json_list_items(data, shown, tally))


def numbered_rows(shown: str, values) -> Iterator[RawRow]:
    """Parsed records of a file, numbered from 1 (a JSON list's elements, a Parquet file's rows)."""
    for i, value in enumerate(values, start=1):
        yield RawRow(shown, i, value)


def json_list_items(data: bytes, shown: str, tally: Tally | None = None) -> list:
    """The elements of a JSON list file; a bad element or an empty list is a UserError naming the line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, msg = _decode_error(data, e)
        raise UserError(f"{shown}:{line}: {msg}", hint="re-encode the file as UTF-8 (e.g. iconv -f GB18030 -t UTF-8)") from None
    try:
        items = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{shown}:{e.lineno}: malformed JSON list (column {e.colno}): {e.msg}") from None
    except (RecursionError, ValueError):
        line = _list_error_line(text)
        msg = _why(text, line)
        raise UserError(f"{shown}:{line}: {msg} (a JSON list cannot be read past a bad element, in either "
                        "`on_error` mode)", hint="fix the element, or convert the file to JSONL to reject single lines") from None
    if not isinstance(items, list):
        raise UserError(f"{shown}:1: expected a JSON list of records")
    if not items:
        raise EmptyFileError(f"{shown}: the JSON list is empty (`[]`)",
                             hint="remove the file from the recipe, fill it, or set `allow_empty: true` on the source")
    if tally is not None:
        tally.expected = len(items)
    return items


def _why(text: str, line: int) -> str:
    """The message of the first element on `line` that does not parse."""
    chunk = "\n".join(text.split("\n")[line - 1:]).lstrip(" \t\r\n,")
    try:
        json.JSONDecoder().raw_decode(chunk)
    except (ValueError, RecursionError) as e:
        return json_error(e)
    return "malformed JSON"


def _read_jsonl(data: bytes, shown: str, tally: Tally | None = None) -> Iterator[RawRow]:
    lines = data.split(b"\n")
    if tally is not None:
        tally.expected, tally.unit = sum(1 for line in lines if line.strip()), "non-blank lines"
    for lineno, line in enumerate(lines, start=1):
        if line.strip():
            yield jsonl_row(shown, lineno, line)


def jsonl_row(shown: str, lineno: int, line: bytes) -> RawRow:
    """One non-blank JSONL line, parsed by Python's json (or the reason it cannot be)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        return RawRow(shown, lineno, error=f"not UTF-8: byte 0x{line[e.start]:02x} at column {e.start + 1}",
                      raw=line.decode("utf-8", errors="replace"))
    try:
        return RawRow(shown, lineno, parse_json(text))
    except ValueError as e:
        return RawRow(shown, lineno, error=str(e), raw=text)


def _csv_records(lines: list[str], delimiter: str) -> Iterator[tuple[int, int, list[str] | None, str | None]]:
    """(first line index, end line index (exclusive), cells or None, error) per record.

    Strict parsing, so an unclosed quote is an error at the line it opens on instead of a cell that
    swallows every following row; parsing resumes on the next line. A stray quote inside a cell
    (`"x" y`) is read leniently, as before."""
    pos = 0
    while pos < len(lines):
        reader = csv.reader(iter(lines[pos:]), delimiter=delimiter, strict=True)
        while True:
            start = pos + reader.line_num
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                msg = str(e)
                if "expected after" in msg:  # a stray quote (`"x" y`): read leniently if it stays on its line
                    if _stray_quote_only(lines[start], delimiter):
                        pos = start + 1
                        yield start, pos, next(csv.reader([lines[start]], delimiter=delimiter)), None
                        break
                    msg = "unexpected end of data"  # the quote spans lines: it never closes where it should
                if "unexpected end of data" in msg:
                    msg = "unclosed quote: the cell opened on this line does not end on it or in a cell boundary"
                elif "field larger" in msg:
                    msg = f"a cell longer than {CSV_FIELD_LIMIT:,} characters"
                pos = start + 1
                yield start, pos, None, msg
                break
            if cells:
                yield start, pos + reader.line_num, cells, None


def _stray_quote_only(line: str, delimiter: str) -> bool:
    """Is the strict parser's complaint about this line alone (a quote followed by text), not about a
    quote that opens here and runs into the next lines?"""
    try:
        list(csv.reader([line], delimiter=delimiter, strict=True))
    except csv.Error as e:
        return "expected after" in str(e)
    return False


def read_csv_file(path: Path, shown: str, fieldnames: list[str] | None, tally: Tally | None = None) -> Iterator[RawRow]:
    data = _read_bytes(path, shown)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line, msg = _decode_error(data, e)
        raise UserError(f"{shown}:{line}: {msg}", hint="re-encode the file as UTF-8") from None
    empty_hint = "remove the file from the recipe, fill it, or set `allow_empty: true` on the source"
    if not text.strip():
        raise EmptyFileError(f"{shown}: file is empty", hint=empty_hint)
    delimiter = "\t" if data_suffix(path).startswith(".tsv") else ","
    lines = list(io.StringIO(text, newline=""))
    records = _csv_records(lines, delimiter)
    header, first = (list(fieldnames), 0) if fieldnames else (None, 0)
    if header is None:
        first, first_end, header, error = next(records)
        if error:
            raise UserError(f"{shown}:{first + 1}: cannot read the header row: {error}")
        first = first_end
    n = inner = 0  # records; non-blank lines inside multi-line records beyond their first line
    for start, end, cells, error in records:
        n += 1
        inner += sum(1 for line in lines[start + 1:end] if line.strip("\r\n"))
        if error:
            yield RawRow(shown, start + 1, error=error, raw=lines[start].rstrip("\r\n"))
        elif len(cells) > len(header):
            yield RawRow(shown, start + 1, error=f"{len(cells) - len(header)} more cells than header columns",
                         raw=delimiter.join(cells))
        else:
            yield RawRow(shown, start + 1, dict(zip(header, [*cells, *[None] * (len(header) - len(cells))])))
    if n == 0:
        raise EmptyFileError(f"{shown}: no records after the header row", hint=empty_hint)
    if tally is not None:  # a person counts lines; a quoted cell holding newlines joins lines into one record
        nonblank = sum(1 for line in lines[first:] if line.strip("\r\n"))
        tally.expected, tally.unit = nonblank - inner, "non-blank lines"


def read_parquet_file(path: Path, shown: str, tally: Tally | None = None) -> Iterator[RawRow]:
    yield from numbered_rows(shown, parquet_table(path, shown, tally).iter_rows(named=True))


def parquet_table(path: Path, shown: str, tally: Tally | None = None):
    """A Parquet file as one polars frame (its row count from the file metadata into `tally`)."""
    import polars as pl

    try:
        table = pl.read_parquet(path)
    except Exception as e:  # noqa: BLE001 - any reader failure is a user-facing bad file
        raise UserError(f"{shown}: cannot read Parquet: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if table.height == 0:
        raise EmptyFileError(f"{shown}: the Parquet file has no rows",
                             hint="remove the file from the recipe, fill it, or set `allow_empty: true` on the source")
    if tally is not None:
        tally.expected, tally.unit = _parquet_rows(path, table.height), "Parquet rows (file metadata)"
    return table


def _parquet_rows(path: Path, fallback: int) -> int:
    try:
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    except Exception:  # noqa: BLE001 - polars could read it; pyarrow's view is only a cross-check
        return fallback


def read_file(path: Path, shown: str, fieldnames: list[str] | None = None, tally: Tally | None = None) -> Iterator[RawRow]:
    suffix = data_suffix(path)
    base = suffix[:-3] if suffix.endswith(".gz") else suffix
    if base in (".json", ".jsonl", ".ndjson"):
        return read_json_file(path, shown, tally)
    if base in (".csv", ".tsv"):
        return read_csv_file(path, shown, fieldnames, tally)
    if suffix == ".parquet":
        return read_parquet_file(path, shown, tally)
    raise UserError(f"{shown}: unknown file type `{suffix}`", hint=f"supported: {', '.join(DATA_SUFFIXES)}")
