"""What a new user meets first: recipe folders that resolve, usage instead of tracebacks, fast errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from curate.core.errors import UserError
from curate.core.version import load_version
from train_fixtures import demo_rows, write_version

REPO = Path(__file__).resolve().parents[1]


def test_recipe_folder_with_two_versions_means_the_latest_finished(tmp_path, caplog):
    old = write_version(tmp_path, demo_rows(), version_id="aaaaaaaaaaaa")
    new = write_version(tmp_path, demo_rows()[:5], version_id="000000000000")  # sorts first by name
    os.utime(old / "manifest.json", ns=(1_000_000_000, 1_000_000_000))
    os.utime(new / "manifest.json", ns=(2_000_000_000, 2_000_000_000))
    killed = tmp_path / "demo" / ".tmp-ffffffffffff-x"  # a killed build's leftovers are never chosen
    shutil.copytree(new, killed)
    os.utime(killed / "manifest.json", ns=(3_000_000_000, 3_000_000_000))
    with caplog.at_level("INFO", logger="curate"):  # an earlier `curate -q` may have raised it
        v = load_version(tmp_path / "demo")
    assert v.dir == new and v.split("train").height == 5
    assert "latest version 000000000000 (of 2: 000000000000, aaaaaaaaaaaa" in caplog.text
    assert load_version(old).dir == old  # a version folder is taken as given
    os.utime(old / "manifest.json")  # a forced rebuild rewrites the manifest: it becomes the latest
    assert load_version(tmp_path / "demo").dir == old


def test_folder_without_versions_is_one_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a version folder"):
        load_version(tmp_path / "empty")
    with pytest.raises(UserError, match="does not exist"):
        load_version(tmp_path / "missing")


@pytest.mark.parametrize("args, expect", [([], "usage: python -m train.tiny"),
                                          (["out", "--data", "no/such/build"], "error: no/such/build does not exist")])
def test_tiny_prints_usage_or_one_error_line(tmp_path, args, expect):
    res = subprocess.run([sys.executable, "-m", "train.tiny", *args], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert expect in res.stdout + res.stderr


TRAIN_CHECK = """
import sys
from curate.app.cli import main
rc = main(sys.argv[1:])
heavy = sorted(m for m in ("torch", "trl", "transformers", "peft") if m in sys.modules)
print("heavy:", heavy)
sys.exit(rc)
"""


@pytest.mark.parametrize("args, expect", [
    (["--set", "training.learing_rate=1e-4"], "unknown option training.learing_rate for SFTConfig\n"
                                              "  hint: did you mean learning_rate?"),
    (["--stage", "dpo", "--set", "training.bta=0.1"], "unknown option training.bta for DPOConfig"),
    (["--set", "method.lora_alhpa=32"], "did you mean lora_alpha"),
    (["--data", "builds/no-such-recipe"], "error: builds/no-such-recipe does not exist"),
])
def test_train_config_errors_come_before_torch_is_imported(tmp_path, args, expect):
    version = write_version(tmp_path, demo_rows())
    argv = ["train", "--data", str(version), "--model", "smollm2-135m", *args]
    res = subprocess.run([sys.executable, "-c", TRAIN_CHECK, *argv], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 2 and expect in res.stderr, res.stderr
    assert "heavy: []" in res.stdout  # the 5-50 s of importing torch/TRL are not paid for a typo


def test_option_name_table_matches_the_installed_trl_and_peft():
    from train import option_names

    assert option_names._table() is not None, "installed versions differ: run python -m train.option_names"
    assert json_roundtrip(option_names.generate()) == json_roundtrip(option_names._table())


def json_roundtrip(obj):
    import json

    return json.loads(json.dumps(obj, sort_keys=True))


def test_build_in_a_ci_log_has_no_progress_frames_and_q_silences_logs(tmp_path):
    base = [sys.executable, "-m", "curate.app.cli"]
    recipe = str(REPO / "recipes" / "demo.yaml")
    first = subprocess.run(base + ["build", recipe, "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    assert first.returncode == 0 and "\r" not in first.stderr and "rec/s" not in first.stderr  # stderr is a pipe
    again = subprocess.run(base + ["build", recipe, "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    assert "cache hit: version" in again.stderr and "stage" in again.stdout  # a log on stderr, the table on stdout
    quiet = subprocess.run(base + ["-q", "build", recipe, "--out", str(tmp_path)], cwd=REPO, capture_output=True,
                           text=True)
    assert quiet.returncode == 0 and quiet.stderr == "" and "stage" in quiet.stdout


def test_progress_without_a_terminal_logs_lines(caplog):
    from curate.core.logs import Progress

    with caplog.at_level("INFO", logger="eval"):
        with Progress(10, "ceval_val loglik_letter", logger="eval", every_s=0) as p:
            for _ in range(5):
                p.update(2)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("ceval_val loglik_letter: 2/10 items") and "s left" in lines[0]
    assert lines[-1].startswith("ceval_val loglik_letter: 10/10 items")


def test_known_library_noise_is_silenced_and_other_warnings_are_not():
    code = """
import warnings
from curate.core.logs import quiet_known_warnings
quiet_known_warnings()
warnings.warn("`gradient_checkpointing` is deprecated and will be removed in v6. Use `activation_checkpointing` instead.", FutureWarning)
warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then device pinned memory won't be used.")
warnings.warn("`use_cache` is deprecated and will be removed in v6.", FutureWarning)
warnings.warn("a real problem")
"""
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert "gradient_checkpointing" not in res.stderr and "pin_memory" not in res.stderr
    assert "use_cache" in res.stderr and "a real problem" in res.stderr
