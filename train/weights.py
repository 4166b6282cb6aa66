"""Facts about a model's weights: parameter counts and tied embeddings (torch modules, no torch import)."""

from __future__ import annotations


def parameter_counts(model) -> tuple[int, int]:
    """(trainable, total) parameters of a torch module; a tied weight counts once."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def is_tied(model) -> bool:
    """Whether the output layer shares the input embedding matrix."""
    out = model.get_output_embeddings()
    return out is None or out.weight is model.get_input_embeddings().weight
