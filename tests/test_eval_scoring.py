"""Scoring exactness: batched left-padded log-likelihood vs one-token-at-a-time, parsing, metrics, ROUGE-L."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")

from eval.answer_parsing import parse_choice
from eval.belle import lcs_length, offline_scores, rouge_l_f
from eval.loglik import continuation_logprobs, encode_pair, special_prefix
from eval.metrics import aggregate_mc
from eval.multiple_choice import candidates
from curate.core.readers.items import MCItem
from eval.tasks import load_task

TEXTS = ["以下是中国关于法学的单项选择题，请选出其中的正确答案。", "答案： A B C D", "下列关于法律推理的表述，能够成立的是",
         "演绎推理是一种或然性推理", "The answer is B."] * 3


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.set_num_threads(1)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.tiny import build_tiny_model

    path = build_tiny_model(tmp_path_factory.mktemp("tiny"), texts=TEXTS, seed=1)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    return model, AutoTokenizer.from_pretrained(path)


def reference_logprob(model, ctx: list[int], cont: list[int]) -> float:
    """One unpadded forward per continuation token: the definition, without batching tricks."""
    seq, total = ctx + cont, 0.0
    with torch.no_grad():
        for j in range(len(ctx), len(seq)):
            logits = model(input_ids=torch.tensor([seq[:j]])).logits[0, -1]
            total += torch.log_softmax(logits.float(), -1)[seq[j]].item()
    return total


def test_batched_loglik_equals_token_by_token(tiny):
    model, tok = tiny
    contexts = ["以下是中国关于法学的单项选择题\n答案：", "下列关于法律推理的表述，能够成立的是\nA. 演绎\nB. 归纳\n答案：", "短"]
    pairs = [encode_pair(tok, c, k, special_prefix(tok)) for c in contexts for k in [" A", " B", " 演绎推理是一种或然性推理"]]
    lengths = {len(c) + len(k) for c, k in pairs}
    assert len(lengths) > 2  # really different lengths, so left padding is exercised
    for batch_size in (1, 4, 9):
        got = continuation_logprobs(model, pairs, batch_size=batch_size, pad_id=tok.pad_token_id)
        for (c, k), s in zip(pairs, got):
            assert s.logprob == pytest.approx(reference_logprob(model, c, k), abs=2e-4)
            assert s.n_tokens == len(k) and not s.truncated


def test_encode_pair_moves_trailing_space_and_truncation(tiny):
    model, tok = tiny
    ctx, cont = encode_pair(tok, "答案： ", "A")
    ctx2, cont2 = encode_pair(tok, "答案：", " A")
    assert (ctx, cont) == (ctx2, cont2)  # lm-eval's rule: the space belongs to the continuation
    long_ctx = tok("下列关于法律推理的表述" * 20, add_special_tokens=False)["input_ids"]
    (s,) = continuation_logprobs(model, [(long_ctx, cont)], max_length=16, pad_id=0)
    assert s.truncated
    assert s.logprob == pytest.approx(reference_logprob(model, long_ctx[-(16 - len(cont) + 1):], cont), abs=2e-4)


def test_multi_answer_candidates_are_letter_sets():
    item = MCItem("x", "s", "q", {"A": "1", "B": "2", "C": "3", "D": "4"}, "ABD", "f:1")
    keys = candidates(item, "loglik_letter", multi_answer=True)
    assert len(keys) == 15 and "ABD" in keys and "DA" not in keys
    assert list(candidates(item, "loglik_letter", multi_answer=False)) == list("ABCD")
    assert candidates(item, "loglik_text", multi_answer=False)["B"] == "2"


@pytest.mark.parametrize("text,expected", [
    ("答案是B", "B"), ("B.", "B"), ("B. 大学", "B"), ("（C）", "C"), ("大学", "B"), ("我认为选D。", "D"),
    ("首先A不对，B也不对，所以答案：C", "C"), ("The answer is B", "B"), ("Ｂ", "B"), ("不知道", None), ("E", None),
])
def test_parse_choice(text, expected):
    assert parse_choice(text, {"A": "家庭", "B": "大学", "C": "杂志", "D": "意识"}) == expected


def test_parse_choice_multi_answer():
    opts = {"A": "a", "B": "b", "C": "c", "D": "d"}
    assert parse_choice("答案：A、B、D", opts, multi_answer=True) == "ABD"
    assert parse_choice("DBA", opts, multi_answer=True) == "ABD"
    assert parse_choice("答案：A、B、D", opts) == "A"


def test_aggregate_weighted_vs_macro():
    task = load_task("ceval_val").config
    recs = ([{"subject": "law", "correct": True, "unscored": None}] * 3 + [{"subject": "law", "correct": False, "unscored": None}]
            + [{"subject": "logic", "correct": False, "unscored": None}]
            + [{"subject": "logic", "correct": None, "unscored": "empty_option: B"}]
            + [{"subject": "physician", "correct": True, "unscored": None}])
    s = aggregate_mc(recs, task)
    assert s["n_scored"] == 6 and s["n_unscored"] == 1 and s["unscored_reasons"] == {"empty_option": 1}
    assert s["acc_weighted"] == pytest.approx(4 / 6, abs=1e-6)
    assert s["acc_macro"] == pytest.approx((0.75 + 0 + 1) / 3, abs=1e-6)
    hum = s["categories"]["Humanities"]
    assert hum["n"] == 5 and hum["acc_weighted"] == pytest.approx(0.6) and hum["acc_macro"] == pytest.approx(0.375)
    assert s["categories"]["Other"]["acc_weighted"] == 1.0


def test_lcs_matches_dynamic_programming():
    def dp(a, b):
        m = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i, x in enumerate(a):
            for j, y in enumerate(b):
                m[i + 1][j + 1] = m[i][j] + 1 if x == y else max(m[i][j + 1], m[i + 1][j])
        return m[-1][-1]

    rng = random.Random(0)
    for _ in range(300):
        a = [rng.choice("甲乙丙丁戊") for _ in range(rng.randint(0, 40))]
        b = [rng.choice("甲乙丙丁") for _ in range(rng.randint(0, 40))]
        assert lcs_length(a, b) == dp(a, b)
    assert rouge_l_f("甲乙丙", "甲乙丙") == 1.0 and rouge_l_f("甲乙", "丙丁") == 0.0
    assert rouge_l_f("甲乙丙丁", "甲丙") == pytest.approx(2 * 0.5 * 1 / 1.5)


def test_offline_scores_need_a_reference():
    assert offline_scores("回答", "") == (None, "no_reference")
    scores, reason = offline_scores("北京是中国的首都", "中国的首都是北京")
    assert reason is None and 0 < scores["rougeL_char_f"] < 1 and 0 < scores["rougeL_word_f"] < 1
