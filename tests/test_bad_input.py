"""The bad-input suite: every generated case (tests/bad_input_cases.py) through `curate build`, in
`on_error: fail` and `on_error: reject`, in-process through `curate.app.cli.main`.

Asserted for each: the exit code, no traceback, a message naming file and line (and the field path)
when the build stops, and exact accounting when it builds: records a person would count = kept +
rejected, every bad record rejected at its own line with the expected reason, every good one kept.
Cases that build are built together, one source per case, in one build per mode (a build writes its
report and plots, about a second each); the cases that stop the build run one by one.
"""

from __future__ import annotations

import json
import os
import re
import signal
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest
import yaml

from curate.app.cli import main
from tests.bad_input_cases import Case, all_cases

CASES = all_cases()
IDS = [c.id for c in CASES]
assert len(set(IDS)) == len(IDS), "case ids must be unique"
MODES = ("fail", "reject")


def _key(case: Case) -> str:
    return f"c{CASES.index(case):03d}"


def _stops(case: Case, mode: str) -> bool:
    """Does this case stop the build in this mode? (file/recipe errors always; bad records in fail mode)"""
    return case.error is not None or (mode == "fail" and bool(case.load_bad))


def _source(case: Case, mode: str) -> dict:
    key = _key(case)
    files = list(case.files)
    path = case.path if case.path is not None else files[0]
    if case.special == "device" or (isinstance(path, str) and os.path.isabs(path)):
        shown = path
    else:
        shown = [f"{key}/{p}" for p in path] if isinstance(path, list) else (f"{key}/{path}" if path else path)
    src = {"name": case.recipe.get("source_name", key), "path": shown, "on_error": case.recipe.get("on_error", mode),
           **case.source}
    return src


def _write_inputs(case: Case, root: Path) -> None:
    folder = root / _key(case)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in case.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    if case.special == "fifo":
        os.mkfifo(folder / "pipe.jsonl")


@contextmanager
def _no_hang(seconds: int = 120):
    def boom(*_):
        raise TimeoutError(f"hang: no answer in {seconds}s")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    with _no_hang():
        rc = main(argv)  # an exception escaping here is a traceback: the test fails on it
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return rc, out, err


def _recipe(root: Path, name: str, sources: list[dict], extra: dict | None = None) -> Path:
    recipe = {"name": name, "sources": sources}
    for k, v in (extra or {}).items():
        if k not in ("source_name", "on_error"):
            recipe[k] = json.loads(json.dumps(v).replace("{dir}", sources[0]["name"])) if k == "clean" else v
    path = root / f"{name if name and '/' not in name and len(name) < 60 and not name.startswith('.') else 'odd'}.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# ---- cases that stop the build: one run each -------------------------------------------------

STOPPING = [(c, m) for c in CASES for m in MODES if _stops(c, m)]


@pytest.mark.parametrize("case,mode", STOPPING, ids=[f"{c.id}-{m}" for c, m in STOPPING])
def test_stops_with_one_clear_line(case: Case, mode: str, tmp_path, capsys):
    _write_inputs(case, tmp_path)
    name = case.recipe.get("name", f"r{_key(case)}")
    recipe = _recipe(tmp_path, name, [_source(case, mode)], case.recipe)
    out = tmp_path / "builds"
    if case.special == "out_is_file":
        out.write_text("not a folder\n")
    rc, _, err = _run(["build", str(recipe), "--out", str(out), "--quiet"], capsys)
    assert rc == 2, f"wrong success (rc {rc}): {err}"
    assert err.startswith("error: "), err
    if case.error is not None:
        assert re.search(case.error, err), err
    else:  # the first bad record, by file and line, and the field
        line = min(case.load_bad)
        reason, key = case.load_bad[line]
        files = [f for f in case.files]
        assert f"{_key(case)}/{files[0]}:{line}:" in err, err
        if key:
            assert f"field `{key}" in err or f"{key}`" in err, err
    if out.is_dir():  # nothing was written as a version
        assert not [p for p in out.rglob("manifest.json")], "a stopped build left a version"


# ---- cases that build: all in one build per mode ---------------------------------------------

BUILDING = {m: [c for c in CASES if not _stops(c, m)] for m in MODES}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """mode -> (manifest, rejects, train) of one build holding every building case as a source."""
    import curate.app.cli  # noqa: F401

    results = {}
    for mode in MODES:
        root = tmp_path_factory.mktemp(f"bad-input-{mode}")
        for case in BUILDING[mode]:
            _write_inputs(case, root)
        recipe = _recipe(root, f"bad-input-{mode}", [_source(c, mode) for c in BUILDING[mode]])
        with _no_hang(600):
            rc = main(["build", str(recipe), "--out", str(root / "builds"), "--quiet"])
        assert rc == 0
        version = next((root / "builds" / f"bad-input-{mode}").glob("*/manifest.json")).parent
        results[mode] = (json.loads((version / "manifest.json").read_text(encoding="utf-8")),
                         pl.read_parquet(version / "rejected.parquet"), pl.read_parquet(version / "train.parquet"))
    return results


BUILT = [(c, m) for m in MODES for c in BUILDING[m]]


@pytest.mark.parametrize("case,mode", BUILT, ids=[f"{c.id}-{m}" for c, m in BUILT])
def test_builds_with_exact_accounting(case: Case, mode: str, built):
    manifest, rejects, train = built[mode]
    key = _key(case)
    acc = manifest["accounting"][key]
    person = case.good + len(case.bad)
    assert (acc["read"], acc["kept"], acc["rejected"]) == (person, case.good, len(case.bad)), \
        f"silent loss or miscount: {acc} vs {person} = {case.good} + {len(case.bad)}"
    assert acc["balanced"]
    mine = rejects.filter(pl.col("source") == key)
    got = sorted((r["meta"]["line"], r["reason"]) for r in mine.iter_rows(named=True))
    assert got == sorted((line, reason) for line, (reason, _) in case.bad.items())
    for r in mine.iter_rows(named=True):
        reason, field = case.bad[r["meta"]["line"]]
        assert r["stage"] == ("load" if reason in ("parse_error", "schema_error") else "validate")
        assert r["meta"]["file"].startswith(f"{key}/")
        if field:
            assert field in r["detail"], r["detail"]
    assert train.filter(pl.col("source") == key).height == case.good


def test_suite_size():
    """The issue asks for at least 150 generated cases, each in both modes."""
    assert len(CASES) >= 150
    assert len(STOPPING) + len(BUILT) == 2 * len(CASES)
