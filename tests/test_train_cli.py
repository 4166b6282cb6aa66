"""`curate train` from the command line: a flags-only run, the example configs, and every kind of bad
input ending as one `error:` line with exit code 2 (never a traceback)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from train_fixtures import demo_rows, one_thread, tiny_setup, write_version

from curate.app.cli import main

REPO = Path(__file__).resolve().parents[1]


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    one_thread()
    code = main(["train", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _user_error(capsys, *argv: str) -> str:
    code, _, err = _cli(capsys, *argv)
    assert code == 2, err
    assert "Traceback" not in err and "\nerror: " in "\n" + err, err  # progress bars may precede it
    return err[err.index("error: "):]


def _base(tmp_path) -> list[str]:
    version, model = tiny_setup()
    return ["--data", str(version), "--model", str(model), "--output-root", str(tmp_path), "--max-steps", "2",
            "--batch-size", "2", "--max-length", "64"]


def test_flags_only_run_prints_the_run_folder(tmp_path, capsys):
    code, out, err = _cli(capsys, *_base(tmp_path), "--method", "lora", "--set", "method.r=4",
                          "--set", "training.learning_rate=2e-3", "--types", "general,cot", "--name", "flags")
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1])
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert folder.parent.name == "flags" and run["method"] == {"name": "lora", "r": 4}
    assert run["training"]["learning_rate"] == 2e-3 and run["data"]["types"] == ["general", "cot"]
    assert run["data_counts"]["by_type"] == {"cot": 2, "general": 8}


def test_example_configs_validate():
    from train.config import load_config

    files = sorted((REPO / "recipes" / "train").glob("*.yaml"))
    assert files
    for f in files:
        cfg = load_config(f)
        assert cfg.training and cfg.method.name


@pytest.mark.parametrize("extra, message", [
    (["--method", "lorax"], "unknown method 'lorax'"),
    (["--set", "method.rank=8"], "unknown option method.rank"),
    (["--set", "training.learnig_rate=1e-3"], "unknown option training.learnig_rate"),
    (["--set", "training.output_dir=/tmp/x"], "training.output_dir is set by zhtune"),
    (["--set", "data.stage=rl"], "data.stage"),
    (["--set", "model.dtype=float8"], "model.dtype"),
    (["--template", "vicuna"], "unknown chat template 'vicuna'"),
    (["--set", "method.target_modules=[q_proj, foo_proj]"], "no module named 'foo_proj'"),
    (["--method", "prefix", "--set", "training.gradient_checkpointing=true"], "gradient checkpointing"),
    (["--method", "prompt", "--set", "training.packing=true"], "cannot train on packed sequences"),
    (["--set", "training.padding_free=true"], "SFTTrainer rejected the options"),
])
def test_bad_options_are_user_errors(tmp_path, capsys, extra, message):
    assert message in _user_error(capsys, *_base(tmp_path), *extra)
    assert not list(tmp_path.iterdir())  # rejected before any run folder is written


def test_bad_data_is_a_user_error(tiny_pair, tmp_path, capsys):
    _, model = tiny_pair
    no_pref = write_version(tmp_path / "b", [r for r in demo_rows() if r["rejected"] is None])
    err = _user_error(capsys, "--data", str(no_pref), "--model", str(model), "--stage", "dpo")
    assert "no preference records" in err and "hint:" in err
    assert "not a version folder" in _user_error(capsys, "--data", str(tmp_path), "--model", str(model))


def test_model_without_chat_template_needs_one(tiny_pair, tmp_path, capsys):
    version, model = tiny_pair
    bare = tmp_path / "bare"
    shutil.copytree(model, bare)
    (bare / "chat_template.jinja").unlink(missing_ok=True)
    cfg = json.loads((bare / "tokenizer_config.json").read_text(encoding="utf-8"))
    cfg.pop("chat_template", None)
    (bare / "tokenizer_config.json").write_text(json.dumps(cfg), encoding="utf-8")
    args = ["--data", str(version), "--model", str(bare), "--output-root", str(tmp_path), "--max-steps", "1",
            "--batch-size", "2", "--max-length", "64"]
    err = _user_error(capsys, *args)
    assert "no chat template" in err and "template" in err.split("hint:")[1]
    code, _, err = _cli(capsys, *args, "--template", "chatml")  # naming one fixes it
    assert code == 0, err


def test_hub_model_offline_is_a_user_error(tiny_pair, tmp_path, capsys, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    version, _ = tiny_pair
    base = ["--data", str(version), "--output-root", str(tmp_path)]
    err = _user_error(capsys, *base, "--model", "zhtune-test/no-such-model", "--revision", "main")
    assert "unreachable" in err and "model.path" in err
    assert "without a revision" in _user_error(capsys, *base, "--model", "zhtune-test/no-such-model")
    assert "neither a local folder" in _user_error(capsys, *base, "--model", "not/a/model/path")


def test_help_does_not_import_torch():
    code = ("import sys; from curate.app.cli import build_parser; build_parser(); import curate.app.commands.train;"
            "bad = [m for m in ('torch', 'transformers', 'trl', 'peft') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_flag_values_and_default_run_name():
    from train.config import TrainConfig, parse_value

    assert [parse_value(x) for x in ("2e-4", "5", "true", "[q_proj, v_proj]", "v0test", "nan")] == \
        [2e-4, 5, True, ["q_proj", "v_proj"], "v0test", "nan"]
    cfg = TrainConfig.model_validate({"data": {"version": "b"}, "model": "Qwen/Qwen2.5-0.5B", "method": "dora"})
    assert cfg.run_name() == "Qwen2.5-0.5B-dora-sft"
