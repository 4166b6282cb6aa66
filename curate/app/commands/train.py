"""`curate train`: TRL SFT/DPO with a PEFT method on a built version (heavy imports only inside run)."""

from __future__ import annotations

import argparse

from train.threads import add_threads_argument, set_torch_threads

HELP = "train a causal LM on a built version with TRL (SFT or DPO) and a PEFT method"

# flag -> dotted config key; every other key is reachable with --set KEY=VALUE.
FLAGS: dict[str, str] = {
    "data": "data.version", "stage": "data.stage", "types": "data.types", "sources": "data.sources",
    "model": "model.path", "revision": "model.revision", "gguf_file": "model.gguf_file", "dtype": "model.dtype",
    "method": "method.name", "template": "template", "prompt_language": "prompt_language", "name": "name",
    "output_root": "output_root", "max_steps": "training.max_steps", "learning_rate": "training.learning_rate",
    "batch_size": "training.per_device_train_batch_size", "max_length": "training.max_length",
    "seed": "training.seed", "vocab_add": "vocab.add",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("Multi-GPU / multi-node: `accelerate launch [--config_file fsdp.yaml] -m curate.app.cli train "
                     "CONFIG.yaml`. See docs/train.md.")
    parser.add_argument("config", nargs="?", help="train config YAML (flags below override its keys)")
    g = parser.add_argument_group("config keys as flags")
    g.add_argument("--data", metavar="DIR", help="version folder (data.version)")
    g.add_argument("--stage", choices=["sft", "dpo"], help="data.stage")
    g.add_argument("--types", metavar="A,B", help="record types to use (data.types)")
    g.add_argument("--sources", metavar="A,B", help="sources to use (data.sources)")
    g.add_argument("--model", metavar="PATH", help="folder, .gguf, Hub id or smollm2-135m / gemma3-270m")
    g.add_argument("--revision", help="Hub revision (model.revision)")
    g.add_argument("--gguf-file", help="GGUF file inside the model folder (model.gguf_file)")
    g.add_argument("--dtype", choices=["float32", "bfloat16", "float16", "auto"], help="model.dtype")
    g.add_argument("--method", help="PEFT method: lora, dora, rslora, adalora, ia3, loha, lokr, prefix, prompt, "
                                    "ptuning, full, sadapter_h, sadapter_p, padapter (--list-methods)")
    g.add_argument("--template", help="chat template: chatml, gemma or a .jinja file")
    g.add_argument("--prompt-language", choices=["zh", "en"], help="default system prompt language")
    g.add_argument("--name", help="run name (runs/<name>/<run id>)")
    g.add_argument("--output-root", help="where run folders go (default runs)")
    g.add_argument("--max-steps", type=int, help="training.max_steps")
    g.add_argument("--learning-rate", type=float, help="training.learning_rate")
    g.add_argument("--batch-size", type=int, help="training.per_device_train_batch_size")
    g.add_argument("--max-length", type=int, help="training.max_length")
    g.add_argument("--seed", type=int, help="training.seed")
    g.add_argument("--vocab-add", type=int, metavar="N",
                   help="expand the base's vocabulary with N Chinese words mined from the version first (vocab.add; "
                        "docs/vocab.md)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any config key, e.g. --set training.packing=true --set method.r=16")
    add_threads_argument(parser)
    parser.add_argument("--force", action="store_true", help="train again even if a finished run exists")
    parser.add_argument("--list-methods", action="store_true", help="print the PEFT methods and exit")


def overrides(args: argparse.Namespace) -> list[tuple[str, object]]:
    from curate.core.errors import UserError
    from train.config import parse_value

    out: list[tuple[str, object]] = []
    for attr, key in FLAGS.items():
        value = getattr(args, attr, None)
        if value is not None:
            if attr in ("types", "sources"):
                value = [v.strip() for v in value.split(",") if v.strip()]
            out.append((key, value))
    for item in args.set:
        if "=" not in item:
            raise UserError(f"--set {item!r}: expected KEY=VALUE", hint="e.g. --set training.packing=true")
        key, value = item.split("=", 1)
        out.append((key.strip(), parse_value(value)))
    return out


def run(args: argparse.Namespace) -> int:
    if args.list_methods:
        from train.methods import METHODS

        for name, m in METHODS.items():
            print(f"{name:10s} {m.config_class or '-':20s} {m.doc}")
        return 0
    from curate.core.errors import UserError

    if args.config is None and args.data is None:
        raise UserError("curate train needs a CONFIG.yaml or --data/--model flags",
                        hint="e.g. curate train recipes/train/tiny_lora.yaml")
    from curate.core.version import resolve_version_dir
    from train.config import load_config

    cfg = load_config(args.config, overrides(args))  # every check before torch/TRL are imported
    resolve_version_dir(cfg.data.folder())
    set_torch_threads(args.threads)
    from train.runner import train

    folder = train(cfg, force=args.force)
    print(folder)
    return 0
