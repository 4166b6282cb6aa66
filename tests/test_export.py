"""curate export on a real build: every tool's files, snippets, preference handling, stable bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from curate.app.cli import main
from curate.export import TOOLS, export_version
from curate.core.version import Version

REPO = Path(__file__).resolve().parents[1]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def counts(v: Version, split: str) -> tuple[int, int]:
    df = v.split(split)
    pref = int(df["rejected"].is_not_null().sum())
    return df.height - pref, pref


def test_trl(demo, tmp_path):
    out, manifest = export_version(demo, "trl", tmp_path / "trl")
    sft, pref = counts(demo, "train")
    assert pref > 0 and sft > 0
    rows = read_jsonl(out / "sft_train.jsonl")
    assert len(rows) == sft and set(rows[0]) == {"messages"}
    assert rows[0]["messages"][-1]["role"] == "assistant"
    dpo = read_jsonl(out / "dpo_train.jsonl")
    assert len(dpo) == pref
    train = {r["id"]: r for r in demo.split("train").to_dicts() if r["rejected"] is not None}
    first = next(iter(train.values()))
    assert dpo[0] == {"prompt": first["messages"][:-1], "chosen": [first["messages"][-1]],
                      "rejected": [{"role": "assistant", "content": first["rejected"]}]}
    assert manifest["files"]["dpo_train.jsonl"]["records"] == pref
    snippet = (out / "trl_datasets.py").read_text(encoding="utf-8")
    compile(snippet, "trl_datasets.py", "exec")
    assert "sft_train.jsonl" in snippet and "DPOTrainer" in snippet


def test_llamafactory(demo, tmp_path):
    out, _ = export_version(demo, "llamafactory", tmp_path / "lf")
    info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
    base = f"demo_{demo.id}"
    sft, dpo = info[f"{base}_sft"], info[f"{base}_dpo"]
    assert sft["formatting"] == "sharegpt" and "ranking" not in sft
    assert sft["columns"] == {"messages": "conversations", "system": "system"}
    assert sft["tags"] == {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                           "system_tag": "system"}
    assert dpo["ranking"] is True and dpo["columns"]["chosen"] == "chosen" and dpo["columns"]["rejected"] == "rejected"
    for entry in info.values():
        assert (out / entry["file_name"]).exists()
    rows = read_jsonl(out / sft["file_name"])
    assert all(r["conversations"][0]["from"] == "human" and r["conversations"][-1]["from"] == "gpt" for r in rows)
    assert all("system" in r for r in rows)
    pairs = read_jsonl(out / dpo["file_name"])
    assert all(r["conversations"][-1]["from"] == "human" and r["chosen"]["from"] == "gpt"
               and r["rejected"]["from"] == "gpt" for r in pairs)
    cfg = yaml.safe_load((out / "llamafactory_dpo.yaml").read_text(encoding="utf-8"))
    assert cfg["stage"] == "dpo" and cfg["dataset"] == f"{base}_dpo" and cfg["dataset_dir"] == str(out)


def test_axolotl(demo, tmp_path):
    out, _ = export_version(demo, "axolotl", tmp_path / "ax")
    sft = yaml.safe_load((out / "axolotl_sft.yaml").read_text(encoding="utf-8"))
    ds = sft["datasets"][0]
    assert ds["type"] == "chat_template" and ds["field_messages"] == "messages" and ds["ds_type"] == "json"
    assert Path(ds["path"]) == out / "sft_train.jsonl"
    dpo = yaml.safe_load((out / "axolotl_dpo.yaml").read_text(encoding="utf-8"))
    assert dpo["rl"] == "dpo" and dpo["datasets"][0]["field_chosen"] == "chosen"
    row = read_jsonl(out / "dpo_train.jsonl")[0]
    assert row["chosen"]["role"] == "assistant" and row["messages"][-1]["role"] == "user"


def test_jsonl_keeps_every_record_in_trl_native_shapes(demo, tmp_path):
    out, _ = export_version(demo, "jsonl", tmp_path / "j")
    for split in ("train", "test"):
        table = demo.split(split)
        sft = read_jsonl(out / f"sft_{split}.jsonl")
        dpo = read_jsonl(out / f"dpo_{split}.jsonl") if (out / f"dpo_{split}.jsonl").exists() else []
        assert [r["id"] for r in sft] == table.filter(table["rejected"].is_null())["id"].to_list()
        assert [r["id"] for r in dpo] == table.filter(table["rejected"].is_not_null())["id"].to_list()
        assert all("rejected" not in r for r in sft) and all("messages" not in r for r in dpo)
        by_id = {r["id"]: r for r in table.to_dicts()}
        for r in dpo:  # prompt + chosen are the record's messages; rejected its dispreferred reply
            src = by_id[r["id"]]
            assert r["prompt"] + r["chosen"] == [{"role": m["role"], "content": m["content"]} for m in src["messages"]]
            assert r["rejected"] == [{"role": "assistant", "content": src["rejected"]}]
            assert r["meta"] == src["meta"] and r["source"] == src["source"]


@pytest.mark.parametrize("tool", TOOLS)
def test_deterministic_bytes_and_cli(demo, tmp_path, tool, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(demo.dir), "--to", tool]) == 0
    out = Path("exports") / demo.name / demo.id / tool
    assert capsys.readouterr().out.strip().endswith(str(out))
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["export", str(demo.dir), "--to", tool]) == 0  # re-export over its own folder
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_refuses_foreign_folder(demo, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["export", str(demo.dir), "--to", "trl", "--out", str(tmp_path)]) == 2
    assert (tmp_path / "notes.txt").exists()


def test_cli_choices_match_and_help_stays_light():
    import subprocess
    import sys

    from curate.app.commands import export as cmd
    from curate.export import TOOLS as LIB_TOOLS

    assert cmd.TOOLS == LIB_TOOLS
    code = ("import sys; from curate.app.cli import build_parser; build_parser(); "
            "sys.exit(int(any(m in sys.modules for m in ('curate.export', 'curate.diff', 'curate.publish.card'))))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_snippets_hold_absolute_paths_that_work_from_another_folder(demo, tmp_path, monkeypatch):
    """LLaMA-Factory and axolotl run from their own checkout: a relative --out must not leak into snippets."""
    monkeypatch.chdir(tmp_path)
    for tool in ("llamafactory", "axolotl", "trl"):
        assert main(["export", str(demo.dir), "--to", tool, "--out", f"rel/{tool}"]) == 0
    monkeypatch.chdir(tmp_path.parent)  # "their own checkout"
    lf = yaml.safe_load((tmp_path / "rel/llamafactory/llamafactory_sft.yaml").read_text(encoding="utf-8"))
    assert Path(lf["dataset_dir"]).is_absolute() and (Path(lf["dataset_dir"]) / "dataset_info.json").exists()
    note = (tmp_path / "rel/llamafactory/llamafactory_sft.yaml").read_text(encoding="utf-8")
    assert "default_system" in note and "empty `system`" in note
    for kind in ("sft", "dpo"):
        ax = yaml.safe_load((tmp_path / f"rel/axolotl/axolotl_{kind}.yaml").read_text(encoding="utf-8"))
        for entry in ax["datasets"] + ax.get("test_datasets", []):
            assert Path(entry["path"]).is_absolute() and Path(entry["path"]).exists()
    trl_snippet = (tmp_path / "rel/trl/trl_datasets.py").read_text(encoding="utf-8")
    assert f'"{(tmp_path / "rel/trl/sft_train.jsonl").as_posix()}"' in trl_snippet
