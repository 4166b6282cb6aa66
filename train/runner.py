"""One training run: version + model + method -> TRL SFTTrainer/DPOTrainer -> a complete run folder.

The run id is the content address of the resolved config (hardware-dependent defaults filled in),
the data version id and the manifest digest; a finished run with that id is returned as is, an
unfinished one resumes from its last checkpoint. Distributed runs use `accelerate launch` around
`curate train` (the Trainer reads the environment accelerate sets); only rank 0 writes the record.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from curate.core.errors import UserError
from train import runs
from train.config import TrainConfig

ADAPTER_DIR, MODEL_DIR = "adapter", "model"
VOCAB_MODELS = "_vocab"  # <output_root>/_vocab/<model>-voc<N>/<id>/: expanded bases, shared by runs


_LOG = logging.getLogger(__name__)

def resolved_training(cfg: TrainConfig, shape=None) -> dict:
    """TRL options with zhtune's defaults: fp32 and no checkpointing on CPU, bf16 + checkpointing on CUDA
    (except methods that break with checkpointing), loss on assistant tokens only, log every step; batch,
    accumulation and length that fit the machine's memory for this model when unset (train/memory.py)."""
    import torch

    from train.memory import fit_defaults, total_bytes
    from train.methods import get_method

    cuda = torch.cuda.is_available()
    method = get_method(cfg.method.name)
    out = {
        "seed": 42,
        "logging_steps": 1,
        "save_steps": 50,
        "save_total_limit": 2,
        "bf16": bool(cuda and torch.cuda.is_bf16_supported()),
        "gradient_checkpointing": bool(cuda and method.gradient_checkpointing),
        "dataloader_num_workers": 0,
    }
    if cfg.data.stage == "sft":
        out["assistant_only_loss"] = True
    if shape is not None:
        out.update(fit_defaults(cfg.training, shape, total_bytes(cuda), **_estimate_kw(cfg, {**out, **cfg.training})))
    out.update(cfg.training)
    if out.get("gradient_checkpointing") and not method.gradient_checkpointing:
        raise UserError(f"method {cfg.method.name!r} breaks with gradient checkpointing",
                        hint="set training.gradient_checkpointing: false")
    if out.get("packing") and not method.packing:
        raise UserError(f"method {cfg.method.name!r} cannot train on packed sequences (its virtual tokens go "
                        "in front of each sequence)", hint="set training.packing: false")
    if cfg.data.eval_split and "eval_strategy" not in out:  # evaluate five times per run, or every epoch
        max_steps = int(out.get("max_steps") or -1)
        out["eval_strategy"] = "steps" if max_steps > 0 else "epoch"
        if max_steps > 0:
            out.setdefault("eval_steps", max(1, max_steps // 5))
    return out


def _estimate_kw(cfg: TrainConfig, training: dict) -> dict:
    return {"stage": cfg.data.stage, "full": cfg.method.name == "full",
            "half": bool(training.get("bf16") or training.get("fp16")),
            "checkpointing": bool(training.get("gradient_checkpointing"))}


def memory_check(cfg: TrainConfig, training: dict, shape, log: Callable[[str], None]) -> tuple[int, int] | None:
    """Print the defaults chosen for this machine and the peak-memory estimate; warn when it exceeds
    what is free. Returns (estimate, free) in bytes, or None when the model's shape is unknown."""
    import logging

    import torch

    from train.memory import TRL_BATCH, TRL_LENGTH, estimate_peak_bytes, free_bytes, gib, total_bytes

    if shape is None:
        log("memory: no estimate (the model's config.json is not available locally)")
        return None
    cuda = torch.cuda.is_available()
    chosen = [k for k in ("per_device_train_batch_size", "gradient_accumulation_steps", "max_length")
              if k in training and k not in cfg.training]
    if chosen:
        log(f"defaults for this machine ({gib(total_bytes(cuda))} {'GPU' if cuda else 'RAM'}, model "
            f"{shape.params / 1e6:.0f}M parameters): " + ", ".join(f"{k} {training[k]}" for k in chosen)
            + f" (TRL's own: batch {TRL_BATCH} x {TRL_LENGTH} tokens); set them in training: to override")
    batch, length = training.get("per_device_train_batch_size", TRL_BATCH), training.get("max_length", TRL_LENGTH)
    est, free = estimate_peak_bytes(shape, batch, length, **_estimate_kw(cfg, training)), free_bytes(cuda)
    log(f"memory: estimated peak {gib(est)} (batch {batch} x {length} tokens, upper bound); {gib(free)} free")
    if est > free:
        logging.getLogger(__name__).warning(
            "warning: the estimated peak memory %s exceeds the %s free: the run may be killed; lower "
            "training.per_device_train_batch_size or training.max_length (docs/train.md)", gib(est), gib(free))
    return est, free


def check_previous_attempt(record: dict, memory: tuple[int, int] | None, force: bool,
                           log: Callable[[str], None]) -> dict | None:
    """An unfinished run.json: another live process (refuse), or an attempt that died (killed, often for
    memory). A dead attempt is resumed, unless the memory estimate says it would die again."""
    import socket

    from train.memory import gib

    pid, host = record.get("pid"), record.get("host")
    if record.get("status") != "running" or not pid or host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
        alive = pid != os.getpid()
    except ProcessLookupError:
        alive = False
    except PermissionError:
        alive = True
    if alive:
        raise UserError(f"run {record.get('run_id')} is being trained by process {pid} (started {record.get('started')})",
                        hint="wait for it, or stop that process first")
    previous = {"pid": pid, "started": record.get("started"), "status": "died (process gone: killed, often for memory)"}
    log(f"previous attempt (pid {pid}, started {record.get('started')}) ended without finishing")
    if memory is not None and memory[0] > memory[1] and not force:
        raise UserError(f"the previous attempt of this run died and the estimated peak memory {gib(memory[0])} still "
                        f"exceeds the {gib(memory[1])} free: it would die again",
                        hint="lower training.per_device_train_batch_size / training.max_length (a new run id), "
                             "free memory, or pass --force to start it over anyway")
    return previous


def resolved_config(cfg: TrainConfig, training: dict) -> dict:
    """The config as it ran (written to config.yaml): zhtune's defaults filled into `training`."""
    return {**cfg.model_dump(), "training": training}


def run_identity(cfg: TrainConfig, training: dict, version_id: str, manifest_sha: str) -> dict:
    """What determines the result: the resolved config minus where things live (the run's name and
    output root, the version's path: its id and manifest digest stand for it)."""
    config = resolved_config(cfg, training)
    for key in ("name", "output_root"):
        config.pop(key)
    config["data"] = {k: v for k, v in config["data"].items()
                      if k not in ("version", "recipe", "version_id", "builds_root")}
    identity = {"config": config, "version_id": version_id, "manifest_sha256": manifest_sha}
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:  # more processes => a larger effective batch => another result
        identity["world_size"] = world
    return identity


def total_steps(training: dict, n_records: int, world_size: int = 1) -> int:
    if training.get("max_steps", -1) and training.get("max_steps", -1) > 0:
        return int(training["max_steps"])
    per_step = training.get("per_device_train_batch_size", 8) * training.get("gradient_accumulation_steps", 1)
    return int(math.ceil(n_records / (per_step * world_size)) * training.get("num_train_epochs", 3))


def quarter_means(losses: list[float]) -> dict:
    """Mean loss over the first and the last quarter of the logged steps: per-batch losses are noisy."""
    if not losses:
        return {}
    q = max(1, len(losses) // 4)
    return {"loss_first_quarter": sum(losses[:q]) / q, "loss_last_quarter": sum(losses[-q:]) / q}


def make_trainer(cfg: TrainConfig, training: dict, model, tokenizer, train_ds, eval_ds, folder: Path):
    """The TRL trainer for the stage, with the PEFT method applied by TRL from our registry's config."""
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    from train.callbacks import AdaLoraAllocator, MetricsLogger
    from train.methods import bottleneck_config, build_peft_config

    peft_config = build_peft_config(cfg.method.name, cfg.method.options(), model,
                                    total_steps(training, len(train_ds), int(os.environ.get("WORLD_SIZE", "1"))))
    config_cls, trainer_cls = (DPOConfig, DPOTrainer) if cfg.data.stage == "dpo" else (SFTConfig, SFTTrainer)
    adapters = bottleneck_config(cfg.method.name, cfg.method.options())
    if adapters is not None:  # our own modules: attached here, saved and resumed by the trainer mixin
        from train import bottleneck

        bottleneck.attach(model, adapters)
        trainer_cls = bottleneck.with_adapter_checkpoints(trainer_cls)
    try:
        shown = {} if "disable_tqdm" in training else {"disable_tqdm": not sys.stderr.isatty()}  # not in the run id
        args = config_cls(output_dir=str(folder / runs.CHECKPOINTS), report_to="none", **shown, **training)
    except (ValueError, TypeError) as e:
        raise UserError(f"invalid training options: {e}", hint="check the training: mapping (TRL's names)") from None
    callbacks = [MetricsLogger(folder / runs.METRICS)]
    if cfg.method.name == "adalora":
        callbacks.append(AdaLoraAllocator())
    try:
        return trainer_cls(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                           processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks)
    except ValueError as e:  # TRL checks option combinations (padding_free without packing, ...) here
        raise UserError(f"{trainer_cls.__name__} rejected the options: {e}",
                        hint="check the training: mapping against TRL's docs") from None


def train(cfg: TrainConfig, *, force: bool = False, log: Callable[[str], None] | None = None) -> Path:
    """Train (or find the cached run) and return the run folder."""
    log = log or _LOG.info
    from curate.core.logs import quiet_known_warnings, quiet_library_bars
    from train.data import manifest_sha256, open_version
    from train.memory import model_shape
    from train.models import resolve_model_dir

    quiet_known_warnings()
    quiet_library_bars()
    version = open_version(cfg.data)
    shape = model_shape(*resolve_model_dir(cfg.model_spec()))
    training = resolved_training(cfg, shape)
    manifest_sha = manifest_sha256(version)
    identity = run_identity(cfg, training, version.id, manifest_sha)
    run_id = runs.compute_run_id(identity)
    folder = runs.run_dir(cfg.output_root, cfg.run_name(), run_id)
    record_path = folder / runs.RUN_JSON
    if record_path.exists() and not force:
        record = runs.read_json(record_path)
        if record.get("status") == "finished":
            log(f"cache hit: {folder} (finished run with the same config, data version and seed)")
            return folder
    memory = memory_check(cfg, training, shape, log)
    previous = check_previous_attempt(runs.read_json(record_path), memory, force, log) if record_path.exists() else None
    trainer, tokenizer, counts, params, model_spec = _prepare(cfg, training, version, folder, log)  # user errors end here
    main = runs.is_main_process()
    if force and main and (folder / runs.CHECKPOINTS).exists():
        shutil.rmtree(folder / runs.CHECKPOINTS)
    folder.mkdir(parents=True, exist_ok=True)
    if main:
        text = yaml.safe_dump(resolved_config(cfg, training), allow_unicode=True, sort_keys=False)
        (folder / runs.CONFIG).write_text(text, encoding="utf-8")
    resume = runs.last_checkpoint(folder) if not force else None
    record = {
        "run_id": run_id, "name": cfg.run_name(), "status": "running", "stage": cfg.data.stage,
        "data": {"version_id": version.id, "version_name": version.name, "version_dir": str(version.dir),
                 "manifest_sha256": manifest_sha, "split": cfg.data.split, "types": cfg.data.types,
                 "sources": cfg.data.sources},
        "model": model_spec.model_dump(), "method": {"name": cfg.method.name, **cfg.method.options()},
        "vocab": _vocab_summary(model_spec) if cfg.vocab else None,
        "template": cfg.template, "prompt_language": cfg.prompt_language,
        "seed": training["seed"], "training": training, "packages": runs.environment(),
        "git_commit": runs.git_commit(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "resumed_from": resume.name if resume else None, "parameters": params, "data_counts": counts,
        "pid": os.getpid(), "host": socket.gethostname(), "previous_attempt": previous,
        "memory_estimate_gib": round(memory[0] / 2**30, 2) if memory else None,
    }
    if main:
        runs.write_json(record, record_path)
    record = _train_into(cfg, trainer, tokenizer, folder, record, resume, log)
    if main:
        runs.write_json(record, record_path)
        f = record["final"]
        loss = (f"loss {f['loss_first_quarter']:.4f} -> {f['loss_last_quarter']:.4f} (first/last quarter means)"
                if f["last_loss"] is not None else "no loss logged")
        log(f"run finished: {folder}\n  {loss} in {f['steps']} steps, "
            f"{f['s_per_step']} s/step, {f['tokens_per_s']} tokens/s, peak RSS {f['peak_rss_mib'] / 1024:.1f} GiB")
    return folder


def _prepare(cfg: TrainConfig, training: dict, version, folder: Path, log: Callable[[str], None]):
    """Data, model, PEFT method and trainer: everything that can reject the config, before any file is written."""
    from transformers import set_seed

    from train.data import build_datasets
    from train.methods import count_parameters
    from train.models import load_model_and_tokenizer

    set_seed(training["seed"])
    train_ds, eval_ds, counts = build_datasets(version, cfg.data, cfg.prompt_language)
    log(f"data: {counts['train_records']} {cfg.data.stage} records from version {version.id} ({version.name})")
    spec = cfg.model_spec()
    if cfg.vocab is not None:  # the expanded (and maybe pre-trained) base becomes the run's base model
        from train.vocab import prepare_vocab_model

        expanded = prepare_vocab_model(spec, version.dir, cfg.vocab, Path(cfg.output_root) / VOCAB_MODELS, log=log)
        spec = spec.model_copy(update={"path": str(expanded.resolve()), "revision": None, "gguf_file": None})
        set_seed(training["seed"])
    model, tokenizer = load_model_and_tokenizer(spec)
    trainer = make_trainer(cfg, training, model, tokenizer, train_ds, eval_ds, folder)
    params = count_parameters(trainer.model)
    log(f"method {cfg.method.name}: {params['trainable']:,} trainable of {params['total']:,} parameters "
        f"({params['trainable_percent']:.3f} %)")
    return trainer, tokenizer, counts, params, spec


def _vocab_summary(spec) -> dict:
    """What the run's expanded base is: its folder, words added, tokens per character before/after."""
    from train.vocab import REPORT

    report = runs.read_json(Path(spec.path) / REPORT)
    return {"model_dir": spec.path, "base_model": report["base_model"], "n_added": report["n_added"],
            "tokens_per_char": report["tokens_per_char"], "pretraining": report["pretraining"]}


def _train_into(cfg: TrainConfig, trainer, tokenizer, folder: Path, record: dict, resume: Path | None,
                log: Callable[[str], None]) -> dict:
    """Train (resuming if a checkpoint exists), save and describe: the record's final part."""
    import torch

    from train.callbacks import peak_rss_mib, truncate_metrics

    if resume is not None:
        truncate_metrics(folder / runs.METRICS, int(resume.name.split("-")[-1]))
        log(f"resuming from {resume}")
    elif (folder / runs.METRICS).exists():
        (folder / runs.METRICS).unlink()
    resumed_at = int(resume.name.split("-")[-1]) if resume else 0
    started = time.time()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    elapsed = time.time() - started
    out = folder / (MODEL_DIR if cfg.method.name == "full" else ADAPTER_DIR)
    trainer.save_model(str(out))
    if not trainer.is_world_process_zero():
        return record
    tokenizer.save_pretrained(str(out))
    from train.generate import probe_logits

    record["probe_logits"] = probe_logits(trainer.model, tokenizer)
    metrics = runs.read_metrics(folder)
    runs.plot_loss(metrics, folder / "loss.png", f"{record['name']} ({record['run_id']})")
    losses = [m["loss"] for m in metrics if "loss" in m]
    steps = trainer.state.global_step
    tokens = trainer.state.num_input_tokens_seen or next((m["num_tokens"] for m in reversed(metrics)
                                                          if "num_tokens" in m), None)
    record.update({
        "status": "finished", "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "output": out.name, "adapter_sha256": runs.dir_digest(out),
        "final": {"steps": steps, "train_loss": result.training_loss, "first_loss": losses[0] if losses else None,
                  "last_loss": losses[-1] if losses else None, **quarter_means(losses),
                  "train_runtime_s": round(elapsed, 2), "s_per_step": round(elapsed / max(steps - resumed_at, 1), 3),
                  "tokens": tokens, "tokens_per_s": round(tokens / elapsed, 1) if tokens else None,
                  "peak_rss_mib": round(peak_rss_mib(), 1),
                  "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1)
                  if torch.cuda.is_available() else None},
    })
    if trainer.eval_dataset is not None:
        record["final"].update(trainer.evaluate())
    return record
