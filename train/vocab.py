"""Chinese vocabulary expansion: mine frequent Chinese words with jieba, add them to a base model's
tokenizer as whole tokens, initialise their embeddings, optionally continue pre-training, save.

Following "An Empirical Study of Instruction-tuning LLMs in Chinese" (arXiv 2310.07328): a larger
Chinese vocabulary shortens sequences, but hurts without further pre-training ("voc") and helps after
Chinese continued pre-training ("voc-pre"). The words become tokenizer-level *added tokens* (matched
before BPE), so text without them encodes exactly as before and every old token id is unchanged.

Light at import time (pydantic only); torch/transformers/jieba load inside the functions.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

from curate.core.errors import UserError
from curate.core.hashing import sha256_file, short_id
from train.config import VocabOptions
from train.models import ModelSpec, encode_texts
from train.weights import is_tied, parameter_counts

_LOG = logging.getLogger(__name__)

REPORT = "vocab_report.json"  # not vocab.json: that is a BPE tokenizer's own vocabulary file name
CODE_FILES = ("vocab.py", "pretrain.py")  # their digest is part of the output folder's id
_HANZI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]+")


def _jieba():
    """jieba, loaded once and quietly (its dictionary load logs to stderr otherwise)."""
    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    return jieba


def is_hanzi(word: str) -> bool:
    return bool(_HANZI.fullmatch(word))


def mine_words(texts: Iterable[str], tokenizer, *, add: int, min_count: int = 3) -> list[dict]:
    """The `add` Chinese words (jieba) that save the most tokens: hanzi only, >= 2 characters, at least
    `min_count` occurrences, split by the tokenizer into >= 2 tokens and not in its vocabulary.

    Ranked by tokens saved (count * (old_tokens - 1)), then count, then the word: deterministic.
    """
    if add <= 0:
        raise ValueError("add must be > 0")
    jieba = _jieba()
    counts: Counter[str] = Counter()
    for text in texts:
        if text:
            counts.update(w for w in jieba.lcut(text) if len(w) >= 2 and is_hanzi(w))
    vocab = tokenizer.get_vocab()
    cands = sorted(w for w, c in counts.items() if c >= min_count and w not in vocab)
    rows = [{"word": w, "count": counts[w], "old_tokens": len(ids)}
            for w, ids in zip(cands, encode_texts(tokenizer, cands)) if len(ids) >= 2]
    rows.sort(key=lambda r: (-r["count"] * (r["old_tokens"] - 1), -r["count"], r["word"]))
    return rows[:add]


def tokens_per_char(tokenizer, texts: Iterable[str]) -> float:
    """Total tokens (no special tokens) / total characters over `texts` (0.0 for no text)."""
    texts = [t for t in texts if t]
    chars = sum(len(t) for t in texts)
    return sum(len(ids) for ids in encode_texts(tokenizer, texts)) / chars if chars else 0.0


def expand_vocabulary(model, tokenizer, words: list[str], *, init: Literal["mean", "random"] = "mean",
                      seed: int = 0) -> list[int]:
    """Add `words` to `tokenizer` (each becomes one token), grow the embedding matrices if needed and
    initialise the new rows; return the new ids (in the order of `words`, duplicates dropped).

    init "mean": each new row (input, and output when untied) is the mean of the rows of the word's old
    sub-tokens; "random": normal(0, std of the old rows), seeded. Old ids and rows are unchanged.
    """
    import torch

    if init not in ("mean", "random"):
        raise ValueError(f"unknown init {init!r}")
    words = list(dict.fromkeys(words))
    vocab = tokenizer.get_vocab()
    present = [w for w in words if w in vocab]
    if present:
        raise ValueError(f"already in the vocabulary: {present[:5]}")
    if not words:
        return []
    pieces = encode_texts(tokenizer, words)
    old_len = len(tokenizer)
    tokenizer.add_tokens(words)
    new_ids = tokenizer.convert_tokens_to_ids(words)
    if len(set(new_ids)) != len(words) or min(new_ids) < old_len:
        raise RuntimeError("the tokenizer did not add every word as a new token")
    if max(new_ids) >= model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(max(new_ids) + 1, mean_resizing=False)
    matrices = [model.get_input_embeddings().weight]
    if not is_tied(model):
        matrices.append(model.get_output_embeddings().weight)
    index = torch.tensor(new_ids)
    with torch.no_grad():
        for k, w in enumerate(matrices):
            if init == "mean":
                flat = torch.tensor([i for p in pieces for i in p], device=w.device)
                offsets = torch.tensor([0] + [len(p) for p in pieces[:-1]], device=w.device).cumsum(0)
                rows = torch.nn.functional.embedding_bag(flat, w.float(), offsets, mode="mean")
            else:
                gen = torch.Generator().manual_seed(seed + k)
                std = w[:old_len].float().std().item()
                rows = torch.randn(len(new_ids), w.shape[1], generator=gen) * std
            w[index.to(w.device)] = rows.to(w.dtype).to(w.device)
    return new_ids


# ---- the cached end-to-end step: base model + version -> expanded (and pre-trained) model folder


def code_digest() -> str:
    here = Path(__file__).resolve().parent
    return short_id({name: sha256_file(here / name) for name in CODE_FILES if (here / name).exists()})


def output_folder(spec: ModelSpec, version, options: VocabOptions, output_root: str | Path) -> Path:
    """<output_root>/<model>-voc<add>[-pre<steps>]/<id>: the id is the content address of what decides
    the result (base model spec, data version + manifest digest, options, this code)."""
    from train.data import manifest_sha256

    identity = {"base": spec.model_dump(), "version_id": version.id, "manifest_sha256": manifest_sha256(version),
                "options": options.model_dump(), "code": code_digest()}
    if options.pretrain and options.pretrain.corpus:  # the corpus is named by its content, not its paths
        from train.pretrain import corpus_files

        identity["corpus"] = [sha256_file(path) for path, _ in corpus_files(options.pretrain.corpus)]
    name = f"{spec.short_name()}-voc{options.add}"
    if options.pretrain:
        name += f"-pre{options.pretrain.max_steps}"
    return Path(output_root) / name / short_id(identity)


def record_texts(version, split: str) -> list[list[str]]:
    """The message contents of each record of a split."""
    return [[m["content"] for m in msgs if m["content"]] for msgs in version.split(split)["messages"].to_list()]


def held_out_split(version, split: str) -> str | None:
    from curate.core.version import SPLITS

    return next((s for s in SPLITS if s != split and (version.dir / f"{s}.parquet").exists()), None)


def _mine(tokenizer, version, options: VocabOptions):
    """(words, {split: texts}) for a version; a UserError when no word qualifies."""
    splits = {options.split: [t for r in record_texts(version, options.split) for t in r]}
    other = held_out_split(version, options.split)
    if other:
        splits[other] = [t for r in record_texts(version, other) for t in r]
    words = mine_words(splits[options.split], tokenizer, add=options.add, min_count=options.min_count)
    if not words:
        raise UserError(f"no word qualifies in the {options.split} split of {version.dir} (Chinese, >= 2 characters, "
                        f">= {options.min_count} occurrences, >= 2 tokens for this tokenizer)",
                        hint="lower --min-count, or mine a larger version/split")
    return words, splits


def _tpc(tokenizer, splits: dict[str, list[str]]) -> dict[str, float]:
    return {s: round(tokens_per_char(tokenizer, texts), 5) for s, texts in splits.items()}


def preview(spec: ModelSpec, version_dir: str | Path, options: VocabOptions) -> dict:
    """Mine and measure with the tokenizer only (no model, nothing written): the dry run."""
    from curate.core.version import load_version
    from train.models import load_tokenizer

    version = load_version(version_dir)
    version.split(options.split)  # a clear error when the split is missing
    tokenizer = load_tokenizer(spec)
    words, splits = _mine(tokenizer, version, options)
    before = _tpc(tokenizer, splits)
    tokenizer.add_tokens([w["word"] for w in words])
    return {"base_model": spec.model_dump(), "version_id": version.id, "options": options.model_dump(),
            "n_added": len(words), "words": words, "tokens_per_char": {"before": before, "after": _tpc(tokenizer, splits)}}


def prepare_vocab_model(spec: ModelSpec, version_dir: str | Path, options: VocabOptions, output_root: str | Path,
                        *, log: Callable[[str], None] | None = None) -> Path:
    """Expand the base model's vocabulary with words mined from the version (and optionally continue
    pre-training); return the cached model folder, loadable with ModelSpec(path=str(folder))."""
    log = log or _LOG.info
    from curate.core.version import atomic_dir, load_version
    from train.models import load_model_and_tokenizer
    from train.runs import environment, write_json

    version = load_version(version_dir)
    version.split(options.split)
    folder = output_folder(spec, version, options, output_root)
    if (folder / REPORT).exists():
        log(f"cache hit: {folder} (same base model, data version, options and code)")
        return folder
    started = time.time()
    model, tokenizer = load_model_and_tokenizer(spec)
    params_before, rows_before = parameter_counts(model)[1], model.get_input_embeddings().weight.shape[0]
    words, splits = _mine(tokenizer, version, options)
    before = _tpc(tokenizer, splits)
    new_ids = expand_vocabulary(model, tokenizer, [w["word"] for w in words], init=options.init, seed=options.seed)
    after = _tpc(tokenizer, splits)
    log(f"added {len(new_ids)} words; tokens/char " + ", ".join(f"{s} {before[s]:.4f} -> {after[s]:.4f}" for s in splits))
    report = {
        "base_model": spec.model_dump(), "model_name": spec.short_name(),
        "version_id": version.id, "version_dir": str(version.dir), "options": options.model_dump(),
        "n_added": len(new_ids), "tied_embeddings": is_tied(model),
        "embedding_rows": {"before": rows_before, "after": model.get_input_embeddings().weight.shape[0]},
        "words": [{**w, "id": i} for w, i in zip(words, new_ids)],
        "mined_split": options.split, "held_out_split": held_out_split(version, options.split),
        "tokens_per_char": {"before": before, "after": after},
        "parameters": {"before": params_before, "after": parameter_counts(model)[1]},
        "pretraining": None,
    }
    with atomic_dir(folder, replace=True) as tmp:
        if options.pretrain:
            from train.pretrain import continued_pretraining, read_corpus

            texts = read_corpus(options.pretrain.corpus) if options.pretrain.corpus else \
                ["\n".join(r) for r in record_texts(version, options.split)]
            report["pretraining"] = continued_pretraining(model, tokenizer, texts, options.pretrain, tmp / "_pretrain",
                                                          new_ids, log=log)
            if options.pretrain.corpus:
                from train.pretrain import corpus_files

                report["pretraining"]["corpus"] = [{"path": shown, "sha256": sha256_file(path)}
                                                   for path, shown in corpus_files(options.pretrain.corpus)]
            import shutil

            shutil.rmtree(tmp / "_pretrain", ignore_errors=True)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        report.update({"packages": environment(), "seconds": round(time.time() - started, 2),
                       "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        write_json(report, tmp / REPORT)
    log(f"wrote {folder}")
    return folder
