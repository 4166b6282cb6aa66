"""Record ids: the vectorised `with_ids` gives exactly `record_id` (sha256 of stable_json) on every row."""

from __future__ import annotations

import random

from curate.core.records import record_id, records_frame, with_ids

# what JSON escaping can get wrong: controls, quotes, backslashes, line/paragraph separators, BOM, non-BMP
TRICKY = [chr(i) for i in range(0x20)] + list('"\\/\x7f\u2028\u2029\ufeff\u00a0é中文，。！😀\U0002a6a5') + ["\ue000", "\U0010ffff"]


def conversations(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    alphabet = TRICKY + list("abc 你好世界。")
    rows = []
    for i in range(n):
        turns = [{"role": ("user", "assistant")[j % 2], "content": "".join(rng.choices(alphabet, k=rng.randint(0, 40)))}
                 for j in range(rng.randint(0, 5))]
        rejected = None if rng.random() < 0.6 else "".join(rng.choices(alphabet, k=rng.randint(0, 12)))
        rows.append({"id": None, "source": "s", "type": "general", "messages": turns, "rejected": rejected,
                     "meta": {"file": "f", "line": i + 1}})
    return rows


def test_vectorised_ids_equal_record_id_on_tricky_text():
    rows = conversations(5000)
    ids = with_ids(records_frame(rows))["id"].to_list()
    expected = [record_id(r["messages"], r["rejected"]) for r in rows]
    assert ids == expected
    contents = {repr((r["messages"], r["rejected"])) for r in rows}
    assert len(set(ids)) == len(contents) > 4000  # distinct contents get distinct ids


def test_ids_follow_content_not_metadata():
    a, b = conversations(2, seed=1)
    moved = {**a, "source": "other", "meta": {"file": "g", "line": 9}}
    ids = with_ids(records_frame([a, moved, b]))["id"].to_list()
    assert ids[0] == ids[1] != ids[2]


def test_ids_where_changed_rehash_exactly_the_edited_rows():
    import polars as pl

    from curate.core.records import with_ids_where_changed

    before = with_ids(records_frame(conversations(3000, seed=1)))
    edited = before.with_columns(  # every 7th record: a turn's text edited; every 11th: `rejected` set
        pl.when(pl.int_range(pl.len()) % 7 == 0)
        .then(pl.col("messages").list.eval(pl.element().struct.with_fields(pl.field("content") + "！")))
        .otherwise(pl.col("messages")),
        pl.when(pl.int_range(pl.len()) % 11 == 0).then(pl.lit("另一个")).otherwise(pl.col("rejected")).alias("rejected"))
    got = with_ids_where_changed(before, edited)
    assert got["id"].to_list() == with_ids(edited)["id"].to_list()
    assert (got["id"] != before["id"]).sum() > 300
    assert with_ids_where_changed(before, before.clone())["id"].to_list() == before["id"].to_list()
