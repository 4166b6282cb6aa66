"""Exports of a version for other trainers: the data files plus the config snippet each one reads.

SFT records (no `rejected`) and preference records (with `rejected`) go to separate files, since
every trainer takes them in different shapes and stages. Files are written in the version's
record order with fixed JSON formatting, so the same version exported twice gives the same bytes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable, Iterable

import polars as pl

from curate.core.errors import UserError
from curate.core.hashing import sha256_file
from curate.core.records import chat_messages, preference_row
from curate.core.yamlio import dump_yaml
from curate.core.version import SPLITS, Version, write_json
from curate.export_targets import TARGETS

TOOLS = tuple(TARGETS)
EXPORT_MANIFEST = "export.json"


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def write_jsonl(rows: Iterable[dict], path: Path) -> int:
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(_dumps(row) + "\n")
            n += 1
    return n


def _split_rows(version: Version) -> dict[str, tuple[list[dict], list[dict]]]:
    """split -> (sft records, preference records), in stored order."""
    out = {}
    for split in SPLITS:
        if not (version.dir / f"{split}.parquet").exists():
            continue
        rows = version.split(split).to_dicts()
        out[split] = ([r for r in rows if r["rejected"] is None], [r for r in rows if r["rejected"] is not None])
    return out


# --- per-tool record shapes -------------------------------------------------------------

def trl_sft(r: dict) -> dict:
    return {"messages": chat_messages(r["messages"])}


def trl_dpo(r: dict) -> dict:
    """TRL's conversational preference format: prompt turns, then one-turn chosen/rejected."""
    return preference_row(chat_messages(r["messages"]), r["rejected"])


_SHAREGPT_ROLE = {"user": "human", "assistant": "gpt"}
SHAREGPT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                 "system_tag": "system"}


def _sharegpt(messages: list[dict]) -> tuple[str, list[dict]]:
    has_system = bool(messages) and messages[0]["role"] == "system"
    system, turns = (messages[0]["content"], messages[1:]) if has_system else ("", messages)
    return system, [{"from": _SHAREGPT_ROLE[m["role"]], "value": m["content"]} for m in turns]


def lf_sft(r: dict) -> dict:
    system, conv = _sharegpt(r["messages"])
    return {"conversations": conv, "system": system}


def lf_dpo(r: dict) -> dict:
    system, conv = _sharegpt(r["messages"])
    return {"conversations": conv[:-1], "chosen": conv[-1], "rejected": {"from": "gpt", "value": r["rejected"]},
            "system": system}


def axolotl_dpo(r: dict) -> dict:
    m = chat_messages(r["messages"])
    return {"messages": m[:-1], "chosen": m[-1], "rejected": {"role": "assistant", "content": r["rejected"]}}


# --- TRL-native tables with provenance (the `jsonl` export and the Hub configs) ---------------

KINDS = ("sft", "dpo")
PROVENANCE = ("id", "source", "type", "lang", "lang_score", "meta")


def trl_table(table: pl.DataFrame, kind: str) -> pl.DataFrame:
    """The records of one kind in a schema TRL detects the same way in every process.

    TRL's `is_conversational` looks at *one arbitrary* key of {prompt, chosen, rejected,
    completion, messages} present in a row (a set pop: it depends on PYTHONHASHSEED). A row with
    `messages` and a string/null `rejected` is therefore sometimes read as plain text
    (`KeyError: 'text'`). So: `sft` rows carry `messages` only, `dpo` rows carry `prompt`,
    `chosen`, `rejected` as message lists; every special key is conversational in both.
    """
    pref = pl.col("rejected").is_not_null()
    if kind == "sft":
        return table.filter(~pref).select("id", "source", "type", "messages", *PROVENANCE[3:])
    if kind != "dpo":
        raise ValueError(kind)
    m = pl.col("messages")
    return table.filter(pref).select(
        "id", "source", "type",
        m.list.head(m.list.len() - 1).alias("prompt"),
        pl.concat_list(m.list.last()).alias("chosen"),
        pl.concat_list(pl.struct(role=pl.lit("assistant"), content=pl.col("rejected"))).alias("rejected"),
        *PROVENANCE[3:])


# --- writers ------------------------------------------------------------------------------

def _write_kinds(version: Version, out: Path, shapes: dict[str, Callable[[dict], dict]]) -> dict[tuple[str, str], Path]:
    """Write `<kind>_<split>.jsonl` for kind in shapes ('sft', 'dpo'); skip empty ones."""
    written = {}
    for split, (sft, pref) in _split_rows(version).items():
        for kind, rows in (("sft", sft), ("dpo", pref)):
            if kind in shapes and rows:
                path = out / f"{kind}_{split}.jsonl"
                write_jsonl((shapes[kind](r) for r in rows), path)
                written[(kind, split)] = path
    return written


def _ref(out_arg: Path, path: Path) -> str:
    """Absolute: trainers run from their own checkout (LLaMA-Factory resolves dataset_dir from its cwd)."""
    return (out_arg / path.name).resolve().as_posix()


LF_TEMPLATE_NOTE = """\
# template: qwen  # also set your model's chat template
# LLaMA-Factory fills an empty `system` with the template's default system prompt (qwen's is English:
# "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."). To choose it yourself, set
# default_system: 你是一个乐于助人的助手。   # records with their own system turn keep it
"""


