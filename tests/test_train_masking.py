"""Assistant-only loss, token by token: exactly the assistant replies (with their end-of-turn token) carry
labels; system and user turns, role headers and padding never do. Checked through TRL's own SFT
preprocessing (plain and packed) and for each shipped template."""

from __future__ import annotations

import pytest
from train_fixtures import one_thread, tiny_setup

CONVO = [
    {"role": "system", "content": "你是一个乐于助人的助手。"},
    {"role": "user", "content": "你好，你能帮我推荐一本书吗？"},
    {"role": "assistant", "content": "当然可以。你喜欢什么类型的书呢？"},
    {"role": "user", "content": "我喜欢历史类的。"},
    {"role": "assistant", "content": "推荐你读《万历十五年》。"},
]
ASSISTANT = [m["content"] for m in CONVO if m["role"] == "assistant"]


def _spans(labels: list[int]) -> list[tuple[int, int]]:
    """Maximal runs of positions whose label is not -100."""
    spans, start = [], None
    for i, lab in enumerate([*labels, -100]):
        if lab != -100 and start is None:
            start = i
        elif lab == -100 and start is not None:
            spans.append((start, i))
            start = None
    return spans


def _tiny_tokenizer():
    from train.models import ModelSpec, load_model_and_tokenizer

    one_thread()
    _, model_dir = tiny_setup()
    return load_model_and_tokenizer(ModelSpec(path=str(model_dir)))


def _trainer(model, tokenizer, rows, packing: bool):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(output_dir="/tmp/zhtune-mask-test", assistant_only_loss=True, bf16=False,
                     gradient_checkpointing=False, report_to="none", max_length=512, packing=packing)
    return SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)


def test_labels_cover_exactly_the_assistant_replies():
    model, tok = _tiny_tokenizer()
    example = _trainer(model, tok, [{"messages": CONVO}], packing=False).train_dataset[0]
    ids, labels = example["input_ids"], example["labels"]
    assert len(ids) == len(labels)
    for i, lab in enumerate(labels):  # a label is either masked or the token itself (no shift here)
        assert lab in (-100, ids[i]), f"position {i}"
    spans = _spans(labels)
    assert [tok.decode(ids[a:b]) for a, b in spans] == [a + "<|im_end|>" for a in ASSISTANT]
    masked_text = tok.decode([t for t, lab in zip(ids, labels) if lab == -100])
    for m in CONVO:
        if m["role"] != "assistant":
            assert m["content"] in masked_text
    assert "<|im_start|>assistant" in masked_text  # the role header is prompt, not target


def test_packed_sequences_keep_the_mask():
    model, tok = _tiny_tokenizer()
    other = [{"role": "user", "content": "北京是哪个国家的首都？"}, {"role": "assistant", "content": "中国。"}]
    ds = _trainer(model, tok, [{"messages": CONVO}, {"messages": other}], packing=True).train_dataset
    row = ds[0]
    ids, labels = row["input_ids"], row["labels"]
    decoded = sorted(tok.decode(ids[a:b]) for a, b in _spans(labels))
    assert decoded == sorted([a + "<|im_end|>" for a in ASSISTANT] + ["中国。<|im_end|>"])
    assert sum(row["seq_lengths"]) == len(ids)  # packed without padding


@pytest.mark.parametrize("name", ["chatml", "gemma"])
def test_shipped_templates_mark_replies_and_stop_token(name):
    from train.templates import END_OF_TURN, TEMPLATES

    _, tok = _tiny_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"]})
    tok.chat_template = TEMPLATES[name]
    out = tok.apply_chat_template(CONVO, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    spans = _spans([t if m else -100 for t, m in zip(ids, mask)])
    assert [tok.decode(ids[a:b]) for a, b in spans] == [a + END_OF_TURN[name] for a in ASSISTANT]
    prompt = tok.apply_chat_template(CONVO[:2], add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<|im_start|>assistant\n" if name == "chatml" else "<start_of_turn>model\n")
    if name == "gemma":  # no system role in Gemma: the system text opens the first user turn
        assert "<start_of_turn>user\n你是一个乐于助人的助手。\n\n你好" in prompt


def test_model_template_without_markers_is_replaced():
    from train.templates import CHATML, apply_template

    _, tok = _tiny_tokenizer()
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                         "{% endfor %}")
    assert apply_template(tok, None) == "<|im_end|>"
    assert tok.chat_template == CHATML
