"""A tiny random-weight causal LM with a tokenizer trained locally: fast, offline tests of the trainer.

The model is random but real (a Qwen2/Llama/Bloom/GPT-2 architecture from its config), so every PEFT
method, TRL trainer and the run record are exercised exactly as with a pretrained base. The tokenizer
is a byte-level BPE trained on the given (Chinese) texts, with ChatML special tokens and a chat
template carrying `{% generation %}` markers.
"""

from __future__ import annotations

from pathlib import Path

from curate.core.errors import UserError

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
ARCHS = ("qwen2", "llama", "bloom", "gpt2")
DEFAULT_TEXTS = [
    "请介绍一下中国的四大发明。", "中国古代的四大发明是造纸术、印刷术、火药和指南针。",
    "如何保持健康的生活方式？", "保持健康需要均衡饮食、规律作息和适量运动。",
    "把这句话翻译成英文：今天天气很好。", "The weather is nice today.",
]


def _config(arch: str, vocab_size: int, hidden: int, layers: int):
    import transformers as tf

    common = {"vocab_size": vocab_size, "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 0,
              "tie_word_embeddings": True}
    if arch == "qwen2":
        return tf.Qwen2Config(hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024, **common)
    if arch == "llama":
        return tf.LlamaConfig(hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024, **common)
    if arch == "bloom":
        return tf.BloomConfig(hidden_size=hidden, n_layer=layers, n_head=4, **common)
    if arch == "gpt2":
        return tf.GPT2Config(n_embd=hidden, n_layer=layers, n_head=4, n_positions=1024, **common)
    raise UserError(f"unknown tiny architecture {arch!r}", hint=f"use one of {', '.join(ARCHS)}")


def train_tokenizer(texts: list[str], vocab_size: int):
    """Byte-level BPE over `texts` (every byte is in the alphabet, so no text is ever unknown)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from train.templates import CHATML

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token=None)
    fast.chat_template = CHATML
    return fast


def build_tiny_model(out_dir: str | Path, arch: str = "qwen2", texts: list[str] | None = None,
                     vocab_size: int = 600, seed: int = 0, hidden: int = 64, layers: int = 2) -> Path:
    """Write a tiny random causal LM + locally trained tokenizer to `out_dir`; same seed => same weights."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    out = Path(out_dir)
    tokenizer = train_tokenizer(texts or DEFAULT_TEXTS, vocab_size)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    config = _config(arch, len(tokenizer), hidden, layers)
    config.bos_token_id = config.pad_token_id = ids["<|endoftext|>"]
    config.eos_token_id = ids["<|im_end|>"]
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id,
                                               pad_token_id=config.pad_token_id)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def version_texts(version_dir: str | Path) -> list[str]:
    """Every message and rejected reply of a version's train split: the tokenizer's training text."""
    from curate.core.version import load_version

    table = load_version(version_dir).split("train")
    texts = [m["content"] for msgs in table["messages"].to_list() for m in msgs]
    return texts + [r for r in table["rejected"].to_list() if r]


def main(argv: list[str] | None = None) -> int:
    """`python -m train.tiny OUT_DIR --data builds/demo/<id>`: a tiny model for the version's text."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m train.tiny", description=main.__doc__)
    p.add_argument("out_dir")
    p.add_argument("--data", help="version folder whose text trains the tokenizer (default: built-in sample)")
    p.add_argument("--arch", default="qwen2", choices=ARCHS)
    p.add_argument("--vocab-size", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    if not (sys.argv[1:] if argv is None else argv):
        p.print_help()
        return 2
    a = p.parse_args(argv)
    from curate.core.logs import quiet_library_bars

    quiet_library_bars()
    try:
        texts = version_texts(a.data) if a.data else None
        print(build_tiny_model(a.out_dir, a.arch, texts, a.vocab_size, a.seed))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
