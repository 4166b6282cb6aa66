"""A built version's split (``test.parquet`` by default) as open items: held-out slices per data type.

Each record becomes one item: its turns before the last assistant reply are the prompt, that reply is
the reference, and its ``type`` (or ``source``) is the item's class. ``data_dir`` is the version folder.
"""

from __future__ import annotations

from pathlib import Path

from curate.core.errors import UserError
from curate.core.readers.items import OpenItem


def read_version_split(data_dir: Path, split: str | None, group_by: str) -> list[OpenItem]:
    import polars as pl

    split = split or "test"
    path = data_dir / f"{split}.parquet"
    if not path.exists():
        hint = ("build the version with `split: {test: 0.1}` in its recipe" if split == "test"
                else f"data_dir must be a version folder holding {split}.parquet")
        raise UserError(f"missing file {path}", hint=hint)
    table = pl.read_parquet(path, columns=["id", "source", "type", "messages"])
    items = []
    for n, row in enumerate(table.iter_rows(named=True), 1):
        turns = row["messages"] or []
        if not turns or turns[-1]["role"] != "assistant":
            raise UserError(f"{path}: record {n} (id {row['id']}) does not end with an assistant turn",
                            hint="a version's splits always do; was the file written by curate build?")
        history = [{"role": t["role"], "content": t["content"]} for t in turns[:-1]]
        question = next((t["content"] for t in reversed(history) if t["role"] == "user"), "")
        items.append(OpenItem(id=f"{row['source']}/{row['id']}", cls=str(row[group_by]), question=question,
                              reference=turns[-1]["content"], source=f"{path.name}:{n}",
                              raw_class=str(row[group_by]), extra={"messages": history}))
    if not items:
        raise UserError(f"{path}: no records", hint="raise split.test in the recipe, or add sources")
    return items
