"""ref_loglik: the reference's log-likelihood given the prompt equals a plain-torch hand computation
(prompt tokens masked), whatever the batch size and padding side; end to end through `curate eval`
on Belle-eval-shaped data and on a built version's held-out split, cached by eval id."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import yaml

torch = pytest.importorskip("torch")

from curate.app.cli import main  # noqa: E402
from curate.core.readers.items import OpenItem  # noqa: E402
from eval.reference import aggregate_reference, score_references  # noqa: E402
from eval.tasks import load_task  # noqa: E402

ITEMS = [
    OpenItem("a", "open qa", "北京是哪个国家的首都？", "北京是中华人民共和国的首都。", "t:1"),
    OpenItem("b", "math", "一加一等于几？", "一加一等于二。", "t:2"),
    OpenItem("c", "math", "三乘以四是多少？请写出过程。", "三乘以四：3×4=12，所以答案是十二。" * 3, "t:3"),
    OpenItem("d", "brainstorming", "给我三个建议。", "", "t:4"),
    OpenItem("e", "multiturn", "那英文呢？", "Hello.", "t:5",
             extra={"messages": [{"role": "user", "content": "用中文打个招呼。"},
                                 {"role": "assistant", "content": "你好！"},
                                 {"role": "user", "content": "那英文呢？"}]}),
]


@pytest.fixture(scope="module")
def tiny(tiny_pair):
    torch.set_num_threads(1)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = tiny_pair[1]
    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path), path


def hand_logprob(model, tok, messages: list[dict], reference: str) -> tuple[float, int]:
    """Sum of the reference tokens' log-probs, the prompt masked with label -100: one unpadded forward."""
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ctx = tok(prompt, add_special_tokens=False)["input_ids"]
    ids = tok(prompt + reference, add_special_tokens=False)["input_ids"]
    labels = torch.tensor([[-100] * len(ctx) + ids[len(ctx):]])
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits.float()
    loss = torch.nn.functional.cross_entropy(logits[0, :-1], labels[0, 1:], ignore_index=-100, reduction="sum")
    return -loss.item(), len(ids) - len(ctx)


def test_ref_loglik_equals_hand_computation(tiny):
    model, tok, _ = tiny
    task = load_task("belle_eval").config
    (rec,) = score_references(model, tok, task, ITEMS[:1], batch_size=1)
    lp, n = hand_logprob(model, tok, [{"role": "user", "content": ITEMS[0].question}], ITEMS[0].reference)
    assert n > 3 and rec["n_tokens"] == n
    assert rec["logprob"] == pytest.approx(lp, abs=1e-4)
    assert rec["nll_token"] == pytest.approx(-lp / n, abs=1e-5)
    assert rec["nll_char"] == pytest.approx(-lp / len(ITEMS[0].reference), abs=1e-5)
    # the earlier turns of a multi-turn item are part of the prompt, masked like the rest
    (multi,) = score_references(model, tok, task, ITEMS[4:], batch_size=1)
    lp, n = hand_logprob(model, tok, ITEMS[4].extra["messages"], "Hello.")
    assert multi["n_tokens"] == n and multi["logprob"] == pytest.approx(lp, abs=1e-4)


def test_ref_loglik_independent_of_batch_size_and_padding_side(tiny):
    model, tok, _ = tiny
    task = load_task("belle_eval").config
    runs = {(bs, side): score_references(model, tok, task, ITEMS, batch_size=bs, padding_side=side)
            for bs in (1, 2, 5) for side in ("left", "right")}
    ref = runs[(1, "left")]
    lengths = {r["n_tokens"] for r in ref if r["unscored"] is None}
    assert len(lengths) >= 3  # different lengths: the padding really happens
    for key, recs in runs.items():
        for a, b in zip(ref, recs):
            assert a["unscored"] == b["unscored"], key
            if a["unscored"] is None:
                assert b["logprob"] == pytest.approx(a["logprob"], abs=2e-4), key
    assert [r["unscored"] for r in ref] == [None, None, None, "no_reference", None]


def test_long_reference_is_cut_and_counted(tiny):
    model, tok, _ = tiny
    task = load_task("belle_eval", {"reference": {"max_tokens": 8}}).config
    recs = score_references(model, tok, task, ITEMS[:3], batch_size=2)
    assert all(r["n_tokens"] <= 8 for r in recs)
    cut = [r for r in recs if r["reference_truncated"]]
    assert cut and all(r["n_chars"] < r["reference_chars"] for r in cut)
    s = aggregate_reference(recs)["ref_loglik"]
    assert s["truncated_references"] == len(cut)


