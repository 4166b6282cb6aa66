"""The language and filter stages against the hand-labelled real records of tests/audit/labels.jsonl.

The labels (file, line, kind, expect, reason) were made by reading the records in ../shared/data;
the records themselves are loaded at test time (skipped when the data is absent). The floors are
a little under what was measured (docs/cleaning-language.md): 145/146 expected rejects caught,
2 of 209 expected keeps removed (both "please give me the input" replies the refusal patterns take).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from curate.loaders import load_source
from curate.recipe import Source
from curate.stages import StageContext, convert, language, normalize, quality_filter

LABELS = Path(__file__).parent / "audit" / "labels.jsonl"
KINDS_REQUIRED = {"code_answer", "translation", "mixed_language_list", "refusal", "self_identification", "about_vendor",
                  "english_only", "plain_zh"}
FORMATS = {"sharegpt_zh/sharegpt_zh_1K.json": "sharegpt"}  # the others are alpaca/belle


def read_labels() -> list[dict]:
    return [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_labels_file_has_the_agreed_shape():
    labels = read_labels()
    assert len(labels) >= 300
    assert len({(r["file"], r["line"]) for r in labels}) == len(labels)  # one label per record
    for r in labels:
        assert set(r) == {"file", "line", "kind", "expect", "reason", "note"}
        assert isinstance(r["line"], int) and r["line"] >= 1 and not Path(r["file"]).is_absolute()
        assert r["expect"] in ("keep", "reject") and (r["reason"] is None) == (r["expect"] == "keep")
    assert KINDS_REQUIRED <= {r["kind"] for r in labels}
    reasons = {r["reason"] for r in labels if r["reason"]}
    assert reasons <= {"wrong_language", "low_lang_score", "low_cjk_share", "truncated_reply", "refusal", "ai_self_reference",
                       "vendor_mention"}


def run_default_cleaning(shared: Path, labels: list[dict]) -> dict[tuple[str, int], str | None]:
    """normalize, convert t2s, language (keep zh, 0.5), filter {}: (file, line) -> reject reason or None."""
    wanted = {(r["file"], r["line"]) for r in labels}
    tables = []
    for i, file in enumerate(sorted({r["file"] for r in labels})):
        src = Source(name=f"s{i}", path=str(shared / file), format=FORMATS.get(file, "belle"), on_error="reject")
        t = load_source(src, shared).records
        lines = [line for f, line in wanted if f == file]
        tables.append(t.filter(pl.col("meta").struct.field("line").is_in(lines))
                      .with_columns(pl.col("meta").struct.with_fields(pl.lit(file).alias("file"))))
    table = pl.concat(tables)
    assert table.height == len(wanted), "a labelled record is missing from its file"
    ctx = StageContext()
    table = normalize.apply(table, normalize.Options(), ctx).kept
    table = convert.apply(table, convert.Options(config="t2s"), ctx).kept
    outcome: dict[tuple[str, int], str | None] = {}
    for stage, opts in ((language, language.Options(keep=["zh"], min_score=0.5)), (quality_filter, quality_filter.Options())):
        res = stage.apply(table, opts, ctx)
        for row in res.rejected.select("meta", "reason").iter_rows(named=True):
            outcome[(row["meta"]["file"], row["meta"]["line"])] = row["reason"]
        table = res.kept
    for row in table.select("meta").iter_rows(named=True):
        outcome[(row["meta"]["file"], row["meta"]["line"])] = None
    return outcome


@pytest.fixture(scope="module")
def judged(request):
    from conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data slices not found at {SHARED_DATA}")
    labels = read_labels()
    return labels, run_default_cleaning(SHARED_DATA, labels)


def test_rejects_are_found_and_keeps_are_kept(judged):
    labels, outcome = judged
    caught = sum(1 for r in labels if r["expect"] == "reject" and outcome[(r["file"], r["line"])] is not None)
    removed = [r for r in labels if r["expect"] == "keep" and outcome[(r["file"], r["line"])] is not None]
    n_reject = sum(r["expect"] == "reject" for r in labels)
    assert caught / n_reject >= 0.98  # recall (measured 145/146)
    assert caught / (caught + len(removed)) >= 0.97  # precision (measured 145/147)
    assert Counter(r["kind"] for r in removed).keys() <= {"clarification"}, removed


def test_reject_reasons_match_the_labels(judged):
    labels, outcome = judged
    rejects = [r for r in labels if r["expect"] == "reject"]
    same = sum(outcome[(r["file"], r["line"])] == r["reason"] for r in rejects)
    assert same / len(rejects) >= 0.97  # measured 145/146


@pytest.mark.parametrize("kind", ["code_answer", "translation", "mixed_language_list", "about_vendor", "plain_zh"])
def test_chinese_tasks_of_every_kind_survive(judged, kind):
    labels, outcome = judged
    keep = [r for r in labels if r["kind"] == kind and r["expect"] == "keep"]
    assert keep and all(outcome[(r["file"], r["line"])] is None for r in keep)


@pytest.mark.parametrize("kind, reasons", [("english_only", {"wrong_language"}), ("refusal", {"refusal", "ai_self_reference"}),
                                           ("self_identification", {"vendor_mention", "ai_self_reference", "refusal"})])
def test_what_must_go_goes(judged, kind, reasons):
    labels, outcome = judged
    got = [outcome[(r["file"], r["line"])] for r in labels if r["kind"] == kind and r["expect"] == "reject"]
    assert got and all(g in reasons for g in got)
