"""The PEFT method registry: one place maps a method name to its peft config class, its defaults and
the modules it targets on each architecture. Every option not set here is peft's own.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from curate.core.errors import UserError
from train.architectures import ARCHITECTURES
from train.bottleneck_config import BottleneckConfig
from train.weights import parameter_counts

@dataclass(frozen=True)
class Method:
    """How to build one PEFT method: peft config class, defaults, which module group it targets."""

    config_class: str | None  # None: full fine-tuning
    defaults: dict = field(default_factory=dict)
    targets: str | None = "linear"  # "linear" (attention + MLP), "ia3", "bottleneck" (ours) or None (prompt learning)
    gradient_checkpointing: bool = True  # False where the method breaks with it
    doc: str = ""

    @property
    def packing(self) -> bool:
        """Prompt-learning methods put virtual tokens before *each* sequence; a packed row holds many."""
        return self.config_class is None or self.targets is not None


METHODS: dict[str, Method] = {
    "lora": Method("LoraConfig", {"r": 8, "lora_alpha": 16, "lora_dropout": 0.05}, doc="low-rank adapters"),
    "dora": Method("LoraConfig", {"r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "use_dora": True},
                   doc="weight-decomposed LoRA"),
    "rslora": Method("LoraConfig", {"r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "use_rslora": True},
                     doc="rank-stabilized LoRA (alpha/sqrt(r))"),
    "adalora": Method("AdaLoraConfig", {"init_r": 12, "target_r": 8, "lora_alpha": 16, "tinit": 0, "tfinal": 0,
                                        "deltaT": 1}, doc="LoRA with adaptive rank budget"),
    "ia3": Method("IA3Config", {}, targets="ia3", doc="learned rescaling vectors"),
    "loha": Method("LoHaConfig", {"r": 8, "alpha": 16}, doc="low-rank Hadamard product"),
    "lokr": Method("LoKrConfig", {"r": 8, "alpha": 16}, doc="low-rank Kronecker product"),
    "prefix": Method("PrefixTuningConfig", {"num_virtual_tokens": 8}, targets=None, gradient_checkpointing=False,
                     doc="prefix tuning (trained key/value prefixes in every layer)"),
    "prompt": Method("PromptTuningConfig", {"num_virtual_tokens": 8}, targets=None, doc="soft prompt tuning"),
    "ptuning": Method("PromptEncoderConfig", {"num_virtual_tokens": 8, "encoder_hidden_size": 128}, targets=None,
                      doc="P-tuning (prompt encoder)"),
    "full": Method(None, targets=None, doc="full fine-tuning (all weights)"),
    # Bottleneck adapters are zhtune's own modules (train/bottleneck.py), not peft's.
    "sadapter_h": Method("BottleneckConfig", targets="bottleneck",
                         doc="serial (Houlsby) adapters after attention and after the MLP"),
    "sadapter_p": Method("BottleneckConfig", targets="bottleneck", doc="serial (Pfeiffer) adapter after the MLP"),
    "padapter": Method("BottleneckConfig", targets="bottleneck", doc="parallel adapter beside the MLP"),
}


def is_bottleneck(name: str) -> bool:
    return get_method(name).targets == "bottleneck"


def bottleneck_config(name: str, options: dict):
    """The BottleneckConfig of a bottleneck-adapter method (None for every other method); option names are
    checked by `check_options` first, this checks their values."""
    if not is_bottleneck(name):
        return None
    try:
        return BottleneckConfig(method=name, **options)
    except (TypeError, ValueError) as e:
        raise UserError(f"invalid options for method {name!r}: {e}", hint="check the method: mapping") from None


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise UserError(f"unknown method {name!r} (method.name)", hint=f"use one of {', '.join(METHODS)}")
    return METHODS[name]


def option_names(name: str) -> set[str]:
    """The options a method accepts: its peft config's fields."""
    method = get_method(name)
    if method.config_class is None:
        return set()
    if method.targets == "bottleneck":
        return BottleneckConfig.option_names()
    from train.option_names import peft_options

    return peft_options(method.config_class)


