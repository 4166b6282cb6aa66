"""The default clean list on the planted audit corpus (tests/audit/planted.py, built from the real slices).

Targets of issue 18: near-copy, Traditional-copy and full-width-copy groups end with one member in
>= 95 % of groups; >= 97 % of distinct originals and of template hard negatives kept; English-only
records removed >= 95 %. Dedup is judged on the records that reach it (see tests/audit/outcomes.py).
"""

from __future__ import annotations

import difflib
import json

import polars as pl
import pytest

from audit import outcomes, planted
from curate.core.errors import UserError
from curate.stages import StageContext, dedup


@pytest.fixture(scope="module")
def audited():
    from conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data slices not found at {SHARED_DATA}")
    corpus = planted.build(SHARED_DATA, seed=0)
    kept, rejected, stages = outcomes.clean(corpus.table, outcomes.DEFAULT_CLEAN)
    everything = pl.concat([kept.select("id", "meta"), rejected.select("id", "meta")])
    return corpus, outcomes.removals(corpus.truth, everything, rejected), stages


def test_planted_corpus_is_deterministic_and_well_formed(shared_data):
    a, b = planted.build(shared_data, seed=0, scale=0.2), planted.build(shared_data, seed=0, scale=0.2)
    assert a.table["id"].to_list() == b.table["id"].to_list() and a.truth.equals(b.truth)
    assert planted.build(shared_data, seed=1, scale=0.2).table["id"].to_list() != a.table["id"].to_list()
    kinds = dict(a.truth.group_by("kind").len().iter_rows())
    assert set(kinds) == {"near_copy", "traditional_copy", "fullwidth_copy", "distinct", "template_negative", "english", "japanese"}
    # a near copy differs from its original in 1-3 % of its characters (plus one punctuation/space change per turn)
    t = a.table.with_columns(a.truth["group"], a.truth["kind"])
    rates = []
    for _, group in t.filter(pl.col("kind") == "near_copy").group_by("group", maintain_order=True):
        orig, *copies = group["messages"].to_list()
        for copy in copies:
            assert len(copy) == len(orig) and copy != orig
            n = sum(len(m["content"]) for m in orig)
            changed = sum(max(i2 - i1, j2 - j1) for m, c in zip(orig, copy)
                          for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, m["content"], c["content"], autojunk=False).get_opcodes()
                          if op != "equal")
            rates.append(((changed - len(orig)) / n, n))  # less the punctuation/space change of each turn
    median = sorted(r for r, _ in rates)[len(rates) // 2]
    assert 0.01 <= median <= 0.03 and max(r for r, n in rates if n >= 100) <= 0.05  # short texts: one edit at least


def test_copy_groups_end_with_one_member(audited):
    corpus, removed, _ = audited
    scores = outcomes.dedup_scores(corpus.truth, removed)
    for kind in outcomes.GROUP_KINDS:
        assert scores[f"{kind}_groups_with_one"] >= 0.95, scores


def test_distinct_records_and_template_negatives_are_kept(audited):
    corpus, removed, _ = audited
    scores = outcomes.dedup_scores(corpus.truth, removed)
    assert scores["distinct_kept_by_dedup"] >= 0.97, scores
    assert scores["template_negative_kept_by_dedup"] >= 0.97, scores
    assert scores["dedup_precision"] >= 0.97, scores  # a removed record's kept twin is in its own group


def test_english_only_records_are_removed(audited):
    corpus, removed, _ = audited
    assert outcomes.dedup_scores(corpus.truth, removed)["english_removed"] >= 0.95


def test_old_prompt_only_defaults_miss_near_copies(shared_data):
    """The measurement behind the new defaults: prompt scope, 5-grams, 0.8 leaves most near copies in."""
    corpus = planted.build(shared_data, seed=0, scale=0.5)
    near = corpus.truth["kind"] == "near_copy"
    table = corpus.table.filter(near)
    ctx = StageContext(source_order=["audit"])
    old = dedup.apply(table, dedup.Options(method="minhash", scope="prompt", ngram=5, threshold=0.8), ctx)
    new = dedup.apply(table, dedup.Options(method="minhash"), ctx)
    copies = table.height - corpus.truth.filter(near)["group"].n_unique()
    assert old.rejected.height <= 0.8 * copies < 0.95 * copies <= new.rejected.height


def test_datasketch_engine_agrees_on_planted_near_copies(shared_data):
    corpus = planted.build(shared_data, seed=2, scale=0.3)
    ctx = StageContext(source_order=["audit"])
    fast = dedup.apply(corpus.table, dedup.Options(method="minhash"), ctx)
    reference = dedup.apply(corpus.table, dedup.Options(method="minhash", engine="datasketch"), ctx)
    a, b = set(fast.rejected["id"]), set(reference.rejected["id"])
    assert len(a & b) >= 0.97 * max(len(a), len(b)) and len(a) > 50


def test_label_accuracy_reads_the_hand_labelled_format(shared_data, tmp_path):
    rows = [{"file": "alpaca_style_demo/llamafactory_alpaca_en_demo.json", "line": 1, "kind": "english", "expect": "reject",
             "reason": "wrong_language", "note": "English task"},
            {"file": "belle_train/dev1K.json", "line": 2, "kind": "math", "expect": "keep", "reason": None, "note": ""},
            {"file": "belle_train/dev1K.json", "line": 3, "kind": "math", "expect": "reject", "reason": None, "note": "made up"}]
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    labels = outcomes.load_labels(path)
    records = outcomes.labelled_records(shared_data, labels)
    assert records.height == 3
    _, rejected, _ = outcomes.clean(records, outcomes.DEFAULT_CLEAN)
    acc = {r["kind"]: r for r in outcomes.label_accuracy(labels, rejected).to_dicts()}
    assert acc["english"] == {**acc["english"], "records": 1, "right": 1, "same_reason": 1, "accuracy": 1.0}
    assert acc["math"]["records"] == 2 and acc["math"]["wrongly_kept"] == 1 and acc["math"]["right"] == 1
    path.write_text(json.dumps({**rows[1], "line": 99999}) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match="dev1K.json:99999"):
        outcomes.labelled_records(shared_data, outcomes.load_labels(path))