def test_aggregation_per_class_and_unscored():
    recs = [{"class": "math", "unscored": None, "nll_token": 1.0, "nll_char": 2.0, "n_tokens": 3},
            {"class": "math", "unscored": None, "nll_token": 3.0, "nll_char": 4.0, "n_tokens": 5},
            {"class": "qa", "unscored": None, "nll_token": 2.0, "nll_char": 1.0, "n_tokens": 2},
            {"class": "gen", "unscored": "no_reference"}]
    s = aggregate_reference(recs)["ref_loglik"]
    assert s["per_class"]["math"] == {"n": 2, "n_unscored": 0, "nll_token": 2.0, "nll_char": 3.0}
    assert s["per_class"]["gen"]["n"] == 0 and s["per_class"]["gen"]["nll_char"] is None
    assert s["nll_token_macro"] == 2.0 and s["nll_token_weighted"] == 2.0 and s["nll_char_weighted"] == pytest.approx(7 / 3, abs=1e-6)
    assert s["unscored_reasons"] == {"no_reference": 1} and s["n_scored"] == 3 and s["reference_tokens"] == 10


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_belle_and_heldout_split_then_cached(tiny, tmp_path, capsys):
    _, _, model_path = tiny
    belle = tmp_path / "belle"
    rows = [{"question": i.question, "std_answer": i.reference, "class": i.cls} for i in ITEMS[:4]]
    _write(belle / "eval_set.json", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    version = tmp_path / "version"
    msgs = lambda q, a: [{"role": "user", "content": q}, {"role": "assistant", "content": a}]  # noqa: E731
    version.mkdir()
    pl.DataFrame({"id": ["r1", "r2", "r3"], "source": ["belle", "gsm8k", "sharegpt"],
                  "type": ["general", "cot", "multiturn"],
                  "messages": [msgs("你好", "你好！"), msgs("2+2=?", "2+2=4，答案是4。"),
                               msgs("讲个笑话", "从前有座山。") + msgs("再来一个", "山里有座庙。")]}
                 ).write_parquet(version / "test.parquet")
    cfg = {"model": str(model_path), "output_dir": str(tmp_path / "evals"), "batch_size": 2,
           "tasks": [{"task": "belle_eval", "data_dir": str(belle), "scorers": ["ref_loglik"]},
                     {"task": "heldout_ref", "data_dir": str(version)}]}
    path = _write(tmp_path / "eval.yaml", yaml.safe_dump(cfg, allow_unicode=True))
    assert main(["eval", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ref_loglik" in out and "nats/char" in out
    results = {r["task"]["name"]: r for r in (json.loads(p.read_text(encoding="utf-8"))
                                              for p in (tmp_path / "evals").rglob("results.json"))}
    b = results["belle_eval"]["scores"]["ref_loglik"]
    assert b["n_scored"] == 3 and b["unscored_reasons"] == {"no_reference": 1}
    assert results["belle_eval"]["settings"]["method"] == "ref_loglik"
    h = results["heldout_ref"]["scores"]
    assert h["classes"] == ["cot", "general", "multiturn"] and h["ref_loglik"]["n_scored"] == 3
    preds = [json.loads(x) for x in next((tmp_path / "evals").rglob("heldout_ref/*/predictions.jsonl"))
             .read_text(encoding="utf-8").splitlines()]
    assert {p["id"] for p in preds} == {"belle/r1", "gsm8k/r2", "sharegpt/r3"}
    assert all(p["nll_char"] > 0 for p in preds)
    assert main(["eval", str(path)]) == 0  # second run: both from cache, the model is not loaded
    assert capsys.readouterr().err.count("cached") == 2  # a log line (stderr); results stay on stdout


def test_heldout_needs_a_test_split(tmp_path, capsys):
    cfg = {"model": "unused", "output_dir": str(tmp_path / "evals"),
           "tasks": [{"task": "heldout_ref", "data_dir": str(tmp_path)}]}
    path = _write(tmp_path / "eval.yaml", yaml.safe_dump(cfg))
    assert main(["eval", str(path)]) == 2
    err = capsys.readouterr().err
    assert "test.parquet" in err and "split" in err