def check_options(name: str, options: dict) -> None:
    """Unknown option names fail at config time, naming the key."""
    if "trainable_token_indices" in options:  # TRL's fused LM head reads lm_head.weight past peft's wrapper
        raise UserError("method.trainable_token_indices crashes TRL's trainers (their fused LM head bypasses peft's "
                        "trainable-token wrapper)", hint="train new token rows before SFT with vocab.pretrain "
                        "(mode: embeddings_lora); see docs/vocab.md")
    allowed = option_names(name) - {"task_type", "peft_type"}
    for key in options:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=2, cutoff=0.75)
            hint = (f"did you mean {' or '.join(close)}?" if close else
                    "full fine-tuning takes no options" if not allowed else
                    f"options: {', '.join(sorted(allowed))} (docs/train.md)" if is_bottleneck(name) else
                    f"see the peft docs of {get_method(name).config_class}")
            raise UserError(f"unknown option method.{key} for method {name!r}", hint=hint)


def default_targets(method: Method, model_type: str) -> dict:
    """target_modules (and IA3's feedforward_modules) for an architecture."""
    if method.targets in (None, "bottleneck"):
        return {}
    known = ARCHITECTURES.get(model_type)
    arch = known.targets if known else None
    if arch is None:
        if method.targets == "linear":
            return {"target_modules": "all-linear"}
        raise UserError(f"no default target modules for architecture {model_type!r} and this method",
                        hint="set method.target_modules (and method.feedforward_modules for ia3)")
    if method.targets == "ia3":
        return {"target_modules": arch["ia3"], "feedforward_modules": arch["ia3_feedforward"]}
    return {"target_modules": arch["attention"] + arch["mlp"]}


def _check_modules(model, names, key: str) -> None:
    if isinstance(names, str):  # a regex or "all-linear": peft checks it
        return
    module_names = [n for n, _ in model.named_modules()]
    for target in names:
        if not any(n == target or n.endswith("." + target) for n in module_names):
            leaves = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules()
                             if not list(m.children()) and getattr(m, "weight", None) is not None})
            raise UserError(f"method.{key}: no module named {target!r} in this model ({model.config.model_type})",
                            hint=f"module names here include: {', '.join(leaves[:20])}")


def build_peft_config(name: str, options: dict, model, total_steps: int | None = None):
    """The peft config for `name` on `model` (None for full fine-tuning and bottleneck adapters)."""
    method = get_method(name)
    check_options(name, options)
    if method.config_class is None or method.targets == "bottleneck":
        return None
    import peft

    kwargs = {**method.defaults, **default_targets(method, model.config.model_type), **options}
    for key in ("target_modules", "feedforward_modules"):
        if key in kwargs:
            _check_modules(model, kwargs[key], key)
    if name == "adalora":
        kwargs.setdefault("total_step", total_steps)
        if not kwargs["total_step"]:
            raise UserError("adalora needs the number of training steps", hint="set training.max_steps")
        kwargs["tfinal"] = min(kwargs["tfinal"], max(kwargs["total_step"] - kwargs["tinit"] - 1, 0))
    if model.config.model_type == "gpt2" and method.targets == "linear":
        kwargs.setdefault("fan_in_fan_out", True)  # GPT-2 uses Conv1D layers
    try:
        return getattr(peft, method.config_class)(task_type="CAUSAL_LM", **kwargs)
    except (TypeError, ValueError) as e:
        raise UserError(f"invalid options for method {name!r}: {e}", hint="check the method: mapping") from None


def count_parameters(model) -> dict:
    """Trainable / total parameters and the trainable share (percent), for the run record."""
    trainable, total = parameter_counts(model)
    if hasattr(model, "get_nb_trainable_parameters"):  # peft counts the frozen base once, prompt tables included
        trainable, total = model.get_nb_trainable_parameters()
    return {"trainable": int(trainable), "total": int(total), "trainable_percent": 100.0 * trainable / max(total, 1)}
