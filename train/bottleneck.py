"""Bottleneck adapters — the study's best PEFT family — as small torch modules on any decoder-only LM.

* `sadapter_h` (Houlsby): serial adapters after the attention output projection and after the MLP
  output projection of every block, before the residual add.
* `sadapter_p` (Pfeiffer): one serial adapter after the MLP output projection.
* `padapter` (parallel, He et al. 2022): an adapter beside the MLP, reading the MLP's input and
  adding to its output.

An adapter is `x -> scaling * up(dropout(act(down(x))))`, added to the hooked output. `up` starts at
zero, so an untrained adapter changes nothing. Each adapter is a child module named `bottleneck` of
the module it hooks (so `state_dict`, `.to()`, deep copies and DPO reference models carry it) and the
forward hook reads it from the module it is called with.

Why not a peft tuner: `peft.register_peft_method` accepts only names already in peft's closed
`PeftType` enum, so a third-party tuner would have to patch that enum (and peft's save/load
mappings) at import time. This module is ~200 lines instead, with its own adapter file format.

Parameters: each adapter has `2*d*r + d + r` (d = hidden size, r = bottleneck size, with biases);
`sadapter_h` has 2 per block, the others 1, so `L * k * (2*d*r + d + r)` in all (`parameter_count`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path

import torch
from torch import nn

from curate.core.errors import UserError
from train.architectures import ARCHITECTURES
from train.bottleneck_config import ACTIVATIONS, PLACEMENT, BottleneckConfig  # noqa: F401  (bottleneck.BottleneckConfig)

CONFIG_FILE, WEIGHTS_FILE = "bottleneck_config.json", "bottleneck_adapter.safetensors"
CHILD = "bottleneck"  # the adapter's attribute name on the module it hooks

class Bottleneck(nn.Module):
    """down-project, non-linearity, up-project (zero at init), scale."""

    def __init__(self, hidden: int, cfg: BottleneckConfig):
        super().__init__()
        self.down = nn.Linear(hidden, cfg.bottleneck_size)
        self.act = getattr(nn, ACTIVATIONS[cfg.non_linearity])()
        self.dropout = nn.Dropout(cfg.dropout)
        self.up = nn.Linear(cfg.bottleneck_size, hidden)
        self.scaling = cfg.scaling
        nn.init.normal_(self.down.weight, std=cfg.init_std)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scaling * self.up(self.dropout(self.act(self.down(x))))


def _adapt(module: nn.Module, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The module's adapter on `x`, computed in the adapter's dtype and returned in `like`'s (a bf16 or
    4-bit base module may hand over another dtype than the adapter's weights)."""
    adapter = getattr(module, CHILD)
    return adapter(x.to(adapter.down.weight.dtype)).to(like.dtype)


def _serial_hook(module: nn.Module, args, output):
    """After the module: h + adapter(h) (the first element when the module returns a tuple)."""
    if isinstance(output, tuple):
        return (output[0] + _adapt(module, output[0], output[0]),) + output[1:]
    return output + _adapt(module, output, output)


def _parallel_hook(module: nn.Module, args, kwargs, output):
    """Beside the module: its output + adapter(its input)."""
    x = args[0] if args else kwargs["hidden_states"]
    if isinstance(output, tuple):
        return (output[0] + _adapt(module, x, output[0]),) + output[1:]
    return output + _adapt(module, x, output)


