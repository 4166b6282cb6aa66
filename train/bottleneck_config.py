"""Options of the bottleneck adapters (light: no torch), so a train config is checked before torch loads.
The adapters themselves are in bottleneck.py."""

from __future__ import annotations

from dataclasses import dataclass, fields

from curate.core.errors import UserError

# Where each variant goes: a serial adapter after a module's output, or a parallel one beside it.
PLACEMENT = {"sadapter_h": ("attention_out", "mlp_out"), "sadapter_p": ("mlp_out",), "padapter": ("mlp",)}
ACTIVATIONS = {"relu": "ReLU", "gelu": "GELU", "tanh": "Tanh", "silu": "SiLU", "swish": "SiLU"}  # name -> torch.nn class


@dataclass(frozen=True)
class BottleneckConfig:
    """One bottleneck-adapter method and its options (the method's `method:` keys in a train config)."""

    method: str = "sadapter_h"
    bottleneck_size: int = 64
    non_linearity: str = "tanh"
    scaling: float = 1.0
    dropout: float = 0.0
    init_std: float = 0.01  # normal init of `down`; `up` is always zero

    def __post_init__(self):
        if self.method not in PLACEMENT:
            raise UserError(f"unknown bottleneck adapter {self.method!r}", hint=f"use one of {', '.join(PLACEMENT)}")
        if self.non_linearity not in ACTIVATIONS:
            raise UserError(f"method.non_linearity: unknown {self.non_linearity!r}",
                            hint=f"use one of {', '.join(ACTIVATIONS)}")
        if int(self.bottleneck_size) < 1:
            raise UserError("method.bottleneck_size must be a positive integer")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise UserError("method.dropout must be in [0, 1)")

    @classmethod
    def option_names(cls) -> set[str]:
        return {f.name for f in fields(cls)} - {"method"}