def export_llamafactory(version: Version, out: Path) -> list[str]:
    files = _write_kinds(version, out, {"sft": lf_sft, "dpo": lf_dpo})
    base = f"{version.name}_{version.id}"
    info, entries = {}, {}
    for (kind, split), path in sorted(files.items(), key=lambda kv: (kv[0][0], SPLITS.index(kv[0][1]))):
        key = f"{base}_{kind}" + ("" if split == "train" else f"_{split}")
        columns = {"messages": "conversations", "system": "system"}
        entry: dict = {"file_name": path.name, "formatting": "sharegpt"}
        if kind == "dpo":
            entry["ranking"] = True
            columns.update({"chosen": "chosen", "rejected": "rejected"})
        entry["columns"] = columns
        entry["tags"] = dict(SHAREGPT_TAGS)
        info[key] = entry
        entries[(kind, split)] = key
    write_json(info, out / "dataset_info.json")
    snippets = []
    for kind, stage in (("sft", "sft"), ("dpo", "dpo")):
        if (kind, "train") not in entries:
            continue
        cfg = {"stage": stage, "do_train": True, "dataset_dir": out.resolve().as_posix(), "dataset": entries[(kind, "train")]}
        if (kind, "test") in entries:
            cfg["eval_dataset"] = entries[(kind, "test")]
        name = f"llamafactory_{kind}.yaml"
        (out / name).write_text(f"# zhtune {version.name} {version.id}: merge into your LLaMA-Factory {stage} config\n"
                                + dump_yaml(cfg) + LF_TEMPLATE_NOTE, encoding="utf-8")
        snippets.append(name)
    return ["dataset_info.json", *snippets]


def export_axolotl(version: Version, out: Path) -> list[str]:
    files = _write_kinds(version, out, {"sft": trl_sft, "dpo": axolotl_dpo})
    mapping = {"role": "role", "content": "content"}
    snippets = []
    for kind in ("sft", "dpo"):
        if (kind, "train") not in files:
            continue

        def entry(split: str, kind: str = kind) -> dict:
            e = {"path": _ref(out, files[(kind, split)]), "ds_type": "json", "split": "train"}
            if kind == "sft":
                e.update({"type": "chat_template", "field_messages": "messages",
                          "message_property_mappings": dict(mapping), "roles_to_train": ["assistant"]})
            else:
                e.update({"type": "chat_template.default", "field_messages": "messages", "field_chosen": "chosen",
                          "field_rejected": "rejected", "message_property_mappings": dict(mapping),
                          "roles": {"user": ["user"], "assistant": ["assistant"], "system": ["system"]}})
            return e

        cfg: dict = {"rl": "dpo"} if kind == "dpo" else {}
        cfg["datasets"] = [entry("train")]
        if (kind, "test") in files:
            cfg["test_datasets"] = [entry("test")]
        name = f"axolotl_{kind}.yaml"
        (out / name).write_text(f"# zhtune {version.name} {version.id}: merge into your axolotl config\n" + dump_yaml(cfg),
                                encoding="utf-8")
        snippets.append(name)
    return snippets


def export_trl(version: Version, out: Path) -> list[str]:
    files = _write_kinds(version, out, {"sft": trl_sft, "dpo": trl_dpo})
    lines = ["# zhtune %s %s: the exported files as TRL datasets (conversational formats)." % (version.name, version.id),
             "from datasets import load_dataset", ""]
    for kind, trainer in (("sft", "SFTTrainer"), ("dpo", "DPOTrainer")):
        if (kind, "train") not in files:
            continue
        data_files = {s: _ref(out, files[(kind, s)]) for s in SPLITS if (kind, s) in files}
        lines.append(f"{kind} = load_dataset(\"json\", data_files={_dumps(data_files)})")
        lines.append(f"# trl.{trainer}(model=..., args=..., train_dataset={kind}[\"train\"]"
                     + (f", eval_dataset={kind}[\"test\"])" if "test" in data_files else ")"))
    (out / "trl_datasets.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ["trl_datasets.py"]


def export_jsonl(version: Version, out: Path) -> list[str]:
    """`sft_<split>.jsonl` and `dpo_<split>.jsonl`: TRL-native records with their provenance."""
    for split in SPLITS:
        if not (version.dir / f"{split}.parquet").exists():
            continue
        for kind in KINDS:
            table = trl_table(version.split(split), kind)
            if table.height:
                write_jsonl(table.to_dicts(), out / f"{kind}_{split}.jsonl")
    return []


def _prepare(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / EXPORT_MANIFEST).exists():
            raise UserError(f"{out} exists and is not an earlier export (no {EXPORT_MANIFEST})",
                            hint="pass another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def default_out(version: Version, tool: str) -> Path:
    return Path("exports") / version.name / version.id / tool


def export_version(version: Version, tool: str, out: str | Path | None = None) -> tuple[Path, dict]:
    """Write the export; return (folder, its export.json content)."""
    if tool not in TOOLS:
        raise UserError(f"unknown export target `{tool}`", hint=f"one of: {', '.join(TOOLS)}")
    out_arg = Path(out) if out is not None else default_out(version, tool)
    _prepare(out_arg)
    snippets = globals()[TARGETS[tool]](version, out_arg)  # export_<tool>(version, out) -> config files
    data = sorted(p.name for p in out_arg.glob("*.jsonl"))
    manifest = {
        "name": version.name, "version": version.id, "tool": tool,
        "files": {name: {"records": sum(1 for _ in open(out_arg / name, encoding="utf-8")),
                         "sha256": sha256_file(out_arg / name)} for name in data},
        "config": snippets,
    }
    write_json(manifest, out_arg / EXPORT_MANIFEST)
    return out_arg, manifest
