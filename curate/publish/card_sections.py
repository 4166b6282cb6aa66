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


def _short(text: str, n: int = 160) -> str:
    return text if len(text) <= n else text[:n] + "…"


def example(version) -> str:
    """The first SFT record and the first preference pair of the train split, as the configs hold them."""
    import json

    from curate.export import trl_table

    out = ["## Example records\n"]
    train = version.split("train")
    for kind in ("sft", "dpo"):
        rows = trl_table(train, kind).head(1).to_dicts()
        if not rows:
            continue
        row = rows[0]
        for key in ("messages", "prompt", "chosen", "rejected"):
            if key in row:
                row[key] = [{"role": m["role"], "content": _short(m["content"])} for m in row[key]]
        out.append(f"`{config_name(version.name, kind)}` (contents cut at 160 characters):\n")
        out.append("```json\n" + json.dumps(row, ensure_ascii=False, indent=1) + "\n```\n")
    return "\n".join(out)


USES = """## Uses, out of scope, limitations

- **Intended use:** supervised fine-tuning (`-sft`) and preference optimisation such as DPO (`-dpo`) of
  chat models in Chinese, and research on which instruction data helps (arXiv 2310.07328).
- **Out of scope:** evaluating models (this is training data; only the decontamination above was
  checked against the listed eval sets), any use the source licenses do not allow, and deployment of a
  model trained on it without its own safety evaluation.
- **Limitations:** many Chinese instruction sets are machine-generated (answers written or translated
  by other models) or scraped conversations; replies may contain factual errors, outdated facts,
  biases and unsafe advice. The cleaning stages remove records by rules and measured thresholds
  (language, quality patterns, duplicates, eval overlap) — they do not check that an answer is correct.
  Preference pairs record one source's judgement, not a verified ranking.
- **Personal data:** zhtune does not detect or remove personal information (names, contacts, IDs).
  The sources are public instruction-tuning sets; whatever personal data they contain may be here.
  Report a record by its `id` to the maintainer of this repo to have it removed.
"""


def citation(manifest: dict) -> str:
    """The study this mix follows, and every source to cite with it."""
    srcs = []
    for inp in manifest["inputs"]:
        origins = [f"https://huggingface.co/datasets/{f['hub']}" if f.get("hub") else f"file `{f['path']}`"
                   for f in inp["files"]]
        srcs.append(f"- `{inp['source']}` ({inp['format']}): " + ", ".join(origins)
                    + (f" — license `{inp['license']}`" if inp.get("license") else ""))
    return ("## Citation\n\nThe curation follows *An Empirical Study of Instruction-tuning Large Language Models in "
            "Chinese* (Si et al., 2023):\n\n```bibtex\n@article{si2023empirical,\n  title={An Empirical Study of "
            "Instruction-tuning Large Language Models in Chinese},\n  author={Si, Qingyi and Wang, Tong and Lin, "
            "Zheng and Zhang, Xu and Cao, Yanan and Wang, Weiping},\n  journal={arXiv preprint arXiv:2310.07328},\n"
            "  year={2023}\n}\n```\n\nPlease also cite the sources (their own cards give the preferred citation):\n\n"
            + "\n".join(srcs) + "\n")


def zh_summary(name: str, counts: dict, n_pref: int, lic: str) -> str:
    return (f"## 中文简介\n\n本数据集由 zhtune 整理，用于中文指令微调：训练集 {counts['train']} 条、测试集 {counts['test']} 条"
            f"（其中偏好对 {n_pref} 条），共有 {counts['rejected']} 条读入记录被剔除，每条都记录了阶段与原因。"
            f"配置 `{config_name(name, 'sft')}` 用于 SFT（`messages`），`{config_name(name, 'dpo')}` 用于 DPO"
            f"（`prompt`/`chosen`/`rejected`）。许可证：`{lic}`（取各来源中最严格者）。来源多为机器生成或网络收集的数据，"
            "可能包含错误、偏见或个人信息，使用前请自行核查。\n")
