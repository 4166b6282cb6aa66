"""Training defaults that fit the machine, the peak-memory estimate, and runs whose process died."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from train_fixtures import tiny_config

from curate.core.errors import UserError
from train.memory import GIB, ModelShape, estimate_peak_bytes, fit_defaults
from train.runner import check_previous_attempt

# SmolLM2-135M's config.json (the GGUF the shorthand converts)
SMOLLM2 = ModelShape.from_config({"hidden_size": 576, "num_hidden_layers": 30, "num_attention_heads": 9,
                                  "num_key_value_heads": 3, "head_dim": 64, "intermediate_size": 1536,
                                  "vocab_size": 49152, "tie_word_embeddings": True})


def test_shape_counts_smollm2_parameters():
    assert 134e6 < SMOLLM2.params < 135e6  # 134,515,008 in the model itself (norm weights aside)


def test_trl_defaults_do_not_fit_a_23_gib_machine_and_fitted_ones_do():
    trl = estimate_peak_bytes(SMOLLM2, 8, 1024)
    assert trl > 20.8 * GIB  # the README one-liner was killed at 20.8 GB with TRL's batch 8 x 1024
    fitted = fit_defaults({}, SMOLLM2, 23 * GIB)
    assert fitted == {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 2, "max_length": 512}
    assert estimate_peak_bytes(SMOLLM2, 4, 512) <= 0.6 * 23 * GIB
    assert fit_defaults({}, SMOLLM2, 140 * GIB) == {"per_device_train_batch_size": 8, "max_length": 1024}


def test_user_values_are_kept_and_the_rest_fitted_around_them():
    assert fit_defaults({"per_device_train_batch_size": 2, "max_length": 64}, SMOLLM2, GIB) == {}
    long = fit_defaults({"max_length": 2048}, SMOLLM2, 23 * GIB)  # only the batch is chosen, smaller for it
    assert "max_length" not in long and long["per_device_train_batch_size"] < 4
    got = fit_defaults({"per_device_train_batch_size": 1}, SMOLLM2, 23 * GIB)
    assert "per_device_train_batch_size" not in got and got["max_length"] == 1024


def test_dpo_and_checkpointing_move_the_estimate_the_right_way():
    sft = estimate_peak_bytes(SMOLLM2, 4, 512)
    assert estimate_peak_bytes(SMOLLM2, 4, 512, stage="dpo") > sft
    assert estimate_peak_bytes(SMOLLM2, 4, 512, checkpointing=True) < sft
    assert estimate_peak_bytes(SMOLLM2, 4, 512, full=True) > sft


def _record(pid):
    return {"run_id": "r1", "status": "running", "pid": pid, "host": socket.gethostname(), "started": "t0"}


def test_an_attempt_whose_process_died_is_resumed_unless_it_would_die_again():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    logs = []
    prev = check_previous_attempt(_record(dead.pid), (GIB, 4 * GIB), False, logs.append)
    assert prev["pid"] == dead.pid and "died" in prev["status"] and "ended without finishing" in logs[0]
    with pytest.raises(UserError, match="would die again"):
        check_previous_attempt(_record(dead.pid), (8 * GIB, 4 * GIB), False, logs.append)
    assert check_previous_attempt(_record(dead.pid), (8 * GIB, 4 * GIB), True, logs.append)["pid"] == dead.pid
    assert check_previous_attempt({**_record(dead.pid), "status": "finished"}, None, False, logs.append) is None


def test_a_run_still_training_in_another_process_is_refused():
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(UserError, match=f"being trained by process {alive.pid}"):
            check_previous_attempt(_record(alive.pid), None, False, print)
    finally:
        alive.kill()
        alive.wait()


def test_train_prints_fitted_defaults_and_the_estimate(tiny_pair, tmp_path):
    from train.config import parse_config
    from train.runner import train

    version, model = tiny_pair
    raw = tiny_config(version, model, tmp_path, training={"max_steps": 1})
    del raw["training"]["per_device_train_batch_size"]
    logs: list[str] = []
    folder = train(parse_config(raw), log=logs.append)
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert run["training"]["per_device_train_batch_size"] == 8 and "gradient_accumulation_steps" not in raw["training"]
    assert any(line.startswith("defaults for this machine") and "per_device_train_batch_size 8" in line for line in logs)
    assert any(line.startswith("memory: estimated peak") for line in logs)
    assert run["memory_estimate_gib"] > 0 and run["pid"] and run["host"] == socket.gethostname()
