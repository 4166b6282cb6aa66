"""Module names per architecture (`config.model_type`), in one table for every method.

`targets`: the linear modules PEFT methods wrap by default (attention and MLP projections; IA3's
rescaled modules). `sites`: where zhtune's bottleneck adapters hook inside one decoder block (None:
bottleneck adapters are not supported there). Adding an architecture is one entry here.
"""

from __future__ import annotations

from typing import NamedTuple


class Architecture(NamedTuple):
    targets: dict[str, list[str]]  # attention, mlp, ia3, ia3_feedforward
    sites: dict[str, str] | None  # attention_out, mlp_out, mlp: module paths inside one block


_LLAMA_LIKE = Architecture(
    targets={"attention": ["q_proj", "k_proj", "v_proj", "o_proj"], "mlp": ["gate_proj", "up_proj", "down_proj"],
             "ia3": ["k_proj", "v_proj", "down_proj"], "ia3_feedforward": ["down_proj"]},
    sites={"attention_out": "self_attn.o_proj", "mlp_out": "mlp.down_proj", "mlp": "mlp"},
)

ARCHITECTURES: dict[str, Architecture] = {
    **{t: _LLAMA_LIKE for t in ("llama", "qwen2", "qwen3", "mistral", "gemma", "gemma2", "gemma3_text", "olmo2",
                                "smollm3", "granite")},
    "gemma3": _LLAMA_LIKE._replace(sites=None),
    "bloom": Architecture(
        targets={"attention": ["query_key_value", "self_attention.dense"], "mlp": ["dense_h_to_4h", "dense_4h_to_h"],
                 "ia3": ["query_key_value", "dense_4h_to_h"], "ia3_feedforward": ["dense_4h_to_h"]},
        sites={"attention_out": "self_attention.dense", "mlp_out": "mlp.dense_4h_to_h", "mlp": "mlp"}),
    "gpt2": Architecture(
        targets={"attention": ["c_attn", "attn.c_proj"], "mlp": ["c_fc", "mlp.c_proj"],
                 "ia3": ["c_attn", "mlp.c_proj"], "ia3_feedforward": ["mlp.c_proj"]},
        sites={"attention_out": "attn.c_proj", "mlp_out": "mlp.c_proj", "mlp": "mlp"}),
    "phi3": Architecture(
        targets={"attention": ["qkv_proj", "o_proj"], "mlp": ["gate_up_proj", "down_proj"],
                 "ia3": ["qkv_proj", "down_proj"], "ia3_feedforward": ["down_proj"]},
        sites=_LLAMA_LIKE.sites),
}
