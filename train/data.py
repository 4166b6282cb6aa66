"""A built version -> the datasets TRL's trainers take (`messages`; `prompt`/`chosen`/`rejected`).

The version is read only through `curate.core.version.load_version`; records are selected by type and
source, then shaped for the stage. Preference records (non-null `rejected`) feed DPO; in SFT they
are left out unless `preference_as_sft`, which trains on the chosen reply.
"""

from __future__ import annotations

import polars as pl

from curate.core.errors import UserError
from curate.core.hashing import sha256_file
from curate.core.records import chat_messages, preference_row
from curate.core.version import MANIFEST, Version, load_version
from train.config import DataSpec
from train.templates import with_system_prompt


def open_version(spec: DataSpec) -> Version:
    return load_version(spec.folder())


def manifest_sha256(version: Version) -> str:
    return sha256_file(version.dir / MANIFEST)


def select_records(version: Version, spec: DataSpec, split: str | None = None) -> pl.DataFrame:
    """Rows of the split filtered by `types` / `sources` and by what the stage can use."""
    split = split or spec.split
    table = version.split(split)
    where = f"version {version.dir} ({split} split)"
    for col, wanted in (("type", spec.types), ("source", spec.sources)):
        if wanted:
            unknown = sorted(set(wanted) - set(table[col].unique().to_list()))
            if unknown:
                have = ", ".join(sorted(set(table[col].drop_nulls().to_list())))
                raise UserError(f"data.{col}s: {', '.join(unknown)} not in {where}", hint=f"available: {have}")
            table = table.filter(pl.col(col).is_in(wanted))
    is_pref = pl.col("rejected").is_not_null()
    if spec.stage == "dpo":
        table = table.filter(is_pref)
        if table.height == 0:
            raise UserError(f"{where} has no preference records (rejected is null everywhere) for the dpo stage",
                            hint="pick a version/types with preference pairs, or set data.stage: sft")
    else:
        if not spec.preference_as_sft:
            table = table.filter(~is_pref)
        if table.height == 0:
            raise UserError(f"{where} has no records for the sft stage after filtering",
                            hint="widen data.types / data.sources, or set data.preference_as_sft: true")
    if spec.max_records:
        table = table.head(spec.max_records)
    return table


def sft_rows(table: pl.DataFrame, prompt_language: str | None) -> list[dict]:
    return [{"messages": with_system_prompt(chat_messages(m), prompt_language)} for m in table["messages"].to_list()]


def dpo_rows(table: pl.DataFrame, prompt_language: str | None) -> list[dict]:
    """prompt = messages[:-1], chosen = the last assistant turn, rejected = the other reply."""
    rows = []
    for msgs, rejected in zip(table["messages"].to_list(), table["rejected"].to_list()):
        rows.append(preference_row(with_system_prompt(chat_messages(msgs), prompt_language), rejected))
    return rows


def build_datasets(version: Version, spec: DataSpec, prompt_language: str | None):
    """(train dataset, eval dataset or None, counts) for the stage."""
    from datasets import Dataset

    shape = dpo_rows if spec.stage == "dpo" else sft_rows
    train_table = select_records(version, spec)
    counts = {"train_records": train_table.height,
              "by_type": dict(sorted(train_table.group_by("type").len().iter_rows()))}
    train = Dataset.from_list(shape(train_table, prompt_language))
    evals = None
    if spec.eval_split:
        eval_table = select_records(version, spec, spec.eval_split)
        counts["eval_records"] = eval_table.height
        evals = Dataset.from_list(shape(eval_table, prompt_language))
    return train, evals, counts