def decoder_blocks(model: nn.Module) -> nn.ModuleList:
    """The list of transformer blocks: the ModuleList with one entry per hidden layer."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    n = config.num_hidden_layers
    for _, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == n:
            return module
    raise UserError(f"no list of {n} decoder blocks found in this model ({model.config.model_type})",
                    hint="bottleneck adapters support decoder-only LMs with one block per hidden layer")


def _sites(model) -> dict[str, str]:
    model_type = model.config.model_type
    arch = ARCHITECTURES.get(model_type)
    if arch is None or arch.sites is None:
        supported = sorted(t for t, a in ARCHITECTURES.items() if a.sites)
        raise UserError(f"bottleneck adapters do not know where to go in {model_type!r} blocks",
                        hint=f"supported: {', '.join(supported)}; add the block's module paths (`sites`) to "
                             "train.architectures.ARCHITECTURES")
    return arch.sites


def _hidden_size(model) -> int:
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return int(config.hidden_size)


def attach(model: nn.Module, cfg: BottleneckConfig) -> nn.Module:
    """Freeze the model and add trainable adapters to every block (in place); returns the model."""
    if getattr(model, "bottleneck_config", None) is not None:
        raise UserError("this model already has bottleneck adapters")
    sites = _sites(model)
    hidden = _hidden_size(model)
    for p in model.parameters():
        p.requires_grad_(False)
    for block in decoder_blocks(model):
        for place in PLACEMENT[cfg.method]:
            target = block.get_submodule(sites[place])
            ref = next((p for p in target.parameters() if p.is_floating_point()), None)
            adapter = Bottleneck(hidden, cfg)
            if ref is not None:
                adapter.to(device=ref.device, dtype=ref.dtype)
            target.add_module(CHILD, adapter)
            if place == "mlp":
                target.register_forward_hook(_parallel_hook, with_kwargs=True)
            else:
                target.register_forward_hook(_serial_hook)
    model.bottleneck_config = cfg
    if hasattr(model, "enable_input_require_grads"):  # reentrant gradient checkpointing needs a grad path
        model.enable_input_require_grads()
    return model


def parameter_count(hidden: int, layers: int, cfg: BottleneckConfig) -> int:
    """The documented formula: L * adapters per block * (2*d*r + d + r)."""
    r = cfg.bottleneck_size
    return layers * len(PLACEMENT[cfg.method]) * (2 * hidden * r + hidden + r)


def adapter_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    marker = f".{CHILD}."
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if marker in k}


def save(model: nn.Module, out_dir: str | Path, state_dict: dict | None = None) -> Path:
    """Write only the adapter weights and the config (a few MB, not the base model)."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = adapter_state_dict(model) if state_dict is None else \
        {k: v.detach().cpu().contiguous() for k, v in state_dict.items() if f".{CHILD}." in k}
    save_file(weights, str(out / WEIGHTS_FILE), metadata={"format": "pt"})
    info = {**asdict(model.bottleneck_config), "model_type": model.config.model_type,
            "hidden_size": _hidden_size(model), "num_blocks": len(decoder_blocks(model))}
    (out / CONFIG_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


def read_config(folder: str | Path) -> BottleneckConfig:
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise UserError(f"{path} not found", hint="this folder holds no bottleneck adapter")
    info = json.loads(path.read_text(encoding="utf-8"))
    return BottleneckConfig(**{f.name: info[f.name] for f in fields(BottleneckConfig) if f.name in info})


def load_weights(model: nn.Module, folder: str | Path) -> None:
    """Load saved adapter weights into a model that already has the same adapters attached."""
    from safetensors.torch import load_file

    weights = load_file(str(Path(folder) / WEIGHTS_FILE))
    expected = set(adapter_state_dict(model))
    if set(weights) != expected:
        missing, extra = sorted(expected - set(weights)), sorted(set(weights) - expected)
        raise UserError(f"adapter weights in {folder} do not fit this model",
                        hint=f"missing {missing[:3]}, unexpected {extra[:3]}: another base model or method?")
    model.load_state_dict(weights, strict=False)


def load(model: nn.Module, folder: str | Path) -> nn.Module:
    """Attach the adapters described in `folder` to a base model and load their weights."""
    attach(model, read_config(folder))
    load_weights(model, folder)
    return model


class AdapterCheckpoints:
    """Trainer mixin: checkpoints and the final save hold the adapter only, and resume loads it."""

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        output_dir = output_dir or self.args.output_dir
        if not self.args.should_save:
            return
        model = self.accelerator.unwrap_model(self.model)
        save(model, output_dir, state_dict)
        if self.processing_class is not None:
            self.processing_class.save_pretrained(output_dir)
        torch.save(self.args, str(Path(output_dir) / "training_args.bin"))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: nn.Module | None = None) -> None:
        load_weights(self.accelerator.unwrap_model(model or self.model), resume_from_checkpoint)

    def _load_best_model(self) -> None:  # load_best_model_at_end
        load_weights(self.accelerator.unwrap_model(self.model), self.state.best_model_checkpoint)


def with_adapter_checkpoints(trainer_cls: type) -> type:
    """`trainer_cls` whose saves and resumes handle bottleneck adapters."""
    return type(f"Bottleneck{trainer_cls.__name__}", (AdapterCheckpoints, trainer_cls), {})
