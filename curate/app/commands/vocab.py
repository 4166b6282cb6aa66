"""`curate vocab`: add frequent Chinese words of a version to a base model's vocabulary (heavy imports in run)."""

from __future__ import annotations

import argparse

from train.threads import add_threads_argument, set_torch_threads

HELP = "expand a base model's vocabulary with Chinese words mined from a version (optionally continue pre-training)"


# option field -> the flag that sets it (for error messages)
FLAG_OF = {"max_steps": "--pretrain-steps", "learning_rate": "--pretrain-lr", "per_device_train_batch_size":
           "--pretrain-batch-size", "max_length": "--pretrain-max-length", "min_count": "--min-count", "add": "--add"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("Example: curate vocab builds/demo/<id> --model smollm2-135m --add 1000 --dry-run. "
                     "See docs/vocab.md.")
    parser.add_argument("version", metavar="VERSION_DIR", help="built version folder to mine (builds/<name>/<id>)")
    parser.add_argument("--model", required=True, metavar="PATH",
                        help="base model: folder, .gguf, Hub id (with --revision) or smollm2-135m / gemma3-270m")
    parser.add_argument("--revision", help="Hub revision (for Hub ids)")
    parser.add_argument("--add", type=int, required=True, metavar="N", help="add at most N words")
    parser.add_argument("--init", choices=["mean", "random"], default="mean",
                        help="new embedding rows: mean of the old sub-token rows (default) or seeded random")
    parser.add_argument("--min-count", type=int, default=3, metavar="K", help="a word must occur at least K times")
    parser.add_argument("--split", default="train", help="split to mine and pre-train on (default train)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random init")
    parser.add_argument("--output-root", default="models", metavar="DIR",
                        help="where model folders go: DIR/<model>-voc<N>[-pre<K>]/<id> (default models)")
    g = parser.add_argument_group("continued pre-training (\"voc-pre\"; off unless --pretrain-steps)")
    g.add_argument("--pretrain-steps", type=int, metavar="K", help="train K steps on the split's raw text")
    g.add_argument("--pretrain-mode", choices=["embeddings_lora", "embeddings", "full"], default="embeddings_lora",
                   help="what trains (default embeddings_lora: LoRA + the new embedding rows, merged after)")
    g.add_argument("--pretrain-lr", type=float, default=2e-4, metavar="X", help="learning rate (default 2e-4)")
    g.add_argument("--pretrain-batch-size", type=int, default=4, metavar="B", help="per-device batch (default 4)")
    g.add_argument("--pretrain-max-length", type=int, default=256, metavar="L", help="block length (default 256)")
    g.add_argument("--pretrain-corpus", action="append", metavar="PATH",
                   help="raw text to pre-train on instead of the split: .txt (a document per line) or "
                        ".json/.jsonl/.parquet with a `text` field; files, folders or globs (repeatable)")
    add_threads_argument(parser)
    parser.add_argument("--dry-run", action="store_true",
                        help="mine and measure with the tokenizer only: print the words and tokens/char, write nothing")
    parser.add_argument("--show", type=int, default=20, metavar="K", help="words to print (default 20)")


def options_from(args: argparse.Namespace):
    from pydantic import ValidationError

    from curate.core.errors import UserError
    from train.config import PretrainOptions, VocabOptions

    if args.add <= 0:
        raise UserError(f"--add {args.add}: must be > 0", hint="e.g. --add 1000")
    if args.pretrain_corpus and args.pretrain_steps is None:
        raise UserError("--pretrain-corpus needs --pretrain-steps", hint="e.g. --pretrain-steps 200")
    try:
        pretrain = None
        if args.pretrain_steps is not None:
            pretrain = PretrainOptions(mode=args.pretrain_mode, max_steps=args.pretrain_steps,
                                       learning_rate=args.pretrain_lr,
                                       per_device_train_batch_size=args.pretrain_batch_size,
                                       max_length=args.pretrain_max_length, corpus=args.pretrain_corpus)
        return VocabOptions(add=args.add, init=args.init, min_count=args.min_count, split=args.split, seed=args.seed,
                            pretrain=pretrain)
    except ValidationError as e:
        err = e.errors()[0]
        field = str(err["loc"][-1]) if err["loc"] else ""
        raise UserError(f"invalid option {FLAG_OF.get(field, field)}: {err['msg']}",
                        hint="see `curate vocab --help`") from None


def print_summary(report: dict, show: int) -> None:
    words = report["words"]
    verb = "would add" if report.get("dry_run") else "added"
    print(f"{verb} {len(words)} words (top {min(show, len(words))}: word, count, old tokens)")
    for w in words[:show]:
        print(f"  {w['word']}\t{w['count']}\t{w['old_tokens']}")
    before, after = report["tokens_per_char"]["before"], report["tokens_per_char"]["after"]
    mined = report["options"]["split"]
    for split in before:
        change = (after[split] / before[split] - 1) * 100 if before[split] else 0.0
        label = "mined" if split == mined else "held out"
        print(f"tokens/char {split} ({label}): {before[split]:.4f} -> {after[split]:.4f} ({change:+.1f} %)")
    pre = report.get("pretraining")
    if pre:
        print(f"pre-training ({pre['mode']}): {pre['steps']} steps, loss {pre['first_loss']} -> {pre['last_loss']}, "
              f"{pre['seconds']} s")


def run(args: argparse.Namespace) -> int:
    from train.models import ModelSpec

    options = options_from(args)
    set_torch_threads(args.threads)
    spec = ModelSpec(path=args.model, revision=args.revision)
    if args.dry_run:
        from train.vocab import preview

        print_summary({**preview(spec, args.version, options), "dry_run": True}, args.show)
        print("dry run: nothing written")
        return 0
    from train.runs import read_json
    from train.vocab import REPORT, prepare_vocab_model

    folder = prepare_vocab_model(spec, args.version, options, args.output_root)
    print_summary(read_json(folder / REPORT), args.show)
    print(f"model: {folder}")
    return 0
