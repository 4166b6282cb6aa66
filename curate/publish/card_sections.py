"""Sections of the dataset card that explain how to use the data (card.py writes the facts)."""

from __future__ import annotations

from curate.publish.hub import config_name


def usage(name: str, repo_id: str, tag: str, kinds: dict[str, dict[str, int]]) -> str:
    """How to load each config and train on it with TRL (the columns TRL reads the same way every time)."""
    out = ["## Load and train\n",
           "Two configs, in TRL's own conversational formats (plus provenance columns `id`, `source`, `type`, "
           "`lang`, `lang_score`, `meta`, which TRL ignores):\n"]
    rows = []
    if "sft" in kinds:
        rows.append(f"- `{config_name(name, 'sft')}` — SFT rows: `messages` (optional system, then user/assistant "
                    "turns ending with the assistant); "
                    + ", ".join(f"{s} {n}" for s, n in kinds["sft"].items()) + ".")
    if "dpo" in kinds:
        rows.append(f"- `{config_name(name, 'dpo')}` — preference pairs: `prompt` (the turns before the reply), "
                    "`chosen` and `rejected` (one assistant message each); "
                    + ", ".join(f"{s} {n}" for s, n in kinds["dpo"].items()) + ".")
    out.append("\n".join(rows) + "\n")
    code = ["from datasets import load_dataset", "from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer", ""]
    if "sft" in kinds:
        code += [f'sft = load_dataset("{repo_id}", "{config_name(name, "sft")}", revision="{tag}")',
                 'SFTTrainer(model="Qwen/Qwen2.5-0.5B-Instruct", args=SFTConfig(output_dir="sft"),',
                 '           train_dataset=sft["train"]).train()']
    if "dpo" in kinds:
        code += [f'dpo = load_dataset("{repo_id}", "{config_name(name, "dpo")}", revision="{tag}")',
                 'DPOTrainer(model="Qwen/Qwen2.5-0.5B-Instruct", args=DPOConfig(output_dir="dpo"),',
                 '           train_dataset=dpo["train"]).train()']
    out.append("```python\n" + "\n".join(code) + "\n```\n")
    out.append(f"Tag `{tag}` pins exactly this version (the main branch holds the latest version published for "
               "each recipe). With zhtune: `curate export` writes the same records for LLaMA-Factory, axolotl "
               "and TRL.\n")
    return "\n".join(out)
