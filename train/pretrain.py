"""Continued pre-training after a vocabulary expansion ("voc-pre"): causal-LM loss on raw text.

transformers' Trainer on the texts tokenized, joined with eos and cut into `max_length` blocks (the
classic pre-training layout: no padding, documents cut across blocks), loss on every token. Not TRL's
SFTTrainer: its fused LM head reads `lm_head.weight` directly, which bypasses (and, for peft's
TrainableTokensWrapper around the head, crashes on) the trainable new rows. Three modes:

- embeddings: only the input embedding matrix (and the output matrix when untied) trains;
- embeddings_lora: LoRA on every linear layer plus peft's `trainable_token_indices` on the new rows
  (input and, untied, output; tied output rows follow the input through peft's tied adapter), then
  merged (`merge_and_unload`) so a plain transformers model comes back;
- full: every weight.

The text is the mined split of the version, or `corpus:` files (raw Chinese text for a real "voc-pre"):
`.txt` (one document per non-empty line) or JSON/JSONL/Parquet records with a `text` field.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from curate.core.errors import UserError
from train.weights import parameter_counts

_LOG = logging.getLogger(__name__)

CORPUS_SUFFIXES = (".txt", ".json", ".jsonl", ".parquet")


def corpus_files(patterns: list[str]) -> list[tuple[Path, str]]:
    """(absolute path, display path) of every corpus file: globs and folders (relative to the working
    directory) expanded, sorted; a named file of another type is an error."""
    from curate.core.files import resolve_paths

    what = "vocab.pretrain.corpus"
    files = resolve_paths(patterns, Path.cwd(), "", what=what, suffixes=CORPUS_SUFFIXES)
    for path, shown in files:
        if path.suffix.lower() not in CORPUS_SUFFIXES:
            raise UserError(f"{what}: {shown}: unknown file type `{path.suffix}`", hint=f"use {', '.join(CORPUS_SUFFIXES)}")
    return files


def read_corpus(patterns: list[str]) -> list[str]:
    """The documents of the corpus files; a bad record is an error naming file, line and key."""
    from curate.core.files import read_file

    texts: list[str] = []
    for path, shown in corpus_files(patterns):
        if path.suffix.lower() == ".txt":
            try:
                texts += [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            except UnicodeDecodeError as e:
                raise UserError(f"{shown}: not UTF-8 text (byte {e.start})", hint="convert the file to UTF-8") from None
            continue
        for row in read_file(path, shown):
            if row.error:
                raise UserError(f"{row.where}: {row.error}")
            text = row.value.get("text") if isinstance(row.value, dict) else None
            if not isinstance(text, str):
                raise UserError(f"{row.where}: key `text` missing or not a string", hint="corpus records need a "
                                "`text` field (or use .txt files, one document per line)")
            texts.append(text)
    return texts


def _module_name(model, module) -> str:
    return next(name for name, m in model.named_modules() if m is module).split(".")[-1]


def pack(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids of `texts` joined with eos, cut into `max_length` blocks (a short tail is dropped
    unless it is the only block)."""
    from train.models import encode_texts

    eos = tokenizer.eos_token_id
    flat = [i for ids in encode_texts(tokenizer, texts) for i in ids + ([eos] if eos is not None else [])]
    blocks = [flat[i:i + max_length] for i in range(0, len(flat), max_length)]
    return blocks[:-1] if len(blocks) > 1 and len(blocks[-1]) < max_length else blocks


def continued_pretraining(model, tokenizer, texts: list[str], options, workdir: str | Path, new_ids: list[int],
                          *, log: Callable[[str], None] | None = None) -> dict:
    """Train `model` (in place) for `options.max_steps` steps on `texts`; return a summary."""
    log = log or _LOG.info
    import torch
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments, default_data_collator, set_seed

    from train.weights import is_tied

    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise UserError("no text to pre-train on", hint="check the version's split")
    set_seed(options.seed)
    tied = is_tied(model)
    peft_model = None
    if options.mode == "full":
        model.requires_grad_(True)
    elif options.mode == "embeddings":
        model.requires_grad_(False)
        model.get_input_embeddings().weight.requires_grad_(True)
        model.get_output_embeddings().weight.requires_grad_(True)  # the same tensor when tied
    elif options.mode == "embeddings_lora":
        from peft import LoraConfig, get_peft_model

        emb = _module_name(model, model.get_input_embeddings())
        tokens = list(new_ids) if tied else {emb: list(new_ids),
                                             _module_name(model, model.get_output_embeddings()): list(new_ids)}
        config = LoraConfig(r=options.lora_r, lora_alpha=2 * options.lora_r, lora_dropout=0.0,
                            target_modules="all-linear", trainable_token_indices=tokens, task_type="CAUSAL_LM")
        peft_model = get_peft_model(model, config)
    else:
        raise UserError(f"unknown pre-training mode {options.mode!r}", hint="use embeddings, embeddings_lora or full")
    trainable, total = parameter_counts(peft_model or model)
    log(f"continued pre-training ({options.mode}): {trainable:,} trainable of {total:,} parameters, "
        f"{options.max_steps} steps on {len(texts)} texts")
    blocks = pack(tokenizer, texts, options.max_length)
    cuda = torch.cuda.is_available()
    args = TrainingArguments(
        output_dir=str(workdir), max_steps=options.max_steps, learning_rate=options.learning_rate,
        per_device_train_batch_size=options.per_device_train_batch_size, logging_steps=1, save_strategy="no",
        bf16=bool(cuda and torch.cuda.is_bf16_supported()), report_to="none", dataloader_pin_memory=cuda,
        seed=options.seed, data_seed=options.seed, dataloader_num_workers=0, remove_unused_columns=False,
        disable_tqdm=True,
    )
    trainer = Trainer(model=peft_model or model, args=args, data_collator=default_data_collator,
                      train_dataset=Dataset.from_dict({"input_ids": blocks, "labels": blocks}))
    started = time.time()
    trainer.train()
    seconds = time.time() - started
    if peft_model is not None:
        merged = peft_model.merge_and_unload()
        if merged is not model:  # peft edits the base model in place and hands it back
            raise RuntimeError("merge_and_unload returned a new model object")
    model.requires_grad_(True)
    losses = [round(float(e["loss"]), 5) for e in trainer.state.log_history if "loss" in e]
    summary = {"mode": options.mode, "steps": trainer.state.global_step, "first_loss": losses[0] if losses else None,
               "last_loss": losses[-1] if losses else None, "losses": losses, "trainable_parameters": trainable,
               "texts": len(texts), "blocks": len(blocks), "block_length": len(blocks[0]), "seconds": round(seconds, 2)}
    log(f"pre-training loss {summary['first_loss']} -> {summary['last_loss']} in {summary['steps']} steps, "
        f"{summary['seconds']} s")
    return summary
